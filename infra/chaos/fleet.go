package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// fleet runs the consumers binary as several processes at once, each in a slot: a slot's
// process is killed and started again, and every incarnation logs to its own file.
type fleet struct {
	bin  string
	env  []string
	dir  string
	term time.Duration // how long a SIGTERM may take before the process is killed

	mu    sync.Mutex
	slots []*slot
	// exits are processes that ended without being signalled: each is a finding.
	exits []string
	peaks []peak
	logs  []string
}

// slot is one consumer position; its process changes on every restart.
type slot struct {
	n           int
	incarnation int
	cmd         *exec.Cmd
	done        chan struct{}
	err         error
	signalled   bool
}

// peak is the peak resident set (VmHWM) of one consumer process, read before it was
// killed or at the end.
type peak struct {
	pid int
	kb  int64
}

func newFleet(bin string, env []string, dir string, n int, term time.Duration) *fleet {
	f := &fleet{bin: bin, env: env, dir: dir, term: term}
	for i := range n {
		f.slots = append(f.slots, &slot{n: i + 1})
	}
	return f
}

// start starts the process of slot s.
func (f *fleet) start(s *slot) error {
	f.mu.Lock()
	s.incarnation++
	path := filepath.Join(f.dir, fmt.Sprintf("consumer-%d.%d.log", s.n, s.incarnation))
	f.logs = append(f.logs, path)
	f.mu.Unlock()
	lf, err := os.Create(path)
	if err != nil {
		return err
	}
	cmd := exec.Command(f.bin)
	cmd.Env = f.env
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return fmt.Errorf("consumer %d: %w", s.n, err)
	}
	done := make(chan struct{})
	f.mu.Lock()
	s.cmd, s.done, s.signalled, s.err = cmd, done, false, nil
	f.mu.Unlock()
	go func() {
		err := cmd.Wait()
		lf.Close()
		f.mu.Lock()
		s.err = err
		if !s.signalled {
			f.exits = append(f.exits, fmt.Sprintf("consumer %d (pid %d) exited by itself: %v; last lines of %s:\n%s",
				s.n, cmd.Process.Pid, err, path, lastLines(path, 5)))
		}
		f.mu.Unlock()
		close(done)
	}()
	return nil
}

// startAll starts every slot.
func (f *fleet) startAll() error {
	for _, s := range f.slots {
		if err := f.start(s); err != nil {
			return err
		}
	}
	return nil
}

// kill is one signal sent to a consumer, as the run prints it.
type kill struct {
	At     time.Duration // since the run began
	Slot   int
	PID    int
	Signal syscall.Signal
	// PeakKB is the process's VmHWM just before the signal.
	PeakKB int64
	// Exit is how long the process took to exit, and Forced that a SIGTERM ran out of
	// time and the process was killed.
	Exit   time.Duration
	Forced bool
}

func (k kill) String() string {
	s := fmt.Sprintf("%7.1fs  consumer %d (pid %d, peak RSS %s) %s, exited after %.1fs",
		k.At.Seconds(), k.Slot, k.PID, mb(k.PeakKB), signalName(k.Signal), k.Exit.Seconds())
	if k.Forced {
		s += " (still running after SIGTERM: SIGKILL)"
	}
	return s
}

func signalName(s syscall.Signal) string {
	if s == syscall.SIGKILL {
		return "SIGKILL"
	}
	return "SIGTERM"
}

// signal sends sig to slot s, waits for the process to exit (a SIGTERM gets f.term before
// a SIGKILL follows) and records its peak RSS.
func (f *fleet) signal(s *slot, sig syscall.Signal) (kill, error) {
	f.mu.Lock()
	cmd, done := s.cmd, s.done
	s.signalled = true
	f.mu.Unlock()
	if cmd == nil {
		return kill{}, fmt.Errorf("consumer %d is not running", s.n)
	}
	k := kill{Slot: s.n, PID: cmd.Process.Pid, Signal: sig, PeakKB: vmHWM(cmd.Process.Pid)}
	f.recordPeak(k.PID, k.PeakKB)
	began := time.Now()
	if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return k, fmt.Errorf("consumer %d: %s: %w", s.n, signalName(sig), err)
	}
	select {
	case <-done:
	case <-time.After(f.term):
		k.Forced = true
		_ = cmd.Process.Kill()
		<-done
	}
	k.Exit = time.Since(began)
	return k, nil
}

func (f *fleet) recordPeak(pid int, kb int64) {
	if kb <= 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.peaks = append(f.peaks, peak{pid, kb})
}

// stopAll sends SIGTERM to every running consumer and waits for them, recording their
// peak RSS first.
func (f *fleet) stopAll() {
	var wg sync.WaitGroup
	for _, s := range f.slots {
		f.mu.Lock()
		running := s.cmd != nil && s.done != nil
		f.mu.Unlock()
		if !running {
			continue
		}
		select {
		case <-s.done:
			continue
		default:
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = f.signal(s, syscall.SIGTERM)
		}()
	}
	wg.Wait()
}

// maxPeak is the highest VmHWM seen over every consumer process.
func (f *fleet) maxPeak() peak {
	f.mu.Lock()
	defer f.mu.Unlock()
	var best peak
	for _, p := range f.peaks {
		if p.kb > best.kb {
			best = p
		}
	}
	return best
}

// unexpected returns the processes that exited without a signal.
func (f *fleet) unexpected() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.exits...)
}

// logFiles lists every incarnation's log file.
func (f *fleet) logFiles() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.logs...)
}

// vmHWM reads a process's peak resident set in kB from /proc (0 if it cannot).
func vmHWM(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

func mb(kb int64) string { return fmt.Sprintf("%.0f MB", float64(kb)/1024) }

// lastLines returns the last n lines of a file.
func lastLines(path string, n int) string {
	fh, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer fh.Close()
	var lines []string
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}
