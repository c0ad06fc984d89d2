// Package testlog holds what tests share to read the log lines of code they run.
package testlog

import (
	"bytes"
	"sync"
)

// Buffer collects log lines written from many goroutines (a slog handler's writer in a
// test) and gives them back as one string for assertions on what was logged.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p; it is safe to call from any goroutine.
func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
