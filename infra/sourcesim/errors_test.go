package sourcesim

import (
	"errors"
	"testing"
	"time"
)

func TestBadInputs(t *testing.T) {
	t.Parallel()
	s, srv := newTestSim(t, Config{Seed: 2})
	if _, err := s.Truth("2024-13-01"); !errors.Is(err, ErrBadDate) {
		t.Errorf("Truth(2024-13-01): %v, want ErrBadDate", err)
	}
	if _, err := s.Truth("TODAY"); !errors.Is(err, ErrBadDate) {
		t.Errorf("Truth(TODAY): %v, want ErrBadDate", err)
	}
	if _, err := s.Schedule(1990); !errors.Is(err, ErrUnknownSeason) {
		t.Errorf("Schedule(1990): %v, want ErrUnknownSeason", err)
	}
	if err := s.SetFaults([]Fault{{Kind: FaultServerError, Status: 404}, {Kind: FaultEmpty}}); !errors.Is(err, ErrBadFault) || len(s.Faults()) != 1 {
		t.Errorf("SetFaults with one bad fault: %v, %d installed; want ErrBadFault and the good one installed", err, len(s.Faults()))
	}
	_ = s.SetFaults(nil)
	for path, want := range map[string]int{
		"/_sim/truth?date=yesterday":                     400,
		"/_sim/schedule?season=x":                        400,
		"/bdl/v1/stats":                                  400,
		"/bdl/v1/stats?dates[]=2024-11-05&per_page=zero": 400,
		"/bdl/v1/games?dates[]=11/05/2024":               400,
		"/nbastats/stats/leaguegamelog?PlayerOrTeam=P&SeasonType=Regular+Season":                                  400,
		"/nbastats/stats/leaguegamelog?PlayerOrTeam=P&Season=2024&SeasonType=Regular+Season":                      400,
		"/nbastats/stats/leaguegamelog?PlayerOrTeam=P&Season=2024-25":                                             400,
		"/nbastats/stats/leaguegamelog?PlayerOrTeam=P&Season=2024-25&SeasonType=Playoffs":                         200,
		"/odds/v4/historical/sports/basketball_nba/events":                                                        422,
		"/odds/v4/historical/sports/basketball_nba/events?date=2019-01-01T00:00:00Z":                              422,
		"/odds/v4/historical/sports/soccer_epl/events?date=2024-11-05T00:00:00Z":                                  404,
		"/odds/v4/historical/sports/basketball_nba/events/x/odds?regions=us&date=2024-11-05T00:00:00Z":            422,
		"/odds/v4/historical/sports/basketball_nba/events/x/odds?markets=player_points&date=2024-11-05T00:00:00Z": 422,
		"/nbacdn/static/json/staticData/scheduleLeagueV2.json?season=2024-26":                                     400,
		"/nbacdn/static/json/staticData/other.json":                                                               404,
	} {
		if g := fetch(t, srv, path); g.status != want {
			t.Errorf("GET %s: %d, want %d: %.200s", path, g.status, want, g.body)
		}
	}
}

func TestCDNCurrentSeasonFollowsNow(t *testing.T) {
	t.Parallel()
	for now, want := range map[time.Time]string{
		time.Date(2025, 1, 10, 17, 0, 0, 0, time.UTC):  "2024-25",
		time.Date(2025, 7, 31, 17, 0, 0, 0, time.UTC):  "2024-25",
		time.Date(2025, 9, 1, 17, 0, 0, 0, time.UTC):   "2025-26",
		time.Date(2021, 10, 20, 17, 0, 0, 0, time.UTC): "2021-22",
	} {
		_, srv := newTestSim(t, Config{Seed: 2, Now: func() time.Time { return now }})
		doc := decode[cdnDoc](t, fetch(t, srv, "/nbacdn/static/json/staticData/scheduleLeagueV2.json"))
		if doc.LeagueSchedule.SeasonYear != want {
			t.Errorf("at %s: season %s, want %s", now, doc.LeagueSchedule.SeasonYear, want)
		}
	}
}
