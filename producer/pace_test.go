package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/messages"
)

// TestMaxInFlightPacesTheRun drives a real consumer runtime: with --max-in-flight 2 and
// --newest-first, the newest two dates go out first, and each further date only when one
// in flight has finished its whole chain. The newest date's last analytics job is held
// back until every other date went through, so the others pass one at a time beside it.
// A date whose BDL games scrape dies finishes too, its dependent job blocked.
func TestMaxInFlightPacesTheRun(t *testing.T) {
	t.Parallel()
	env, vars := stack(t)
	dates := []string{"2024-10-22", "2024-10-23", "2024-10-24", "2024-10-25", "2024-10-26"}
	pgs := messages.Ref(messages.PhaseAnalytics, "player_game_summary")
	oldestScraped := make(chan struct{})
	var log jobLog
	// Soft waits on, as in production: without them a job runs before a soft upstream of
	// its date finishes and again when it does, after the date looked finished.
	consumersWith(t, env, &log, map[messages.JobRef]runner.JobFunc{
		pgs: func(ctx context.Context, req messages.Request) (runner.Result, error) {
			if req.Date == dates[4] {
				select {
				case <-oldestScraped:
				case <-ctx.Done():
					return runner.Result{}, ctx.Err()
				}
			}
			return runner.Result{Rows: map[string]int64{req.Date: 10}}, nil
		},
		messages.Ref(messages.PhaseScrapers, "nbac_schedule"): func(_ context.Context, req messages.Request) (runner.Result, error) {
			if req.Date == dates[0] {
				close(oldestScraped)
			}
			return runner.Result{Objects: []runner.Object{{Name: "s/" + req.Date, Generation: 1}}}, nil
		},
		messages.Ref(messages.PhaseScrapers, "bdl_games"): func(_ context.Context, req messages.Request) (runner.Result, error) {
			if req.Date == dates[2] {
				return runner.Result{}, runner.Permanent(errors.New("bdl games: a key the source refuses"))
			}
			return runner.Result{Objects: []runner.Object{{Name: "g/" + req.Date, Generation: 1}}}, nil
		},
	}, func(o *runner.Options) { o.SoftWait, o.ReconcileEvery = 2*time.Second, 500*time.Millisecond })

	code, stdout, stderr := runProducerAsync(t, vars, "enqueue", "--phase", "scrapers", "--job", "all", "--start-date", dates[0], "--end-date", dates[4],
		"--newest-first", "--max-in-flight", "2", "--poll-every", "100ms", "--run-id", "paced")()
	if code != exitOK {
		t.Fatalf("exit %d: %s\n%s", code, stderr, stdout)
	}
	// Each date's span, from its first job's start to its last job's end, in event order.
	first, last := map[string]int{}, map[string]int{}
	events := log.snapshot()
	for i, ev := range events {
		if _, ok := first[ev.date]; !ok {
			first[ev.date] = i
		}
		last[ev.date] = i
	}
	most := 0
	for i := range events {
		n := 0
		for _, d := range dates {
			if first[d] <= i && i <= last[d] {
				n++
			}
		}
		most = max(most, n)
	}
	if most != 2 {
		t.Errorf("at most %d dates were in flight at once, want 2", most)
	}
	order := slices.Clone(dates)
	slices.SortFunc(order, func(a, b string) int { return first[a] - first[b] })
	// The newest two in either order, then the rest newest first.
	if !slices.Equal(order[2:], []string{dates[2], dates[1], dates[0]}) || !slices.Contains(order[:2], dates[4]) {
		t.Errorf("dates started in the order %v, want %s and %s first, then the rest newest first", order, dates[4], dates[3])
	}
	for _, s := range []string{
		"run paced: publishing 30 messages to " + env.Names.Topic(messages.PhaseScrapers) + ", at most 2 dates in flight",
		"run paced: published 2024-10-26 (6 messages); 1 in flight, 4 dates to publish",
		"run paced: 2024-10-24 finished: 14 succeeded, 1 dead, 1 blocked (",
		"run paced: 2024-10-26 finished: 16 succeeded (",
		"(5 of 5 dates)",
		"run paced: published 30 of 30;",
	} {
		if !strings.Contains(stdout, s) {
			t.Errorf("output lacks %q:\n%s", s, stdout)
		}
	}
	if log.ran(messages.Ref(messages.PhaseRaw, "bdl_player_boxscores"), dates[2]) {
		t.Errorf("raw/bdl_player_boxscores ran for %s without its BDL games", dates[2])
	}

	// The same command again publishes only what did not finish: the dead scrape.
	code, stdout, stderr = runProducer(t, vars, "enqueue", "--phase", "scrapers", "--job", "all", "--start-date", dates[0], "--end-date", dates[4],
		"--newest-first", "--max-in-flight", "2", "--poll-every", "100ms", "--run-id", "paced")
	if code != exitOK || !strings.Contains(stdout, "run paced: published 1 of 1;") || !strings.Contains(stdout, fmt.Sprintf("%s finished: ", dates[2])) {
		t.Errorf("exit %d, the run again:\n%s%s", code, stdout, stderr)
	}
	l := ledger.New(env.Storage, env.Bucket, ledger.Options{})
	waitStates(t, l, messages.Ref(messages.PhaseScrapers, "bdl_games"), dates[2:3], ledger.StateDead)
}

func TestPacingFlagsAreChecked(t *testing.T) {
	t.Parallel()
	local := map[string]string{"PUBSUB_EMULATOR_HOST": "127.0.0.1:1", "STORAGE_EMULATOR_HOST": "127.0.0.1:1"}
	for args, want := range map[string]string{
		"--max-in-flight -1":  "--max-in-flight -1: must be 0 (every date at once) or more",
		"--poll-every 0s":     "--poll-every 0s: must be positive",
		"--max-in-flight two": `invalid argument "two" for "--max-in-flight"`,
	} {
		code, _, stderr := runProducer(t, local, append([]string{"enqueue", "--phase", "raw", "--job", "all", "--dates", "2024-10-22"}, strings.Fields(args)...)...)
		if code != exitUsage || !strings.Contains(stderr, want) {
			t.Errorf("%s: exit %d, stderr %q lacks %q", args, code, stderr, want)
		}
	}
}
