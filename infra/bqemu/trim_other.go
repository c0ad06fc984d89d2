//go:build !linux || !cgo

package bqemu

// trimMalloc returns at once: malloc_trim is glibc's, on Linux.
func trimMalloc(stop <-chan struct{}) {}
