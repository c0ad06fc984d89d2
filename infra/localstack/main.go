// Command localstack runs the whole pipeline on one machine with nothing installed but Go:
// the Pub/Sub emulator (8085), the GCS emulator with its filesystem backend (4443), the
// BigQuery emulator (9050), the source simulator (8090), the applied topology, and the
// consumers for every job that has an implementation. It prints the environment to export
// in another shell for the producer, and stops cleanly on Ctrl-C.
//
//	go run ./infra/localstack                 # make up
//	go run ./infra/localstack --fresh         # start from empty storage
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/infra/cloud"
	"github.com/nba-props/pipeline/infra/topology"
	"github.com/sethvargo/go-envconfig"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, envconfig.OsLookuper(), nil)
	stop()
	os.Exit(code)
}

func runnerLogHandler(w io.Writer) slog.Handler {
	return runner.NewLogHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo})
}

// run starts the stack, prints the environment to stdout, sends consumer logs to stderr
// (or --log-file), and stops when ctx ends. ready, if not nil, receives the stack once it
// is up (tests).
func run(ctx context.Context, args []string, stdout, stderr io.Writer, env envconfig.Lookuper, ready chan<- *Stack) int {
	if len(args) > 0 && args[0] == "run" {
		return runBackfill(ctx, args[1:], stdout, stderr, env)
	}
	if len(args) > 0 && args[0] == "up" {
		args = args[1:]
	}
	fs := flag.NewFlagSet("localstack", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o Options
	host := fs.String("host", "127.0.0.1", "interface to listen on")
	pubsubPort := fs.Int("pubsub-port", 8085, "Pub/Sub emulator port")
	gcsPort := fs.Int("gcs-port", 4443, "GCS emulator port")
	bqPort := fs.Int("bigquery-port", 9050, "BigQuery emulator port")
	simPort := fs.Int("sim-port", 8090, "source simulator port")
	fs.StringVar(&o.DataDir, "data", ".local", "directory for GCS objects and BigQuery tables")
	fresh := fs.Bool("fresh", false, "delete the data directory first")
	fs.StringVar(&o.Project, "project", cloud.LocalProject, "project id on the emulators")
	fs.StringVar(&o.Bucket, "bucket", cloud.LocalProject, "bucket")
	fs.StringVar(&o.Prefix, "prefix", "", "topic prefix")
	fs.BoolVar(&o.NoBigQuery, "no-bigquery", false, "leave out the BigQuery emulator (only the scrapers run)")
	fs.BoolVar(&o.NoSim, "no-sim", false, "leave out the source simulator (scrapers use the real APIs from the environment)")
	fs.BoolVar(&o.NoConsumers, "no-consumers", false, "do not run the consumers (run go run ./consumers yourself)")
	fs.Int64Var(&o.SimSeed, "sim-seed", 1, "source simulator seed")
	simNow := fs.String("sim-now", "", "source simulator clock, RFC 3339 (default: now)")
	logFile := fs.String("log-file", "", "write consumer logs here instead of stderr")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *simNow != "" {
		t, err := time.Parse(time.RFC3339, *simNow)
		if err != nil {
			fmt.Fprintf(stderr, "localstack: --sim-now %q: want RFC 3339 such as 2025-04-01T12:00:00Z\n", *simNow)
			return 2
		}
		o.SimNow = t
	}
	addr := func(p int) string { return fmt.Sprintf("%s:%d", *host, p) }
	o.PubSubAddr, o.GCSAddr, o.BigQueryAddr, o.SimAddr = addr(*pubsubPort), addr(*gcsPort), addr(*bqPort), addr(*simPort)
	o.Env = env
	o.Logs = stderr
	if *logFile != "" {
		f, err := os.OpenFile(*logFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			fmt.Fprintf(stderr, "localstack: %v\n", err)
			return 1
		}
		defer f.Close()
		o.Logs = f
	}
	if *fresh {
		if err := os.RemoveAll(o.DataDir); err != nil {
			fmt.Fprintf(stderr, "localstack: --fresh: %v\n", err)
			return 1
		}
	}

	s, err := Start(ctx, o)
	if err != nil {
		fmt.Fprintf(stderr, "localstack: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "topology: %d created, %d updated, %d unchanged\n",
		s.Report.Count(topology.Created), s.Report.Count(topology.Updated), s.Report.Count(topology.Unchanged))
	if s.Consumer != nil {
		fmt.Fprintf(stdout, "consumers: %d jobs\n", len(s.Consumer.Selected))
	}
	fmt.Fprintln(stdout, "local stack is up; in another shell:")
	for _, kv := range s.Vars() {
		fmt.Fprintf(stdout, "  export %s=%s\n", kv[0], kv[1])
	}
	fmt.Fprintln(stdout, "then e.g.: go run ./producer enqueue --phase scrapers --job all --start-date 2024-10-22 --end-date 2024-10-24")
	fmt.Fprintln(stdout, "Ctrl-C stops the stack.")
	if ready != nil {
		ready <- s
	}

	code := 0
	select {
	case <-ctx.Done():
	case <-s.ConsumersDone():
		fmt.Fprintf(stderr, "localstack: consumers stopped: %v\n", s.ConsumersErr())
		code = 1
	}
	fmt.Fprintln(stdout, "stopping…")
	if err := s.Close(); err != nil {
		fmt.Fprintf(stderr, "localstack: stopping: %v\n", err)
		code = 1
	}
	return code
}
