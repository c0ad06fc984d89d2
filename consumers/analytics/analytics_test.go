package analytics_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/nba-props/pipeline/consumers/analytics"
	"github.com/nba-props/pipeline/consumers/raw"
	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/infra/sourcesim"
	"github.com/nba-props/pipeline/infra/warehousetest"
	"github.com/nba-props/pipeline/messages"
)

func request(p messages.Phase, job, date string) messages.Request {
	return messages.Request{Version: messages.Version, Phase: p, Job: job, Date: date, RunID: "test"}
}

// run runs jobs of one phase for date in order, failing the test on an error.
func run(t *testing.T, jobs map[string]runner.Job, p messages.Phase, date string, names ...string) map[string]runner.Result {
	t.Helper()
	out := map[string]runner.Result{}
	for _, n := range names {
		res, err := jobs[n].Run(context.Background(), request(p, n, date))
		if err != nil {
			t.Fatalf("%s/%s %s: %v", p, n, date, err)
		}
		out[n] = res
	}
	return out
}

// warehouse is the BigQuery and GCS emulators with the raw and analytics jobs on them, fed
// from the simulator: where every test of this package starts.
type warehouse struct {
	*warehousetest.Env
	sim           *sourcesim.Sim
	rawJobs, jobs map[string]runner.Job
}

func startWarehouse(t *testing.T) warehouse {
	t.Helper()
	env := warehousetest.Start(t)
	rawJobs, err := raw.Jobs(raw.Deps{Storage: env.Storage, Bucket: env.Bucket, BigQuery: env.BigQuery})
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := analytics.Jobs(analytics.Deps{BigQuery: env.BigQuery})
	if err != nil {
		t.Fatal(err)
	}
	return warehouse{Env: env, sim: warehousetest.Sim(time.Time{}), rawJobs: rawJobs, jobs: jobs}
}

// load stores what the scrapers capture of date from the simulator and runs the raw jobs
// named on it.
func (w warehouse) load(t *testing.T, date string, rawJobs ...string) {
	t.Helper()
	w.Put(t, warehousetest.Capture(t, w.sim, date))
	w.raw(t, date, rawJobs...)
}

// raw runs the raw jobs named for date, in order.
func (w warehouse) raw(t *testing.T, date string, names ...string) {
	t.Helper()
	run(t, w.rawJobs, messages.PhaseRaw, date, names...)
}

// analytics runs the analytics jobs named for date, in order, and returns their results by
// job.
func (w warehouse) analytics(t *testing.T, date string, names ...string) map[string]runner.Result {
	t.Helper()
	return run(t, w.jobs, messages.PhaseAnalytics, date, names...)
}

// summary is what the ground truth fixes for one player_game_summary row.
type summary struct {
	Team, Opponent string
	Minutes        *float64
	Points         *int64
	Line           *float64
	Result         *string
	Margin         *float64
	HasLine        bool
	Availability   *string
	Reason         *string
	Category       *string
	Void           bool
}

// TestPlayerGameSummaryMatchesTruth loads simulated dates through the raw jobs and the
// analytics queries: every player_game_summary row equals the simulator's ground truth (its
// own model: box score, consensus closing line, OVER/UNDER/PUSH, the game book's
// availability), and no row is missing or extra. A player with a closing line who did not
// play has a row too, with the book's reason and the line void, also when the book printed
// only his last name. The props include in-game snapshots, whose lines must be ignored.
func TestPlayerGameSummaryMatchesTruth(t *testing.T) {
	t.Parallel()
	w := startWarehouse(t)
	str := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	lines, pushes, voids, byLastName := 0, 0, 0, 0
	for _, date := range []string{"2024-10-22", "2024-10-24", "2024-10-26", "2024-11-25", "2024-12-25", "2025-03-14"} {
		w.Put(t, warehousetest.Capture(t, w.sim, date))
		// In-game snapshots carry lines that moved after tip-off: they must not count.
		w.Put(t, warehousetest.CaptureOdds(t, w.sim, date, 20*time.Minute, 75*time.Minute))
		w.raw(t, date, "nbac_schedule", "nbac_player_boxscores", "bdl_player_boxscores",
			"odds_api_player_points_props", "nbac_gamebook_player_stats")
		w.analytics(t, date, "team_offense_game_summary")
		res := w.analytics(t, date, "player_game_summary")["player_game_summary"]

		truth, err := w.sim.Truth(date)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]summary{}
		for _, p := range truth.Players {
			m, pts := p.Minutes, int64(p.Points)
			s := summary{Team: p.TeamAbbr, Opponent: p.OpponentAbbr, Minutes: &m, Points: &pts, Line: p.PointsLine, Margin: p.LineMargin,
				HasLine: p.PointsLine != nil, Result: str(p.OverUnder), Availability: str(p.Availability)}
			want[p.GameID+"/"+p.PlayerLookup] = s
			if s.HasLine {
				lines++
				if p.OverUnder == "PUSH" {
					pushes++
				}
			}
		}
		books, _ := w.sim.Gamebooks(date)
		for _, v := range truth.VoidLines {
			line := v.PointsLine
			want[v.GameID+"/"+v.PlayerLookup] = summary{Team: v.TeamAbbr, Opponent: v.OpponentAbbr, Line: &line, HasLine: true,
				Availability: str(v.Status), Reason: str(v.Reason), Category: str(v.Category), Void: true}
			voids++
			for _, b := range books {
				for _, p := range b.Players {
					if b.GameID == v.GameID && p.PlayerLookup == v.PlayerLookup && p.BookLookup == "" {
						byLastName++
					}
				}
			}
		}
		got := map[string]summary{}
		for _, r := range w.Partition(t, "nba_analytics.player_game_summary", "game_date", date) {
			s := summary{
				Team: fmt.Sprint(r["team_abbr"]), Opponent: fmt.Sprint(r["opponent_abbr"]),
				Minutes: floatPtr(r["minutes"]), Line: floatPtr(r["points_line"]), Margin: floatPtr(r["line_margin"]),
				HasLine: r["has_prop_line"].(bool), Void: r["line_void"].(bool),
			}
			if s.Team == "<nil>" || s.Opponent == "<nil>" {
				s.Team, s.Opponent = "", ""
			}
			if p := floatPtr(r["points"]); p != nil {
				n := int64(*p)
				s.Points = &n
			}
			for col, dst := range map[string]**string{"over_under_result": &s.Result, "availability_status": &s.Availability,
				"availability_reason": &s.Reason, "availability_category": &s.Category} {
				if v, ok := r[col].(string); ok {
					*dst = &v
				}
			}
			key := fmt.Sprint(r["game_id"], "/", r["player_lookup"])
			if _, dup := got[key]; dup {
				t.Errorf("%s: two rows for %s", date, key)
			}
			got[key] = s
		}
		if len(want) == 0 {
			t.Fatalf("%s: the simulator has no player rows", date)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: player_game_summary differs from the ground truth (-truth +table):\n%s", date, diff)
		}
		if res.Rows[date] != int64(len(want)) {
			t.Errorf("%s: Result.Rows = %v, want %d", date, res.Rows, len(want))
		}
	}
	if lines == 0 || voids == 0 || byLastName == 0 {
		t.Errorf("%d rows with a line, %d void lines, %d of them a last name the book could not resolve: the comparison proved too little", lines, voids, byLastName)
	}
	t.Logf("%d rows with a line, %d pushes, %d void lines (%d by last name)", lines, pushes, voids, byLastName)
}

func floatPtr(v any) *float64 {
	if f, ok := v.(float64); ok {
		return &f
	}
	return nil
}

// TestTeamOffenseMatchesTruth: each team's points equal its score in the schedule and
// every game of the date has two rows.
func TestTeamOffenseMatchesTruth(t *testing.T) {
	t.Parallel()
	w := startWarehouse(t)
	const date = "2024-11-15"
	w.load(t, date, "nbac_schedule", "nbac_player_boxscores")
	w.analytics(t, date, "team_offense_game_summary")
	truth, err := w.sim.Truth(date)
	if err != nil {
		t.Fatal(err)
	}
	type team struct {
		Points, Opp int64
		Win, Home   bool
	}
	want := map[string]team{}
	for _, g := range truth.Games {
		want[g.GameID+"/"+g.HomeTeam] = team{int64(g.HomeScore), int64(g.AwayScore), g.HomeScore > g.AwayScore, true}
		want[g.GameID+"/"+g.AwayTeam] = team{int64(g.AwayScore), int64(g.HomeScore), g.AwayScore > g.HomeScore, false}
	}
	got := map[string]team{}
	for _, r := range w.Partition(t, "nba_analytics.team_offense_game_summary", "game_date", date) {
		got[fmt.Sprint(r["game_id"], "/", r["team_abbr"])] = team{int64(r["points"].(float64)), int64(r["opponent_points"].(float64)), r["win"].(bool), r["is_home"].(bool)}
		if r["possessions"].(float64) <= 0 || r["offensive_rating"].(float64) <= 0 {
			t.Errorf("%v: possessions %v, rating %v", r["team_abbr"], r["possessions"], r["offensive_rating"])
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("team_offense_game_summary differs from the ground truth (-truth +table):\n%s", diff)
	}
}

// TestSoftUpstreamArrivingLater: run on the hard upstreams alone, player_game_summary has no
// lines, no usage and no BDL provenance; once the props, BDL box scores and team offense
// arrive, the rerun fills them in and replaces the partition (same row count).
func TestSoftUpstreamArrivingLater(t *testing.T) {
	t.Parallel()
	w := startWarehouse(t)
	const date = "2024-11-15"
	w.load(t, date, "nbac_schedule", "nbac_player_boxscores")
	first := w.analytics(t, date, "player_game_summary")["player_game_summary"]
	count := func() (rows, lines, usage, bdl int) {
		for _, r := range w.Partition(t, "nba_analytics.player_game_summary", "game_date", date) {
			if r["line_void"] == true {
				continue // a line of a player who did not play: no box score of his own
			}
			rows++
			if r["has_prop_line"] == true {
				lines++
			}
			if r["usage_rate"] != nil {
				usage++
			}
			if r["has_bdl"] == true {
				bdl++
			}
			if r["primary_source"] != "nbac" {
				t.Errorf("%v: primary_source %v, want nbac", r["player_lookup"], r["primary_source"])
			}
		}
		return
	}
	rows, lines, usage, bdl := count()
	if rows == 0 || lines != 0 || usage != 0 || bdl != 0 || first.Rows[date] != int64(rows) {
		t.Fatalf("hard upstreams only: %d rows (Result %v), %d with lines, %d with usage, %d with BDL; want rows and no soft data", rows, first.Rows, lines, usage, bdl)
	}
	w.raw(t, date, "bdl_player_boxscores", "odds_api_player_points_props")
	w.analytics(t, date, "team_offense_game_summary", "player_game_summary")
	rows2, lines2, usage2, bdl2 := count()
	if rows2 != rows || lines2 == 0 || usage2 != rows || bdl2 != rows {
		t.Errorf("after the soft upstreams: %d rows (before %d), %d with lines, %d with usage, %d with BDL; want the same rows, lines, usage and BDL on every row", rows2, rows, lines2, usage2, bdl2)
	}
	// The game books come last: every player who played becomes active, nothing else moves.
	availability := func() map[any]int {
		out := map[any]int{}
		for _, r := range w.Partition(t, "nba_analytics.player_game_summary", "game_date", date) {
			if r["line_void"] == false {
				out[r["availability_status"]]++
			}
		}
		return out
	}
	if got := availability(); got[nil] != rows {
		t.Errorf("without game books: availability %v; want NULL on all %d rows", got, rows)
	}
	w.raw(t, date, "nbac_gamebook_player_stats")
	w.analytics(t, date, "player_game_summary")
	if got := availability(); got["active"] != rows {
		t.Errorf("with the game books: availability %v; want active on all %d rows", got, rows)
	}
	if rows3, lines3, usage3, bdl3 := count(); rows3 != rows || lines3 != lines2 || usage3 != usage2 || bdl3 != bdl2 {
		t.Errorf("with the game books: %d rows, %d lines, %d usage, %d BDL; want them as before (%d, %d, %d, %d)", rows3, lines3, usage3, bdl3, rows, lines2, usage2, bdl2)
	}
}

// TestTeamDefenseMatchesTruth: each team's defensive row equals what the simulator says its
// opponent scored, shot, rebounded and turned over, with the game's pace.
func TestTeamDefenseMatchesTruth(t *testing.T) {
	t.Parallel()
	w := startWarehouse(t)
	for _, date := range []string{"2024-11-15", "2024-12-25"} {
		w.load(t, date, "nbac_schedule", "nbac_player_boxscores")
		res := w.analytics(t, date, "team_defense_game_summary")["team_defense_game_summary"]
		truth, err := w.sim.Truth(date)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]sourcesim.TeamDefenseTruth{}
		for _, d := range truth.Defense {
			want[d.GameID+"/"+d.TeamAbbr] = d
		}
		got := map[string]sourcesim.TeamDefenseTruth{}
		for _, r := range w.Partition(t, "nba_analytics.team_defense_game_summary", "game_date", date) {
			n := func(col string) int { return int(r[col].(float64)) }
			got[fmt.Sprint(r["game_id"], "/", r["team_abbr"])] = sourcesim.TeamDefenseTruth{
				GameID: r["game_id"].(string), GameDate: r["game_date"].(string), TeamAbbr: r["team_abbr"].(string),
				OpponentAbbr: r["opponent_abbr"].(string), IsHome: r["is_home"].(bool),
				OppPoints: n("opponent_points"), OppFGM: n("opponent_fgm"), OppFGA: n("opponent_fga"), OppFG3M: n("opponent_fg3m"),
				OppFG3A: n("opponent_fg3a"), OppFTM: n("opponent_ftm"), OppFTA: n("opponent_fta"),
				OppOffReb: n("opponent_offensive_rebounds"), OppRebounds: n("opponent_rebounds"), DefReb: n("defensive_rebounds"),
				TurnoversForced: n("turnovers_forced"), Steals: n("steals"), Blocks: n("blocks"),
				OppPossessions: r["opponent_possessions"].(float64), Pace: r["pace"].(float64), DefensiveRating: r["defensive_rating"].(float64),
			}
		}
		if len(want) == 0 {
			t.Fatalf("%s: no defense rows in the truth", date)
		}
		if diff := cmp.Diff(want, got, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
			t.Errorf("%s: team_defense_game_summary differs from the ground truth (-truth +table):\n%s", date, diff)
		}
		if res.Rows[date] != int64(len(want)) {
			t.Errorf("%s: Result.Rows %v, want %d", date, res.Rows, len(want))
		}
	}
}

// TestBDLFallback: a player NBA.com's log lacks is summarised from Ball Don't Lie, with the
// same points as the ground truth and primary_source bdl.
func TestBDLFallback(t *testing.T) {
	t.Parallel()
	w := startWarehouse(t)
	const date = "2024-11-15"
	objs := warehousetest.Capture(t, w.sim, date)
	name := messages.ScrapedNBACPlayerBoxscores.Object(date, messages.LeagueGameLogPart("Regular Season"))
	var doc map[string]any
	if err := json.Unmarshal(objs[name], &doc); err != nil {
		t.Fatal(err)
	}
	rs := doc["resultSets"].([]any)[0].(map[string]any)
	rowSet := rs["rowSet"].([]any)
	dropped := rowSet[0].([]any)
	rs["rowSet"] = rowSet[1:]
	objs[name], _ = json.Marshal(doc)
	w.Put(t, objs)
	w.raw(t, date, "nbac_schedule", "nbac_player_boxscores", "bdl_player_boxscores")
	w.analytics(t, date, "player_game_summary")
	truth, err := w.sim.Truth(date)
	if err != nil {
		t.Fatal(err)
	}
	var want *sourcesim.PlayerTruth
	for i, p := range truth.Players {
		if float64(p.NBAPlayerID) == dropped[1].(float64) {
			want = &truth.Players[i]
		}
	}
	if want == nil {
		t.Fatalf("player %v is not in the truth", dropped[2])
	}
	found := false
	for _, r := range w.Partition(t, "nba_analytics.player_game_summary", "game_date", date) {
		if r["player_lookup"] != want.PlayerLookup {
			continue
		}
		found = true
		if r["primary_source"] != "bdl" || r["points"] != float64(want.Points) || r["team_abbr"] != want.TeamAbbr {
			t.Errorf("%s: primary_source %v, points %v, team %v; want bdl, %d, %s", want.PlayerLookup, r["primary_source"], r["points"], r["team_abbr"], want.Points, want.TeamAbbr)
		}
	}
	if !found {
		t.Errorf("%s, missing from NBA.com, has no row", want.PlayerLookup)
	}
}

// TestRedeliveryAttachesToTheSameJob: with the runtime's input fingerprint in ctx, a second
// run on the same input starts no new query job (one per table and date per input), and a new
// input starts one.
func TestRedeliveryAttachesToTheSameJob(t *testing.T) {
	t.Parallel()
	w := startWarehouse(t)
	const date = "2024-11-15"
	w.load(t, date, "nbac_schedule", "nbac_player_boxscores")
	queryJobs := func() int {
		it := w.BigQuery.Jobs(context.Background())
		n := 0
		for {
			j, err := it.Next()
			if err != nil {
				return n
			}
			if strings.HasPrefix(j.ID(), "analytics_team_offense_game_summary_20241115_") {
				n++
			}
		}
	}
	req := request(messages.PhaseAnalytics, "team_offense_game_summary", date)
	for i, fp := range []string{"0123456789abcdef0123", "0123456789abcdef0123", "fedcba9876543210fedc"} {
		ctx := runner.WithInfo(context.Background(), runner.RunInfo{Attempt: 1, InputFingerprint: fp})
		res, err := w.jobs["team_offense_game_summary"].Run(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if res.Rows[date] == 0 {
			t.Errorf("run %d: no rows", i+1)
		}
	}
	if n := queryJobs(); n != 2 {
		t.Errorf("%d query jobs for three runs on two inputs, want 2", n)
	}
}
