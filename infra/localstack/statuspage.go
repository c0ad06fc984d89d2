package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// statusPage is the producer's status page (producer serve) run beside the stack: a child
// process of the real CLI, pointed at the stack by the same variables a user exports.
type statusPage struct {
	cmd  *exec.Cmd
	dir  string
	url  chan string   // the page's URL, once it listens
	done chan struct{} // closed when the process has exited, with err
	err  error
}

// startStatusPage builds the producer and starts `producer serve` on host:port over the
// dates start to end, with env (the stack's exports). The URL arrives on url once the
// page listens; its other output goes to logs.
func startStatusPage(ctx context.Context, host string, port int, start, end string, env [][2]string, logs io.Writer) (*statusPage, error) {
	dir, err := os.MkdirTemp("", "localstack-status-")
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(dir, "producer")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/nba-props/pipeline/producer").CombinedOutput(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("status page: go build ./producer (run this inside the repository): %w\n%s", err, out)
	}
	cmd := exec.CommandContext(ctx, bin, "serve", "--addr", net.JoinHostPort(host, strconv.Itoa(port)),
		"--job", "all", "--start-date", start, "--end-date", end)
	cmd.Env = os.Environ()
	for _, kv := range env {
		cmd.Env = append(cmd.Env, kv[0]+"="+kv[1])
	}
	cmd.Stderr = logs
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("status page: %w", err)
	}
	p := &statusPage{cmd: cmd, dir: dir, url: make(chan string, 1), done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "status page: "); ok {
				p.url <- u
				continue
			}
			fmt.Fprintln(logs, sc.Text())
		}
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// close stops the page and removes its binary.
func (p *statusPage) close() {
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(os.Interrupt)
	}
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
	}
	_ = os.RemoveAll(p.dir)
}
