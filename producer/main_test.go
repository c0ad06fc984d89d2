package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/google/go-cmp/cmp"
	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/infra/emulators"
	"github.com/nba-props/pipeline/infra/topology"
	"github.com/nba-props/pipeline/messages"
	"github.com/sethvargo/go-envconfig"
)

// runProducer runs the CLI in-process with vars as its whole environment.
func runProducer(t *testing.T, vars map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb, envconfig.MapLookuper(vars))
	return code, out.String(), errb.String()
}

// stack starts emulators and applies the topology; the environment points at them.
func stack(t *testing.T) (*emulators.Env, map[string]string) {
	t.Helper()
	env := emulators.StartTest(t)
	_, err := topology.Apply(context.Background(), topology.Clients{PubSub: env.PubSub, Storage: env.Storage},
		topology.Options{Names: env.Names, Bucket: env.Bucket})
	if err != nil {
		t.Fatal(err)
	}
	return env, env.Vars(nil)
}

// drain pulls and acks everything waiting on a subscription and decodes it.
func drain(t *testing.T, env *emulators.Env, sub string) []messages.Request {
	t.Helper()
	ctx := context.Background()
	name := "projects/" + env.Project + "/subscriptions/" + sub
	var out []messages.Request
	for {
		resp, err := env.PubSub.SubscriptionAdminClient.Pull(ctx, &pubsubpb.PullRequest{
			Subscription: name, MaxMessages: 1000})
		if err != nil {
			t.Fatalf("pull %s: %v", sub, err)
		}
		if len(resp.ReceivedMessages) == 0 {
			return out
		}
		var ids []string
		for _, m := range resp.ReceivedMessages {
			req, err := messages.Decode(m.Message.Data, m.Message.Attributes, messages.DefaultCatalog())
			if err != nil {
				t.Errorf("message on %s: %v", sub, err)
			}
			out = append(out, req)
			ids = append(ids, m.AckId)
		}
		if err := env.PubSub.SubscriptionAdminClient.Acknowledge(ctx, &pubsubpb.AcknowledgeRequest{Subscription: name, AckIds: ids}); err != nil {
			t.Fatal(err)
		}
	}
}

// pairs renders requests as "phase/job date" for comparison.
func pairs(reqs []messages.Request) []string {
	var out []string
	for _, r := range reqs {
		out = append(out, r.Ref().String()+" "+r.Date)
	}
	return out
}

func sortedPairs(reqs []messages.Request) []string {
	p := pairs(reqs)
	slices.Sort(p)
	return p
}

func TestEnqueueBadInput(t *testing.T) {
	t.Parallel()
	local := map[string]string{"PUBSUB_EMULATOR_HOST": "127.0.0.1:1", "STORAGE_EMULATOR_HOST": "127.0.0.1:1"}
	rng := []string{"--start-date", "2024-10-22", "--end-date", "2024-10-23"}
	tests := []struct {
		name string
		vars map[string]string
		args []string
		want string // in stderr
	}{
		{"unknown phase", local, append([]string{"enqueue", "--phase", "phase9", "--job", "all"}, rng...), `--phase: unknown phase "phase9" (known phases: scrapers, raw, reference, analytics, precompute)`},
		{"missing phase", local, append([]string{"enqueue", "--job", "all"}, rng...), "--phase is required: one of scrapers, raw, reference, analytics, precompute\n"},
		{"unknown job", local, append([]string{"enqueue", "--phase", "raw", "--job", "nope"}, rng...), `unknown job "nope" in phase raw`},
		{"missing job", local, append([]string{"enqueue", "--phase", "raw"}, rng...), "--job is required"},
		{"job not in phase", local, append([]string{"enqueue", "--phase", "raw", "--job", "bdl_games"}, rng...), "bdl_games is a job of phase scrapers, not raw"},
		{"end before start", local, []string{"enqueue", "--phase", "raw", "--job", "all", "--start-date", "2024-10-23", "--end-date", "2024-10-22"}, "--end-date 2024-10-22 is before --start-date 2024-10-23"},
		{"impossible date", local, []string{"enqueue", "--phase", "raw", "--job", "all", "--start-date", "2024-02-30", "--end-date", "2024-03-01"}, "--start-date: invalid date"},
		{"TODAY", local, []string{"enqueue", "--phase", "raw", "--job", "all", "--dates", "TODAY"}, `--dates: invalid date "TODAY"`},
		{"short date", local, []string{"enqueue", "--phase", "raw", "--job", "all", "--start-date", "2024-1-2", "--end-date", "2024-01-03"}, "--start-date: invalid date"},
		{"no dates", local, []string{"enqueue", "--phase", "raw", "--job", "all"}, "give --start-date and --end-date"},
		{"range and list", local, append([]string{"enqueue", "--phase", "raw", "--job", "all", "--dates", "2024-10-22"}, rng...), "not both"},
		{"range over max", local, []string{"enqueue", "--phase", "raw", "--job", "all", "--start-date", "2024-10-01", "--end-date", "2024-10-11", "--max-dates", "10"}, "is 11 dates, more than --max-dates 10"},
		{"default max", local, []string{"enqueue", "--phase", "raw", "--job", "all", "--start-date", "2000-01-01", "--end-date", "2024-10-11"}, "more than --max-dates 2000"},
		{"not backfillable", local, append([]string{"enqueue", "--phase", "scrapers", "--job", "bdl_injuries"}, rng...), "scrapers/bdl_injuries cannot run for 2024-10-22: date not available from the source: scrapers/bdl_injuries only serves the current day"},
		{"before source history", local, []string{"enqueue", "--phase", "scrapers", "--job", "odds_api_player_props", "--dates", "2022-01-10"}, "has data only from 2023-05-03"},
		{"stop before phase", local, append([]string{"enqueue", "--phase", "raw", "--job", "all", "--stop-after", "scrapers"}, rng...), "--stop-after scrapers is before --phase raw"},
		{"bad lane", local, append([]string{"enqueue", "--phase", "raw", "--job", "all", "--lane", "fast"}, rng...), `--lane "fast"`},
		{"negative limit", local, append([]string{"enqueue", "--phase", "raw", "--job", "all", "--limit", "-1"}, rng...), "--limit -1"},
		{"unknown flag", local, append([]string{"enqueue", "--phase", "raw", "--job", "all", "--bogus"}, rng...), "unknown flag: --bogus"},
		{"unknown command", local, []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"nothing configured", map[string]string{}, append([]string{"enqueue", "--phase", "raw", "--job", "all"}, rng...), "set GOOGLE_CLOUD_PROJECT"},
		{"storage emulator missing", map[string]string{"PUBSUB_EMULATOR_HOST": "127.0.0.1:1"}, append([]string{"enqueue", "--phase", "raw", "--job", "all"}, rng...), "STORAGE_EMULATOR_HOST is not"},
		{"status nothing configured", map[string]string{}, append([]string{"status", "--job", "all"}, rng...), "set GOOGLE_CLOUD_PROJECT"},
		{"status unknown job", local, append([]string{"status", "--job", "nope"}, rng...), `--job "nope": no such job`},
		{"status watch json", local, append([]string{"status", "--job", "all", "--watch", "1s", "--json"}, rng...), "--watch draws the text grid; drop --json"},
		{"status no dates", local, []string{"status", "--job", "all"}, "give --start-date and --end-date (YYYY-MM-DD, inclusive; the same date twice for one day)\n"},
		{"status unknown phase", local, append([]string{"status", "--job", "all", "--phase", "phase9"}, rng...), `--phase: unknown phase "phase9" (known phases: scrapers, raw`},
		{"bad stop-after", local, append([]string{"enqueue", "--phase", "raw", "--job", "all", "--stop-after", "later"}, rng...), `--stop-after: unknown phase "later" (known phases: scrapers, raw`},
		{"one-date range over max", local, []string{"enqueue", "--phase", "raw", "--job", "all", "--start-date", "2024-10-01", "--end-date", "2024-10-01", "--max-dates", "0"}, "is 1 date, more than --max-dates 0"},
		{"status bad date", local, []string{"status", "--job", "all", "--start-date", "TODAY", "--end-date", "2024-10-22"}, "--start-date: invalid date"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runProducer(t, tt.vars, tt.args...)
			if code != exitUsage {
				t.Errorf("exit code %d, want %d; stderr: %s", code, exitUsage, stderr)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr %q does not say %q", stderr, tt.want)
			}
			if stdout != "" {
				t.Errorf("stdout not empty on error: %q", stdout)
			}
			// A list of phases is given once, not once per layer of the error.
			if n := strings.Count(stderr, "precompute"); n > 1 {
				t.Errorf("stderr lists the phases %d times: %s", n, stderr)
			}
			// Status has no --dates: its hints must not suggest it.
			if tt.args[0] == "status" && strings.Contains(stderr, "--dates") {
				t.Errorf("status suggests --dates, which it does not have: %s", stderr)
			}
		})
	}
}

func TestEmulatorNotRunning(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"PUBSUB_EMULATOR_HOST": "127.0.0.1:1", "STORAGE_EMULATOR_HOST": "127.0.0.1:1"}
	code, _, stderr := runProducer(t, vars, "enqueue", "--phase", "raw", "--job", "all", "--dates", "2024-10-22", "--dry-run")
	if code != exitError || !strings.Contains(stderr, "cannot reach the Pub/Sub emulator at PUBSUB_EMULATOR_HOST=127.0.0.1:1 (is `make up` running?)") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestDryRunPublishesNothing(t *testing.T) {
	t.Parallel()
	env, vars := stack(t)
	code, stdout, stderr := runProducer(t, vars, "enqueue", "--phase", "scrapers", "--job", "all",
		"--start-date", "2024-10-22", "--end-date", "2024-10-24", "--dry-run")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	runs := strings.Count(stdout, "RUN ")
	skips := strings.Count(stdout, "SKIP ")
	// Seven scrapers × three dates; the injury report cannot be backfilled.
	if runs != 18 || skips != 3 {
		t.Errorf("plan has %d RUN and %d SKIP lines, want 18 and 3:\n%s", runs, skips, stdout)
	}
	if !strings.Contains(stdout, "SKIP  2024-10-22  scrapers/bdl_injuries  unavailable: ") {
		t.Errorf("plan does not give the reason for the injury report:\n%s", stdout)
	}
	if !strings.Contains(stdout, "dry run: 18 to run, 3 skipped (unavailable: 3); nothing published") {
		t.Errorf("plan totals missing:\n%s", stdout)
	}
	if got := drain(t, env, env.Names.UnroutableSubscription(messages.PhaseScrapers)); len(got) != 0 {
		t.Errorf("dry run published %d messages: %v", len(got), pairs(got))
	}
}

func TestEnqueuePublishesPlan(t *testing.T) {
	t.Parallel()
	env, vars := stack(t)
	code, stdout, stderr := runProducer(t, vars, "enqueue", "--phase", "raw", "--job", "bdl_player_boxscores",
		"--dates", "2024-10-24,2024-10-22", "--stop-after", "raw", "--lane", "daily", "--run-id", "run-1")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "run run-1: published 2 of 2") {
		t.Errorf("summary missing:\n%s", stdout)
	}
	// The daily lane has its own subscription per job.
	got := drain(t, env, env.Names.DailySubscription(messages.Ref(messages.PhaseRaw, "bdl_player_boxscores")))
	want := []messages.Request{
		{Version: 1, Phase: messages.PhaseRaw, Job: "bdl_player_boxscores", Date: "2024-10-22", RunID: "run-1",
			Trigger: messages.Trigger{Kind: messages.TriggerProducer}, StopAfter: messages.PhaseRaw, Lane: messages.LaneDaily},
		{Version: 1, Phase: messages.PhaseRaw, Job: "bdl_player_boxscores", Date: "2024-10-24", RunID: "run-1",
			Trigger: messages.Trigger{Kind: messages.TriggerProducer}, StopAfter: messages.PhaseRaw, Lane: messages.LaneDaily},
	}
	if diff := cmp.Diff(sortedPairs(want), sortedPairs(got)); diff != "" {
		t.Fatalf("published (-want +got):\n%s", diff)
	}
	for _, r := range got {
		w := want[0]
		w.Date = r.Date
		if diff := cmp.Diff(w, r); diff != "" {
			t.Errorf("message for %s (-want +got):\n%s", r.Date, diff)
		}
	}
}

func TestLimitPublishesExactly(t *testing.T) {
	t.Parallel()
	env, vars := stack(t)
	code, stdout, stderr := runProducer(t, vars, "enqueue", "--phase", "scrapers", "--job", "all",
		"--start-date", "2024-10-22", "--end-date", "2024-10-31", "--limit", "7")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	got := drain(t, env, env.Names.UnroutableSubscription(messages.PhaseScrapers))
	if len(got) != 7 {
		t.Errorf("--limit 7 published %d messages", len(got))
	}
	// Dates come first: the limit takes the earliest dates, all jobs of a date together.
	for _, r := range got {
		if r.Date > "2024-10-23" {
			t.Errorf("--limit 7 published %s %s, beyond the first dates", r.Ref(), r.Date)
		}
	}
	if !strings.Contains(stdout, "published 7 of 7") || !strings.Contains(stdout, "over limit: 53") {
		t.Errorf("summary does not account for the limit:\n%s", stdout)
	}
}

// finish writes a done ledger record, as a consumer would after running (ref, date).
func finish(t *testing.T, l *ledger.Ledger, ref messages.JobRef, date string, state ledger.State, rows int64) {
	t.Helper()
	now := time.Now()
	rec := ledger.Record{Phase: ref.Phase, Job: ref.Job, Date: date}.Start("test", "earlier-run", time.Minute, now)
	out := ledger.Output{}
	if rows > 0 {
		out.Rows = map[string]int64{date: rows}
	}
	rec = rec.Succeed(out, "fp-"+date, state == ledger.StateEmpty, now)
	if _, err := l.Write(context.Background(), rec, 0); err != nil {
		t.Fatal(err)
	}
}

func TestResumeSkipsFinishedAndForceRepublishes(t *testing.T) {
	t.Parallel()
	env, vars := stack(t)
	l := ledger.New(env.Storage, env.Bucket, ledger.Options{})
	dates := []string{"2024-10-22", "2024-10-23", "2024-10-24"}
	args := []string{"enqueue", "--phase", "raw", "--job", "all", "--start-date", dates[0], "--end-date", dates[2]}
	unroutable := env.Names.UnroutableSubscription(messages.PhaseRaw)

	if code, _, stderr := runProducer(t, vars, args...); code != exitOK {
		t.Fatalf("first enqueue: exit %d: %s", code, stderr)
	}
	first := drain(t, env, unroutable)
	if len(first) == 0 {
		t.Fatal("first enqueue published nothing")
	}
	// The consumers finish every pair that was published.
	for i, r := range first {
		state := ledger.StateSucceeded
		if i%2 == 1 {
			state = ledger.StateEmpty
		}
		finish(t, l, r.Ref(), r.Date, state, int64(10*i))
	}

	code, stdout, stderr := runProducer(t, vars, args...)
	if code != exitOK {
		t.Fatalf("second enqueue: exit %d: %s", code, stderr)
	}
	if again := drain(t, env, unroutable); len(again) != 0 {
		t.Errorf("second identical enqueue published %d messages: %v", len(again), pairs(again))
	}
	if want := fmt.Sprintf("published 0 of 0; 0 to run, %d skipped (done: %d", len(first)+3, len(first)); !strings.Contains(stdout, want) {
		t.Errorf("summary of the second enqueue lacks %q:\n%s", want, stdout)
	}

	code, _, stderr = runProducer(t, vars, append(args, "--force")...)
	if code != exitOK {
		t.Fatalf("forced enqueue: exit %d: %s", code, stderr)
	}
	forced := drain(t, env, unroutable)
	if diff := cmp.Diff(sortedPairs(first), sortedPairs(forced)); diff != "" {
		t.Errorf("--force republished (-first +forced):\n%s", diff)
	}
	for _, r := range forced {
		if !r.Force {
			t.Errorf("forced message %s %s lacks force", r.Ref(), r.Date)
		}
	}
}

func TestResumeSkipsOnlyFinishedPairs(t *testing.T) {
	t.Parallel()
	env, vars := stack(t)
	l := ledger.New(env.Storage, env.Bucket, ledger.Options{})
	ref := messages.Ref(messages.PhaseScrapers, "bdl_games")
	finish(t, l, ref, "2024-10-23", ledger.StateSucceeded, 0)
	// A failed record is not finished: it is published again.
	now := time.Now()
	failed := ledger.Record{Phase: ref.Phase, Job: ref.Job, Date: "2024-10-24"}.Start("test", "r", time.Minute, now).Fail(fmt.Errorf("boom"), now)
	if _, err := l.Write(context.Background(), failed, 0); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runProducer(t, vars, "enqueue", "--phase", "scrapers", "--job", "bdl_games",
		"--start-date", "2024-10-22", "--end-date", "2024-10-24")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	got := sortedPairs(drain(t, env, env.Names.Subscription(ref)))
	want := []string{"scrapers/bdl_games 2024-10-22", "scrapers/bdl_games 2024-10-24"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("published (-want +got):\n%s", diff)
	}
	if !strings.Contains(stdout, "skipped scrapers/bdl_games for 1 date (done), e.g. 2024-10-23: already succeeded (run earlier-run, 0 objects)") {
		t.Errorf("summary does not explain the skip:\n%s", stdout)
	}
}

func TestStatusGrid(t *testing.T) {
	t.Parallel()
	env, vars := stack(t)
	l := ledger.New(env.Storage, env.Bucket, ledger.Options{})
	ref := messages.Ref(messages.PhaseRaw, "bdl_player_boxscores")
	finish(t, l, ref, "2024-10-22", ledger.StateSucceeded, 250)
	now := time.Now()
	rec := ledger.Record{Phase: ref.Phase, Job: ref.Job, Date: "2024-10-23"}.Start("test", "r2", time.Minute, now).Fail(fmt.Errorf("bigquery 503"), now)
	if _, err := l.Write(context.Background(), rec, 0); err != nil {
		t.Fatal(err)
	}

	code, stdout, stderr := runProducer(t, vars, "status", "--phase", "raw", "--job", "bdl_player_boxscores",
		"--start-date", "2024-10-22", "--end-date", "2024-10-24", "--json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var cells []cell
	if err := json.Unmarshal([]byte(stdout), &cells); err != nil {
		t.Fatalf("status --json: %v\n%s", err, stdout)
	}
	type row struct {
		Date, State string
		Attempts    int
		Rows        int64
		LastError   string
	}
	var got []row
	for _, c := range cells {
		got = append(got, row{c.Date, c.State, c.Attempts, c.Rows, c.LastError})
	}
	want := []row{
		{"2024-10-22", "succeeded", 1, 250, ""},
		{"2024-10-23", "failed", 1, 0, "bigquery 503"},
		{"2024-10-24", "", 0, 0, ""},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("status grid (-want +got):\n%s", diff)
	}

	code, stdout, stderr = runProducer(t, vars, "status", "--job", "raw/bdl_player_boxscores",
		"--start-date", "2024-10-22", "--end-date", "2024-10-24")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, s := range []string{"ok 250", "failed x1", "total: succeeded 1, failed 1, none 1", "2024-10-23 raw/bdl_player_boxscores failed after 1 attempt: bigquery 503"} {
		if !strings.Contains(stdout, s) {
			t.Errorf("status text lacks %q:\n%s", s, stdout)
		}
	}

	// --run keeps only the records of that run.
	code, stdout, _ = runProducer(t, vars, "status", "--job", "raw/bdl_player_boxscores",
		"--start-date", "2024-10-22", "--end-date", "2024-10-24", "--run", "r2")
	if code != exitOK || !strings.Contains(stdout, "total: failed 1, none 2") {
		t.Errorf("status --run r2 (exit %d):\n%s", code, stdout)
	}
}

func TestJobsListsCatalogue(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := runProducer(t, nil, "jobs")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, s := range messages.DefaultCatalog().Jobs() {
		if !strings.Contains(stdout, "  "+s.Name+"\n") {
			t.Errorf("jobs output lacks %s", s.Ref())
		}
	}
	if !strings.Contains(stdout, "current day only (not backfillable)") {
		t.Errorf("jobs output does not show the injury report's bound:\n%s", stdout)
	}
	code, stdout, _ = runProducer(t, nil, "jobs", "--json")
	var jobs []jobJSON
	if code != exitOK || json.Unmarshal([]byte(stdout), &jobs) != nil || len(jobs) != len(messages.DefaultCatalog().Jobs()) {
		t.Errorf("jobs --json (exit %d) gave %d jobs:\n%s", code, len(jobs), stdout)
	}
}

func TestEnqueueWithoutTopologySaysApply(t *testing.T) {
	t.Parallel()
	env := emulators.StartTest(t)
	code, _, stderr := runProducer(t, env.Vars(nil), "enqueue", "--phase", "raw", "--job", "nbac_schedule", "--dates", "2024-10-22")
	if code != exitError || !strings.Contains(stderr, "apply the topology first (go run ./infra/cmd/infra apply, or make up locally)") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

// TestStatusFlagsDatesShortOfTheirGames compares each date's rows with its games (from the
// schedule's ledger records), not with the other dates: an opening night of two games is
// not low, a date with half the rows its games call for is, an off day is not judged.
func TestStatusFlagsDatesShortOfTheirGames(t *testing.T) {
	t.Parallel()
	env, vars := stack(t)
	l := ledger.New(env.Storage, env.Bucket, ledger.Options{})
	box := messages.Ref(messages.PhaseRaw, "nbac_player_boxscores")
	const perGame = 25
	games := map[string]int64{"2024-10-22": 2, "2024-10-23": 11, "2024-10-24": 7, "2024-10-25": 12, "2024-10-26": 9, "2024-10-27": 0, "2024-10-28": 10}
	for date, g := range games {
		state := ledger.StateSucceeded
		if g == 0 {
			state = ledger.StateEmpty
		}
		finish(t, l, scheduleRef, date, state, g)
		rows := g * perGame
		switch date {
		case "2024-10-25":
			rows /= 2 // a source that delivered half the games
		case "2024-10-23":
			rows -= 20 // a few players fewer than usual: not low
		}
		finish(t, l, box, date, state, rows)
	}

	code, stdout, stderr := runProducer(t, vars, "status", "--job", "raw/nbac_player_boxscores",
		"--start-date", "2024-10-22", "--end-date", "2024-10-28")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, s := range []string{"LOW 150", "2024-10-22  ok 50\n", "2024-10-23  ok 255\n", "2024-10-25 raw/nbac_player_boxscores succeeded with 150 rows, 300 rows expected from the date's games"} {
		if !strings.Contains(stdout, s) {
			t.Errorf("status text lacks %q:\n%s", s, stdout)
		}
	}
	if n := strings.Count(stdout, "LOW"); n != 1 {
		t.Errorf("%d dates flagged, want only 2024-10-25:\n%s", n, stdout)
	}

	// Two days, opening night first: nothing to flag.
	code, stdout, _ = runProducer(t, vars, "status", "--job", "raw/nbac_player_boxscores",
		"--start-date", "2024-10-22", "--end-date", "2024-10-23")
	if code != exitOK || strings.Contains(stdout, "LOW") {
		t.Errorf("exit %d, a two-day range from opening night is flagged:\n%s", code, stdout)
	}

	// JSON carries the expectation; the off day has none.
	code, stdout, _ = runProducer(t, vars, "status", "--job", "raw/nbac_player_boxscores",
		"--start-date", "2024-10-22", "--end-date", "2024-10-28", "--json")
	var cells []cell
	if err := json.Unmarshal([]byte(stdout), &cells); code != exitOK || err != nil {
		t.Fatalf("exit %d, %v:\n%s", code, err, stdout)
	}
	got := map[string]int64{}
	for _, c := range cells {
		got[c.Date] = c.ExpectedRows
		if c.RowsLow != (c.Date == "2024-10-25") {
			t.Errorf("%s rows_low %v", c.Date, c.RowsLow)
		}
	}
	want := map[string]int64{"2024-10-22": 50, "2024-10-23": 275, "2024-10-24": 175, "2024-10-25": 300, "2024-10-26": 225, "2024-10-27": 0, "2024-10-28": 250}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("expected rows (-want +got):\n%s", diff)
	}
}

// A date whose games are unknown is not judged, and status says so.
func TestStatusWithoutScheduleJudgesNothing(t *testing.T) {
	t.Parallel()
	env, vars := stack(t)
	l := ledger.New(env.Storage, env.Bucket, ledger.Options{})
	box := messages.Ref(messages.PhaseRaw, "nbac_player_boxscores")
	for date, rows := range map[string]int64{"2024-10-22": 210, "2024-10-23": 190, "2024-10-24": 12, "2024-10-25": 205} {
		finish(t, l, box, date, ledger.StateSucceeded, rows)
	}
	finish(t, l, scheduleRef, "2024-10-22", ledger.StateSucceeded, 8)
	code, stdout, _ := runProducer(t, vars, "status", "--job", "raw/nbac_player_boxscores", "--start-date", "2024-10-22", "--end-date", "2024-10-25")
	if code != exitOK || strings.Contains(stdout, "LOW") ||
		!strings.Contains(stdout, "rows not judged on 3 dates: raw/nbac_schedule has no finished record there to give the games") {
		t.Errorf("exit %d:\n%s", code, stdout)
	}
}

func TestStatusHelpExplainsLow(t *testing.T) {
	t.Parallel()
	code, stdout, _ := runProducer(t, nil, "status", "--help")
	if code != exitOK || !strings.Contains(stdout, "LOW marks a finished date whose rows are at most half of what its games lead to expect") {
		t.Errorf("exit %d, status --help does not explain LOW:\n%s", code, stdout)
	}
}

func TestStatusShowsScraperObjects(t *testing.T) {
	t.Parallel()
	env, vars := stack(t)
	l := ledger.New(env.Storage, env.Bucket, ledger.Options{})
	ref := messages.Ref(messages.PhaseScrapers, "bdl_player_boxscores")
	now := time.Now()
	out := ledger.Output{Objects: []ledger.Object{{Name: "a", Generation: 1}, {Name: "b", Generation: 2}, {Name: "c", Generation: 3}}}
	rec := ledger.Record{Phase: ref.Phase, Job: ref.Job, Date: "2024-10-22"}.Start("test", "r1", time.Minute, now).Succeed(out, "fp", false, now)
	if _, err := l.Write(context.Background(), rec, 0); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runProducer(t, vars, "status", "--job", "scrapers/bdl_player_boxscores",
		"--start-date", "2024-10-22", "--end-date", "2024-10-22")
	if code != exitOK || !strings.Contains(stdout, "ok 3 obj") {
		t.Errorf("exit %d, status grid lacks the object count %q:\n%s%s", code, "ok 3 obj", stdout, stderr)
	}
}

// TestOneVocabularyForOutput: a scraper's output is objects and a later phase's rows, in the
// singular for one, in enqueue's skip reasons as in the status grid.
func TestOneVocabularyForOutput(t *testing.T) {
	t.Parallel()
	env, vars := stack(t)
	l := ledger.New(env.Storage, env.Bucket, ledger.Options{})
	now := time.Now()
	scraper := messages.Ref(messages.PhaseScrapers, "bdl_games")
	rec := ledger.Record{Phase: scraper.Phase, Job: scraper.Job, Date: "2024-10-22"}.Start("test", "r1", time.Minute, now).
		Succeed(ledger.Output{Objects: []ledger.Object{{Name: "ball-dont-lie/games/2024-10-22/x.json", Generation: 1}}}, "fp", false, now)
	if _, err := l.Write(context.Background(), rec, 0); err != nil {
		t.Fatal(err)
	}
	raw := messages.Ref(messages.PhaseRaw, "nbac_schedule")
	finish(t, l, raw, "2024-10-22", ledger.StateSucceeded, 1)

	code, stdout, stderr := runProducer(t, vars, "enqueue", "--phase", "scrapers", "--job", "bdl_games", "--dates", "2024-10-22,2024-10-23")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"publishing 1 message to", "skipped scrapers/bdl_games for 1 date (done), e.g. 2024-10-22: already succeeded (run r1, 1 object)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("enqueue output lacks %q:\n%s", want, stdout)
		}
	}
	code, stdout, _ = runProducer(t, vars, "enqueue", "--phase", "raw", "--job", "nbac_schedule", "--dates", "2024-10-22", "--dry-run")
	if want := "SKIP  2024-10-22  raw/nbac_schedule  done: already succeeded (run earlier-run, 1 row)"; code != exitOK || !strings.Contains(stdout, want) {
		t.Errorf("exit %d, dry run lacks %q:\n%s", code, want, stdout)
	}
	code, stdout, _ = runProducer(t, vars, "status", "--job", "all", "--start-date", "2024-10-22", "--end-date", "2024-10-22")
	for _, want := range []string{"scrapers/bdl_games (objects)", "raw/nbac_schedule (rows)", "ok 1 obj", "ok 1  "} {
		if code != exitOK || !strings.Contains(stdout, want) {
			t.Errorf("exit %d, status lacks %q:\n%s", code, want, stdout)
		}
	}
	for _, bad := range []string{"1 messages", "1 dates", "1 rows", "1 objects", "1 attempts"} {
		if strings.Contains(stdout, bad) {
			t.Errorf("output says %q", bad)
		}
	}
}

// TestHelpNamesTheEnvironment: the commands that reach Google Cloud say which variables
// they read.
func TestHelpNamesTheEnvironment(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--help"}, {"enqueue", "--help"}, {"status", "--help"}} {
		code, stdout, stderr := runProducer(t, nil, args...)
		if code != exitOK {
			t.Errorf("%v: exit %d: %s", args, code, stderr)
		}
		for _, v := range []string{"Environment:", "GOOGLE_CLOUD_PROJECT", "PUBSUB_EMULATOR_HOST", "STORAGE_EMULATOR_HOST", "GCS_BUCKET", "NBA_ENV_PREFIX"} {
			if !strings.Contains(stdout, "\n  "+v) && !strings.Contains(stdout, v+"\n") {
				t.Errorf("%v help lacks %s:\n%s", args, v, stdout)
			}
		}
		if strings.Contains(stdout, "BIGQUERY_EMULATOR_HOST") {
			t.Errorf("%v help lists BIGQUERY_EMULATOR_HOST, which the producer does not read", args)
		}
	}
}

// Status tells the truth about records nobody moves: a running record whose lease lapsed
// shows as stalled with its age, a waiting record lists only the upstreams it still waits
// for, and a partial date names what it lacks and is enqueued again.
func TestStatusShowsStalledWaitingAndPartialAsTheyAre(t *testing.T) {
	t.Parallel()
	env, vars := stack(t)
	l := ledger.New(env.Storage, env.Bucket, ledger.Options{})
	ctx := context.Background()
	pgs := messages.Ref(messages.PhaseAnalytics, "player_game_summary")
	spec, _ := messages.DefaultCatalog().Lookup(pgs)
	hard := spec.Hard[0]
	for _, u := range spec.Hard[1:] {
		finish(t, l, u, "2024-10-23", ledger.StateSucceeded, 10)
	}
	long := time.Now().Add(-10 * time.Minute)
	stalled := ledger.Record{Phase: pgs.Phase, Job: pgs.Job, Date: "2024-10-22"}.Start("gone", "r1", time.Minute, long)
	var missing []string
	for _, u := range spec.Hard {
		missing = append(missing, u.String())
	}
	waiting := ledger.Record{Phase: pgs.Phase, Job: pgs.Job, Date: "2024-10-23"}.Wait(missing, nil, long)
	scraper := messages.Ref(messages.PhaseScrapers, "bdl_player_boxscores")
	partial := ledger.Record{Phase: scraper.Phase, Job: scraper.Job, Date: "2024-10-24"}.Start("a", "r1", time.Minute, long).
		Succeed(ledger.Output{Objects: []ledger.Object{{Name: "x", Generation: 1}}, Missing: []string{"0022400007"}}, "fp", false, long)
	for _, r := range []ledger.Record{stalled, waiting, partial} {
		if _, err := l.Write(ctx, r, 0); err != nil {
			t.Fatal(err)
		}
	}
	code, stdout, stderr := runProducer(t, vars, "status", "--job", "all", "--start-date", "2024-10-22", "--end-date", "2024-10-24")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, s := range []string{
		"STALLED 9m",
		"2024-10-22 analytics/player_game_summary stalled: its lease lapsed 9m",
		"2024-10-23 analytics/player_game_summary waiting for " + hard.String() + "\n",
		"2024-10-24 scrapers/bdl_player_boxscores partial: the source left out 1 game (0022400007)",
	} {
		if !strings.Contains(stdout, s) {
			t.Errorf("status lacks %q:\n%s", s, stdout)
		}
	}
	// The partial date is not finished: enqueue runs it again without --force.
	code, stdout, stderr = runProducer(t, vars, "enqueue", "--phase", "scrapers", "--job", "bdl_player_boxscores",
		"--dates", "2024-10-24", "--dry-run")
	if code != exitOK || !strings.Contains(stdout, "RUN") {
		t.Errorf("enqueue of a partial date (exit %d) does not run it:\n%s%s", code, stdout, stderr)
	}
}
