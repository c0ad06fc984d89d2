// Command chaos runs a backfill through the real consumers and producer while everything
// around them fails, and checks that the pipeline still ends where it must with no
// operator: every (job, date) finished, or dead with the reason it was meant to die of;
// every table equal to the simulator's ground truth and free of duplicate keys; the
// dead-letter store holding exactly the poison messages, the permanent failures and the
// dates whose game books the source holds broken (the simulator's ground truth says
// which); and no API key in any log line.
//
// It starts the local stack without consumers (`localstack up --no-consumers`), builds the
// consumers and producer binaries once, enqueues the range twice and runs several consumer
// processes, which it kills with SIGKILL and SIGTERM at seeded moments and starts again.
// The source simulator fails a share of all requests in every way it knows; BigQuery and
// GCS are reached through fault proxies (package faultproxy) that refuse, lose answers,
// rate-limit and delay; finished records have their emitted messages published again, and
// poison messages go out in between.
//
//	go run ./infra/chaos                      # make chaos: November 2024
//	go run ./infra/chaos --season             # the whole 2024-25 regular season
//	go run ./infra/chaos --seed 7 --kills 20  # another draw, more kills
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nba-props/pipeline/infra/local"
	"github.com/nba-props/pipeline/messages"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// The default range (a month) and the season of --season.
const (
	defaultStart = "2024-11-01"
	defaultEnd   = "2024-11-30"
	seasonStart  = "2024-10-22"
	seasonEnd    = "2025-04-13"
)

type flags struct {
	o      Options
	season bool
}

func flagSet(f *flags, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &f.o
	fs.StringVar(&o.Start, "start-date", defaultStart, "first game `date` of the backfill, YYYY-MM-DD")
	fs.StringVar(&o.End, "end-date", defaultEnd, "last game `date` of the backfill, inclusive")
	fs.BoolVar(&f.season, "season", false, "backfill the whole 2024-25 regular season ("+seasonStart+".."+seasonEnd+"), with more kills and a longer timeout")
	fs.Int64Var(&o.Seed, "seed", 1, "seed of every random choice: kills, signals, their moments, poison, duplicates, failing dates, source and proxy faults")
	fs.Int64Var(&o.SimSeed, "sim-seed", 2024, "source simulator seed: the league (the faults are drawn from --seed)")
	fs.IntVar(&o.Consumers, "consumers", 3, "consumer processes running at once")
	fs.IntVar(&o.Kills, "kills", 0, "consumer kills (default: one per three dates, at least 3)")
	fs.DurationVar(&o.KillGap, "kill-gap", 8*time.Second, "mean time between kills")
	fs.Float64Var(&o.DupShare, "dup-share", 0.5, "share of finished records whose emitted messages are published again")
	fs.IntVar(&o.Permanent, "permanent", 2, "dates whose source fails for good (one per kind: bdl_player_boxscores, odds_api_player_props)")
	fs.IntVar(&o.PoisonEach, "poison", 2, "poison messages of each kind (malformed JSON, unknown job, job of another phase, invalid date)")
	fs.Float64Var(&o.BigQueryFaults, "bigquery-faults", 0.15, "share of the consumers' BigQuery requests that meet a fault (refused, answer lost, rate-limited, delayed)")
	fs.Float64Var(&o.GCSFaults, "gcs-faults", 0.08, "share of the consumers' GCS requests, ledger included, that meet a fault")
	fs.DurationVar(&o.Lease, "lease", 15*time.Second, "CONSUMER_LEASE of the consumers")
	fs.DurationVar(&o.ReconcileEvery, "reconcile-every", 5*time.Second, "CONSUMER_RECONCILE_EVERY of the consumers")
	fs.DurationVar(&o.RetryWithin, "retry-within", time.Minute, "CONSUMER_RETRY_WITHIN of the consumers")
	fs.DurationVar(&o.Timeout, "timeout", 0, "give up when the run has not settled after this long (default: 8m, 12m with --pubsub=gcloud, 45m with --season)")
	fs.StringVar(&o.Dir, "dir", "", "`directory` for the binaries, the stack's data and every log (default: a temporary one, kept only if the run fails)")
	fs.StringVar(&o.PubSub, "pubsub", "", "Pub/Sub emulator of the local stack, passed to localstack up --pubsub (default: the stack's own)")
	return fs
}

// options checks the flags and fills the defaults that depend on the range.
func (f flags) options() (Options, error) {
	o := f.o
	if f.season {
		if o.Start != defaultStart || o.End != defaultEnd {
			return o, errors.New("--season sets the range: leave out --start-date and --end-date")
		}
		o.Start, o.End = seasonStart, seasonEnd
	}
	dates, err := messages.DateRange(o.Start, o.End)
	if err != nil {
		return o, err
	}
	if o.Kills == 0 {
		o.Kills = max(3, len(dates)/3)
	}
	if o.Timeout == 0 {
		o.Timeout = 8 * time.Minute
		if o.PubSub == local.PubSubGcloud {
			// The official emulator backs nacks off (up to 26 s apart) and never returns what
			// a killed consumer held: those pairs wait for the reconciler, once their run is
			// quiet. A month settled after 235 to 453 s here.
			o.Timeout = 12 * time.Minute
		}
		if len(dates) > 31 {
			o.Timeout = 45 * time.Minute
		}
	}
	switch {
	case o.Consumers < 2:
		return o, fmt.Errorf("--consumers %d: at least 2, so that one runs while another is killed", o.Consumers)
	case o.Kills < 0:
		return o, fmt.Errorf("--kills %d: want 0 or more", o.Kills)
	case o.KillGap <= 0:
		return o, fmt.Errorf("--kill-gap %v: want a positive duration", o.KillGap)
	case o.DupShare < 0 || o.DupShare > 1:
		return o, fmt.Errorf("--dup-share %v: want a fraction in [0,1]", o.DupShare)
	case o.BigQueryFaults < 0 || o.BigQueryFaults > 1 || o.GCSFaults < 0 || o.GCSFaults > 1:
		return o, fmt.Errorf("--bigquery-faults %v, --gcs-faults %v: want fractions in [0,1]", o.BigQueryFaults, o.GCSFaults)
	case o.Permanent < 0 || o.Permanent > len(permanentKinds):
		return o, fmt.Errorf("--permanent %d: want 0 to %d (one per kind: %s)", o.Permanent, len(permanentKinds), permanentJobs())
	case o.PoisonEach < 1:
		return o, fmt.Errorf("--poison %d: want at least 1", o.PoisonEach)
	case o.Lease <= 0 || o.ReconcileEvery <= 0 || o.RetryWithin <= 0:
		return o, errors.New("--lease, --reconcile-every and --retry-within must be positive durations")
	}
	return o, nil
}

// run parses the flags and performs the run. It returns 0 when every invariant held, 1
// when one failed or the run could not be carried out, and 2 for bad flags.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var f flags
	fs := flagSet(&f, stderr)
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return 0
	} else if err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "chaos: unexpected argument %q: chaos takes flags only (see --help)\n", fs.Arg(0))
		return 2
	}
	o, err := f.options()
	if err != nil {
		fmt.Fprintf(stderr, "chaos: %v\n", err)
		return 2
	}
	o.Out = stdout
	res, err := Run(ctx, o)
	if ctx.Err() != nil {
		fmt.Fprintln(stdout, "\nchaos: interrupted; nothing was checked")
		return 1
	}
	if err != nil {
		fmt.Fprintf(stdout, "\nchaos: FAILED: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout)
	fmt.Fprintln(stdout, summary(o, res))
	if !res.OK() {
		return 1
	}
	return 0
}

// sinceLastKill says when the run settled against the last kill: a run can settle before
// the kills planned for it are over.
func (r Result) sinceLastKill() string {
	if r.AfterKill < 0 {
		return fmt.Sprintf("%.0fs before the last of %d kills", -r.AfterKill.Seconds(), len(r.Kills))
	}
	return fmt.Sprintf("%.0fs after the last of %d kills", r.AfterKill.Seconds(), len(r.Kills))
}

// summary is the one line a run ends with.
func summary(o Options, r Result) string {
	figures := fmt.Sprintf("%d pairs over %s..%s settled %.0fs after the first enqueue (%s); "+
		"%.1f%% of %d source requests faulted (besides the permanent failures); BigQuery %d/%d and GCS %d/%d requests faulted; %d poison and %d permanent dead letters; consumers' peak RSS %s",
		r.Pairs, o.Start, o.End, r.Converged.Seconds(), r.sinceLastKill(),
		100*r.Sources.share(), r.Sources.Requests-r.Sources.Permanent, r.BigQuery.Faulted(), r.BigQuery.Requests, r.GCS.Faulted(), r.GCS.Requests,
		r.Poison, r.PermanentDead, mb(r.PeakKB))
	if r.OK() {
		return "chaos: OK: " + figures
	}
	return fmt.Sprintf("chaos: FAILED (%d problems, first: %s): %s", len(r.Problems), r.Problems[0], figures)
}
