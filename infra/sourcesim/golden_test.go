package sourcesim

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestGoldenResponses pins the served bytes of each dataset for seed 1, so that a change to
// a shape or to the generator shows up as a diff in testdata/ (regenerate with -update).
// The files double as samples of every source's shape.
func TestGoldenResponses(t *testing.T) {
	t.Parallel()
	now := func() time.Time { return time.Date(2025, 1, 10, 17, 0, 0, 0, time.UTC) }
	s, srv := newTestSim(t, Config{Seed: 1, Now: now})
	games, err := s.GamesOn("2025-01-09")
	if err != nil || len(games) == 0 {
		t.Fatalf("GamesOn: %d, %v", len(games), err)
	}
	g := games[0]
	cases := map[string]string{
		"bdl_games.json":           "/bdl/v1/games?dates[]=2025-01-09",
		"bdl_stats.json":           "/bdl/v1/stats?dates[]=2025-01-09&per_page=3",
		"bdl_player_injuries.json": "/bdl/v1/player_injuries?per_page=3",
		"odds_events.json":         "/odds/v4/historical/sports/basketball_nba/events?date=2025-01-09T17:00:00Z",
		"odds_event_odds.json": "/odds/v4/historical/sports/basketball_nba/events/" + g.OddsEventID +
			"/odds?markets=player_points&regions=us&oddsFormat=american&date=" + g.Start.Add(-5*time.Minute).Format(time.RFC3339),
		"nbastats_leaguegamelog.json": leagueLogPath("01/09/2025"),
		"truth.json":                  "/_sim/truth?date=2025-01-09",
	}
	for name, path := range cases {
		r := fetch(t, srv, path)
		if r.status != 200 {
			t.Fatalf("%s: %d %s", path, r.status, r.body)
		}
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, r.body, "", "  "); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		pretty.WriteByte('\n')
		file := filepath.Join("testdata", name)
		if *update {
			if err := os.WriteFile(file, pretty.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("%v (run go test -run TestGoldenResponses -update to create it)", err)
		}
		if !bytes.Equal(want, pretty.Bytes()) {
			t.Errorf("GET %s differs from %s (run with -update if the change is intended)", path, file)
		}
	}
}
