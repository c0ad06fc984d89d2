package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/storage"
	"github.com/nba-props/pipeline/infra/bqemu"
	"github.com/nba-props/pipeline/infra/cloud"
	"github.com/nba-props/pipeline/infra/emulators"
	"github.com/nba-props/pipeline/infra/sourcesim"
	"github.com/nba-props/pipeline/infra/topology"
	"github.com/nba-props/pipeline/messages"
)

// simNow puts the simulator after the 2024-25 season, so every game of it is final.
var simNow = time.Date(2025, 6, 30, 16, 0, 0, 0, time.UTC)

// stack is the local stack of `make run` without its in-process consumers: the emulators,
// the simulator and the topology, on free ports, with data in a fresh directory. The
// consumers run beside it as a separate process (the consumers binary), so that their
// memory is measured on its own.
type stack struct {
	dir      string
	env      cloud.Env
	sources  map[string]string
	pubsub   *pubsub.Client
	storage  *storage.Client
	bigquery *bigquery.Client
	sim      *sourcesim.Sim
	closers  []func() error
}

// startStack starts a fresh stack; latency is added to every simulator request.
func startStack(ctx context.Context, seed int64, latency time.Duration, logs io.Writer) (_ *stack, err error) {
	s := &stack{}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	if s.dir, err = emulators.ScratchDir("nba-props-bench-"); err != nil {
		return nil, err
	}
	dir := s.dir
	s.closers = append(s.closers, func() error { return os.RemoveAll(dir) })
	ps, err := emulators.StartPubSub("127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, ps.Close)
	gcs, err := emulators.StartGCS(emulators.GCSOptions{Addr: "127.0.0.1:0", Root: filepath.Join(s.dir, "gcs")})
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, gcs.Close)
	project := cloud.LocalProject
	if s.pubsub, err = cloud.PubSubAt(ctx, project, ps.Host()); err != nil {
		return nil, err
	}
	s.closers = append(s.closers, s.pubsub.Close)
	if s.storage, err = cloud.Storage(ctx, gcs.Host()); err != nil {
		return nil, err
	}
	s.closers = append(s.closers, s.storage.Close)
	bq, err := bqemu.New(bqemu.Options{Projects: []string{project}, DuckDBPath: filepath.Join(s.dir, "bq"),
		GCS: bqemu.StorageSource(s.storage), Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	if err != nil {
		return nil, fmt.Errorf("bigquery emulator: %w", err)
	}
	s.closers = append(s.closers, bq.Close)
	bqHost, err := s.serve(bq.Handler())
	if err != nil {
		return nil, err
	}
	if s.bigquery, err = cloud.BigQuery(ctx, project, bqHost); err != nil {
		return nil, err
	}
	s.closers = append(s.closers, s.bigquery.Close)

	cfg := sourcesim.Config{Seed: seed, OddsCredits: 200_000, Now: func() time.Time { return simNow }}
	if latency > 0 {
		// A latency fault without source, dataset or date matches every request.
		cfg.Faults = []sourcesim.Fault{{Kind: sourcesim.FaultLatency, LatencyMS: int(latency.Milliseconds())}}
	}
	s.sim = sourcesim.New(cfg)
	simHost, err := s.serve(s.sim.Handler())
	if err != nil {
		return nil, err
	}
	base := "http://" + simHost
	s.sources = map[string]string{
		"BDL_BASE_URL":       base + "/bdl",
		"ODDS_API_BASE_URL":  base + "/odds",
		"NBA_CDN_BASE_URL":   base + "/nbacdn",
		"NBA_STATS_BASE_URL": base + "/nbastats",
	}
	s.env = cloud.Env{Project: project, Bucket: project, PubSubEmulatorHost: ps.Host(),
		StorageEmulatorHost: "http://" + gcs.Host(), BigQueryEmulatorHost: "http://" + bqHost}
	if _, err := topology.Apply(ctx, topology.Clients{PubSub: s.pubsub, Storage: s.storage, BigQuery: s.bigquery},
		topology.Options{Names: messages.Names{}, Bucket: project}); err != nil {
		return nil, fmt.Errorf("applying the topology: %w", err)
	}
	return s, nil
}

// vars is the environment that points a process (producer, consumers) at the stack.
func (s *stack) vars() map[string]string {
	out := map[string]string{}
	for _, kv := range s.env.Vars() {
		out[kv[0]] = kv[1]
	}
	for k, v := range s.sources {
		out[k] = v
	}
	return out
}

func (s *stack) serve(h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	s.closers = append(s.closers, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		return nil
	})
	return ln.Addr().String(), nil
}

func (s *stack) close() {
	for _, c := range slices.Backward(s.closers) {
		_ = c()
	}
	s.closers = nil
}
