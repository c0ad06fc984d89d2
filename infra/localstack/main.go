// Command localstack runs the whole pipeline on one machine with nothing installed but Go:
// the Pub/Sub emulator (8085), the GCS emulator with its filesystem backend (4443), the
// BigQuery emulator (9050), the source simulator (8090), the applied topology, and the
// consumers for every job that has an implementation. It prints the environment to export
// in another shell for the producer, and stops cleanly on Ctrl-C.
//
//	go run ./infra/localstack                 # make up
//	go run ./infra/localstack --fresh         # start from empty storage
//	go run ./infra/localstack run             # make run: a backfill checked against ground truth
//	go run ./infra/localstack help            # both commands and their flags
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/nba-props/pipeline/infra/cloud"
	"github.com/nba-props/pipeline/infra/local"
	"github.com/nba-props/pipeline/infra/topology"
	"github.com/sethvargo/go-envconfig"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, envconfig.OsLookuper(), nil)
	stop()
	os.Exit(code)
}

// run dispatches to a subcommand: up (the default when the first argument is a flag or
// there is none) or run. ready, if not nil, receives the stack of up once it is up (tests).
// Help goes to stdout and exits 0; a mistyped command or a stray argument exits 2 with the
// usage before anything starts.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, env envconfig.Lookuper, ready chan<- *local.Stack) int {
	cmd, rest := "up", args
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, rest = args[0], args[1:]
	}
	switch cmd {
	case "help":
		usage(stdout)
		return 0
	case "up":
		var f upFlags
		if code, ok := parse(upFlagSet(&f), "up", rest, stdout, stderr); !ok {
			return code
		}
		return up(ctx, f, stdout, stderr, env, ready)
	case "run":
		var f runFlags
		if code, ok := parse(runFlagSet(&f), "run", rest, stdout, stderr); !ok {
			return code
		}
		return runBackfill(ctx, f, stdout, stderr, env)
	}
	fmt.Fprintf(stderr, "localstack: unknown command %q%s\n\n", cmd, suggest(cmd, "up", "run", "help"))
	usage(stderr)
	return 2
}

// parse reads a subcommand's flags. It reports false with the exit code when the command
// must not go on: 0 after --help, 2 after a bad flag or a stray argument.
func parse(fs *flag.FlagSet, cmd string, args []string, stdout, stderr io.Writer) (int, bool) {
	fs.SetOutput(io.Discard) // errors and usage are printed below, once
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		usage(stdout)
		return 0, false
	case err != nil:
		fmt.Fprintf(stderr, "localstack %s: %v\n\n", cmd, err)
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "localstack %s: unexpected argument %q: %s takes flags only\n\n", cmd, fs.Arg(0), cmd)
	default:
		return 0, true
	}
	usage(stderr)
	return 2, false
}

// usage lists both subcommands with their flags, whichever was asked about.
func usage(w io.Writer) {
	fmt.Fprint(w, `usage:
  localstack [up] [flags]   start the local stack in the foreground until Ctrl-C (make up);
                            it prints the lines to export in another shell
  localstack run [flags]    start a fresh stack on free ports, backfill a range through every
                            phase with the real producer and compare each table with the
                            simulator's ground truth (make run); exits 0 only if all match
  localstack help           this text

flags of up (make up ARGS="..."):
`)
	printFlags(w, upFlagSet(&upFlags{}))
	fmt.Fprint(w, "\nflags of run (make run ARGS=\"...\"):\n")
	printFlags(w, runFlagSet(&runFlags{}))
}

// printFlags lists a flag set the way the README writes flags: --name value, then the
// meaning and the default.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fs.VisitAll(func(f *flag.Flag) {
		arg, help := flag.UnquoteUsage(f)
		name := "--" + f.Name
		if arg != "" {
			name += " " + arg
		}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			help += " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(tw, "  %s\t%s\n", name, help)
	})
	_ = tw.Flush()
}

// suggest is " (did you mean X?)" for the nearest of names within two edits of s.
func suggest(s string, names ...string) string {
	best, bestD := "", 3
	for _, n := range names {
		if d := editDistance(s, n); d < bestD {
			best, bestD = n, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// upFlags are the flags of up.
type upFlags struct {
	o                                    local.Options
	host                                 string
	pubsubPort, gcsPort, bqPort, simPort int
	fresh                                bool
	simNow, logFile                      string
	// statusPort serves the status page (producer serve) over statusStart to statusEnd;
	// negative: no page.
	statusPort             int
	statusStart, statusEnd string
	// tracesPort serves the trace view and takes OTLP (negative: none); metricsPort serves
	// the consumers' Prometheus text. Both only while the stack runs its consumers.
	tracesPort, metricsPort int
}

func upFlagSet(f *upFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("localstack up", flag.ContinueOnError)
	fs.StringVar(&f.host, "host", "127.0.0.1", "interface to listen on")
	fs.IntVar(&f.pubsubPort, "pubsub-port", 8085, "Pub/Sub emulator `port`")
	fs.IntVar(&f.gcsPort, "gcs-port", 4443, "GCS emulator `port`")
	fs.IntVar(&f.bqPort, "bigquery-port", 9050, "BigQuery emulator `port`")
	fs.IntVar(&f.simPort, "sim-port", 8090, "source simulator `port`")
	fs.IntVar(&f.statusPort, "status-port", 8099, "status page `port` (producer serve); -1: no status page")
	fs.IntVar(&f.tracesPort, "traces-port", 4318, "trace view `port`, also taking OTLP over HTTP (the producer's spans); -1: no trace view")
	fs.IntVar(&f.metricsPort, "metrics-port", 9464, "`port` of the consumers' Prometheus metrics (OTEL_EXPORTER_PROMETHEUS_PORT overrides it)")
	fs.StringVar(&f.statusStart, "status-start-date", defaultRunStart, "first date of the status page")
	fs.StringVar(&f.statusEnd, "status-end-date", defaultRunEnd, "last date of the status page")
	fs.StringVar(&f.o.DataDir, "data", ".local", "`directory` for GCS objects and BigQuery tables, kept across restarts")
	fs.BoolVar(&f.fresh, "fresh", false, "delete the data directory first")
	fs.StringVar(&f.o.Project, "project", cloud.LocalProject, "project id on the emulators")
	fs.StringVar(&f.o.Bucket, "bucket", cloud.LocalProject, "bucket of raw files and the ledger")
	fs.StringVar(&f.o.Prefix, "prefix", "", "prefix of topic and subscription names")
	pubsubFlag(fs, &f.o.PubSub)
	fs.BoolVar(&f.o.NoBigQuery, "no-bigquery", false, "leave out the BigQuery emulator (only the scrapers run)")
	fs.BoolVar(&f.o.NoSim, "no-sim", false, "leave out the source simulator (scrapers use the real APIs from the environment)")
	fs.BoolVar(&f.o.NoConsumers, "no-consumers", false, "do not run the consumers (run go run ./consumers yourself)")
	fs.Int64Var(&f.o.SimSeed, "sim-seed", 1, "source simulator seed")
	fs.StringVar(&f.simNow, "sim-now", "", "source simulator clock, an RFC 3339 `time` such as 2025-04-01T12:00:00Z; games after it are not final (default: now)")
	fs.StringVar(&f.logFile, "log-file", "", "write consumer logs to this `file` instead of stderr")
	fs.BoolVar(&f.o.Push, "push", false, "deliver by push as on Cloud Run: the consumers serve HTTP push endpoints and a bridge pushes to them with OIDC tokens from a local issuer")
	return fs
}

// pubsubFlag is --pubsub, the same for up and run.
func pubsubFlag(fs *flag.FlagSet, v *string) {
	fs.StringVar(v, "pubsub", local.PubSubPstest, "Pub/Sub `emulator`: pstest (built in) or gcloud (Google's official one, installed with the Google Cloud CLI)")
}

// options are the stack's local.Options from the flags: addresses and the simulator's clock.
func (f upFlags) options() (local.Options, error) {
	o := f.o
	if err := local.CheckPubSub(o); err != nil {
		return o, err
	}
	if f.simNow != "" {
		t, err := time.Parse(time.RFC3339, f.simNow)
		if err != nil {
			return o, fmt.Errorf("--sim-now %q: want RFC 3339 such as 2025-04-01T12:00:00Z", f.simNow)
		}
		o.SimNow = t
	}
	addr := func(p int) string { return net.JoinHostPort(f.host, strconv.Itoa(p)) }
	o.PubSubAddr, o.GCSAddr, o.BigQueryAddr, o.SimAddr = addr(f.pubsubPort), addr(f.gcsPort), addr(f.bqPort), addr(f.simPort)
	return o, nil
}

// up starts the stack, prints the environment to stdout, sends consumer logs to stderr (or
// --log-file), and stops when ctx ends.
func up(ctx context.Context, f upFlags, stdout, stderr io.Writer, env envconfig.Lookuper, ready chan<- *local.Stack) int {
	o, err := f.options()
	if err != nil {
		fmt.Fprintf(stderr, "localstack: %v\n", err)
		return 2
	}
	o.Env = env
	o.Logs = stderr
	if f.logFile != "" {
		lf, err := os.OpenFile(f.logFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			fmt.Fprintf(stderr, "localstack: %v\n", err)
			return 1
		}
		defer lf.Close()
		o.Logs = lf
	}
	if f.fresh {
		if err := os.RemoveAll(o.DataDir); err != nil {
			fmt.Fprintf(stderr, "localstack: --fresh: %v\n", err)
			return 1
		}
	}

	var tel *stackTelemetry
	if !o.NoConsumers {
		tel, err = startTelemetry(ctx, env, f.host, f.tracesPort, f.metricsPort, o.Project)
		if err != nil {
			fmt.Fprintf(stderr, "localstack: %v\n", err)
			return 1
		}
		defer func() {
			if err := tel.stop(); err != nil {
				fmt.Fprintf(stderr, "localstack: telemetry: %v\n", err)
			}
		}()
		o.Traces = tel.tracesVars()
	}

	s, err := local.Start(ctx, o)
	if err != nil {
		fmt.Fprintf(stderr, "localstack: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "pubsub: %s\n", s.PubSubName())
	fmt.Fprintf(stdout, "topology: %d created, %d updated, %d unchanged\n",
		s.Report.Count(topology.Created), s.Report.Count(topology.Updated), s.Report.Count(topology.Unchanged))
	if s.Consumer != nil {
		fmt.Fprintf(stdout, "consumers: %d jobs\n", len(s.Consumer.Selected))
	}
	fmt.Fprintln(stdout, "local stack is up; in another shell:")
	printExports(stdout, s.Exports())
	fmt.Fprintln(stdout, "then e.g.: go run ./producer enqueue --phase scrapers --job all --start-date 2024-10-22 --end-date 2024-10-24")
	if tel != nil {
		tel.print(stdout)
	}
	var page *statusPage
	if f.statusPort >= 0 {
		page, err = startStatusPage(ctx, f.host, f.statusPort, f.statusStart, f.statusEnd, append(s.Env().Vars(), tel.traceLink()...), o.Logs)
		if err != nil {
			fmt.Fprintf(stderr, "localstack: %v\n", err)
			_ = s.Close()
			return 1
		}
		select {
		case u := <-page.url:
			fmt.Fprintf(stdout, "status page: %s (%s to %s; go run ./producer serve --run ID for a run)\n", u, f.statusStart, f.statusEnd)
		case <-page.done:
			fmt.Fprintf(stderr, "localstack: the status page stopped: %v\n", page.err)
			page.close()
			_ = s.Close()
			return 1
		}
	}
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
	if page != nil {
		page.close() // first: it reads the emulators until it stops
	}
	if err := s.Close(); err != nil {
		fmt.Fprintf(stderr, "localstack: stopping: %v\n", err)
		code = 1
	}
	return code
}

// printExports writes export lines, ready to paste into a shell.
func printExports(w io.Writer, vars [][2]string) {
	for _, kv := range vars {
		fmt.Fprintf(w, "  export %s=%s\n", kv[0], kv[1])
	}
}
