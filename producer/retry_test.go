package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/infra/emulators"
	"github.com/nba-props/pipeline/messages"
)

// record writes a ledger record of (ref, date) moved by a request of runID in lane to
// state (with reason for a dead one).
func record(t *testing.T, l *ledger.Ledger, ref messages.JobRef, date, runID, lane string, state ledger.State, reason string) {
	t.Helper()
	now := time.Now()
	req := messages.Request{Version: messages.Version, Phase: ref.Phase, Job: ref.Job, Date: date, RunID: runID, Lane: lane,
		Trigger: messages.Trigger{Kind: messages.TriggerProducer}}
	if lane == messages.LaneDaily {
		req.StopAfter = messages.PhaseRaw
	}
	rec := ledger.Record{Phase: ref.Phase, Job: ref.Job, Date: date}.For(req).Start("test", runID, time.Minute, now)
	switch state {
	case ledger.StateFailed:
		rec = rec.Fail(errors.New("503"), now)
	case ledger.StateDead:
		rec = rec.Die(reason, errors.New("gave up"), now)
	case ledger.StatePartial:
		rec = rec.Succeed(ledger.Output{Objects: []ledger.Object{{Name: "x", Generation: 1}}, Missing: []string{"g1"}}, "fp", false, now)
	case ledger.StateSucceeded:
		rec = rec.Succeed(ledger.Output{Rows: map[string]int64{date: 5}}, "fp", false, now)
	case ledger.StateCancelled:
		rec = rec.Cancel(runID, now)
	}
	if _, err := l.Write(context.Background(), rec, 0); err != nil {
		t.Fatal(err)
	}
}

// publishedEverywhere drains the topic of every phase that has jobs (through its
// catch-all subscription).
func publishedEverywhere(t *testing.T, env *emulators.Env) []messages.Request {
	t.Helper()
	var out []messages.Request
	for _, p := range messages.Phases() {
		if len(messages.DefaultCatalog().InPhase(p)) > 0 {
			out = append(out, drain(t, env, env.Names.UnroutableSubscription(p))...)
		}
	}
	return out
}

// TestRetryRepublishesExactlyTheRunsPairs: retry sends exactly the pairs of the run in the
// states asked for, each to its phase with its lane and stop phase, under the same run id;
// nothing of another run, nothing finished.
func TestRetryRepublishesExactlyTheRunsPairs(t *testing.T) {
	t.Parallel()
	env, vars := stack(t)
	l := ledger.New(env.Storage, env.Bucket, ledger.Options{})
	games := messages.Ref(messages.PhaseScrapers, "bdl_games")
	odds := messages.Ref(messages.PhaseScrapers, "odds_api_player_props")
	rawBDL := messages.Ref(messages.PhaseRaw, "bdl_player_boxscores")
	pgs := messages.Ref(messages.PhaseAnalytics, "player_game_summary")
	if err := l.WritePlan(context.Background(), ledger.Plan{RunID: "r1", Pairs: map[string][]string{
		games.String(): {"2024-10-22", "2024-10-23", "2024-10-24"}, odds.String(): {"2024-10-22"}}}); err != nil {
		t.Fatal(err)
	}
	record(t, l, games, "2024-10-22", "r1", messages.LaneBackfill, ledger.StateFailed, "")
	record(t, l, scheduleRef, "2024-10-23", "r1", messages.LaneDaily, ledger.StateDead, "job_error")
	record(t, l, pgs, "2024-10-24", "r1", messages.LaneBackfill, ledger.StateDead, "max_attempts")
	record(t, l, odds, "2024-10-22", "r1", messages.LaneBackfill, ledger.StateSucceeded, "")
	record(t, l, rawBDL, "2024-10-22", "r1", messages.LaneBackfill, ledger.StatePartial, "")
	record(t, l, games, "2024-10-23", "r2", messages.LaneBackfill, ledger.StateFailed, "")

	code, stdout, stderr := runProducer(t, vars, "retry", "--run", "r1", "--dry-run")
	if code != exitOK || !strings.Contains(stdout, "run r1: would retry 3 pairs (1 failed, 2 dead)") || !strings.Contains(stdout, "dry run: nothing published") {
		t.Errorf("dry run (exit %d):\n%s%s", code, stdout, stderr)
	}
	if got := publishedEverywhere(t, env); len(got) != 0 {
		t.Fatalf("a dry run published %v", pairs(got))
	}

	code, stdout, stderr = runProducer(t, vars, "retry", "--run", "r1")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "run r1: published 3 of 3") {
		t.Errorf("output:\n%s", stdout)
	}
	got := publishedEverywhere(t, env)
	want := []string{"analytics/player_game_summary 2024-10-24", "raw/nbac_schedule 2024-10-23", "scrapers/bdl_games 2024-10-22"}
	if diff := cmp.Diff(want, sortedPairs(got)); diff != "" {
		t.Fatalf("retried (-want +got):\n%s", diff)
	}
	for _, r := range got {
		wantLane, wantStop := messages.LaneBackfill, messages.Phase("")
		if r.Ref() == scheduleRef {
			wantLane, wantStop = messages.LaneDaily, messages.PhaseRaw
		}
		if r.RunID != "r1" || r.Lane != wantLane || r.StopAfter != wantStop || r.Force || r.Trigger.Kind != messages.TriggerProducer {
			t.Errorf("%s %s: run %q lane %q stop %q force %v trigger %q; want r1, %s, %q, no force, producer",
				r.Ref(), r.Date, r.RunID, r.Lane, r.StopAfter, r.Force, r.Trigger.Kind, wantLane, wantStop)
		}
	}

	// One reason only; then the partial pair, which goes with force.
	code, _, _ = runProducer(t, vars, "retry", "--run", "r1", "--state", "dead", "--reason", "max_attempts")
	if got := sortedPairs(publishedEverywhere(t, env)); code != exitOK || !cmp.Equal(got, []string{"analytics/player_game_summary 2024-10-24"}) {
		t.Errorf("--state dead --reason max_attempts (exit %d) published %v", code, got)
	}
	code, _, _ = runProducer(t, vars, "retry", "--run", "r1", "--state", "partial")
	got = publishedEverywhere(t, env)
	if code != exitOK || len(got) != 1 || got[0].Ref() != rawBDL || !got[0].Force {
		t.Errorf("--state partial (exit %d) published %+v, want raw/bdl_player_boxscores with force", code, got)
	}
	code, stdout, _ = runProducer(t, vars, "retry", "--run", "r1", "--state", "cancelled")
	if code != exitOK || !strings.Contains(stdout, "run r1: no pairs in state cancelled to retry") {
		t.Errorf("a run with nothing to retry (exit %d):\n%s", code, stdout)
	}
	code, _, stderr = runProducer(t, vars, "retry", "--run", "r9")
	if code != exitUsage || !strings.Contains(stderr, "run r9: no plan and no ledger record name it") {
		t.Errorf("a run id nothing knows (exit %d):\n%s", code, stderr)
	}
}

// The pairs of a cancelled run go out under a new run id: every consumer drops the
// messages of the cancelled one.
func TestRetryOfACancelledRunTakesANewRunID(t *testing.T) {
	t.Parallel()
	env, vars := stack(t)
	l := ledger.New(env.Storage, env.Bucket, ledger.Options{})
	games := messages.Ref(messages.PhaseScrapers, "bdl_games")
	record(t, l, games, "2024-10-22", "r3", messages.LaneBackfill, ledger.StateCancelled, "")
	record(t, l, games, "2024-10-23", "r3", messages.LaneBackfill, ledger.StateCancelled, "")
	if _, err := l.CancelRun(context.Background(), "r3", "oops"); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runProducer(t, vars, "retry", "--run", "r3", "--state", "cancelled", "--run-id", "r3-again")
	if code != exitOK || !strings.Contains(stdout, "run r3 was cancelled at ") || !strings.Contains(stdout, "so the retry is run r3-again") {
		t.Fatalf("exit %d:\n%s%s", code, stdout, stderr)
	}
	got := drain(t, env, env.Names.Subscription(games))
	if len(got) != 2 || got[0].RunID != "r3-again" || got[1].RunID != "r3-again" {
		t.Errorf("published %+v, want two messages of run r3-again", got)
	}
	plan, err := l.ReadPlan(context.Background(), "r3-again")
	if err != nil || len(plan.Pairs[games.String()]) != 2 {
		t.Errorf("plan of the retry: %+v, %v; want both dates of bdl_games", plan, err)
	}
}

func TestRetryBadInput(t *testing.T) {
	t.Parallel()
	local := map[string]string{"PUBSUB_EMULATOR_HOST": "127.0.0.1:1", "STORAGE_EMULATOR_HOST": "127.0.0.1:1"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"retry"}, "--run is required"},
		{[]string{"retry", "--run", "r1", "--state", "succeeded"}, `--state "succeeded": retry takes failed, dead, cancelled or partial`},
		{[]string{"retry", "--run", "r 1"}, `--run: run id "r 1"`},
	} {
		code, _, stderr := runProducer(t, local, tc.args...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q lacks %q", tc.args, code, stderr, tc.want)
		}
	}
}
