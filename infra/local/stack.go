// Package local is the local stack: the emulators (Pub/Sub, GCS, BigQuery), the source
// simulator, the topology applied to them and, unless left out, the consumers in-process.
// make up and make run (infra/localstack) and make bench start it with Start.
package local

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
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/storage"
	"github.com/nba-props/pipeline/consumers/push"
	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/consumers/service"
	"github.com/nba-props/pipeline/infra/bqemu"
	"github.com/nba-props/pipeline/infra/cloud"
	"github.com/nba-props/pipeline/infra/emulators"
	"github.com/nba-props/pipeline/infra/oidclocal"
	"github.com/nba-props/pipeline/infra/pushbridge"
	"github.com/nba-props/pipeline/infra/sourcesim"
	"github.com/nba-props/pipeline/infra/topology"
	"github.com/nba-props/pipeline/messages"
	"github.com/sethvargo/go-envconfig"
)

// Pub/Sub emulators the stack can run (Options.PubSub, --pubsub).
const (
	// PubSubPstest is pstest, the Go Pub/Sub module's fake, in-process: nothing to install.
	PubSubPstest = "pstest"
	// PubSubGcloud is Google's official emulator, a Java process the Google Cloud CLI
	// installs: attempts per subscription, the retry policy's back-off, no filters.
	PubSubGcloud = "gcloud"
)

// Options configure the stack. Addresses with port 0 pick free ports (tests).
type Options struct {
	PubSubAddr, GCSAddr, BigQueryAddr, SimAddr string
	// PubSub is the Pub/Sub emulator: PubSubPstest (also when empty) or PubSubGcloud.
	PubSub string
	// DataDir keeps GCS objects (DataDir/gcs) and BigQuery tables (DataDir/bq) between runs.
	DataDir string
	Project string
	Bucket  string
	Prefix  string
	// NoBigQuery, NoSim and NoConsumers leave those parts out.
	NoBigQuery, NoSim, NoConsumers bool
	// SimSeed and SimNow configure the source simulator (SimNow zero: the wall clock).
	SimSeed int64
	SimNow  time.Time
	// SimLatency delays every simulator response (realistic sources for make bench).
	SimLatency time.Duration
	// Env is the process environment, for settings the stack does not fix (API keys, rates).
	Env envconfig.Lookuper
	// Logs receives the consumers' JSON log lines.
	Logs io.Writer
	// Traces are the OTEL_* variables that send a process's spans to the stack's trace
	// view (stackTelemetry.tracesVars); they are exported with the emulators.
	Traces [][2]string
	// Push delivers by push, as on Cloud Run: the subscriptions push to the consumers'
	// HTTP endpoints (in-process), the bridge plays Pub/Sub's push with tokens from a
	// local issuer, and it calls the reconcile endpoint every ReconcileEvery.
	Push bool
}

// pushAccount is the service account the local push subscriptions sign their tokens as.
const pushAccount = "pubsub-push@nba-props-local.iam.gserviceaccount.com"

// Stack is the running local environment. Each part is an extension point: a new
// emulator is one more start step in Start and one more field of its environment.
type Stack struct {
	o       Options
	closers []func() error
	// env points a process at the emulators; sources points the scrapers at the simulator.
	env     cloud.Env
	sources [][2]string

	PubSub   *pubsub.Client
	Storage  *storage.Client
	BigQuery *bigquery.Client
	// BigQueryEmulator is the emulator behind BigQuery (nil with NoBigQuery).
	BigQueryEmulator *bqemu.Server
	Sim              *sourcesim.Sim
	Report           topology.Report
	Consumer         *service.Service

	consumerDone chan struct{}
	consumerErr  error

	// pushURL is the consumers' push service (push mode), and issuer signs its tokens.
	pushURL string
	issuer  *oidclocal.Server
}

// Vars are the environment variables that point a process at the stack, in a stable
// order: the emulators, then the simulator's base URLs. Unset ones are left out.
func (s *Stack) Vars() [][2]string {
	return append(s.env.Vars(), s.sources...)
}

// Exports are the variables to export in another shell: where the emulators are and, when
// the stack runs no consumers (so the user runs them), the simulator's base URLs for the
// scrapers. Nothing empty: an unset variable already means its default.
func (s *Stack) Exports() [][2]string { return exports(s.o, s.env, s.sources) }

// ExportsAt are the Exports of a stack of o listening at o's addresses as given, with
// the simulator at sources: what `up` prints with fixed ports, known before it starts.
func ExportsAt(o Options, sources [][2]string) [][2]string {
	return exports(o, localEnv(o, o.PubSubAddr, o.GCSAddr, o.BigQueryAddr), sources)
}

func exports(o Options, env cloud.Env, sources [][2]string) [][2]string {
	if o.NoConsumers {
		return append(env.Vars(), sources...)
	}
	return append(env.Vars(), o.Traces...)
}

// Env says where the stack's emulators are.
func (s *Stack) Env() cloud.Env { return s.env }

// localEnv is the environment of a stack whose emulators listen on these host:port
// addresses (bigquery "" when it has none). The HTTP emulators are written as URLs, which
// the Go clients accept and the clients of other languages (Python's storage and BigQuery
// clients, for two) require; Pub/Sub speaks gRPC and stays host:port.
func localEnv(o Options, pubsub, gcs, bigquery string) cloud.Env {
	e := cloud.Env{Project: o.Project, Bucket: o.Bucket, Prefix: o.Prefix,
		PubSubEmulatorHost: pubsub, StorageEmulatorHost: "http://" + gcs}
	if bigquery != "" {
		e.BigQueryEmulatorHost = "http://" + bigquery
	}
	return e
}

// Start brings the stack up: emulators, simulator, topology, then the consumers.
func Start(ctx context.Context, o Options) (_ *Stack, err error) {
	if err := CheckPubSub(o); err != nil {
		return nil, err
	}
	s := &Stack{o: o}
	defer func() {
		if err != nil {
			_ = s.Close()
		}
	}()

	ps, err := s.startPubSub(ctx)
	if err != nil {
		return nil, err
	}

	gcs, err := emulators.StartGCS(emulators.GCSOptions{Addr: o.GCSAddr, Root: filepath.Join(o.DataDir, "gcs")})
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, gcs.Close)

	if s.PubSub, err = cloud.PubSubAt(ctx, o.Project, ps); err != nil {
		return nil, err
	}
	s.closers = append(s.closers, s.PubSub.Close)
	if s.Storage, err = cloud.Storage(ctx, gcs.Host()); err != nil {
		return nil, err
	}
	s.closers = append(s.closers, s.Storage.Close)

	// Extension point: the BigQuery emulator (DuckDB), reading load files from the GCS emulator.
	bqHost := ""
	if !o.NoBigQuery {
		if err := os.MkdirAll(filepath.Join(o.DataDir, "bq"), 0o755); err != nil {
			return nil, fmt.Errorf("bigquery emulator data dir: %w", err)
		}
		bq, err := bqemu.New(bqemu.Options{Projects: []string{o.Project}, DuckDBPath: filepath.Join(o.DataDir, "bq"),
			GCS: bqemu.StorageSource(s.Storage), Logger: slog.New(slog.NewJSONHandler(o.Logs, nil))})
		if err != nil {
			return nil, fmt.Errorf("bigquery emulator: %w", err)
		}
		s.closers = append(s.closers, bq.Close)
		s.BigQueryEmulator = bq
		host, err := s.serve(o.BigQueryAddr, bq.Handler(), "bigquery emulator")
		if err != nil {
			return nil, err
		}
		bqHost = host
		if s.BigQuery, err = cloud.BigQuery(ctx, o.Project, host); err != nil {
			return nil, err
		}
		s.closers = append(s.closers, s.BigQuery.Close)
	}

	s.env = localEnv(o, ps, gcs.Host(), bqHost)

	// Extension point: the source simulator, with the scrapers' base URLs pointed at it.
	if !o.NoSim {
		// Two pre-tip snapshots cost about 150 credits a date: 200,000 covers five seasons
		// (the simulator's default of 20,000 runs out after about 130 dates, and the
		// scrapers then stop at their credit floor, as they would in production).
		cfg := sourcesim.Config{Seed: o.SimSeed, OddsCredits: 200_000}
		if !o.SimNow.IsZero() {
			now := o.SimNow
			cfg.Now = func() time.Time { return now }
		}
		if o.SimLatency > 0 {
			// A latency fault without source, dataset or date matches every request.
			cfg.Faults = []sourcesim.Fault{{Kind: sourcesim.FaultLatency, LatencyMS: int(o.SimLatency.Milliseconds())}}
		}
		s.Sim = sourcesim.New(cfg)
		host, err := s.serve(o.SimAddr, s.Sim.Handler(), "source simulator")
		if err != nil {
			return nil, err
		}
		base := "http://" + host
		s.sources = [][2]string{
			{"BDL_BASE_URL", base + "/bdl"},
			{"ODDS_API_BASE_URL", base + "/odds"},
			{"NBA_CDN_BASE_URL", base + "/nbacdn"},
			{"NBA_STATS_BASE_URL", base + "/nbastats"},
			{"NBA_STATSDMZ_BASE_URL", base + "/nbastatsdmz"},
		}
	}

	var push *topology.Push
	if o.Push {
		if o.NoConsumers {
			return nil, errors.New("--push runs the consumers in-process behind the push bridge: drop --no-consumers")
		}
		if push, err = s.startIssuer(); err != nil {
			return nil, err
		}
	}
	s.Report, err = topology.Apply(ctx, topology.Clients{PubSub: s.PubSub, Storage: s.Storage, BigQuery: s.BigQuery},
		topology.Options{Names: messages.Names{Prefix: o.Prefix}, Bucket: o.Bucket, Push: push})
	if err != nil {
		return nil, fmt.Errorf("applying the topology: %w", err)
	}

	if !o.NoConsumers {
		if err := s.startConsumers(ctx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// CheckPubSub refuses, before anything starts, a Pub/Sub emulator the stack does not know,
// and push delivery on the official one: that emulator pushes to the consumers' endpoints
// itself, without the OIDC token they require, so every push is refused (seen here).
func CheckPubSub(o Options) error {
	switch o.PubSub {
	case "", PubSubPstest:
		return nil
	case PubSubGcloud:
		if o.Push {
			return fmt.Errorf("--push with --pubsub=%s: the official emulator pushes to the consumers' endpoints itself, "+
				"without the OIDC token they require, and each push is refused with a 401; run --push on %s, whose push "+
				"bridge signs the tokens", PubSubGcloud, PubSubPstest)
		}
		return nil
	}
	return fmt.Errorf("--pubsub %q: want %s (built in) or %s (Google's official emulator)", o.PubSub, PubSubPstest, PubSubGcloud)
}

// PubSubName says which Pub/Sub emulator runs, and where the official one logs.
func (s *Stack) PubSubName() string {
	if s.o.PubSub == PubSubGcloud {
		return "gcloud, Google's official emulator (its log: " + filepath.Join(s.o.DataDir, "pubsub-emulator.log") + ")"
	}
	return "pstest, built in"
}

// startPubSub starts the Pub/Sub emulator of o.PubSub and returns its host:port. The
// official one writes its own output to DataDir/pubsub-emulator.log.
func (s *Stack) startPubSub(ctx context.Context) (string, error) {
	if s.o.PubSub != PubSubGcloud {
		ps, err := emulators.StartPubSub(s.o.PubSubAddr)
		if err != nil {
			return "", err
		}
		s.closers = append(s.closers, ps.Close)
		return ps.Host(), nil
	}
	if err := os.MkdirAll(s.o.DataDir, 0o755); err != nil {
		return "", fmt.Errorf("pubsub emulator log: %w", err)
	}
	logs, err := os.Create(filepath.Join(s.o.DataDir, "pubsub-emulator.log"))
	if err != nil {
		return "", fmt.Errorf("pubsub emulator log: %w", err)
	}
	g, err := emulators.StartGcloudPubSub(ctx, emulators.GcloudPubSubOptions{Addr: s.o.PubSubAddr, Logs: logs})
	if err != nil {
		logs.Close()
		return "", fmt.Errorf("--pubsub=%s: %w", PubSubGcloud, err)
	}
	s.closers = append(s.closers, logs.Close, g.Close)
	return g.Host(), nil
}

// startConsumers runs the consumer runtime in-process for every job with an
// implementation, configured exactly as a separate `go run ./consumers` would be with the
// printed environment (plus whatever the process environment adds, such as API keys).
func (s *Stack) startConsumers(ctx context.Context) error {
	vars := map[string]string{"CONSUMER_AVAILABLE_ONLY": "true"}
	for _, kv := range s.Vars() {
		vars[kv[0]] = kv[1]
	}
	ls := []envconfig.Lookuper{envconfig.MapLookuper(vars)}
	if s.o.Env != nil {
		ls = append(ls, s.o.Env)
	}
	if s.Sim != nil {
		// The simulator has no rate limits of its own unless asked: let the scrapers' token
		// buckets run faster than the real plans' defaults, unless the environment says.
		ls = append(ls, envconfig.MapLookuper(sourcesim.ScraperRates()))
	}
	l := envconfig.MultiLookuper(ls...)
	cfg, err := service.Load(ctx, l)
	if err != nil {
		return err
	}
	// The stack decides where its consumers point, even where it leaves a variable unset
	// (no prefix) and the process environment sets it.
	cfg.Env = s.env
	if s.o.Push {
		cfg.Mode = service.ModePush
		host, port, err := net.SplitHostPort(strings.TrimPrefix(s.pushURL, "http://"))
		if err != nil {
			return err
		}
		cfg.Push = push.Config{Host: host, Audience: s.pushURL, ServiceAccount: pushAccount, Issuer: s.issuer.Iss(), JWKSURL: s.issuer.JWKSURL()}
		cfg.Push.Port, _ = strconv.Atoi(port)
	}
	if s.o.NoBigQuery && slices.Contains(cfg.Phases, "all") {
		// Without BigQuery only the scrapers can run.
		cfg.Phases = []string{string(messages.PhaseScrapers)}
	}
	logger := slog.New(runner.NewLogHandler(s.o.Logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	svc, err := service.New(ctx, cfg, service.Options{Logger: logger, PubSub: s.PubSub, Storage: s.Storage, BigQuery: s.BigQuery})
	if err != nil {
		return fmt.Errorf("consumers: %w", err)
	}
	s.closers = append(s.closers, svc.Close)
	s.Consumer = svc
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.consumerDone = make(chan struct{})
	go func() {
		defer close(s.consumerDone)
		s.consumerErr = svc.Serve(runCtx)
	}()
	s.closers = append(s.closers, func() error {
		cancel()
		<-s.consumerDone
		return s.consumerErr
	})
	if s.o.Push {
		return s.startBridge(runCtx, logger)
	}
	return nil
}

// ConsumersDone is closed when the consumer runtime stops (nil without consumers); after
// that, ConsumersErr says why.
func (s *Stack) ConsumersDone() <-chan struct{} { return s.consumerDone }

// ConsumersErr is the consumer runtime's error once ConsumersDone is closed.
func (s *Stack) ConsumersErr() error { return s.consumerErr }

// serve runs h on addr until Close.
func (s *Stack) serve(addr string, h http.Handler, what string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("%s on %s: %w", what, addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	s.closers = append(s.closers, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := srv.Shutdown(ctx)
		if serr := <-done; !errors.Is(serr, http.ErrServerClosed) && err == nil {
			err = serr
		}
		return err
	})
	return ln.Addr().String(), nil
}

// Close stops everything in the reverse order of starting: consumers first, so they
// finish or abandon their work while the emulators are still up.
func (s *Stack) Close() error {
	var errs []error
	for _, c := range slices.Backward(s.closers) {
		if err := c(); err != nil {
			errs = append(errs, err)
		}
	}
	s.closers = nil
	return errors.Join(errs...)
}

// startIssuer starts the local OIDC issuer and picks the consumers' push address; it
// returns the push settings of the topology.
func (s *Stack) startIssuer() (*topology.Push, error) {
	iss, err := oidclocal.Start("127.0.0.1:0", oidclocal.Options{})
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, iss.Close)
	s.issuer = iss
	// The subscriptions name the endpoint before the consumers listen: take a free port.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.pushURL = "http://" + ln.Addr().String()
	ln.Close()
	url := s.pushURL
	return &topology.Push{ServiceURL: func(messages.Phase) string { return url }, DeadLetterURL: url, ServiceAccount: pushAccount}, nil
}

// startBridge waits for the consumers' push endpoint, then runs the push bridge and the
// reconcile calls Cloud Scheduler makes in production.
func (s *Stack) startBridge(ctx context.Context, logger *slog.Logger) error {
	select {
	case <-s.Consumer.Listening():
	case <-s.consumerDone:
		return fmt.Errorf("consumers: %w", s.consumerErr)
	case <-time.After(30 * time.Second):
		return errors.New("consumers: the push endpoint did not start listening within 30 s")
	}
	b, err := pushbridge.New(pushbridge.Options{PubSub: s.PubSub, Issuer: s.issuer.Issuer, Logger: logger,
		ReconcileURL: s.pushURL + "/reconcile", Audience: s.pushURL, ServiceAccount: pushAccount})
	if err != nil {
		return err
	}
	bctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- b.Run(bctx) }()
	s.closers = append(s.closers, func() error {
		cancel()
		if err := <-done; err != nil && bctx.Err() == nil {
			return err
		}
		return nil
	})
	return nil
}
