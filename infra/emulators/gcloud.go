package emulators

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// ErrGcloudPubSubNotInstalled is what StartGcloudPubSub wraps when the official emulator
// or the Java it runs on is missing, so that a caller can tell "install something" from
// "it failed to start".
var ErrGcloudPubSubNotInstalled = errors.New("the official Pub/Sub emulator is not installed")

// How to get the official emulator, and that nothing needs it.
const (
	gcloudPubSubInstall = "install it with `gcloud components install pubsub-emulator beta`, or, where the " +
		"Google Cloud CLI came from Google's apt repository, `apt-get install google-cloud-cli-pubsub-emulator`; " +
		"it runs on Java 8 or later"
	pstestNeedsNothing = "The default Pub/Sub backend, pstest, is built in and needs nothing installed"
)

// launcherInSDK is where the emulator's own launcher sits in a Google Cloud CLI
// installation. Running it directly saves the Python start of `gcloud beta emulators pubsub
// start`, which only looks it up and runs it with --host and --port.
var launcherInSDK = filepath.Join("platform", "pubsub-emulator", "bin", "cloud-pubsub-emulator")

// sdkRoots are the places the Google Cloud CLI installs itself (its Debian package, its
// archive, the snap), searched after the root of whichever gcloud is on PATH.
var sdkRoots = []string{"/usr/lib/google-cloud-sdk", "/usr/share/google-cloud-sdk", "/opt/google-cloud-sdk",
	"/snap/google-cloud-cli/current", "/snap/google-cloud-sdk/current"}

// gcloudPubSubStartLimit bounds the wait for a started emulator to answer. It starts in
// one to two seconds here; a cold JVM on a loaded machine takes longer.
const gcloudPubSubStartLimit = 2 * time.Minute

// GcloudPubSubAvailable reports whether the official emulator can be started here: true
// with its launcher's path, or false with what is missing and how to install it (for a
// test's Skip).
func GcloudPubSubAvailable() (bool, string) {
	launcher, err := findGcloudPubSub(sdkSearchRoots())
	if err != nil {
		return false, err.Error()
	}
	return true, launcher
}

// sdkSearchRoots are the Google Cloud CLI installations to look in: the one whose gcloud
// is on PATH, the one its installer puts in the home directory, then sdkRoots.
func sdkSearchRoots() []string {
	var roots []string
	if gcloud, err := exec.LookPath("gcloud"); err == nil {
		if real, err := filepath.EvalSymlinks(gcloud); err == nil {
			roots = append(roots, filepath.Dir(filepath.Dir(real)))
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		roots = append(roots, filepath.Join(home, "google-cloud-sdk"))
	}
	return append(roots, sdkRoots...)
}

// findGcloudPubSub returns the emulator's launcher in the first of roots that has it, or
// ErrGcloudPubSubNotInstalled with where it looked and how to install what is missing.
func findGcloudPubSub(roots []string) (string, error) {
	launcher := ""
	for _, r := range roots {
		p := filepath.Join(r, launcherInSDK)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			launcher = p
			break
		}
	}
	if launcher == "" {
		return "", fmt.Errorf("%w: no %s under a Google Cloud CLI (looked in %s); %s. %s",
			ErrGcloudPubSubNotInstalled, launcherInSDK, strings.Join(roots, ", "), gcloudPubSubInstall, pstestNeedsNothing)
	}
	if _, err := javaCommand(); err != nil {
		return "", fmt.Errorf("%w: %s is there but %v: install Java 8 or later (Debian: `apt-get install default-jre-headless`). %s",
			ErrGcloudPubSubNotInstalled, launcher, err, pstestNeedsNothing)
	}
	return launcher, nil
}

// javaCommand finds java the way the launcher does: JAVA_HOME first, then PATH.
func javaCommand() (string, error) {
	if home := os.Getenv("JAVA_HOME"); home != "" {
		p := filepath.Join(home, "bin", "java")
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("JAVA_HOME=%s has no bin/java", home)
		}
		return p, nil
	}
	p, err := exec.LookPath("java")
	if err != nil {
		return "", errors.New("no java on PATH")
	}
	return p, nil
}

// GcloudPubSubOptions configure the official emulator.
type GcloudPubSubOptions struct {
	// Addr is "host:port" to listen on; port 0 picks a free one.
	Addr string
	// Logs receives the emulator's own output (a few INFO lines per connection); nil
	// discards it. Its last lines are quoted in any start error either way.
	Logs io.Writer
}

// GcloudPubSub is Google's own Pub/Sub emulator (the one `gcloud beta emulators pubsub
// start` runs) as a child process. Unlike pstest it counts delivery attempts per
// subscription, backs a nack off by the subscription's retry policy and dead-letters a
// message once; it ignores subscription filters, delivering every message of a topic to
// every subscription of it. It keeps everything in memory. Its version 0.8.20 loses track of
// every streaming pull a client cancels; StartGcloudPubSub runs it with a patch for that
// (grpcPatchClass).
type GcloudPubSub struct {
	cmd     *exec.Cmd
	cleanup func() // removes what emulatorCommand wrote, once the process has exited
	host    string
	out     *tail
	exited  chan struct{} // closed when the process has exited; waitErr says how
	waitErr error
	closing sync.Once
	closed  bool
}

// StartGcloudPubSub starts the official emulator on opts.Addr in a process group of its
// own, and returns once it answers a real API call. ctx bounds the start only; Close
// stops it (and the process dies with ours if we are killed).
func StartGcloudPubSub(ctx context.Context, opts GcloudPubSubOptions) (*GcloudPubSub, error) {
	launcher, err := findGcloudPubSub(sdkSearchRoots())
	if err != nil {
		return nil, err
	}
	return startLauncher(ctx, launcher, opts)
}

// startLauncher runs the emulator with --host and --port and waits for it: through its
// launcher, or, where its jar needs the gRPC patch, on Java directly with the patch ahead
// of the jar (see emulatorCommand).
func startLauncher(ctx context.Context, launcher string, opts GcloudPubSubOptions) (*GcloudPubSub, error) {
	host, port, err := pickPort(opts.Addr)
	if err != nil {
		return nil, err
	}
	g := &GcloudPubSub{host: net.JoinHostPort(host, port), out: &tail{max: 8 << 10}, exited: make(chan struct{})}
	var w io.Writer = g.out
	if opts.Logs != nil {
		w = io.MultiWriter(g.out, opts.Logs)
	}
	cmd, cleanup, err := emulatorCommand(launcher, []string{"--host=" + host, "--port=" + port}, w)
	if err != nil {
		return nil, err
	}
	g.cmd, g.cleanup = cmd, cleanup
	g.cmd.Stdout, g.cmd.Stderr = w, w
	g.cmd.SysProcAttr = childProcAttr()
	if err := g.cmd.Start(); err != nil {
		cleanup()
		return nil, fmt.Errorf("official pubsub emulator: start %s: %w", g.cmd.Path, err)
	}
	go func() {
		g.waitErr = g.cmd.Wait()
		g.cleanup()
		close(g.exited)
	}()
	if err := g.waitReady(ctx); err != nil {
		_ = g.Close()
		return nil, err
	}
	return g, nil
}

// pickPort resolves addr to a host and a port to pass to the emulator, which has no
// "pick a free port" of its own: port 0 takes one the kernel offers.
func pickPort(addr string) (string, string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", "", fmt.Errorf("official pubsub emulator address %q: want host:port: %w", addr, err)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	if port != "0" {
		return host, port, nil
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", "", fmt.Errorf("official pubsub emulator on %s: %w", addr, err)
	}
	defer ln.Close()
	return host, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), nil
}

// waitReady lists topics until the emulator answers, it exits, or ctx or the start limit
// ends.
func (g *GcloudPubSub) waitReady(ctx context.Context) error {
	conn, err := grpc.NewClient(g.host, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("official pubsub emulator on %s: %w", g.host, err)
	}
	defer conn.Close()
	pub := pb.NewPublisherClient(conn)
	ctx, cancel := context.WithTimeout(ctx, gcloudPubSubStartLimit)
	defer cancel()
	var last error
	for {
		cctx, ccancel := context.WithTimeout(ctx, 2*time.Second)
		_, last = pub.ListTopics(cctx, &pb.ListTopicsRequest{Project: "projects/readiness-check"})
		ccancel()
		if last == nil {
			return nil
		}
		select {
		case <-g.exited:
			return fmt.Errorf("official pubsub emulator on %s exited before it answered (%v); its output ends:\n%s",
				g.host, g.waitErr, g.out)
		case <-ctx.Done():
			return fmt.Errorf("official pubsub emulator on %s did not answer (%v; last try: %v); its output ends:\n%s",
				g.host, ctx.Err(), last, g.out)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Host is the "host:port" to put in PUBSUB_EMULATOR_HOST.
func (g *GcloudPubSub) Host() string { return g.host }

// Close stops the emulator's whole process group: SIGTERM, then SIGKILL after five
// seconds. It reports an error if the emulator had already exited on its own.
func (g *GcloudPubSub) Close() error {
	var err error
	g.closing.Do(func() {
		select {
		case <-g.exited:
			if !g.closed {
				err = fmt.Errorf("official pubsub emulator on %s had exited on its own (%v); its output ends:\n%s", g.host, g.waitErr, g.out)
			}
			return
		default:
		}
		g.closed = true
		pgid := -g.cmd.Process.Pid
		_ = syscall.Kill(pgid, syscall.SIGTERM)
		select {
		case <-g.exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(pgid, syscall.SIGKILL)
			<-g.exited
		}
	})
	return err
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
		if i := bytes.IndexByte(t.b, '\n'); i >= 0 {
			t.b = t.b[i+1:]
		}
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
