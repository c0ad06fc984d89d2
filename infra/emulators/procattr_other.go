//go:build unix && !linux

package emulators

import "syscall"

// childProcAttr puts an emulator child in a process group of its own, so that Close can
// stop it with everything it started.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
