// Command consumers is the consumer service: it receives the phase messages of the jobs it
// is configured for, runs each (job, date) through the consumer runtime (package runner)
// and chains the pipeline by emitting the downstream messages. Configuration comes from
// the environment (package service); flags override it.
//
//	CONSUMER_PHASES=scrapers,raw go run ./consumers
//	go run ./consumers --jobs raw/bdl_player_boxscores,raw/nbac_schedule
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/consumers/service"
	"github.com/nba-props/pipeline/consumers/telemetry"
	"github.com/nba-props/pipeline/infra/cloud"
	"github.com/sethvargo/go-envconfig"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, envconfig.OsLookuper())
	stop()
	os.Exit(code)
}

// run is main without the process: logs go to stdout as JSON lines, start-up errors to
// stderr as text. It returns 2 for a configuration error, 1 when the service fails, and 0
// after a clean shutdown.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, l envconfig.Lookuper) (code int) {
	cfg, err := service.Load(ctx, l)
	if err != nil {
		fmt.Fprintf(stderr, "consumers: %v\n", err)
		return 2
	}
	fs := flag.NewFlagSet("consumers", flag.ContinueOnError)
	fs.SetOutput(stderr)
	phases := fs.String("phases", strings.Join(cfg.Phases, ","), "phases to consume, comma-separated, or all (CONSUMER_PHASES)")
	jobs := fs.String("jobs", strings.Join(cfg.Jobs, ","), "jobs to consume as phase/job, comma-separated, or all (CONSUMER_JOBS)")
	// The flags start from the environment's values, or the runner's defaults where it sets
	// none (a bad value stays, for the service to refuse).
	set := cfg.Runtime()
	fs.DurationVar(&cfg.ShutdownGrace, "shutdown-grace", cmp.Or(cfg.ShutdownGrace, set.ShutdownGrace), "how long in-flight work may go on after SIGTERM (CONSUMER_SHUTDOWN_GRACE)")
	fs.IntVar(&cfg.Streams, "streams", cmp.Or(cfg.Streams, set.Streams), "streaming-pull streams per subscription (CONSUMER_STREAMS)")
	fs.BoolVar(&cfg.Available, "available-only", cfg.Available, "consume only the selected jobs that have an implementation (CONSUMER_AVAILABLE_ONLY)")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	cpuProfile := fs.String("cpu-profile", "", "write a CPU profile of the whole run to `file` (go tool pprof reads it)")
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: consumers [flags]\n\nFlags:\n")
		fs.PrintDefaults()
		fmt.Fprint(stderr, "\n"+cloud.EnvUsage()+
			"  CONSUMER_*, scraper rates and source URLs: see the README's environment table\n")
	}
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return 0
	} else if err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "consumers: unexpected arguments %q: configure with flags or the environment\n", fs.Args())
		return 2
	}
	cfg.Phases, cfg.Jobs = splitList(*phases), splitList(*jobs)
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintf(stderr, "consumers: --log-level %q: want debug, info, warn or error\n", *level)
		return 2
	}
	logger := slog.New(runner.NewLogHandler(stdout, &slog.HandlerOptions{Level: lv, AddSource: true}))
	if *cpuProfile != "" {
		stopProfile, err := startCPUProfile(*cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "consumers: --cpu-profile: %v\n", err)
			return 2
		}
		defer func() {
			if err := stopProfile(); err != nil {
				logger.Error("writing the CPU profile", "file", *cpuProfile, "err", err)
				if code == 0 {
					code = 1 // the profile asked for is not there
				}
			}
		}()
	}

	tel, err := setupTelemetry(ctx, l, cfg.Project, logger)
	if err != nil {
		fmt.Fprintf(stderr, "consumers: %v\n", err)
		return 2
	}
	defer tel.stop()

	svc, err := service.New(ctx, cfg, service.Options{Logger: logger})
	if err != nil {
		fmt.Fprintf(stderr, "consumers: %v\n", err)
		if errors.Is(err, service.ErrConfig) {
			return 2
		}
		return 1
	}
	defer svc.Close()
	var names []string
	for _, r := range svc.Selected {
		names = append(names, r.String())
	}
	logger.Info("consumer service starting", "mode", cfg.Mode, "jobs", names, "owner", svc.Runtime.Owner(),
		"project", cfg.Project, "bucket", cfg.Bucket, "prefix", cfg.Prefix)
	if err := svc.Serve(ctx); err != nil {
		logger.Error("consumer service stopped", "err", err)
		return 1
	}
	logger.Info("consumer service stopped")
	return 0
}

// serving is the process's telemetry: the providers installed as the global ones and,
// with OTEL_METRICS_EXPORTER=prometheus, the /metrics server.
type serving struct {
	tel     *telemetry.Telemetry
	metrics *http.Server
	log     *slog.Logger
}

// setupTelemetry reads the OTEL_* environment, installs the providers (nothing with the
// default none) and serves /metrics on OTEL_EXPORTER_PROMETHEUS_HOST:PORT when the metrics
// exporter is prometheus, in pull and push mode alike.
func setupTelemetry(ctx context.Context, l envconfig.Lookuper, project string, log *slog.Logger) (*serving, error) {
	tcfg, err := telemetry.Load(ctx, l)
	if err != nil {
		return nil, err
	}
	tel, err := telemetry.Setup(ctx, tcfg, telemetry.Options{Service: "consumers", Project: project})
	if err != nil {
		return nil, err
	}
	tel.Install()
	s := &serving{tel: tel, log: log}
	if tel.Metrics == nil {
		return s, nil
	}
	ln, err := net.Listen("tcp", tcfg.PrometheusAddr())
	if err != nil {
		return nil, errors.Join(fmt.Errorf("serving /metrics (OTEL_EXPORTER_PROMETHEUS_HOST, OTEL_EXPORTER_PROMETHEUS_PORT): %w", err), tel.Shutdown(ctx))
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", tel.Metrics)
	s.metrics = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.metrics.Serve(ln) }()
	log.Info("serving Prometheus metrics", "url", "http://"+ln.Addr().String()+"/metrics")
	return s, nil
}

// flushTimeout bounds the last export at shutdown (Cloud Run kills 10 s after SIGTERM).
const flushTimeout = time.Second

func (s *serving) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	if s.metrics != nil {
		_ = s.metrics.Shutdown(ctx)
	}
	if err := s.tel.Shutdown(ctx); err != nil {
		s.log.Warn("telemetry not flushed", "err", err)
	}
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// startCPUProfile profiles the process's CPU into file until the returned func.
func startCPUProfile(file string) (stop func() error, err error) {
	f, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		return nil, errors.Join(err, f.Close())
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}
