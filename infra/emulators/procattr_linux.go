package emulators

import "syscall"

// childProcAttr puts an emulator child in a process group of its own, so that Close can
// stop it with everything it started, and has the kernel kill it if this process dies
// without closing it (a test binary killed at its timeout, say).
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
