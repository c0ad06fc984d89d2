package sourcesim

import (
	"math"
	"strings"
	"testing"
	"time"
)

// TestTruthDefenseIsTheOpponentsGame: a team's defensive row holds what its opponent scored
// and shot, and both rows of a game share one pace.
func TestTruthDefenseIsTheOpponentsGame(t *testing.T) {
	t.Parallel()
	s := New(Config{Seed: 21, Now: func() time.Time { return fixedNow }})
	tr, err := s.Truth("2025-03-03")
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Defense) != len(tr.Teams) || len(tr.Defense) == 0 {
		t.Fatalf("%d defense rows for %d team rows", len(tr.Defense), len(tr.Teams))
	}
	team := map[string]TeamTruth{}
	for _, tt := range tr.Teams {
		team[tt.GameID+"/"+tt.TeamAbbr] = tt
	}
	pace := map[string]float64{}
	for _, d := range tr.Defense {
		o, me := team[d.GameID+"/"+d.OpponentAbbr], team[d.GameID+"/"+d.TeamAbbr]
		if d.OppPoints != o.Points || d.OppFGA != o.FGA || d.OppFG3M != o.FG3M || d.OppFTA != o.FTA ||
			d.OppRebounds != o.OffReb+o.DefReb || d.TurnoversForced != o.Turnovers || d.DefReb != me.DefReb || d.Steals != me.Steals {
			t.Errorf("%s %s: %+v is not what %s did (%+v)", d.GameID, d.TeamAbbr, d, d.OpponentAbbr, o)
		}
		if p, ok := pace[d.GameID]; ok && math.Abs(p-d.Pace) > 1e-9 {
			t.Errorf("%s: paces %v and %v", d.GameID, p, d.Pace)
		}
		pace[d.GameID] = d.Pace
		if d.Pace < 80 || d.Pace > 130 || d.DefensiveRating < 70 || d.DefensiveRating > 150 {
			t.Errorf("%s %s: pace %.1f, defensive rating %.1f out of any NBA range", d.GameID, d.TeamAbbr, d.Pace, d.DefensiveRating)
		}
	}
}

// TestVoidLinesAreLateScratches: a void line is a player with a closing line at the
// bookmakers (served in the last pre-tip snapshot, gone once the bookmakers update in game) who has no
// box score row; the book lists him with a reason he did not play.
func TestVoidLinesAreLateScratches(t *testing.T) {
	t.Parallel()
	s, srv := newTestSim(t, Config{Seed: 21})
	found := 0
	for d := time.Date(2024, 11, 1, 0, 0, 0, 0, time.UTC); d.Before(time.Date(2024, 12, 1, 0, 0, 0, 0, time.UTC)) && found < 3; d = d.AddDate(0, 0, 1) {
		tr, err := s.Truth(d.Format(dateLayout))
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range tr.VoidLines {
			found++
			for _, p := range tr.Players {
				if p.GameID == v.GameID && p.PlayerLookup == v.PlayerLookup {
					t.Errorf("%s %s has a void line and a box score row", v.GameID, v.PlayerLookup)
				}
			}
			var g Game
			games, _ := s.GamesOn(v.GameDate)
			for _, x := range games {
				if x.GameID == v.GameID {
					g = x
				}
			}
			pre, in := lines(t, srv, g, g.Start.Add(-5*time.Minute)), lines(t, srv, g, g.Start.Add(105*time.Minute)) // after every in-game update
			name := ""
			for _, p := range s.Players() {
				if p.Lookup() == v.PlayerLookup {
					name = p.OddsName()
				}
			}
			served := 0
			for k := range pre {
				if strings.HasSuffix(k, "/"+name) {
					served++
				}
			}
			for k := range in {
				if strings.HasSuffix(k, "/"+name) {
					t.Errorf("%s: %s still has an in-game line (%s)", v.GameID, name, k)
				}
			}
			if served != v.Bookmakers || served == 0 {
				t.Errorf("%s: %s has lines at %d bookmakers before tip-off, truth says %d", v.GameID, name, served, v.Bookmakers)
			}
			books, _ := s.Gamebooks(v.GameDate)
			for _, b := range books {
				for _, p := range b.Players {
					if b.GameID == v.GameID && p.PlayerLookup == v.PlayerLookup && (p.Status != v.Status || p.Reason != v.Reason || p.TeamAbbr != v.TeamAbbr || p.Status == GamebookActive) {
						t.Errorf("%s: the book says %s %s %q, the void line %s %s %q", v.GameID, p.TeamAbbr, p.Status, p.Reason, v.TeamAbbr, v.Status, v.Reason)
					}
				}
			}
		}
	}
	if found == 0 {
		t.Fatal("no void line in November 2024")
	}
}

// TestTruthBookResolution: a name the book prints in full is its player's; a last name alone
// is resolved by the box score only for a player who dressed (Ball Don't Lie lists him for his
// team that day), and is left unresolved otherwise. Every player who played is active in a
// date whose books load.
func TestTruthBookResolution(t *testing.T) {
	t.Parallel()
	s, srv := newTestSim(t, Config{Seed: 21})
	date := "2024-11-15"
	books, err := s.Gamebooks(date)
	if err != nil {
		t.Fatal(err)
	}
	stats := bdlAllStats(t, srv, date, 100)
	listed := map[string]bool{} // team/last name
	for _, r := range stats.Data {
		listed[r.Team.Abbreviation+"/"+r.Player.FirstName+" "+r.Player.LastName] = true
	}
	kinds := map[string]int{}
	for _, b := range books {
		for _, p := range b.Players {
			kinds[p.BookResolution]++
			var bdlName string
			for _, q := range s.Players() {
				if q.NBAID == p.NBAPlayerID {
					bdlName = q.BDLFirst() + " " + q.BDLLast()
				}
			}
			if p.Dressed != listed[p.TeamAbbr+"/"+bdlName] {
				t.Errorf("%s %s: dressed %v, BDL lists him %v", b.GameID, p.FullName, p.Dressed, listed[p.TeamAbbr+"/"+bdlName])
			}
			want := p.PlayerLookup
			if p.PrintedName != p.FullName && !p.Dressed {
				want = ""
			}
			if p.BookLookup != want || (want == "") != (p.BookResolution == Unresolved) {
				t.Errorf("%s %q (%s, dressed %v): book lookup %q (%s), want %q", b.GameID, p.PrintedName, p.Status, p.Dressed, p.BookLookup, p.BookResolution, want)
			}
		}
	}
	if kinds[Unresolved] == 0 || kinds[ResolvedBoxScore] == 0 || kinds[ResolvedPrinted] == 0 {
		t.Errorf("resolutions %v: want each kind on %s", kinds, date)
	}
	tr, _ := s.Truth(date)
	for _, p := range tr.Players {
		if p.Availability != GamebookActive {
			t.Errorf("%s %s played, availability %q", p.GameID, p.PlayerLookup, p.Availability)
		}
	}
}

// TestTruthBrokenBookKeepsTheDateOut: on a date with a broken book no book loads, so no
// player has an availability and the registry lists every game missing.
func TestTruthBrokenBookKeepsTheDateOut(t *testing.T) {
	t.Parallel()
	s := New(Config{Seed: 21, Now: func() time.Time { return fixedNow }})
	games, _ := s.Schedule(2024)
	date := ""
	for _, g := range games {
		if date != "" {
			break
		}
		books, _ := s.Gamebooks(g.Date)
		for _, b := range books {
			if b.Corrupt != "" {
				date = g.Date
			}
		}
	}
	if date == "" {
		t.Fatal("no broken book in the 2024 season")
	}
	tr, _ := s.Truth(date)
	for _, p := range tr.Players {
		if p.Availability != "" {
			t.Fatalf("%s %s: availability %q on a date whose books do not load", p.GameID, p.PlayerLookup, p.Availability)
		}
	}
	reg, err := s.GamebookRegistry(date, date)
	if err != nil {
		t.Fatal(err)
	}
	if len(reg) != len(tr.Games) {
		t.Errorf("%d registry rows for %d games; want one missing row each", len(reg), len(tr.Games))
	}
	for _, r := range reg {
		if r.Gamebook != BookMissing {
			t.Errorf("%+v: want missing", r)
		}
	}
}

// TestGamebookRegistryTruth: a row per game and per printed name; a last name the book and
// the day's box score cannot resolve is the player's when he played for that team within
// the range, and stays unresolved when he did not.
func TestGamebookRegistryTruth(t *testing.T) {
	t.Parallel()
	s := New(Config{Seed: 21, Now: func() time.Time { return fixedNow }})
	from, to := "2024-11-01", "2024-11-14"
	reg, err := s.GamebookRegistry(from, to)
	if err != nil {
		t.Fatal(err)
	}
	played := map[string]bool{} // team/lookup within the range
	games, names := 0, 0
	for d, _ := time.Parse(dateLayout, from); d.Format(dateLayout) <= to; d = d.AddDate(0, 0, 1) {
		tr, _ := s.Truth(d.Format(dateLayout))
		games += len(tr.Games)
		for _, p := range tr.Players {
			played[p.TeamAbbr+"/"+p.PlayerLookup] = true
		}
		books, _ := s.Gamebooks(d.Format(dateLayout))
		for _, b := range books {
			names += len(b.Players)
		}
	}
	kinds := map[string]int{}
	for _, r := range reg {
		kinds[r.Gamebook+"/"+r.Resolution]++
		if r.Resolution == ResolvedRegistry && !played[r.TeamAbbr+"/"+r.PlayerLookup] {
			t.Errorf("%+v: resolved by the registry, but he did not play for %s in the range", r, r.TeamAbbr)
		}
	}
	if kinds[BookParsed+"/"] != games || len(reg) != games+names {
		t.Errorf("%d game rows and %d rows; want %d games and %d names", kinds[BookParsed+"/"], len(reg), games, names)
	}
	if kinds[BookParsed+"/"+ResolvedRegistry] == 0 {
		t.Errorf("resolutions %v: none by the registry", kinds)
	}
}
