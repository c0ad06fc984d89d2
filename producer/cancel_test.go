package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/messages"
)

// TestCancelDropsTheRun: a run cancelled before any consumer saw it does no work; the
// consumers record its dates cancelled, the status grid shows them so, and enqueueing the
// dates again (a new run) runs them.
func TestCancelDropsTheRun(t *testing.T) {
	t.Parallel()
	env, vars := stack(t)
	dates := []string{"2024-10-22", "2024-10-23", "2024-10-24"}
	enqueueArgs := []string{"enqueue", "--phase", "scrapers", "--job", "bdl_games", "--start-date", dates[0], "--end-date", dates[2]}
	if code, _, stderr := runProducer(t, vars, append(enqueueArgs, "--run-id", "doomed")...); code != exitOK {
		t.Fatalf("enqueue: exit %d: %s", code, stderr)
	}
	code, stdout, stderr := runProducer(t, vars, "cancel", "--run", "doomed", "--reason", "wrong range")
	if code != exitOK {
		t.Fatalf("cancel: exit %d: %s", code, stderr)
	}
	for _, s := range []string{
		"run doomed cancelled at ", "(wrong range)",
		"within 10s no consumer starts new work of the run",
		"producer status --job all --start-date 2024-10-22 --end-date 2024-10-24 --run doomed",
	} {
		if !strings.Contains(stdout, s) {
			t.Errorf("cancel output lacks %q:\n%s", s, stdout)
		}
	}
	code, stdout, _ = runProducer(t, vars, "cancel", "--run", "doomed", "--reason", "again")
	if code != exitOK || !strings.Contains(stdout, "run doomed was already cancelled at ") || !strings.Contains(stdout, "(wrong range)") {
		t.Errorf("cancelling twice (exit %d):\n%s", code, stdout)
	}

	var log jobLog
	consumers(t, env, &log, nil)
	l := ledger.New(env.Storage, env.Bucket, ledger.Options{})
	games := messages.Ref(messages.PhaseScrapers, "bdl_games")
	waitStates(t, l, games, dates, ledger.StateCancelled)
	if log.ran(games, dates[0]) {
		t.Error("a job of the cancelled run ran")
	}
	code, stdout, stderr = runProducer(t, vars, "status", "--job", "scrapers/bdl_games", "--start-date", dates[0], "--end-date", dates[2], "--run", "doomed", "--json")
	var cells []cell
	if err := json.Unmarshal([]byte(stdout), &cells); code != exitOK || err != nil {
		t.Fatalf("status: exit %d, %v: %s", code, err, stderr)
	}
	for _, c := range cells {
		if c.State != string(ledger.StateCancelled) || c.RunID != "doomed" {
			t.Errorf("status %s: state %q run %q, want cancelled by doomed", c.Date, c.State, c.RunID)
		}
	}
	code, stdout, _ = runProducer(t, vars, "status", "--job", "scrapers/bdl_games", "--start-date", dates[0], "--end-date", dates[2])
	if code != exitOK || strings.Count(stdout, "cancelled") < 3 {
		t.Errorf("the status grid does not show the dates cancelled:\n%s", stdout)
	}

	// Enqueued again under the cancelled id: refused, since consumers would drop it.
	code, _, stderr = runProducer(t, vars, append(enqueueArgs, "--run-id", "doomed")...)
	if code != exitUsage || !strings.Contains(stderr, "run doomed was cancelled at ") || !strings.Contains(stderr, "enqueue without --run-id") {
		t.Errorf("enqueue under a cancelled run id (exit %d):\n%s", code, stderr)
	}
	// Enqueued again: a new run, and the cancelled dates are not finished.
	code, stdout, _ = runProducer(t, vars, enqueueArgs...)
	if code != exitOK || !strings.Contains(stdout, "published 3 of 3") {
		t.Fatalf("enqueue after the cancel (exit %d):\n%s", code, stdout)
	}
	waitStates(t, l, games, dates, ledger.StateSucceeded)
}

// TestCancelStopsAPacedRun: a producer pacing a run publishes nothing more once the run
// is cancelled, and ends without an error; the work in flight finishes.
func TestCancelStopsAPacedRun(t *testing.T) {
	t.Parallel()
	env, vars := stack(t)
	dates := []string{"2024-10-22", "2024-10-23", "2024-10-24"}
	games := messages.Ref(messages.PhaseScrapers, "bdl_games")
	release := make(chan struct{})
	var log jobLog
	consumers(t, env, &log, map[messages.JobRef]runner.JobFunc{
		games: func(ctx context.Context, req messages.Request) (runner.Result, error) {
			<-release
			return runner.Result{Objects: []runner.Object{{Name: "g/" + req.Date, Generation: 1}}}, nil
		},
	})
	wait := runProducerAsync(t, vars, "enqueue", "--phase", "scrapers", "--job", "bdl_games", "--start-date", dates[0], "--end-date", dates[2],
		"--max-in-flight", "1", "--poll-every", "100ms", "--run-id", "paced-cancel", "--stop-after", "scrapers")
	waitFor(t, "the first date to start", func() (bool, string) { return log.ran(games, dates[0]), "" })
	if code, _, stderr := runProducer(t, vars, "cancel", "--run", "paced-cancel"); code != exitOK {
		t.Fatalf("cancel: exit %d: %s", code, stderr)
	}
	code, stdout, stderr := wait()
	close(release)
	if code != exitOK {
		t.Fatalf("paced enqueue: exit %d: %s\n%s", code, stderr, stdout)
	}
	for _, s := range []string{"run paced-cancel: cancelled at ", "stopping with 2 dates not published", "run paced-cancel: published 1 of 3;"} {
		if !strings.Contains(stdout, s) {
			t.Errorf("output lacks %q:\n%s", s, stdout)
		}
	}
	l := ledger.New(env.Storage, env.Bucket, ledger.Options{})
	waitStates(t, l, games, dates[:1], ledger.StateSucceeded)
	for _, d := range dates[1:] {
		if log.ran(games, d) {
			t.Errorf("%s ran after the cancel", d)
		}
	}
	// The dates it never published show as cancelled in the run's grid, saying why.
	code, stdout, stderr = runProducer(t, vars, "status", "--job", "scrapers/bdl_games", "--start-date", dates[0], "--end-date", dates[2],
		"--run", "paced-cancel", "--json")
	var cells []cell
	if err := json.Unmarshal([]byte(stdout), &cells); code != exitOK || err != nil || len(cells) != 3 {
		t.Fatalf("status: exit %d, %v, %d cells: %s", code, err, len(cells), stderr)
	}
	for i, c := range cells {
		want := []string{string(ledger.StateSucceeded), string(ledger.StateCancelled), string(ledger.StateCancelled)}[i]
		if c.State != want || (want == string(ledger.StateCancelled) && !strings.Contains(c.LastError, "not published: run paced-cancel cancelled")) {
			t.Errorf("status %s: %q (%s), want %s", c.Date, c.State, c.LastError, want)
		}
	}
	// retry --state cancelled takes exactly those.
	code, stdout, stderr = runProducer(t, vars, "retry", "--run", "paced-cancel", "--state", "cancelled", "--dry-run")
	want := "run paced-cancel: would retry 2 pairs (2 cancelled)\n  2024-10-23  scrapers/bdl_games\n  2024-10-24  scrapers/bdl_games\n"
	if code != exitOK || !strings.Contains(stdout, want) {
		t.Errorf("retry --state cancelled: exit %d\n%s%s\nwant it to contain:\n%s", code, stdout, stderr, want)
	}
}

func TestCancelBadInput(t *testing.T) {
	t.Parallel()
	local := map[string]string{"PUBSUB_EMULATOR_HOST": "127.0.0.1:1", "STORAGE_EMULATOR_HOST": "127.0.0.1:1"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"cancel"}, "--run is required"},
		{[]string{"cancel", "--run", "a/b"}, `--run: run id "a/b": want 1 to 128 letters`},
		{[]string{"cancel", "--run", "r1", "extra"}, `unknown command "extra"`},
	} {
		code, _, stderr := runProducer(t, local, tc.args...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q lacks %q", tc.args, code, stderr, tc.want)
		}
	}
}
