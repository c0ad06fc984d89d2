package sourcesim

import (
	"sort"
	"time"
)

// The parts of the ground truth that depend on the game books: what a date's books let a
// pipeline load, the defense and void-line rows of DayTruth, and the expected game book
// registry over a backfilled range. All of it is computed from the model (who played, who
// did not dress, what the book prints and when it is out), never from the rendered PDFs or
// pipeline code.

// loadedBooks returns the books of a date's games that are published at Now, and whether
// the date's books load at all: a pipeline reads every book of the date or none, so a
// single published book that is broken keeps the whole date out.
func (s *Sim) loadedBooks(m *seasonModel, date string) (map[int]gamebook, bool) {
	now := s.now()
	out := map[int]gamebook{}
	load := true
	for _, gi := range m.byDate[date] {
		gb := s.gamebookOf(m, gi)
		if now.Before(gb.published) {
			continue
		}
		out[gi] = gb
		if gb.corrupt != "" {
			load = false
		}
	}
	return out, load
}

// defense is team t's defensive game against o.
func defense(t, o TeamTruth) TeamDefenseTruth {
	poss := func(x TeamTruth) float64 {
		return float64(x.FGA) + 0.44*float64(x.FTA) - float64(x.OffReb) + float64(x.Turnovers)
	}
	d := TeamDefenseTruth{
		GameID: t.GameID, GameDate: t.GameDate, TeamAbbr: t.TeamAbbr, OpponentAbbr: t.OpponentAbbr, IsHome: t.IsHome,
		OppPoints: o.Points, OppFGM: o.FGM, OppFGA: o.FGA, OppFG3M: o.FG3M, OppFG3A: o.FG3A, OppFTM: o.FTM, OppFTA: o.FTA,
		OppOffReb: o.OffReb, OppRebounds: o.OffReb + o.DefReb, DefReb: t.DefReb,
		TurnoversForced: o.Turnovers, Steals: t.Steals, Blocks: t.Blocks, OppPossessions: poss(o),
	}
	if t.Minutes > 0 {
		d.Pace = 48 * (poss(t) + poss(o)) / 2 / (float64(t.Minutes) / 5)
	}
	if d.OppPossessions != 0 {
		d.DefensiveRating = 100 * float64(o.Points) / d.OppPossessions
	}
	return d
}

// voidLines lists the players of a final game with a consensus closing line who did not play.
func (s *Sim) voidLines(g Game, gp gameProps, played map[int]bool, gb gamebook, load bool) []VoidLineTruth {
	lined := map[int]bool{}
	for i := range gp.books {
		if u := gp.books[i].at(g.Start); u != nil {
			for p := range u.lines {
				lined[p] = true
			}
		}
	}
	var out []VoidLineTruth
	for p := range lined {
		if played[p] {
			continue
		}
		line, n := consensus(gp, g, p)
		v := VoidLineTruth{GameID: g.GameID, GameDate: g.Date, PlayerLookup: s.pool[p].Lookup(), PointsLine: line, Bookmakers: n}
		if load {
			for side := range 2 {
				for _, row := range append(append([]gbRow(nil), gb.sides[side].box...), gb.sides[side].inactive...) {
					if row.player == p {
						v.TeamAbbr, v.OpponentAbbr = []string{g.Home, g.Away}[side], []string{g.Away, g.Home}[side]
						v.Status, v.Reason, v.Category = row.status, row.reason, row.category
					}
				}
			}
		}
		out = append(out, v)
	}
	return out
}

// GamebookRegistryTruth is one expected row of the game book registry after a backfill of a
// range of dates: a row per scheduled game saying whether its book was read, and a row per
// name of every book read, resolved to a player_lookup where the range's data can tell.
type GamebookRegistryTruth struct {
	GameDate string `json:"game_date"`
	GameID   string `json:"game_id"`
	// Gamebook is "parsed" when the game's book was read, "missing" when it was not (not
	// published, or broken, or another book of the date broken).
	Gamebook string `json:"gamebook"`
	// The name row's fields; empty on a game row.
	TeamAbbr    string `json:"team_abbr,omitempty"`
	PrintedName string `json:"printed_name,omitempty"`
	Status      string `json:"status,omitempty"`
	// PlayerLookup is the player's, or "" when nothing of the range names him in full: the
	// book prints his last name only, he did not dress that day, and he did not play for
	// that team in that season on any date of the range.
	PlayerLookup string `json:"player_lookup,omitempty"`
	// Resolution is BookResolution, or ResolvedRegistry when the team's players of the
	// season (within the range) name him.
	Resolution string `json:"resolution,omitempty"`
}

// Registry row kinds of GamebookRegistryTruth.Gamebook.
const (
	BookParsed  = "parsed"
	BookMissing = "missing"
)

// GamebookRegistry returns the expected game book registry rows of every date from..to
// (YYYY-MM-DD, inclusive), ordered by date, game and name.
func (s *Sim) GamebookRegistry(from, to string) ([]GamebookRegistryTruth, error) {
	first, err := time.Parse(dateLayout, from)
	if err != nil {
		return nil, err
	}
	last, err := time.Parse(dateLayout, to)
	if err != nil {
		return nil, err
	}
	type teamSeason struct{ team, season int }
	fielded := map[teamSeason]map[int]bool{} // players who played for a team in a season, within the range
	var dates []string
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		date := d.Format(dateLayout)
		dates = append(dates, date)
		m, err := s.season(SeasonOf(d))
		if err != nil {
			return nil, err
		}
		now := s.now()
		for _, gi := range m.byDate[date] {
			g := m.games[gi]
			b := s.box(m, gi)
			if s.gameState(g, b, now) != 3 {
				continue
			}
			for side, t := range []int{g.home, g.away} {
				k := teamSeason{t, m.year}
				if fielded[k] == nil {
					fielded[k] = map[int]bool{}
				}
				for _, l := range b.lines[side] {
					if l.min > 0 {
						fielded[k][l.player] = true
					}
				}
			}
		}
	}
	out := []GamebookRegistryTruth{}
	for _, date := range dates {
		m, d, err := s.seasonForDate(date)
		if err != nil {
			return nil, err
		}
		books, load := s.loadedBooks(m, d.Format(dateLayout))
		for _, gi := range m.byDate[date] {
			g := m.games[gi]
			if _, ok := books[gi]; !ok || !load {
				out = append(out, GamebookRegistryTruth{GameDate: date, GameID: g.GameID, Gamebook: BookMissing})
				continue
			}
			out = append(out, GamebookRegistryTruth{GameDate: date, GameID: g.GameID, Gamebook: BookParsed})
			t := s.gamebookTruth(m, gi)
			for _, p := range t.Players {
				row := GamebookRegistryTruth{GameDate: date, GameID: g.GameID, Gamebook: BookParsed, TeamAbbr: p.TeamAbbr,
					PrintedName: p.PrintedName, Status: p.Status, PlayerLookup: p.BookLookup, Resolution: p.BookResolution}
				side := 0
				if !p.IsHome {
					side = 1
				}
				team := []int{g.home, g.away}[side]
				pi := s.playerIndex(m, team, p.NBAPlayerID)
				if row.Resolution == Unresolved && fielded[teamSeason{team, m.year}][pi] {
					row.PlayerLookup, row.Resolution = p.PlayerLookup, ResolvedRegistry
				}
				out = append(out, row)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.GameDate != b.GameDate {
			return a.GameDate < b.GameDate
		}
		if a.GameID != b.GameID {
			return a.GameID < b.GameID
		}
		if a.TeamAbbr != b.TeamAbbr {
			return a.TeamAbbr < b.TeamAbbr
		}
		return a.PrintedName < b.PrintedName
	})
	return out, nil
}

// playerIndex finds a team's roster player by NBA.com id.
func (s *Sim) playerIndex(m *seasonModel, team, nbaID int) int {
	for _, p := range m.rosters[team] {
		if s.pool[p].NBAID == nbaID {
			return p
		}
	}
	return -1
}
