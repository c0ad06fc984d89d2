package verify

import (
	"context"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/civil"
	"github.com/google/go-cmp/cmp"

	"github.com/nba-props/pipeline/infra/sourcesim"
	"github.com/nba-props/pipeline/infra/warehousetest"
)

// propRow is a row of nba_raw.odds_api_player_points_props.
type propRow struct {
	GameID    string     `bigquery:"game_id"`
	EventID   string     `bigquery:"odds_api_event_id"`
	GameDate  civil.Date `bigquery:"game_date"`
	Start     time.Time  `bigquery:"game_start_time"`
	Home      string     `bigquery:"home_team_abbr"`
	Away      string     `bigquery:"away_team_abbr"`
	Snapshot  time.Time  `bigquery:"snapshot_timestamp"`
	MBT       int64      `bigquery:"minutes_before_tipoff"`
	Book      string     `bigquery:"bookmaker"`
	Name      string     `bigquery:"player_name"`
	Lookup    string     `bigquery:"player_lookup"`
	Line      float64    `bigquery:"points_line"`
	Over      int64      `bigquery:"over_price_american"`
	Under     int64      `bigquery:"under_price_american"`
	Source    string     `bigquery:"source_file_path"`
	Processed time.Time  `bigquery:"processed_at"`
}

// TestPropsReportsAMissingSnapshot: a snapshot the scraper took of every other game and not
// of one is reported missing, with the lines the source had then, not passed over because
// the rows present all match.
func TestPropsReportsAMissingSnapshot(t *testing.T) {
	t.Parallel()
	env := warehousetest.Start(t)
	ctx := context.Background()
	now := time.Date(2025, 6, 30, 16, 0, 0, 0, time.UTC)
	sim := sourcesim.New(sourcesim.Config{Seed: 2024, Now: func() time.Time { return now }})
	const date = "2024-11-05"
	games, err := sim.GamesOn(date)
	if err != nil || len(games) < 2 {
		t.Fatalf("%s: %d games (%v); want several", date, len(games), err)
	}
	load := func(skip string) {
		t.Helper()
		var rows []propRow
		for _, g := range games {
			for _, off := range []time.Duration{60 * time.Minute, 5 * time.Minute} {
				lines, err := sim.PropLines(g.OddsEventID, g.Start.Add(-off))
				if err != nil {
					t.Fatal(err)
				}
				if g.GameID+"/"+off.String() == skip {
					continue
				}
				for _, l := range lines {
					rows = append(rows, propRow{GameID: l.GameID, EventID: l.OddsEventID, GameDate: civil.DateOf(g.Start.In(time.FixedZone("ET", -5*3600))),
						Start: g.Start, Home: g.Home, Away: g.Away, Snapshot: l.Snapshot, MBT: int64(l.MinutesBeforeTipoff), Book: l.Bookmaker,
						Name: l.PlayerName, Lookup: l.PlayerLookup, Line: l.Point, Over: int64(l.OverPrice), Under: int64(l.UnderPrice),
						Source: "gs://test/odds", Processed: now})
				}
			}
		}
		if _, err := env.BigQuery.Query("DELETE FROM nba_raw.odds_api_player_points_props WHERE game_date = '" + date + "'").Read(ctx); err != nil {
			t.Fatal(err)
		}
		if err := env.BigQuery.Dataset("nba_raw").Table("odds_api_player_points_props").Inserter().Put(ctx, rows); err != nil {
			t.Fatal(err)
		}
	}
	props := func() TableReport {
		t.Helper()
		c := comparer{bq: env.BigQuery, sim: sim, from: date, to: date}
		tr, err := sim.Truth(date)
		if err != nil {
			t.Fatal(err)
		}
		c.truth = []sourcesim.DayTruth{tr}
		rep, err := c.props(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}

	load("")
	if rep := props(); !rep.OK() {
		t.Fatalf("every snapshot of every game loaded: %d/%d matched, %d found, problems %v", rep.Matched, rep.Expected, rep.Found, rep.Problems)
	}
	missing := games[len(games)-1]
	load(missing.GameID + "/5m0s")
	rep := props()
	if rep.OK() {
		t.Fatalf("one snapshot of %s left out, the report is OK: %d/%d matched, %d found", missing.GameID, rep.Matched, rep.Expected, rep.Found)
	}
	if len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0], missing.OddsEventID+" ("+missing.GameID+")") || !strings.Contains(rep.Problems[0], "snapshot missing") {
		t.Errorf("problems %q: want one naming the missing snapshot of %s", rep.Problems, missing.GameID)
	}
	if rep.Expected-rep.Matched == 0 || rep.Found != rep.Matched {
		t.Errorf("%d/%d matched, %d found: the missing snapshot's lines must count as expected and unmatched", rep.Matched, rep.Expected, rep.Found)
	}
}

// TestComparisonReportsEachKindOfProblem: a table compared row by row names a key it holds
// twice, a row the truth expects and the table lacks, and a row whose columns differ, and
// counts only the equal rows as matched.
func TestComparisonReportsEachKindOfProblem(t *testing.T) {
	t.Parallel()
	type row struct {
		GameID string
		Points int64
	}
	rows := []row{{"a", 10}, {"b", 20}, {"b", 20}, {"c", 31}, {"extra", 1}}
	tab := compareRows("nba_test.points", rows, func(r row) string { return r.GameID })
	for _, want := range []row{{"a", 10}, {"b", 20}, {"c", 30}} {
		tab.expect(want.GameID, func(r row) []string { return diffs("points", r.Points, want.Points) })
	}
	tab.expectNamed("game", "d", func(row) []string { return nil })
	rep := tab.TableReport
	if diff := cmp.Diff([]string{"duplicate row b", "c: points=31 want 30", "game d missing"}, rep.Problems); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	if rep.Table != "nba_test.points" || rep.Expected != 4 || rep.Matched != 2 || rep.Found != 5 || rep.OK() {
		t.Errorf("%s: %d/%d matched, %d found, OK %v; want nba_test.points: 2/4 matched, 5 found, not OK", rep.Table, rep.Matched, rep.Expected, rep.Found, rep.OK())
	}
}
