package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/infra/emulators"
	"github.com/nba-props/pipeline/messages"
	"github.com/sethvargo/go-envconfig"
)

// putSchedule writes a scraped schedule object with games games, in NBA.com's shape, as
// the nbac_schedule scraper leaves it.
func putSchedule(t *testing.T, env *emulators.Env, date string, games int) {
	t.Helper()
	var gs []string
	for i := range games {
		gs = append(gs, fmt.Sprintf(`{"gameId":"00224000%02d"}`, i))
	}
	body := `{"leagueSchedule":{"seasonYear":"2024-25","gameDates":[{"gameDate":"x","games":[` + strings.Join(gs, ",") + `]}]}}`
	w := env.Storage.Bucket(env.Bucket).Object(messages.ScrapedNBACSchedule.Object(date, messages.SchedulePart)).NewWriter(context.Background())
	if _, err := w.Write([]byte(body)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func putOddsUsage(t *testing.T, env *emulators.Env, remaining int) {
	t.Helper()
	l := ledger.New(env.Storage, env.Bucket, ledger.Options{})
	if err := l.PutSourceUsage(context.Background(), ledger.SourceUsage{Source: ledger.SourceOddsAPI, Remaining: remaining, Used: 100_000 - remaining}); err != nil {
		t.Fatal(err)
	}
}

func planJSONOf(t *testing.T, vars map[string]string, args ...string) planJSON {
	t.Helper()
	code, stdout, stderr := runProducer(t, vars, append([]string{"plan", "--json"}, args...)...)
	if code != exitOK {
		t.Fatalf("plan: exit %d: %s", code, stderr)
	}
	var p planJSON
	if err := json.Unmarshal([]byte(stdout), &p); err != nil {
		t.Fatalf("plan --json: %v\n%s", err, stdout)
	}
	return p
}

// TestPlanCountsTheChain: a plan over three dates whose games come from the ledger, a
// scraped schedule object and the average lists every pair of every phase the chain
// reaches, with what is skipped and why, and counts requests, credits and BigQuery jobs
// from those games.
func TestPlanCountsTheChain(t *testing.T) {
	t.Parallel()
	env, vars := stack(t)
	l := ledger.New(env.Storage, env.Bucket, ledger.Options{})
	finish(t, l, scheduleRef, "2024-10-22", ledger.StateSucceeded, 2) // two games on opening night
	putSchedule(t, env, "2024-10-23", 11)
	// The schedule of the first night is scraped already: not run again, and its raw job
	// is not reached through it.
	finish(t, l, messages.Ref(messages.PhaseScrapers, "nbac_schedule"), "2024-10-22", ledger.StateSucceeded, 0)
	putOddsUsage(t, env, 20_000)

	p := planJSONOf(t, vars, "--phase", "scrapers", "--job", "all", "--start-date", "2024-10-22", "--end-date", "2024-10-24")
	type pair struct{ pair, skip string }
	got := map[string]pair{}
	for _, pp := range p.Pairs {
		got[pp.Phase+"/"+pp.Job+" "+pp.Date] = pair{fmt.Sprint(pp.Run), pp.Skip}
	}
	for key, want := range map[string]pair{
		"scrapers/nbac_schedule 2024-10-22":              {"false", skipDone},
		"scrapers/nbac_schedule 2024-10-23":              {"true", ""},
		"scrapers/bdl_injuries 2024-10-22":               {"false", skipUnavailable},
		"raw/bdl_injuries 2024-10-23":                    {"false", skipUnavailable},
		"raw/nbac_schedule 2024-10-22":                   {"false", skipUnreached},
		"raw/nbac_schedule 2024-10-23":                   {"true", ""},
		"reference/player_registry 2024-10-24":           {"true", ""},
		"analytics/team_offense_game_summary 2024-10-22": {"true", ""},
		"analytics/player_game_summary 2024-10-24":       {"true", ""},
	} {
		if got[key] != want {
			t.Errorf("%s: run %s, skip %q; want run %s, skip %q", key, got[key].pair, got[key].skip, want.pair, want.skip)
		}
	}
	// 6 scrapers x 3 dates - 1 finished; 5 raw jobs (the injury job cannot run) x 3 - 1 not
	// reached; the two registries and three analytics jobs x 3.
	if p.RunPairs != 17+14+15 || len(p.Pairs) != 21+18+15 {
		t.Errorf("%d pairs run of %d listed, want 46 of 54", p.RunPairs, len(p.Pairs))
	}

	games := map[string]float64{}
	from := map[string]string{}
	for _, pp := range p.Pairs {
		if pp.Games != nil {
			games[pp.Date], from[pp.Date] = *pp.Games, pp.GamesFrom
		}
	}
	if diff := cmp.Diff(map[string]string{"2024-10-22": gamesFromLedger, "2024-10-23": gamesFromObject, "2024-10-24": gamesFromAverage}, from); diff != "" {
		t.Errorf("games from (-want +got):\n%s", diff)
	}
	avg := 1230.0 / 174
	// Two snapshots per game (ODDS_API_SNAPSHOT_OFFSETS' default) and one events list.
	wantOdds := 3 + 2*(2+11+avg)
	wantCredits := 3 + 20*(2+11+avg)
	req := map[string]float64{}
	for _, r := range p.Requests {
		req[r.Source] = r.Requests
	}
	if math.Abs(req["odds"]-wantOdds) > 1e-6 || math.Abs(p.Credits.Needed-wantCredits) > 1e-6 {
		t.Errorf("odds: %v requests and %v credits, want %v and %v", req["odds"], p.Credits.Needed, wantOdds, wantCredits)
	}
	// stats.nba.com: one game log per date with games; BDL: a games page and 1, 4 and 3
	// stats pages (29 rows per game, 100 per page).
	if req["nbastats"] != 3 || req["bdl"] != 3+1+4+3 {
		t.Errorf("requests %v: want 3 nbastats and 11 bdl", req)
	}
	// statsdmz.nba.com: one game book per game.
	if math.Abs(req["nbastatsdmz"]-(2+11+avg)) > 1e-6 {
		t.Errorf("requests %v: want %v nbastatsdmz, one per game", req, 2+11+avg)
	}
	if !p.Credits.Known || *p.Credits.Remaining != 20_000 || p.Credits.Floor != 500 || p.Credits.Over != 0 {
		t.Errorf("credits %+v: want known, 20,000 remaining, floor 500, not over", p.Credits)
	}
	tables := map[string]int{}
	for _, tl := range p.Tables {
		tables[tl.Table] = tl.Run
	}
	want := map[string]int{"nba_raw.nbac_schedule": 2, "nba_raw.nbac_player_boxscores": 3, "nba_raw.bdl_player_boxscores": 3,
		"nba_raw.odds_api_player_points_props": 3, "nba_reference.player_registry": 3,
		"nba_raw.nbac_gamebook_player_stats": 3, "nba_reference.gamebook_registry": 3,
		"nba_analytics.team_offense_game_summary": 3, "nba_analytics.team_defense_game_summary": 3,
		"nba_analytics.player_game_summary": 3}
	if diff := cmp.Diff(want, tables); diff != "" {
		t.Errorf("BigQuery jobs per table (-want +got):\n%s", diff)
	}
	if p.Duration.SlowestSource != "odds" || p.Duration.Seconds != p.Duration.SourceSeconds || math.Abs(p.Duration.SourceSeconds-wantOdds/120*60) > 1e-6 {
		t.Errorf("duration %+v: want the odds rate's %.1fs", p.Duration, wantOdds/120*60)
	}

	// The text says the same, and where the games came from.
	code, stdout, stderr := runProducer(t, vars, "plan", "--phase", "scrapers", "--job", "all", "--start-date", "2024-10-22", "--end-date", "2024-10-24")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, s := range []string{
		"plan: scrapers/all for 3 dates (2024-10-22 to 2024-10-24), through every phase",
		"1 date from the ledger (raw/nbac_schedule's rows), 1 date from the scraped schedule objects, 1 date from the season's averages, no schedule scraped yet (7.1 games a date, 1.4 in May and June, none July to September)",
		"skipped raw/nbac_schedule for 1 date (not reached), e.g. 2024-10-22",
		"Odds API credits: 405 needed; 20,000 remaining as of",
		"500 kept by ODDS_API_CREDIT_FLOOR: ok",
		"nba_analytics.player_game_summary",
		"estimated duration: 22s (set by the odds rate",
	} {
		if !strings.Contains(stdout, s) {
			t.Errorf("plan text lacks %q:\n%s", s, stdout)
		}
	}
	if strings.Contains(stdout, "soft waits") {
		t.Errorf("a 22 s run warns of soft waits:\n%s", stdout)
	}

	// At one odds request a minute the same run takes longer than a consumer waits for a
	// soft upstream: the plan says so, and what to set.
	slow := maps.Clone(vars)
	slow["ODDS_API_RATE_PER_MINUTE"] = "1"
	code, stdout, stderr = runProducer(t, slow, "plan", "--phase", "scrapers", "--job", "all", "--start-date", "2024-10-22", "--end-date", "2024-10-24")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if want := "soft waits: the odds source takes 43m8s, beyond the consumers' default soft wait (15m0s): set CONSUMER_SOFT_WAIT above 43m8s"; !strings.Contains(stdout, want) {
		t.Errorf("plan text lacks %q:\n%s", want, stdout)
	}
}

// The chain stops at --stop-after, and the odds balance is unknown until the scraper has
// seen a response.
func TestPlanStopsAfterAndKnowsNoBalance(t *testing.T) {
	t.Parallel()
	_, vars := stack(t)
	p := planJSONOf(t, vars, "--phase", "scrapers", "--job", "odds_api_player_props", "--dates", "2024-11-01", "--stop-after", "raw")
	var refs []string
	for _, pp := range p.Pairs {
		refs = append(refs, pp.Phase+"/"+pp.Job)
	}
	if diff := cmp.Diff([]string{"scrapers/odds_api_player_props", "raw/odds_api_player_points_props"}, refs); diff != "" {
		t.Errorf("chain (-want +got):\n%s", diff)
	}
	if p.Credits.Known || p.Credits.Remaining != nil || p.Credits.Over != 0 {
		t.Errorf("credits %+v: want unknown", p.Credits)
	}
	code, stdout, _ := runProducer(t, vars, "plan", "--phase", "scrapers", "--job", "odds_api_player_props", "--dates", "2024-11-01", "--stop-after", "raw", "--pairs")
	for _, s := range []string{"RUN   2024-11-01  scrapers/odds_api_player_props\n", "RUN   2024-11-01  raw/odds_api_player_points_props\n",
		"remaining unknown (the odds scraper has not recorded a response yet)", "through phase raw"} {
		if code != exitOK || !strings.Contains(stdout, s) {
			t.Errorf("exit %d, plan lacks %q:\n%s", code, s, stdout)
		}
	}
}

// TestEnqueueRefusesARunOverBudget: enqueue names the budget a run goes over and by how
// much, exits 2 and publishes nothing; --allow-over-budget publishes it.
func TestEnqueueRefusesARunOverBudget(t *testing.T) {
	t.Parallel()
	env, vars := stack(t)
	putOddsUsage(t, env, 1_000)
	for _, d := range []string{"2024-11-01", "2024-11-02", "2024-11-03"} {
		putSchedule(t, env, d, 10)
	}
	args := []string{"enqueue", "--phase", "scrapers", "--job", "odds_api_player_props", "--start-date", "2024-11-01", "--end-date", "2024-11-03", "--stop-after", "scrapers"}
	code, stdout, stderr := runProducer(t, vars, args...)
	// 3 x (1 + 10 games x 2 snapshots x 10 credits) = 603, with 500 of 1,000 to spend.
	want := "The Odds API credits: the run needs 603, 1,000 remain and ODDS_API_CREDIT_FLOOR keeps 500: over by 103"
	if code != exitUsage || !strings.Contains(stderr, want) || !strings.Contains(stderr, "--allow-over-budget") {
		t.Errorf("exit %d, stderr lacks %q:\n%s%s", code, want, stdout, stderr)
	}
	sub := env.Names.Subscription(messages.Ref(messages.PhaseScrapers, "odds_api_player_props"))
	if got := drain(t, env, sub); len(got) != 0 {
		t.Errorf("a refused run published %d messages", len(got))
	}
	code, stdout, _ = runProducer(t, vars, append(args, "--dry-run")...)
	if code != exitOK || !strings.Contains(stdout, "over budget: "+want) {
		t.Errorf("dry run (exit %d) does not warn:\n%s", code, stdout)
	}
	code, _, stderr = runProducer(t, vars, append(args, "--allow-over-budget")...)
	if code != exitOK {
		t.Fatalf("--allow-over-budget: exit %d: %s", code, stderr)
	}
	if got := drain(t, env, sub); len(got) != 3 {
		t.Errorf("--allow-over-budget published %d messages, want 3", len(got))
	}

	// BigQuery: 1,600 dates of one raw job in a day, and 10 jobs on its table already.
	l := ledger.New(env.Storage, env.Bucket, ledger.Options{})
	for i := range 10 {
		finish(t, l, scheduleRef, fmt.Sprintf("2019-01-%02d", i+1), ledger.StateSucceeded, 5)
	}
	code, _, stderr = runProducer(t, vars, "enqueue", "--phase", "raw", "--job", "nbac_schedule", "--start-date", "2020-01-01",
		"--end-date", time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, 1599).Format(messages.DateLayout), "--stop-after", "raw")
	want = "BigQuery nba_raw.nbac_schedule: 1,610 jobs in a day (1,600 of this run, 10 in the last 24 hours) against the quota of 1,500 per table and day: over by 110"
	if code != exitUsage || !strings.Contains(stderr, want) {
		t.Errorf("exit %d, stderr lacks %q:\n%s", code, want, stderr)
	}
}

// A date without a known schedule counts its month's average: none in the summer, the
// playoffs' in May and June, the regular season's otherwise.
func TestAverageGamesFollowTheSeason(t *testing.T) {
	t.Parallel()
	for date, want := range map[string]float64{"2024-07-15": 0, "2024-09-30": 0, "2025-05-10": 85.0 / 61, "2024-11-05": 1230.0 / 174, "2025-04-20": 1230.0 / 174} {
		if got := averageGamesOn(date); got != want {
			t.Errorf("%s: %v games, want %v", date, got, want)
		}
	}
}

// A scraper added to the catalogue before its cost model is planned without its requests,
// and the plan says so instead of failing.
func TestPlanNamesAScraperWithoutCostModel(t *testing.T) {
	t.Parallel()
	_, vars := stack(t)
	cat, err := messages.NewCatalog(append(messages.DefaultCatalog().Jobs(),
		messages.JobSpec{Phase: messages.PhaseScrapers, Name: "nba_injury_report", Description: "a new source"})...)
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := runWith(context.Background(), []string{"plan", "--phase", "scrapers", "--job", "nba_injury_report", "--dates", "2024-11-01"},
		&env{stdout: &out, stderr: &errb, lookuper: envconfig.MapLookuper(vars), catalog: cat, today: today})
	if code != exitOK || !strings.Contains(out.String(), "not counted: the requests of scrapers/nba_injury_report (no cost model in scrapers.Config.DateCost)") {
		t.Errorf("exit %d:\n%s%s", code, out.String(), errb.String())
	}
}
