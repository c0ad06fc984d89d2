package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/nba-props/pipeline/infra/backfill"
	"github.com/nba-props/pipeline/infra/cloud"
	"github.com/nba-props/pipeline/infra/emulators"
	"github.com/nba-props/pipeline/infra/local"
	"github.com/nba-props/pipeline/infra/sourcesim"
	"github.com/nba-props/pipeline/messages"
	"github.com/sethvargo/go-envconfig"
)

// The default range of `make run`: the first two weeks of the 2024-25 regular season.
const (
	defaultRunStart = "2024-10-22"
	defaultRunEnd   = "2024-11-04"
	// runSimNow puts the simulator after the 2024-25 season, so every game is final.
	runSimNow = "2025-06-30T16:00:00Z"
)

// runFlags are the flags of run.
type runFlags struct {
	start, end  string
	keep, again bool
	data        string
	timeout     time.Duration
	seed        int64
	pubsub      string
	push        bool
}

func runFlagSet(f *runFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("localstack run", flag.ContinueOnError)
	fs.StringVar(&f.start, "start-date", defaultRunStart, "first game `date` of the backfill, YYYY-MM-DD")
	fs.StringVar(&f.end, "end-date", defaultRunEnd, "last game `date` of the backfill, inclusive")
	fs.BoolVar(&f.keep, "keep", false, "keep the stack running after the backfill, for exploration (Ctrl-C stops it)")
	fs.StringVar(&f.data, "data", "", "`directory` for GCS objects, BigQuery tables and consumer logs (default: a new temporary directory)")
	fs.DurationVar(&f.timeout, "timeout", 15*time.Minute, "give up when the chain has not finished after this long")
	fs.Int64Var(&f.seed, "sim-seed", 2024, "source simulator seed")
	fs.BoolVar(&f.again, "again", false, "then run the same backfill again with --force and show that nothing downstream changes")
	fs.BoolVar(&f.push, "push", false, "deliver by push as on Cloud Run (consumers as HTTP push endpoints behind a local push bridge with OIDC tokens)")
	pubsubFlag(fs, &f.pubsub)
	return fs
}

// runBackfill is `localstack run` (make run): it starts a fresh stack on free ports, builds
// the producer CLI and runs a real scraper backfill through every phase, then prints the
// status grid, the phase timings, a sample of player_game_summary, the BigQuery jobs per
// table and the ground-truth comparison. It exits 0 only when everything matches.
func runBackfill(ctx context.Context, f runFlags, stdout, stderr io.Writer, env envconfig.Lookuper) int {
	if _, err := messages.DateRange(f.start, f.end); err != nil {
		fmt.Fprintf(stderr, "localstack run: %v\n", err)
		return 2
	}
	if err := local.CheckPubSub(local.Options{PubSub: f.pubsub, Push: f.push}); err != nil {
		fmt.Fprintf(stderr, "localstack run: %v\n", err)
		return 2
	}
	dir := f.data
	if dir == "" {
		var err error
		mkdir := emulators.ScratchDir // tmpfs: nothing of a throw-away run needs a disk
		if f.keep {
			mkdir = func(pattern string) (string, error) { return os.MkdirTemp("", pattern) }
		}
		if dir, err = mkdir("nba-props-run-"); err != nil {
			fmt.Fprintf(stderr, "localstack run: %v\n", err)
			return 1
		}
		if !f.keep {
			defer os.RemoveAll(dir)
		}
	}
	producer := filepath.Join(dir, "producer")
	fmt.Fprintf(stdout, "building the producer CLI…\n")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", producer, "github.com/nba-props/pipeline/producer").CombinedOutput(); err != nil {
		fmt.Fprintf(stderr, "localstack run: go build ./producer (run this inside the repository): %v\n%s", err, out)
		return 1
	}
	logPath := filepath.Join(dir, "consumers.log")
	logs, err := os.Create(logPath)
	if err != nil {
		fmt.Fprintf(stderr, "localstack run: %v\n", err)
		return 1
	}
	defer logs.Close()
	now, _ := time.Parse(time.RFC3339, runSimNow)
	ports := "127.0.0.1:0"
	o := local.Options{
		PubSubAddr: ports, GCSAddr: ports, BigQueryAddr: ports, SimAddr: ports, PubSub: f.pubsub,
		DataDir: dir, Project: cloud.LocalProject, Bucket: cloud.LocalProject,
		SimSeed: f.seed, SimNow: now, Env: env, Logs: logs, Push: f.push,
	}
	// The consumers' traces and metrics, on free ports, as make up serves them.
	tel, err := startTelemetry(ctx, env, "127.0.0.1", 0, 0, o.Project)
	if err != nil {
		fmt.Fprintf(stderr, "localstack run: %v\n", err)
		return 1
	}
	defer func() {
		if err := tel.stop(); err != nil {
			fmt.Fprintf(stderr, "localstack run: telemetry: %v\n", err)
		}
	}()
	o.Traces = tel.tracesVars()
	began := time.Now()
	s, err := local.Start(ctx, o)
	if err != nil {
		fmt.Fprintf(stderr, "localstack run: %v\n", err)
		return 1
	}
	defer s.Close()
	fmt.Fprintf(stdout, "local stack up in %.1fs, Pub/Sub on %s (consumer logs: %s)\n", time.Since(began).Seconds(), s.PubSubName(), logPath)
	tel.print(stdout)
	st := backfill.Stack{
		Env: map[string]string{}, Storage: s.Storage, Bucket: o.Bucket, BigQuery: s.BigQuery,
		Sim: s.Sim, Catalog: messages.DefaultCatalog(), Producer: []string{producer},
	}
	for _, kv := range append(s.Vars(), o.Traces...) {
		st.Env[kv[0]] = kv[1]
	}
	for k, v := range sourcesim.ScraperRates() { // the producer's plan counts with the rates the consumers use
		if os.Getenv(k) == "" {
			st.Env[k] = v
		}
	}
	bo := backfill.Options{Start: f.start, End: f.end, Timeout: f.timeout, Out: stdout}
	res, err := backfill.Run(ctx, st, bo)
	if err != nil {
		fmt.Fprintf(stderr, "localstack run: %v\n", err)
		return 1
	}
	ok := res.OK()
	if f.again && ok {
		fmt.Fprintf(stdout, "\n=== the same backfill again, scrapers forced: unchanged bytes must leave every later phase untouched ===\n")
		bo.Force = true
		res2, err := backfill.Run(ctx, st, bo)
		if err != nil {
			fmt.Fprintf(stderr, "localstack run: %v\n", err)
			return 1
		}
		ok = res2.OK() && len(res2.BQJobs) == 0
	}
	if ok {
		fmt.Fprintf(stdout, "\nOK: %d (job, date) pairs finished in %.1fs and every table matches the ground truth.\n", res.Pairs, res.Elapsed.Seconds())
	} else {
		fmt.Fprintf(stdout, "\nFAILED: see the problems above and the consumer logs in %s\n", logPath)
	}
	if f.keep {
		fmt.Fprintln(stdout, "\nthe stack keeps running; in another shell:")
		printExports(stdout, s.Exports())
		fmt.Fprintln(stdout, "Ctrl-C stops it.")
		<-ctx.Done()
	}
	if !ok {
		return 1
	}
	return 0
}
