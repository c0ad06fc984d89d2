// Package emulators runs the local stand-ins for Google Cloud: the Pub/Sub emulator
// (pstest served over gRPC on a TCP port, or Google's official emulator as a child
// process where the Google Cloud CLI has it) and GCS (fake-gcs-server over HTTP with its
// filesystem backend). The local stack serves them on fixed ports for other processes;
// tests start their own on random ports with StartTest.
//
// Production binaries never import this package: they reach the emulators through
// PUBSUB_EMULATOR_HOST and STORAGE_EMULATOR_HOST (see infra/cloud).
package emulators

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"
)

// Default ports of the local stack: the defaults of gcloud's Pub/Sub emulator and of
// fake-gcs-server, so that settings written for either work unchanged.
const (
	DefaultPubSubAddr = "127.0.0.1:8085"
	DefaultGCSAddr    = "127.0.0.1:4443"
)

// ScratchDir makes a fresh directory for emulator data that need not outlive the machine
// (a test, make run, make bench): on tmpfs (/dev/shm) where there is one, else under the
// system's temporary directory. fake-gcs-server's filesystem backend syncs each object and
// its metadata file to disk under its one lock, so on a disk every GCS write waits for two
// syncs and every other request waits behind it; on tmpfs a sync costs nothing. The data
// are gone after a reboot; the local stack of make up keeps its own under .local/.
func ScratchDir(pattern string) (string, error) {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if dir, err := os.MkdirTemp("/dev/shm", pattern); err == nil {
			return dir, nil
		}
	}
	return os.MkdirTemp("", pattern)
}

// GCSOptions configure the GCS emulator.
type GCSOptions struct {
	// Addr is "host:port" to listen on; port 0 picks a free one.
	Addr string
	// Root is the directory of the filesystem backend. The memory backend slows down as a
	// bucket grows (O(n) per operation), so there is no option to use it.
	Root string
	// Buckets are created at start.
	Buckets []string
}

// GCS is a running GCS emulator.
type GCS struct {
	// Server gives tests direct access to the fake.
	Server *fakestorage.Server
	http   *http.Server
	host   string
	done   chan error
}

// StartGCS serves fake-gcs-server over plain HTTP on opts.Addr.
func StartGCS(opts GCSOptions) (*GCS, error) {
	if opts.Root == "" {
		return nil, errors.New("gcs emulator: a storage root directory is required")
	}
	if err := os.MkdirAll(opts.Root, 0o755); err != nil {
		return nil, fmt.Errorf("gcs emulator storage root: %w", err)
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("gcs emulator on %s: %w", opts.Addr, err)
	}
	host := ln.Addr().String()
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		StorageRoot: opts.Root,
		Scheme:      "http",
		NoListener:  true,
		// Resumable uploads send the client back to ExternalURL; XML-API reads are routed only
		// for PublicHost. Both must be the address clients actually use.
		ExternalURL: "http://" + host,
		PublicHost:  host,
	})
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("gcs emulator: %w", err)
	}
	for _, b := range opts.Buckets {
		srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: b})
	}
	g := &GCS{
		Server: srv,
		http:   &http.Server{Handler: newPrefixLister(opts.Root, srv.HTTPHandler()), ReadHeaderTimeout: 10 * time.Second},
		host:   host,
		done:   make(chan error, 1),
	}
	go func() { g.done <- g.http.Serve(ln) }()
	return g, nil
}

// Host is the "host:port" to put in STORAGE_EMULATOR_HOST.
func (g *GCS) Host() string { return g.host }

// Close stops accepting requests and waits up to five seconds for those in flight, then
// cuts what is left: a client still talking to an emulator that is being stopped (a
// consumer's retry at shutdown) gets a closed connection, as from a GCS endpoint that went
// away, and the stop is not an error.
func (g *GCS) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := g.http.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = g.http.Close()
	}
	if serr := <-g.done; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	g.Server.Stop()
	if err != nil {
		return fmt.Errorf("stop gcs emulator: %w", err)
	}
	return nil
}
