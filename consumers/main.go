// Command consumers is the consumer service: it receives the phase messages of the jobs it
// is configured for, runs each (job, date) through the consumer runtime (package runner)
// and chains the pipeline by emitting the downstream messages. Configuration comes from
// the environment (package service); flags override it.
//
//	CONSUMER_PHASES=scrapers,raw go run ./consumers
//	go run ./consumers --jobs raw/bdl_player_boxscores,raw/nbac_schedule
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/nba-props/pipeline/consumers/push"
	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/consumers/service"
	"github.com/nba-props/pipeline/infra/cloud"
	"github.com/nba-props/pipeline/messages"
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
func run(ctx context.Context, args []string, stdout, stderr io.Writer, l envconfig.Lookuper) int {
	cfg, err := service.Load(ctx, l)
	if err != nil {
		fmt.Fprintf(stderr, "consumers: %v\n", err)
		return 2
	}
	fs := flag.NewFlagSet("consumers", flag.ContinueOnError)
	fs.SetOutput(stderr)
	phases := fs.String("phases", strings.Join(cfg.Phases, ","), "phases to consume, comma-separated, or all (CONSUMER_PHASES)")
	jobs := fs.String("jobs", strings.Join(cfg.Jobs, ","), "jobs to consume as phase/job, comma-separated, or all (CONSUMER_JOBS)")
	fs.DurationVar(&cfg.ShutdownGrace, "shutdown-grace", cfg.ShutdownGrace, "how long in-flight work may go on after SIGTERM (CONSUMER_SHUTDOWN_GRACE)")
	fs.IntVar(&cfg.Streams, "streams", cfg.Streams, "streaming-pull streams per subscription (CONSUMER_STREAMS)")
	fs.BoolVar(&cfg.Available, "available-only", cfg.Available, "consume only the selected jobs that have an implementation (CONSUMER_AVAILABLE_ONLY)")
	level := fs.String("log-level", "info", "debug, info, warn or error")
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
	serve := svc.Runtime.Run
	if cfg.Mode == service.ModePush {
		serve = func(ctx context.Context) error { return servePush(ctx, cfg, svc, logger) }
	}
	if err := serve(ctx); err != nil {
		logger.Error("consumer service stopped", "err", err)
		return 1
	}
	logger.Info("consumer service stopped")
	return 0
}

// servePush serves the selected jobs' push endpoints on PORT until ctx ends, then lets
// deliveries in flight finish within the shutdown grace and hands back what could not.
func servePush(ctx context.Context, cfg service.Config, svc *service.Service, logger *slog.Logger) error {
	rt := svc.Runtime
	defer rt.Close()
	v, err := push.NewVerifier(ctx, cfg.Push, nil)
	if err != nil {
		return err
	}
	if v.Local() {
		logger.Warn("push tokens are checked against a local issuer, not Google: never in production", "issuers", v.Issuers())
	}
	srv, err := push.NewServer(push.Options{
		Deliverer: rt, Verifier: v, Catalog: messages.DefaultCatalog(), Names: messages.Names{Prefix: cfg.Prefix},
		Jobs: svc.Selected, Unroutable: rt.CatchAlls(), DeadLetters: cfg.DeadLetters, Ready: svc.Ready, ShutdownGrace: cfg.ShutdownGrace, Logger: logger,
		Reconcile: func(ctx context.Context) (any, error) { return rt.Reconcile(ctx) },
	})
	if err != nil {
		return err
	}
	if err := rt.Prepare(ctx); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", fmt.Sprintf(":%d", cfg.Push.Port))
	if err != nil {
		return fmt.Errorf("push: listen on PORT %d: %w", cfg.Push.Port, err)
	}
	logger.Info("serving push endpoints", "addr", ln.Addr().String(), "paths", srv.Paths())
	return srv.Serve(ctx, ln)
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
