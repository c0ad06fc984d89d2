package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/messages"
	"github.com/sethvargo/go-envconfig"
)

// runProducerOn runs the CLI on a day whose US Eastern date is today.
func runProducerOn(t *testing.T, today string, vars map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := runWith(context.Background(), args, &env{stdout: &out, stderr: &errb, lookuper: envconfig.MapLookuper(vars),
		catalog: messages.DefaultCatalog(), today: func() string { return today }})
	return code, out.String(), errb.String()
}

// TestDailyEnqueuesYesterdayInTheDailyLane: every scraper for yesterday's games, the
// injury report for today, all in the daily lane under a daily run id; a second daily for
// the same date publishes only what did not finish.
func TestDailyEnqueuesYesterdayInTheDailyLane(t *testing.T) {
	t.Parallel()
	env, vars := stack(t)
	code, stdout, stderr := runProducerOn(t, "2024-11-05", vars, "daily")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	got := drain(t, env, env.Names.UnroutableSubscription(messages.PhaseScrapers))
	want := []string{
		"scrapers/bdl_games 2024-11-04", "scrapers/bdl_injuries 2024-11-05", "scrapers/bdl_player_boxscores 2024-11-04",
		"scrapers/nbac_gamebook 2024-11-04", "scrapers/nbac_player_boxscores 2024-11-04", "scrapers/nbac_schedule 2024-11-04",
		"scrapers/odds_api_player_props 2024-11-04",
	}
	if diff := cmp.Diff(want, sortedPairs(got)); diff != "" {
		t.Fatalf("daily published (-want +got):\n%s", diff)
	}
	for _, r := range got {
		if r.Lane != messages.LaneDaily || !strings.HasPrefix(r.RunID, "daily-2024-11-04-") {
			t.Errorf("%s %s: lane %q run %q, want the daily lane and a daily-2024-11-04- run", r.Ref(), r.Date, r.Lane, r.RunID)
		}
	}
	if !strings.Contains(stdout, "daily run for the games of 2024-11-04 (US Eastern); current-day sources for today, 2024-11-05") {
		t.Errorf("output:\n%s", stdout)
	}
	// The daily subscriptions take them; the backfill subscriptions do not.
	games := messages.Ref(messages.PhaseScrapers, "bdl_games")
	if n := len(drain(t, env, env.Names.DailySubscription(games))); n != 1 {
		t.Errorf("the daily subscription of bdl_games holds %d messages, want 1", n)
	}
	if n := len(drain(t, env, env.Names.Subscription(games))); n != 0 {
		t.Errorf("the backfill subscription of bdl_games holds %d messages, want 0", n)
	}

	// The consumers finished all but the odds scrape: the same daily again sends only it.
	l := ledger.New(env.Storage, env.Bucket, ledger.Options{})
	for _, r := range got {
		if r.Job != "odds_api_player_props" {
			finish(t, l, r.Ref(), r.Date, ledger.StateSucceeded, 0)
		}
	}
	code, _, stderr = runProducerOn(t, "2024-11-05", vars, "daily")
	if code != exitOK {
		t.Fatalf("second daily: exit %d: %s", code, stderr)
	}
	if again := sortedPairs(drain(t, env, env.Names.UnroutableSubscription(messages.PhaseScrapers))); !cmp.Equal(again, []string{"scrapers/odds_api_player_props 2024-11-04"}) {
		t.Errorf("second daily published %v, want only the odds scrape", again)
	}

	// Another date: its games, and still today's injury report (finished above).
	code, stdout, _ = runProducerOn(t, "2024-11-05", vars, "daily", "--date", "2024-11-01", "--dry-run")
	for _, s := range []string{"RUN   2024-11-01  scrapers/bdl_games", "SKIP  2024-11-05  scrapers/bdl_injuries  done", "dry run: 6 to run"} {
		if code != exitOK || !strings.Contains(stdout, s) {
			t.Errorf("daily --date 2024-11-01 --dry-run (exit %d) lacks %q:\n%s", code, s, stdout)
		}
	}
}

func TestDailyBadInput(t *testing.T) {
	t.Parallel()
	local := map[string]string{"PUBSUB_EMULATOR_HOST": "127.0.0.1:1", "STORAGE_EMULATOR_HOST": "127.0.0.1:1"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"daily", "--date", "2024-11-06"}, "--date 2024-11-06 is after today (2024-11-05, US Eastern)"},
		{[]string{"daily", "--date", "yesterday"}, `--date: invalid date "yesterday"`},
		{[]string{"daily", "--stop-after", "later"}, `--stop-after: unknown phase "later"`},
	} {
		code, _, stderr := runProducerOn(t, "2024-11-05", local, tc.args...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q lacks %q", tc.args, code, stderr, tc.want)
		}
	}
}
