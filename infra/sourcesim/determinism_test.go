package sourcesim

import (
	"bytes"
	"testing"
	"time"
)

// determinismPaths covers every dataset on a few dates, including a late-night date.
var determinismPaths = []string{
	"/bdl/v1/games?dates[]=2024-11-05",
	"/bdl/v1/stats?dates[]=2024-11-05&per_page=100",
	"/bdl/v1/player_injuries?per_page=100",
	"/odds/v4/historical/sports/basketball_nba/events?date=2024-11-05T16:00:00Z",
	"/nbacdn/static/json/staticData/scheduleLeagueV2.json?season=2024",
	"/nbastats/stats/leaguegamelog?PlayerOrTeam=P&DateFrom=11/05/2024&DateTo=11/05/2024&Season=2024-25&SeasonType=Regular+Season",
	"/_sim/truth?date=2024-11-05",
}

func TestSameSeedSameBytes(t *testing.T) {
	t.Parallel()
	now := func() time.Time { return time.Date(2025, 3, 1, 17, 0, 0, 0, time.UTC) }
	s1, srv1 := newTestSim(t, Config{Seed: 42, Now: now})
	_, srv2 := newTestSim(t, Config{Seed: 42, Now: now})
	_, srv3 := newTestSim(t, Config{Seed: 43, Now: now})
	// The second simulator generates in another order: a later date first.
	fetch(t, srv2, "/_sim/truth?date=2025-03-01")
	gs, err := s1.GamesOn("2024-11-05")
	if err != nil || len(gs) == 0 {
		t.Fatalf("GamesOn: %d games, %v", len(gs), err)
	}
	paths := append(determinismPaths, "/odds/v4/historical/sports/basketball_nba/events/"+gs[0].OddsEventID+
		"/odds?markets=player_points&regions=us&date="+gs[0].Start.Add(-10*time.Minute).Format("2006-01-02T15:04:05Z"))
	for _, p := range paths {
		a, b, c := fetch(t, srv1, p), fetch(t, srv2, p), fetch(t, srv3, p)
		if a.status != 200 || len(a.body) < 100 {
			t.Fatalf("GET %s: %d %.200s", p, a.status, a.body)
		}
		if !bytes.Equal(a.body, b.body) {
			t.Errorf("GET %s: same seed, different bytes", p)
		}
		if bytes.Equal(a.body, c.body) {
			t.Errorf("GET %s: different seeds, same bytes", p)
		}
	}
}
