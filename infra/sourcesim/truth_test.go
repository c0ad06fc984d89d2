package sourcesim

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestTruthAgreesWithServedSources reads a date from every source the way a client would and
// checks that the truth describes the same games, rows and lines.
func TestTruthAgreesWithServedSources(t *testing.T) {
	t.Parallel()
	s, srv := newTestSim(t, Config{Seed: 21})
	for _, date := range []string{"2024-11-05", "2025-02-20"} {
		tr, err := s.Truth(date)
		if err != nil {
			t.Fatal(err)
		}
		if len(tr.Games) == 0 || len(tr.Players) < 15*len(tr.Games) {
			t.Fatalf("%s: %d games, %d players", date, len(tr.Games), len(tr.Players))
		}
		byNBA := map[string]PlayerTruth{}
		byBDL := map[string]PlayerTruth{}
		for _, p := range tr.Players {
			byNBA[fmt.Sprint(p.GameID, p.NBAPlayerID)] = p
			byBDL[fmt.Sprint(p.GameID, p.BDLPlayerID)] = p
		}
		gameOfNBA, gameOfBDL := map[string]GameTruth{}, map[int]GameTruth{}
		for _, g := range tr.Games {
			gameOfNBA[g.NBAGameID], gameOfBDL[g.BDLGameID] = g, g
		}

		// NBA.com leaguegamelog: one row per truth row, same stats.
		d, _ := time.Parse(dateLayout, date)
		lg := decode[leagueLogDoc](t, fetch(t, srv, leagueLogPath(d.Format("01/02/2006"))))
		rows := lg.ResultSets[0].RowSet
		if len(rows) != len(tr.Players) {
			t.Errorf("%s: leaguegamelog has %d rows, truth %d", date, len(rows), len(tr.Players))
		}
		for _, row := range rows {
			g := gameOfNBA[lg.col(row, "GAME_ID").(string)]
			p, ok := byNBA[fmt.Sprint(g.GameID, int(lg.col(row, "PLAYER_ID").(float64)))]
			if !ok {
				t.Errorf("%s: leaguegamelog row %v not in truth", date, row[:3])
				continue
			}
			gotRow := []any{lg.col(row, "PLAYER_NAME"), lg.col(row, "TEAM_ABBREVIATION"), lg.col(row, "PTS"), lg.col(row, "MIN"), lg.col(row, "REB"), lg.col(row, "AST"), lg.col(row, "FG3M"), lg.col(row, "PLUS_MINUS")}
			wantRow := []any{p.FullName, p.TeamAbbr, float64(p.Points), p.Minutes, float64(p.Rebounds), float64(p.Assists), float64(p.FG3M), float64(p.PlusMinus)}
			if fmt.Sprint(gotRow) != fmt.Sprint(wantRow) {
				t.Errorf("%s: leaguegamelog %v, truth %v", date, gotRow, wantRow)
			}
		}

		// BDL stats: the same rows plus DNP rows.
		played := 0
		for _, r := range bdlAllStats(t, srv, date, 100).Data {
			if r.Min == "00" {
				continue
			}
			played++
			g := gameOfBDL[r.Game.ID]
			p, ok := byBDL[fmt.Sprint(g.GameID, r.Player.ID)]
			if !ok || p.Points != r.Pts || fmt.Sprint(p.Minutes) != r.Min || p.TeamAbbr != r.Team.Abbreviation {
				t.Errorf("%s: BDL row %+v, truth %+v", date, r, p)
			}
		}
		if played != len(tr.Players) {
			t.Errorf("%s: BDL has %d players who played, truth %d", date, played, len(tr.Players))
		}

		// NBA.com schedule: same games and scores.
		doc := decode[cdnDoc](t, fetch(t, srv, "/nbacdn/static/json/staticData/scheduleLeagueV2.json?season=2024"))
		seen := 0
		for _, gd := range doc.LeagueSchedule.GameDates {
			for _, g := range gd.Games {
				want, ok := gameOfNBA[g.GameID]
				if !ok {
					continue
				}
				seen++
				if g.HomeTeam.TeamTricode != want.HomeTeam || g.AwayTeam.TeamTricode != want.AwayTeam ||
					g.HomeTeam.Score != want.HomeScore || g.AwayTeam.Score != want.AwayScore || g.GameStatus != 3 {
					t.Errorf("%s: schedule game %+v, truth %+v", date, g, want)
				}
			}
		}
		if seen != len(tr.Games) {
			t.Errorf("%s: schedule has %d of the %d games", date, seen, len(tr.Games))
		}

		// The Odds API: the median of each bookmaker's line at the last pre-tip snapshots is
		// the truth's line, at 5 and at 30 minutes before tip-off.
		byOddsName := map[string]PlayerTruth{}
		withLine := 0
		for _, p := range tr.Players {
			if p.PointsLine != nil {
				byOddsName[p.GameID+"/"+p.OddsPlayerName] = p
				withLine++
			}
		}
		if withLine < 8*len(tr.Games) {
			t.Errorf("%s: only %d players with a line in %d games", date, withLine, len(tr.Games))
		}
		for _, g := range tr.Games {
			for _, before := range []time.Duration{5 * time.Minute, 30 * time.Minute} {
				perPlayer := map[string][]float64{}
				for key, point := range lines(t, srv, Game{OddsEventID: g.OddsEventID, GameID: g.GameID}, g.StartUTC.Add(-before)) {
					_, name, _ := strings.Cut(key, "/")
					perPlayer[name] = append(perPlayer[name], point)
				}
				for name, pts := range perPlayer {
					p, ok := byOddsName[g.GameID+"/"+name]
					if !ok {
						t.Errorf("%s: odds player %q has no truth line", g.GameID, name)
						continue
					}
					if m := median(pts); m != *p.PointsLine || len(pts) != p.Bookmakers {
						t.Errorf("%s %s %v before tip: median %v of %d books, truth %v of %d", g.GameID, name, before, m, len(pts), *p.PointsLine, p.Bookmakers)
					}
				}
			}
		}
	}
}

func median(xs []float64) float64 {
	ys := append([]float64(nil), xs...)
	sort.Float64s(ys)
	n := len(ys)
	if n%2 == 1 {
		return ys[n/2]
	}
	return (ys[n/2-1] + ys[n/2]) / 2
}

// TestTruthResults checks the OVER/UNDER/PUSH labels over a season and that each occurs.
func TestTruthResults(t *testing.T) {
	t.Parallel()
	s := New(Config{Seed: 21, Now: func() time.Time { return fixedNow }})
	games, err := s.Schedule(2024)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	done := map[string]bool{}
	for _, g := range games {
		if done[g.Date] {
			continue
		}
		done[g.Date] = true
		tr, err := s.Truth(g.Date)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range tr.Players {
			if p.PointsLine == nil {
				if p.OverUnder != "" || p.LineMargin != nil {
					t.Errorf("%+v: result without a line", p)
				}
				count["none"]++
				continue
			}
			want := "PUSH"
			if float64(p.Points) > *p.PointsLine {
				want = "OVER"
			} else if float64(p.Points) < *p.PointsLine {
				want = "UNDER"
			}
			if p.OverUnder != want || *p.LineMargin != float64(p.Points)-*p.PointsLine {
				t.Errorf("%+v: result %s, want %s", p, p.OverUnder, want)
			}
			count[p.OverUnder]++
		}
	}
	if count["OVER"] == 0 || count["UNDER"] == 0 || count["PUSH"] == 0 || count["none"] == 0 {
		t.Errorf("results over the season: %v; want every kind", count)
	}
}

func TestTruthTeamsArePlayerSums(t *testing.T) {
	t.Parallel()
	s := New(Config{Seed: 21, Now: func() time.Time { return fixedNow }})
	tr, err := s.Truth("2025-03-03")
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Teams) != 2*len(tr.Games) || len(tr.Games) == 0 {
		t.Fatalf("%d team rows for %d games", len(tr.Teams), len(tr.Games))
	}
	for _, tt := range tr.Teams {
		pts, fga, ast := 0, 0, 0
		for _, p := range tr.Players {
			if p.GameID == tt.GameID && p.TeamAbbr == tt.TeamAbbr {
				pts += p.Points
				fga += p.FGA
				ast += p.Assists
			}
		}
		if pts != tt.Points || fga != tt.FGA || ast != tt.Assists || tt.Margin != tt.Points-tt.OppPoints || tt.Win != (tt.Margin > 0) {
			t.Errorf("%+v: players sum to pts %d fga %d ast %d", tt, pts, fga, ast)
		}
	}
}

func TestPropLinesMatchServedOdds(t *testing.T) {
	t.Parallel()
	s, srv := newTestSim(t, Config{Seed: 21})
	games, err := s.GamesOn("2024-12-02")
	if err != nil || len(games) == 0 {
		t.Fatalf("GamesOn: %d, %v", len(games), err)
	}
	g := games[0]
	for _, at := range []time.Time{g.Start.Add(-62 * time.Minute), g.Start.Add(-5 * time.Minute), g.Start.Add(40 * time.Minute)} {
		want, err := s.PropLines(g.OddsEventID, at)
		if err != nil {
			t.Fatal(err)
		}
		served := lines(t, srv, g, at)
		if len(want) != len(served) || len(want) == 0 {
			t.Errorf("at %s: PropLines %d, served %d", at, len(want), len(served))
		}
		for _, l := range want {
			if served[l.Bookmaker+"/"+l.PlayerName] != l.Point {
				t.Errorf("at %s: %s/%s: PropLines %v, served %v", at, l.Bookmaker, l.PlayerName, l.Point, served[l.Bookmaker+"/"+l.PlayerName])
			}
			if wantMin := int(g.Start.Sub(l.Snapshot) / time.Minute); l.MinutesBeforeTipoff != wantMin || l.Snapshot.Minute()%5 != 0 {
				t.Errorf("snapshot %s minutes_before_tipoff %d", l.Snapshot, l.MinutesBeforeTipoff)
			}
		}
	}
	if _, err := s.PropLines(g.OddsEventID, g.Start.Add(6*time.Hour)); !errors.Is(err, ErrNotListed) {
		t.Errorf("after the game: %v, want ErrNotListed", err)
	}
}
