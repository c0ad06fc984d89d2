package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// binaries are the programs a chaos run builds once: the real consumers and producer
// (pure Go, as make build builds them) and the local stack.
type binaries struct {
	consumers, producer, localstack string
}

// build compiles the three binaries into dir.
func build(ctx context.Context, dir string) (binaries, error) {
	b := binaries{
		consumers:  filepath.Join(dir, "consumers"),
		producer:   filepath.Join(dir, "producer"),
		localstack: filepath.Join(dir, "localstack"),
	}
	for _, t := range []struct {
		out, pkg string
		cgo      bool
	}{
		{b.consumers, "github.com/nba-props/pipeline/consumers", false},
		{b.producer, "github.com/nba-props/pipeline/producer", false},
		{b.localstack, "github.com/nba-props/pipeline/infra/localstack", true}, // the BigQuery emulator links DuckDB
	} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", t.out, t.pkg)
		cmd.Env = os.Environ()
		if !t.cgo {
			cmd.Env = append(cmd.Env, "CGO_ENABLED=0")
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			return b, fmt.Errorf("go build %s (run this inside the repository): %w\n%s", t.pkg, err, out)
		}
	}
	return b, nil
}

// stack is `localstack up --no-consumers` running as a child process: the emulators, the
// BigQuery emulator, the source simulator and the applied topology, exactly what a user
// gets from `make up ARGS=--no-consumers` before starting consumers by hand.
type stack struct {
	cmd  *exec.Cmd
	done chan error
	// env is what the stack printed to export: the emulators and the simulator's base URLs.
	env map[string]string
	// sim is the simulator's base URL (its control API is under /_sim).
	sim string
}

// stackOptions are the flags the chaos run gives `localstack up`.
type stackOptions struct {
	dataDir string
	simSeed int64
	simNow  string
	// pubsub selects the Pub/Sub emulator; "" leaves the stack's default.
	pubsub string
}

// startStack runs the stack on free ports and waits until it prints its exports. Its
// output after that goes to logs.
func startStack(ctx context.Context, bin string, o stackOptions, logs io.Writer) (*stack, error) {
	args := []string{"up", "--no-consumers", "--status-port", "-1", "--data", o.dataDir, "--fresh",
		"--pubsub-port", "0", "--gcs-port", "0", "--bigquery-port", "0", "--sim-port", "0",
		"--sim-seed", fmt.Sprint(o.simSeed), "--sim-now", o.simNow}
	if o.pubsub != "" {
		args = append(args, "--pubsub", o.pubsub)
	}
	cmd := exec.Command(bin, args...)
	var stderr tail
	cmd.Stderr = io.MultiWriter(logs, &stderr)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	// A pipe of our own rather than StdoutPipe: Wait must not close it under the reader.
	out, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = pw
	err = cmd.Start()
	pw.Close()
	if err != nil {
		out.Close()
		return nil, fmt.Errorf("local stack: %w", err)
	}
	s := &stack{cmd: cmd, done: make(chan error, 1), env: map[string]string{}}
	ready, waited := make(chan error, 1), make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		var seen []string
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logs, line)
			if signalled {
				continue
			}
			seen = append(seen, line)
			if kv, ok := strings.CutPrefix(strings.TrimSpace(line), "export "); ok {
				if k, v, ok := strings.Cut(kv, "="); ok {
					s.env[k] = v
				}
			}
			if strings.HasPrefix(line, "Ctrl-C stops the stack") {
				signalled = true
				ready <- nil
			}
		}
		if !signalled {
			// Wait for the exit, so that its stderr is complete.
			<-waited
			ready <- fmt.Errorf("it stopped before printing its exports; it printed:\n%s%s", strings.Join(seen, "\n"), stderr.String())
		}
		_, _ = io.Copy(logs, out)
		out.Close()
	}()
	go func() {
		err := cmd.Wait()
		close(waited)
		s.done <- err
	}()

	t := time.NewTimer(2 * time.Minute)
	defer t.Stop()
	select {
	case err = <-ready:
	case <-t.C:
		err = errors.New("it printed no exports within 2 minutes")
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err == nil {
		bdl := s.env["BDL_BASE_URL"]
		s.sim, _ = strings.CutSuffix(bdl, "/bdl")
		if s.sim == bdl || s.env["PUBSUB_EMULATOR_HOST"] == "" || s.env["STORAGE_EMULATOR_HOST"] == "" || s.env["BIGQUERY_EMULATOR_HOST"] == "" {
			err = fmt.Errorf("its exports lack an emulator or the simulator (BDL_BASE_URL=%q): %v", bdl, s.env)
		}
	}
	if err != nil {
		_ = s.stop()
		hint := ""
		if o.pubsub != "" {
			hint = fmt.Sprintf(" (this local stack may not know --pubsub %s yet)", o.pubsub)
		}
		return nil, fmt.Errorf("local stack%s: %w", hint, err)
	}
	return s, nil
}

// stop asks the stack to shut down (SIGTERM, as Ctrl-C does) and waits for it, killing it
// after 20 seconds.
func (s *stack) stop() error {
	if s.cmd.Process == nil {
		return nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == 2 {
			return fmt.Errorf("local stack refused its arguments: %w", err)
		}
		return nil
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
		return errors.New("local stack did not stop within 20s of SIGTERM; killed")
	}
}

// tail keeps the last 4 KiB written to it: the end of a child's stderr, for an error.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - 4096; over > 0 {
		t.buf = t.buf[over:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
