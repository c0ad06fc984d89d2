package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/messages"
)

// enqueueJobs are the jobs the enqueue measurement publishes for: every scraper, as
// producer enqueue --phase scrapers --job all does.
func enqueueJobs() []messages.JobSpec {
	var out []messages.JobSpec
	for _, s := range messages.DefaultCatalog().Jobs() {
		if s.Phase == messages.PhaseScrapers {
			out = append(out, s)
		}
	}
	return out
}

// seedLedger writes a finished record for every job and every date of the five seasons
// before seededEnd, directly with the ledger package, as earlier backfills would have left.
func seedLedger(ctx context.Context, s *stack, jobs []messages.JobSpec, dates []string) error {
	l := ledger.New(s.Storage, s.Env().Bucket, ledger.Options{})
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	now := time.Now().UTC()
	for _, spec := range jobs {
		for _, d := range dates {
			rec := ledger.Record{Phase: spec.Phase, Job: spec.Name, Date: d, State: ledger.StateSucceeded, Attempts: 1,
				RunID: "bench-seed", Lane: messages.LaneBackfill, FirstStarted: now, LastStarted: now, Finished: now, Updated: now,
				OutputFingerprint: "seed", Emitted: true}
			g.Go(func() error {
				_, err := l.Write(gctx, rec, 0)
				return err
			})
		}
	}
	return g.Wait()
}

// The five seasons of finished records the enqueue row seeds.
const seededFrom, seededTo = "2019-07-01", "2024-06-30"

// freshDates walks from the day after (dir +1) or before (dir -1) edge until the dates
// passed hold at least n (job, date) pairs the producer publishes (the jobs' sources serve
// them), and returns the far end of that walk and the number of pairs.
func freshDates(jobs []messages.JobSpec, edge string, dir, n int) (string, int) {
	cat := messages.DefaultCatalog()
	today := messages.GameDate(time.Now())
	d, _ := time.Parse(messages.DateLayout, edge)
	pairs := 0
	for pairs < n {
		d = d.AddDate(0, 0, dir)
		for _, spec := range jobs {
			if cat.CheckDate(spec.Ref(), d.Format(messages.DateLayout), today) == nil {
				pairs++
			}
		}
	}
	return d.Format(messages.DateLayout), pairs
}

// published matches the producer's closing line: "run <id>: published <n> of <m>; ...".
var published = regexp.MustCompile(`(?m)^run \S+: published (\d+) of (\d+)`)

// enqueue runs the producer binary against the stack for --job all of the scrapers over
// from..to, as an operator would (its plan, its ledger listing, its publisher), and returns
// how many messages it published and how long the process took from start to exit.
func enqueue(ctx context.Context, s *stack, bins binaries, from, to string, logs io.Writer) (int, time.Duration, error) {
	args := []string{"enqueue", "--phase", string(messages.PhaseScrapers), "--job", "all", "--start-date", from, "--end-date", to,
		"--stop-after", string(messages.PhaseScrapers), "--max-dates", "100000", "--allow-over-budget"}
	cmd := exec.CommandContext(ctx, bins.producer, args...)
	cmd.Env = os.Environ()
	for k, v := range s.vars() {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.MultiWriter(&stdout, logs), logs
	fmt.Fprintf(logs, "\n$ producer %s\n", strings.Join(args, " "))
	t0 := time.Now()
	err := cmd.Run()
	took := time.Since(t0)
	if err != nil {
		return 0, 0, fmt.Errorf("producer %s: %w (its output is in the log file)", strings.Join(args, " "), err)
	}
	m := published.FindStringSubmatch(stdout.String())
	if m == nil {
		return 0, 0, fmt.Errorf("producer %s: no \"published N of M\" line in its output", strings.Join(args, " "))
	}
	n, _ := strconv.Atoi(m[1])
	return n, took, nil
}
