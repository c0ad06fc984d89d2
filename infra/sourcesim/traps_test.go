package sourcesim

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

type cdnDoc struct {
	LeagueSchedule struct {
		SeasonYear string `json:"seasonYear"`
		GameDates  []struct {
			GameDate string `json:"gameDate"`
			Games    []struct {
				GameID          string `json:"gameId"`
				GameCode        string `json:"gameCode"`
				GameStatus      int    `json:"gameStatus"`
				GameDateTimeEst string `json:"gameDateTimeEst"`
				GameDateTimeUTC string `json:"gameDateTimeUTC"`
				HomeTeam        struct {
					TeamTricode string `json:"teamTricode"`
					TeamCity    string `json:"teamCity"`
					Score       int    `json:"score"`
				} `json:"homeTeam"`
				AwayTeam struct {
					TeamTricode string `json:"teamTricode"`
					Score       int    `json:"score"`
				} `json:"awayTeam"`
			} `json:"games"`
		} `json:"gameDates"`
	} `json:"leagueSchedule"`
}

type bdlStatsDoc struct {
	Data []struct {
		ID     int    `json:"id"`
		Min    string `json:"min"`
		Pts    int    `json:"pts"`
		Player struct {
			ID        int    `json:"id"`
			FirstName string `json:"first_name"`
			LastName  string `json:"last_name"`
			TeamID    *int   `json:"team_id"`
		} `json:"player"`
		Team struct {
			ID           int    `json:"id"`
			Abbreviation string `json:"abbreviation"`
		} `json:"team"`
		Game struct {
			ID       int    `json:"id"`
			Date     string `json:"date"`
			Datetime string `json:"datetime"`
		} `json:"game"`
	} `json:"data"`
	Meta struct {
		NextCursor *int `json:"next_cursor"`
		PerPage    int  `json:"per_page"`
	} `json:"meta"`
}

type leagueLogDoc struct {
	ResultSets []struct {
		Headers []string `json:"headers"`
		RowSet  [][]any  `json:"rowSet"`
	} `json:"resultSets"`
}

// col returns a row's value under a header, read by position as a client must.
func (d leagueLogDoc) col(row []any, header string) any {
	for i, h := range d.ResultSets[0].Headers {
		if h == header {
			return row[i]
		}
	}
	return nil
}

type eventsDoc struct {
	Timestamp string `json:"timestamp"`
	Data      []struct {
		ID           string `json:"id"`
		CommenceTime string `json:"commence_time"`
		HomeTeam     string `json:"home_team"`
		AwayTeam     string `json:"away_team"`
	} `json:"data"`
}

type eventOddsDoc struct {
	Timestamp string `json:"timestamp"`
	Data      struct {
		ID         string `json:"id"`
		Bookmakers []struct {
			Key     string `json:"key"`
			Markets []struct {
				Key      string `json:"key"`
				Outcomes []struct {
					Name        string  `json:"name"`
					Description string  `json:"description"`
					Price       float64 `json:"price"`
					Point       float64 `json:"point"`
				} `json:"outcomes"`
			} `json:"markets"`
		} `json:"bookmakers"`
	} `json:"data"`
}

func TestTrapEasternTimesLabelledZ(t *testing.T) {
	t.Parallel()
	s, srv := newTestSim(t, Config{Seed: 5})
	doc := decode[cdnDoc](t, fetch(t, srv, "/nbacdn/static/json/staticData/scheduleLeagueV2.json?season=2024"))
	n := 0
	for _, gd := range doc.LeagueSchedule.GameDates {
		for _, g := range gd.Games {
			n++
			est, err1 := time.Parse(time.RFC3339, g.GameDateTimeEst)
			utc, err2 := time.Parse(time.RFC3339, g.GameDateTimeUTC)
			if err1 != nil || err2 != nil || !strings.HasSuffix(g.GameDateTimeEst, "Z") {
				t.Fatalf("%s: %q %q", g.GameID, g.GameDateTimeEst, g.GameDateTimeUTC)
			}
			if est.Equal(utc) {
				t.Errorf("%s: gameDateTimeEst equals gameDateTimeUTC: the Eastern trap is missing", g.GameID)
			}
			wall := time.Date(est.Year(), est.Month(), est.Day(), est.Hour(), est.Minute(), 0, 0, s.Eastern())
			if !wall.Equal(utc) {
				t.Errorf("%s: Est %s read as Eastern is %s, UTC says %s", g.GameID, g.GameDateTimeEst, wall.UTC(), utc)
			}
		}
	}
	if n != 1230 || doc.LeagueSchedule.SeasonYear != "2024-25" {
		t.Errorf("schedule has %d games for %q, want 1230 for 2024-25", n, doc.LeagueSchedule.SeasonYear)
	}
}

func TestTrapBDLDateVersusDatetime(t *testing.T) {
	t.Parallel()
	_, srv := newTestSim(t, Config{Seed: 5})
	nextDay := 0
	for _, date := range []string{"2024-11-05", "2024-12-10", "2025-01-15"} {
		doc := bdlAllStats(t, srv, date, 100)
		for _, r := range doc.Data {
			if r.Game.Date != date {
				t.Errorf("game %d: date %s, asked %s", r.Game.ID, r.Game.Date, date)
			}
			if !strings.HasPrefix(r.Game.Datetime, date) {
				nextDay++
			}
		}
	}
	if nextDay == 0 {
		t.Error("no BDL game.datetime on the next UTC day: the date trap is missing")
	}
}

func TestTrapOddsTeamNames(t *testing.T) {
	t.Parallel()
	s, srv := newTestSim(t, Config{Seed: 5})
	games, err := s.Schedule(2024)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, g := range games {
		if g.Home != "LAC" || g.Date > "2025-01-31" {
			continue
		}
		doc := decode[eventsDoc](t, fetch(t, srv, "/odds/v4/historical/sports/basketball_nba/events?date="+g.Start.Add(-time.Hour).Format(time.RFC3339)))
		for _, e := range doc.Data {
			if e.ID == g.OddsEventID {
				names[e.HomeTeam] = true
			}
		}
	}
	if !names["LA Clippers"] || !names["Los Angeles Clippers"] || len(names) != 2 {
		t.Errorf("Clippers home events named %v, want both LA Clippers and Los Angeles Clippers", names)
	}
}

// TestTrapPlayerNames reads the same players from NBA.com, BDL and The Odds API and finds
// each spelling difference, while a plain normalisation still joins them.
func TestTrapPlayerNames(t *testing.T) {
	t.Parallel()
	s, srv := newTestSim(t, Config{Seed: 5})
	var accents, bdlSuffix, oddsNoSuffix, oddsSuffixNoPeriod, curly, initials, joined int
	for _, date := range []string{"2024-11-05", "2024-12-10", "2025-01-15", "2025-02-26", "2025-03-19"} {
		tr, err := s.Truth(date)
		if err != nil {
			t.Fatal(err)
		}
		d, _ := time.Parse(dateLayout, date)
		lg := decode[leagueLogDoc](t, fetch(t, srv, leagueLogPath(d.Format("01/02/2006"))))
		nbaName := map[int]string{}
		for _, row := range lg.ResultSets[0].RowSet {
			nbaName[int(lg.col(row, "PLAYER_ID").(float64))] = lg.col(row, "PLAYER_NAME").(string)
		}
		bdlName := map[int]string{}
		for _, r := range bdlAllStats(t, srv, date, 100).Data {
			bdlName[r.Player.ID] = r.Player.FirstName + " " + r.Player.LastName
		}
		oddsNames := map[string]bool{}
		for _, g := range tr.Games {
			for key := range lines(t, srv, Game{OddsEventID: g.OddsEventID}, g.StartUTC.Add(-5*time.Minute)) {
				_, name, _ := strings.Cut(key, "/")
				oddsNames[name] = true
			}
		}
		for _, p := range tr.Players {
			nba, bdl := nbaName[p.NBAPlayerID], bdlName[p.BDLPlayerID]
			if nba == "" || bdl == "" {
				t.Fatalf("%s: %s missing from a source", date, p.FullName)
			}
			if norm(nba) != p.PlayerLookup || norm(bdl) != p.PlayerLookup {
				t.Errorf("%q / %q do not normalise to %q", nba, bdl, p.PlayerLookup)
			}
			joined++
			if nba != bdl && foldASCII(nba) == bdl {
				accents++
			}
			if strings.HasSuffix(bdl, "Jr.") || strings.HasSuffix(bdl, "III") {
				bdlSuffix++
			}
			if p.PointsLine == nil {
				continue
			}
			odds := p.OddsPlayerName
			if !oddsNames[odds] {
				t.Errorf("%s: odds name %q of %s not served", date, odds, nba)
			}
			if norm(odds) != p.PlayerLookup {
				t.Errorf("odds name %q does not normalise to %q", odds, p.PlayerLookup)
			}
			switch {
			case strings.HasSuffix(nba, "Jr.") && strings.HasSuffix(odds, " Jr"):
				oddsSuffixNoPeriod++
			case strings.HasSuffix(nba, "Jr.") && !strings.Contains(odds, "Jr"):
				oddsNoSuffix++
			case strings.ContainsRune(odds, '\u2019'):
				curly++
			case strings.Contains(nba, ".J.") && !strings.Contains(odds, "."):
				initials++
			}
		}
	}
	t.Logf("%d players joined: %d accent-folded in BDL, %d BDL suffixes, odds: %d without suffix, %d Jr without period, %d curly apostrophes, %d initials without periods",
		joined, accents, bdlSuffix, oddsNoSuffix, oddsSuffixNoPeriod, curly, initials)
	if accents == 0 || bdlSuffix == 0 || oddsNoSuffix == 0 || oddsSuffixNoPeriod == 0 || curly+initials == 0 {
		t.Error("a name trap is missing from the served responses")
	}
}

// norm is this test's own player_lookup: fold the simulator's accented letters, keep ASCII
// letters and digits per word, drop a trailing generational suffix.
func norm(name string) string {
	var words []string
	for _, w := range strings.Fields(strings.ToLower(foldASCII(name))) {
		var b strings.Builder
		for _, r := range w {
			if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
				b.WriteRune(r)
			}
		}
		if b.Len() > 0 {
			words = append(words, b.String())
		}
	}
	for len(words) > 1 && map[string]bool{"jr": true, "sr": true, "ii": true, "iii": true, "iv": true, "v": true}[words[len(words)-1]] {
		words = words[:len(words)-1]
	}
	return strings.Join(words, "")
}

func TestTrapGameIDsDifferPerSource(t *testing.T) {
	t.Parallel()
	s, srv := newTestSim(t, Config{Seed: 5})
	tr, err := s.Truth("2024-11-05")
	if err != nil {
		t.Fatal(err)
	}
	doc := bdlAllStats(t, srv, "2024-11-05", 100)
	bdlIDs := map[int]bool{}
	for _, r := range doc.Data {
		bdlIDs[r.Game.ID] = true
	}
	for _, g := range tr.Games {
		if !bdlIDs[g.BDLGameID] {
			t.Errorf("%s: BDL id %d not served", g.GameID, g.BDLGameID)
		}
		if !strings.HasPrefix(g.NBAGameID, "00224") || len(g.NBAGameID) != 10 || fmt.Sprint(g.BDLGameID) == g.NBAGameID {
			t.Errorf("%s: NBA id %s, BDL id %d", g.GameID, g.NBAGameID, g.BDLGameID)
		}
	}
}

func TestTrapDNPRowsAndNullPercentages(t *testing.T) {
	t.Parallel()
	_, srv := newTestSim(t, Config{Seed: 5})
	bdl := bdlAllStats(t, srv, "2024-11-05", 100)
	dnp := 0
	for _, r := range bdl.Data {
		if r.Min == "00" {
			dnp++
		}
	}
	lg := decode[leagueLogDoc](t, fetch(t, srv, "/nbastats/stats/leaguegamelog?PlayerOrTeam=P&DateFrom=11/05/2024&DateTo=11/05/2024&Season=2024-25&SeasonType=Regular+Season"))
	nulls := 0
	for _, row := range lg.ResultSets[0].RowSet {
		if lg.col(row, "FG3_PCT") == nil {
			nulls++
		}
	}
	if dnp == 0 || nulls == 0 || len(bdl.Data) <= len(lg.ResultSets[0].RowSet) {
		t.Errorf("%d BDL DNP rows (%d rows), %d null FG3_PCT (%d rows); want BDL to carry DNP rows and null percentages to appear",
			dnp, len(bdl.Data), nulls, len(lg.ResultSets[0].RowSet))
	}
}

func TestTrapInGameOddsDiffer(t *testing.T) {
	t.Parallel()
	s, srv := newTestSim(t, Config{Seed: 5})
	games, err := s.GamesOn("2024-11-05")
	if err != nil {
		t.Fatal(err)
	}
	changed := 0
	for _, g := range games {
		pre := lines(t, srv, g, g.Start)
		in := lines(t, srv, g, g.Start.Add(2*time.Hour))
		for k, v := range pre {
			if w, ok := in[k]; ok && w != v {
				changed++
			}
		}
	}
	if changed == 0 {
		t.Error("no line differs between tip-off and two hours later: the in-game trap is missing")
	}
}

// lines fetches a game's event odds at a snapshot: "bookmaker/player" -> point.
func lines(tb testing.TB, srv *httptest.Server, g Game, at time.Time) map[string]float64 {
	tb.Helper()
	r := fetch(tb, srv, "/odds/v4/historical/sports/basketball_nba/events/"+g.OddsEventID+
		"/odds?markets=player_points&regions=us&date="+at.UTC().Format(time.RFC3339))
	if r.status != 200 {
		tb.Fatalf("event odds %s at %s: %d %s", g.GameID, at, r.status, r.body)
	}
	doc := decode[eventOddsDoc](tb, r)
	out := map[string]float64{}
	for _, b := range doc.Data.Bookmakers {
		for _, m := range b.Markets {
			for _, o := range m.Outcomes {
				out[b.Key+"/"+o.Description] = o.Point
			}
		}
	}
	return out
}

// bdlAllStats follows next_cursor until the last page and returns every row.
func bdlAllStats(tb testing.TB, srv *httptest.Server, date string, perPage int) bdlStatsDoc {
	tb.Helper()
	var all bdlStatsDoc
	cursor := ""
	for page := 0; ; page++ {
		if page > 1000 {
			tb.Fatal("more than 1000 pages")
		}
		r := fetch(tb, srv, fmt.Sprintf("/bdl/v1/stats?dates[]=%s&per_page=%d%s", date, perPage, cursor), "Authorization", testBDLKey)
		if r.status != 200 {
			tb.Fatalf("stats %s page %d: %d %s", date, page, r.status, r.body)
		}
		doc := decode[bdlStatsDoc](tb, r)
		if len(doc.Data) > perPage || doc.Meta.PerPage != perPage {
			tb.Fatalf("page %d: %d rows, per_page %d, asked %d", page, len(doc.Data), doc.Meta.PerPage, perPage)
		}
		all.Data = append(all.Data, doc.Data...)
		if doc.Meta.NextCursor == nil {
			return all
		}
		cursor = fmt.Sprintf("&cursor=%d", *doc.Meta.NextCursor)
	}
}
