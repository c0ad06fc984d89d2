package sourcesim

import (
	"errors"
	"fmt"
	"sort"
	"time"
)

// DayTruth is what a correct pipeline must end up with for one Eastern date, computed from
// the simulator's own model only (never from pipeline code). Box score rows exist for games
// that are final at the simulator's Now; players who dressed but did not play are not rows.
type DayTruth struct {
	Date    string        `json:"date"`
	Season  int           `json:"season"`
	Games   []GameTruth   `json:"games"`
	Teams   []TeamTruth   `json:"teams"`
	Players []PlayerTruth `json:"players"`
	// Defense is each team's defensive game, one per team of a final game.
	Defense []TeamDefenseTruth `json:"defense"`
	// VoidLines are the players with a closing points line who did not play: late scratches,
	// whose bets are void.
	VoidLines []VoidLineTruth `json:"void_lines"`
}

// TeamDefenseTruth is what one team allowed in a final game: its opponent's totals, what it
// forced, and the pace of the game. Possessions are estimated as FGA + 0.44 FTA - OREB + TOV
// per team; pace is 48 minutes' worth of the two teams' mean possessions.
type TeamDefenseTruth struct {
	GameID          string  `json:"game_id"`
	GameDate        string  `json:"game_date"`
	TeamAbbr        string  `json:"team_abbr"`
	OpponentAbbr    string  `json:"opponent_abbr"`
	IsHome          bool    `json:"is_home"`
	OppPoints       int     `json:"opponent_points"`
	OppFGM          int     `json:"opponent_fgm"`
	OppFGA          int     `json:"opponent_fga"`
	OppFG3M         int     `json:"opponent_fg3m"`
	OppFG3A         int     `json:"opponent_fg3a"`
	OppFTM          int     `json:"opponent_ftm"`
	OppFTA          int     `json:"opponent_fta"`
	OppOffReb       int     `json:"opponent_offensive_rebounds"`
	OppRebounds     int     `json:"opponent_rebounds"`
	DefReb          int     `json:"defensive_rebounds"`
	TurnoversForced int     `json:"turnovers_forced"`
	Steals          int     `json:"steals"`
	Blocks          int     `json:"blocks"`
	OppPossessions  float64 `json:"opponent_possessions"`
	Pace            float64 `json:"pace"`
	DefensiveRating float64 `json:"defensive_rating"`
}

// VoidLineTruth is a player with a consensus closing points line who did not play. What the
// book says of him (team, status, reason) is filled only when the date's game books load
// (every published one reads): without them nothing tells his team or why.
type VoidLineTruth struct {
	GameID       string  `json:"game_id"`
	GameDate     string  `json:"game_date"`
	PlayerLookup string  `json:"player_lookup"`
	PointsLine   float64 `json:"points_line"`
	Bookmakers   int     `json:"bookmakers"`
	TeamAbbr     string  `json:"team_abbr,omitempty"`
	OpponentAbbr string  `json:"opponent_abbr,omitempty"`
	Status       string  `json:"status,omitempty"` // dnp, dnd, nwt or inactive
	Reason       string  `json:"reason,omitempty"`
	Category     string  `json:"reason_category,omitempty"`
}

// TeamTruth is one team's totals in a final game (the sums of its players' rows).
type TeamTruth struct {
	GameID       string `json:"game_id"`
	GameDate     string `json:"game_date"`
	TeamAbbr     string `json:"team_abbr"`
	OpponentAbbr string `json:"opponent_abbr"`
	IsHome       bool   `json:"is_home"`
	Points       int    `json:"points"`
	OppPoints    int    `json:"opponent_points"`
	Margin       int    `json:"margin"`
	Win          bool   `json:"win"`
	FGM          int    `json:"fgm"`
	FGA          int    `json:"fga"`
	FG3M         int    `json:"fg3m"`
	FG3A         int    `json:"fg3a"`
	FTM          int    `json:"ftm"`
	FTA          int    `json:"fta"`
	OffReb       int    `json:"offensive_rebounds"`
	DefReb       int    `json:"defensive_rebounds"`
	Assists      int    `json:"assists"`
	Turnovers    int    `json:"turnovers"`
	Steals       int    `json:"steals"`
	Blocks       int    `json:"blocks"`
	Fouls        int    `json:"personal_fouls"`
	Minutes      int    `json:"minutes"`
}

// GameTruth is one game's expected schedule row.
type GameTruth struct {
	GameID      string    `json:"game_id"` // YYYYMMDD_AWAY_HOME
	NBAGameID   string    `json:"nba_game_id"`
	BDLGameID   int       `json:"bdl_game_id"`
	OddsEventID string    `json:"odds_event_id"`
	GameDate    string    `json:"game_date"` // Eastern
	StartUTC    time.Time `json:"start_utc"`
	HomeTeam    string    `json:"home_team"`
	AwayTeam    string    `json:"away_team"`
	// Status is NBA.com's gameStatus at Now: 1 scheduled, 2 in progress, 3 final. Scores
	// and Periods are the final ones whatever the status.
	Status    int `json:"status"`
	HomeScore int `json:"home_score"`
	AwayScore int `json:"away_score"`
	Periods   int `json:"periods"`
	// BDLStatRows is how many rows BDL /v1/stats serves for the game once final: the
	// players who played plus those who dressed and did not (min "00").
	BDLStatRows int `json:"bdl_stat_rows"`
}

// PlayerTruth is one expected player box score row, with the prop outcome when a line exists.
type PlayerTruth struct {
	GameID       string  `json:"game_id"`
	GameDate     string  `json:"game_date"`
	Season       int     `json:"season"`
	TeamAbbr     string  `json:"team_abbr"`
	OpponentAbbr string  `json:"opponent_abbr"`
	IsHome       bool    `json:"is_home"`
	NBAPlayerID  int     `json:"nba_player_id"`
	BDLPlayerID  int     `json:"bdl_player_id"`
	FullName     string  `json:"player_full_name"` // NBA.com spelling
	PlayerLookup string  `json:"player_lookup"`
	Minutes      float64 `json:"minutes"`
	Points       int     `json:"points"`
	Assists      int     `json:"assists"`
	Rebounds     int     `json:"rebounds"`
	OffReb       int     `json:"offensive_rebounds"`
	DefReb       int     `json:"defensive_rebounds"`
	Steals       int     `json:"steals"`
	Blocks       int     `json:"blocks"`
	Turnovers    int     `json:"turnovers"`
	Fouls        int     `json:"personal_fouls"`
	FGM          int     `json:"fgm"`
	FGA          int     `json:"fga"`
	FG3M         int     `json:"fg3m"`
	FG3A         int     `json:"fg3a"`
	FTM          int     `json:"ftm"`
	FTA          int     `json:"fta"`
	PlusMinus    int     `json:"plus_minus"`
	// PointsLine is the consensus closing line: the median across bookmakers of each one's
	// line at its latest snapshot at or before tip-off (mean of the two middle lines for an
	// even count); nil without any line. Lines stop moving 30 minutes before tip-off, so every
	// snapshot in the last half hour before tip-off sees the same closing lines.
	PointsLine     *float64 `json:"points_line"`
	Bookmakers     int      `json:"bookmakers"`                  // how many bookmakers had a closing line
	OverUnder      string   `json:"over_under_result,omitempty"` // OVER, UNDER, PUSH; "" without a line
	LineMargin     *float64 `json:"line_margin"`                 // points - line
	OddsPlayerName string   `json:"odds_player_name,omitempty"`  // The Odds API's spelling
	// Availability is "active" when the date's game books load (every published one reads),
	// as the book of a player who played says; "" without them.
	Availability string `json:"availability_status,omitempty"`
}

// Truth returns the expected games and player rows of an Eastern date (YYYY-MM-DD).
func (s *Sim) Truth(date string) (DayTruth, error) {
	m, d, err := s.seasonForDate(date)
	if err != nil {
		return DayTruth{}, err
	}
	out := DayTruth{Date: d.Format(dateLayout), Season: m.year, Games: []GameTruth{}, Teams: []TeamTruth{}, Players: []PlayerTruth{},
		Defense: []TeamDefenseTruth{}, VoidLines: []VoidLineTruth{}}
	now := s.now()
	books, load := s.loadedBooks(m, out.Date)
	for _, gi := range m.byDate[out.Date] {
		g := m.games[gi]
		b := s.box(m, gi)
		st := s.gameState(g, b, now)
		out.Games = append(out.Games, GameTruth{
			GameID: g.GameID, NBAGameID: g.NBAGameID, BDLGameID: g.BDLID, OddsEventID: g.OddsEventID,
			GameDate: g.Date, StartUTC: g.Start, HomeTeam: g.Home, AwayTeam: g.Away,
			Status: st, HomeScore: b.pts[0], AwayScore: b.pts[1], Periods: b.periods,
			BDLStatRows: len(b.lines[0]) + len(b.lines[1]),
		})
		if st != 3 {
			continue
		}
		gp := s.gameProps(m, gi)
		gb, booked := books[gi]
		played := map[int]bool{}
		for side := range 2 {
			opp := []string{g.Away, g.Home}[side]
			tt := TeamTruth{
				GameID: g.GameID, GameDate: g.Date, TeamAbbr: []string{g.Home, g.Away}[side], OpponentAbbr: opp, IsHome: side == 0,
				Points: b.pts[side], OppPoints: b.pts[1-side], Margin: b.pts[side] - b.pts[1-side], Win: b.pts[side] > b.pts[1-side],
			}
			for _, l := range b.lines[side] {
				tt.FGM += l.fgm
				tt.FGA += l.fga
				tt.FG3M += l.fg3m
				tt.FG3A += l.fg3a
				tt.FTM += l.ftm
				tt.FTA += l.fta
				tt.OffReb += l.oreb
				tt.DefReb += l.dreb
				tt.Assists += l.ast
				tt.Turnovers += l.tov
				tt.Steals += l.stl
				tt.Blocks += l.blk
				tt.Fouls += l.pf
				tt.Minutes += l.min
			}
			out.Teams = append(out.Teams, tt)
			for _, l := range b.lines[side] {
				if l.min == 0 {
					continue
				}
				p := s.pool[l.player]
				played[l.player] = true
				row := PlayerTruth{
					GameID: g.GameID, GameDate: g.Date, Season: g.Season,
					TeamAbbr: teams[l.team].Tricode, OpponentAbbr: opp, IsHome: side == 0,
					NBAPlayerID: p.NBAID, BDLPlayerID: p.BDLID, FullName: p.FullName(), PlayerLookup: p.Lookup(),
					Minutes: float64(l.min), Points: l.pts, Assists: l.ast, Rebounds: l.reb(),
					OffReb: l.oreb, DefReb: l.dreb, Steals: l.stl, Blocks: l.blk, Turnovers: l.tov, Fouls: l.pf,
					FGM: l.fgm, FGA: l.fga, FG3M: l.fg3m, FG3A: l.fg3a, FTM: l.ftm, FTA: l.fta, PlusMinus: l.plusMinus,
				}
				if gp != nil {
					if line, n := consensus(*gp, g, l.player); n > 0 {
						margin := float64(l.pts) - line
						row.PointsLine, row.LineMargin, row.Bookmakers = &line, &margin, n
						row.OddsPlayerName = p.OddsName()
						switch {
						case margin > 0:
							row.OverUnder = "OVER"
						case margin < 0:
							row.OverUnder = "UNDER"
						default:
							row.OverUnder = "PUSH"
						}
					}
				}
				if booked && load {
					row.Availability = GamebookActive
				}
				out.Players = append(out.Players, row)
			}
		}
		n := len(out.Teams)
		out.Defense = append(out.Defense, defense(out.Teams[n-2], out.Teams[n-1]), defense(out.Teams[n-1], out.Teams[n-2]))
		if gp != nil {
			out.VoidLines = append(out.VoidLines, s.voidLines(g, *gp, played, gb, booked && load)...)
		}
	}
	sort.SliceStable(out.VoidLines, func(i, j int) bool {
		if out.VoidLines[i].GameID != out.VoidLines[j].GameID {
			return out.VoidLines[i].GameID < out.VoidLines[j].GameID
		}
		return out.VoidLines[i].PlayerLookup < out.VoidLines[j].PlayerLookup
	})
	sort.SliceStable(out.Players, func(i, j int) bool {
		if out.Players[i].GameID != out.Players[j].GameID {
			return out.Players[i].GameID < out.Players[j].GameID
		}
		return out.Players[i].PlayerLookup < out.Players[j].PlayerLookup
	})
	return out, nil
}

// InjuryTruth is one entry of the current injury report (BDL /v1/player_injuries).
type InjuryTruth struct {
	BDLPlayerID  int    `json:"bdl_player_id"`
	NBAPlayerID  int    `json:"nba_player_id"`
	FullName     string `json:"player_full_name"`
	PlayerLookup string `json:"player_lookup"`
	TeamAbbr     string `json:"team_abbr"`
	Status       string `json:"status"`      // "Out" or "Day-To-Day"
	ReturnDate   string `json:"return_date"` // BDL's "Nov 17"
	Description  string `json:"description"`
	ReportDate   string `json:"report_date"` // Eastern date of Now

	pool int
}

// InjuryReport returns the injury report as of Now: players of the current season's rosters
// who miss games that day or from the next day on, ordered by BDL player id.
func (s *Sim) InjuryReport() []InjuryTruth {
	now := s.now().In(s.eastern)
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	season := SeasonOf(today)
	m, err := s.season(season)
	if err != nil {
		return nil
	}
	var out []InjuryTruth
	for p, sp := range m.spells {
		t, ok := m.teamOf[p]
		if !ok {
			continue
		}
		for _, x := range sp {
			if today.Before(x.from.AddDate(0, 0, -1)) || today.After(x.to) {
				continue
			}
			pl := s.pool[p]
			ret := x.to.AddDate(0, 0, 1)
			reported := x.from.AddDate(0, 0, -1)
			out = append(out, InjuryTruth{
				BDLPlayerID: pl.BDLID, NBAPlayerID: pl.NBAID, FullName: pl.FullName(), PlayerLookup: pl.Lookup(),
				TeamAbbr: teams[t].Tricode, Status: x.status, ReturnDate: ret.Format("Jan 2"),
				Description: fmt.Sprintf("%s: %s (%s) is listed as %s. He is expected to be re-evaluated around %s.",
					reported.Format("Jan 2"), foldASCII(pl.Last), x.part, map[string]string{"Out": "out", "Day-To-Day": "day-to-day"}[x.status], ret.Format("January 2")),
				ReportDate: today.Format(dateLayout),
				pool:       p,
			})
			break
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].BDLPlayerID < out[j].BDLPlayerID })
	return out
}

// ErrNotListed is returned by PropLines for an event The Odds API does not list at that time.
var ErrNotListed = errors.New("event not listed at that snapshot")

// PropLine is one bookmaker's points line for one player as The Odds API serves it at a
// snapshot: the expected content of a raw odds row.
type PropLine struct {
	OddsEventID         string    `json:"odds_event_id"`
	GameID              string    `json:"game_id"`
	Snapshot            time.Time `json:"snapshot_timestamp"`
	MinutesBeforeTipoff int       `json:"minutes_before_tipoff"` // whole minutes, negative after tip-off
	Bookmaker           string    `json:"bookmaker"`
	LastUpdate          time.Time `json:"last_update"`
	PlayerName          string    `json:"player_name"` // The Odds API's spelling
	PlayerLookup        string    `json:"player_lookup"`
	NBAPlayerID         int       `json:"nba_player_id"`
	Point               float64   `json:"points_line"`
	OverPrice           int       `json:"over_price_american"`
	UnderPrice          int       `json:"under_price_american"`
}

// PropLines returns the lines of an event at the snapshot The Odds API answers for `at` (the
// latest 5-minute boundary at or before it), by bookmaker then player name. An event that is
// not listed then gives ErrNotListed; a game before PropsStart gives no lines.
func (s *Sim) PropLines(eventID string, at time.Time) ([]PropLine, error) {
	ts := at.UTC().Truncate(snapshotInterval)
	m, gi, ok := s.findEvent(eventID, ts)
	if !ok || !listed(m.games[gi], ts) {
		return nil, fmt.Errorf("odds event %s at %s: %w", eventID, ts.Format(time.RFC3339), ErrNotListed)
	}
	g := m.games[gi]
	gp := s.gameProps(m, gi)
	if gp == nil {
		return nil, nil
	}
	var out []PropLine
	for i := range gp.books {
		u := gp.books[i].at(ts)
		if u == nil {
			continue
		}
		for p, l := range u.lines {
			pl := s.pool[p]
			out = append(out, PropLine{
				OddsEventID: g.OddsEventID, GameID: g.GameID, Snapshot: ts,
				MinutesBeforeTipoff: int(g.Start.Sub(ts) / time.Minute),
				Bookmaker:           gp.books[i].book.Key, LastUpdate: u.at,
				PlayerName: pl.OddsName(), PlayerLookup: pl.Lookup(), NBAPlayerID: pl.NBAID,
				Point: l.point, OverPrice: l.over, UnderPrice: l.under,
			})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Bookmaker != out[j].Bookmaker {
			return out[i].Bookmaker < out[j].Bookmaker
		}
		return out[i].PlayerName < out[j].PlayerName
	})
	return out, nil
}

// GamebookTruth is what one game's official game book says, when it can be fetched and how it
// is broken, computed from the model (never from the rendered PDF). A parser of the book
// must return exactly Players for a book that is available and not corrupt, and an error for
// a corrupt one.
type GamebookTruth struct {
	GameID      string    `json:"game_id"` // YYYYMMDD_AWAY_HOME
	NBAGameID   string    `json:"nba_game_id"`
	GameDate    string    `json:"game_date"`
	HomeTeam    string    `json:"home_team"`
	AwayTeam    string    `json:"away_team"`
	HomeScore   int       `json:"home_score"`
	AwayScore   int       `json:"away_score"`
	Periods     int       `json:"periods"`
	HomePeriods []int     `json:"home_periods"` // points per period, as the book's score table says
	AwayPeriods []int     `json:"away_periods"`
	Path        string    `json:"path"`         // under the simulator: /nbastatsdmz/pdfs/YYYYMMDD/YYYYMMDD_AWAYHOME_book.pdf
	PublishedAt time.Time `json:"published_at"` // the path answers 404 before this instant
	Available   bool      `json:"available"`    // published at Now
	Corrupt     string    `json:"corrupt,omitempty"`
	Pages       int       `json:"pages"`
	// Traps lists what makes this book hard to read: two_pages, box_split (a team's box runs
	// onto the next page), wrapped_reason, overtime, accents, suffix, inactive_injured (an
	// inactive player the game day's injury report lists), late (published 6 hours or more
	// after the game), truncated, garbage.
	Traps []string `json:"traps"`
	// Players are the book's rows in print order: the visitor's box score, the visitor's
	// inactive list, then the home team's.
	Players []GamebookPlayerTruth `json:"players"`
}

// How a game book's name is resolved to a player_lookup (GamebookPlayerTruth.BookResolution,
// GamebookRegistryTruth.Resolution).
const (
	ResolvedPrinted  = "printed"  // the book prints the full name
	ResolvedBoxScore = "boxscore" // the last name matches one player of the team's box score that day
	ResolvedRegistry = "registry" // the last name matches one player the team fielded that season
	Unresolved       = "unresolved"
)

// GamebookPlayerTruth is one roster player of one team in one game book.
type GamebookPlayerTruth struct {
	GameID       string `json:"game_id"`
	GameDate     string `json:"game_date"`
	TeamAbbr     string `json:"team_abbr"`
	IsHome       bool   `json:"is_home"`
	NBAPlayerID  int    `json:"nba_player_id"`
	FullName     string `json:"player_full_name"` // NBA.com spelling
	PlayerLookup string `json:"player_lookup"`
	// PrintedName is the name as the book prints it: the full name in the box score, the
	// last name (with its suffix) in the inactive list unless a teammate shares it.
	PrintedName string `json:"printed_name"`
	Jersey      string `json:"jersey"` // "" on the inactive list, which prints none
	Starter     bool   `json:"starter"`
	Position    string `json:"position"` // a starter's position letter, "" otherwise
	Status      string `json:"status"`   // active, dnp, dnd, nwt, inactive
	// Reason is the printed reason without the status: "Coach's Decision",
	// "Injury/Illness - Left Ankle; Sprain"; "" for an active player.
	Reason   string `json:"reason"`
	Category string `json:"reason_category"` // coach_decision, injury_illness, personal, ...
	// InjuryReportStatus is the player's status on the game day's injury report ("Out",
	// "Day-To-Day") when the injury model keeps him out; "" otherwise.
	InjuryReportStatus string `json:"injury_report_status,omitempty"`
	// Dressed says the player has a row in the game's box score at Ball Don't Lie (which
	// lists players who dressed and did not play with 0 minutes).
	Dressed bool `json:"dressed"`
	// BookLookup is the player_lookup a reader of this book and of the date's box scores can
	// tell, with how (BookResolution): the player's own when the book prints his full name
	// ("printed") or when he has a box score row of his team that day ("boxscore"); "" when
	// the book prints his last name only and he did not dress ("unresolved"): nothing of the
	// date names him in full.
	BookLookup     string `json:"book_player_lookup"`
	BookResolution string `json:"book_resolution"`
	// The stat line, zero unless Status is active; the same numbers as the NBA.com box score.
	Minutes   int `json:"minutes"`
	FGM       int `json:"fgm"`
	FGA       int `json:"fga"`
	FG3M      int `json:"fg3m"`
	FG3A      int `json:"fg3a"`
	FTM       int `json:"ftm"`
	FTA       int `json:"fta"`
	OffReb    int `json:"offensive_rebounds"`
	DefReb    int `json:"defensive_rebounds"`
	Rebounds  int `json:"rebounds"`
	Assists   int `json:"assists"`
	Fouls     int `json:"personal_fouls"`
	Steals    int `json:"steals"`
	Turnovers int `json:"turnovers"`
	Blocks    int `json:"blocks"`
	PlusMinus int `json:"plus_minus"`
	Points    int `json:"points"`
}

// Gamebooks returns the expected game books of an Eastern date (YYYY-MM-DD), in schedule
// order.
func (s *Sim) Gamebooks(date string) ([]GamebookTruth, error) {
	m, d, err := s.seasonForDate(date)
	if err != nil {
		return nil, err
	}
	out := []GamebookTruth{}
	for _, gi := range m.byDate[d.Format(dateLayout)] {
		out = append(out, s.gamebookTruth(m, gi))
	}
	return out, nil
}

func (s *Sim) gamebookTruth(m *seasonModel, gi int) GamebookTruth {
	gb := s.gamebookOf(m, gi)
	g := gb.g
	lay := s.layoutGamebook(m, gb)
	t := GamebookTruth{
		GameID: g.GameID, NBAGameID: g.NBAGameID, GameDate: g.Date, HomeTeam: g.Home, AwayTeam: g.Away,
		HomeScore: gb.b.pts[0], AwayScore: gb.b.pts[1], Periods: gb.b.periods,
		HomePeriods: gb.sides[0].periods, AwayPeriods: gb.sides[1].periods,
		Path: gamebookPath(g), PublishedAt: gb.published, Available: !s.now().Before(gb.published),
		Corrupt: gb.corrupt, Pages: len(lay.pages), Traps: []string{}, Players: []GamebookPlayerTruth{},
	}
	traps := map[string]bool{
		"two_pages": len(lay.pages) > 1, "box_split": lay.split, "wrapped_reason": lay.wrapped,
		"overtime": gb.b.periods > 4, "late": gb.published.Sub(gb.end) >= 6*time.Hour,
		GamebookTruncated: gb.corrupt == GamebookTruncated, GamebookGarbage: gb.corrupt == GamebookGarbage,
	}
	for _, side := range []int{1, 0} {
		gs := gb.sides[side]
		rows := append(append([]gbRow(nil), gs.box...), gs.inactive...)
		for k, row := range rows {
			p := s.pool[row.player]
			pt := GamebookPlayerTruth{
				GameID: g.GameID, GameDate: g.Date, TeamAbbr: teams[gs.team].Tricode, IsHome: side == 0,
				NBAPlayerID: p.NBAID, FullName: p.FullName(), PlayerLookup: p.Lookup(),
				PrintedName: p.FullName(), Jersey: p.Jersey, Starter: row.starter,
				Status: row.status, Reason: row.reason, Category: row.category, InjuryReportStatus: row.injury,
			}
			pt.Dressed = row.line >= 0
			pt.BookLookup, pt.BookResolution = pt.PlayerLookup, ResolvedPrinted
			if k >= len(gs.box) {
				pt.PrintedName, pt.Jersey = s.printedName(m, gs.team, row.player), ""
				switch {
				case pt.Dressed:
					pt.BookResolution = ResolvedBoxScore
				case pt.PrintedName != pt.FullName:
					pt.BookLookup, pt.BookResolution = "", Unresolved
				}
			}
			if row.starter {
				pt.Position = p.Position[:1]
			}
			if row.status == GamebookActive {
				l := gb.b.lines[side][row.line]
				pt.Minutes, pt.FGM, pt.FGA, pt.FG3M, pt.FG3A, pt.FTM, pt.FTA = l.min, l.fgm, l.fga, l.fg3m, l.fg3a, l.ftm, l.fta
				pt.OffReb, pt.DefReb, pt.Rebounds, pt.Assists, pt.Fouls = l.oreb, l.dreb, l.reb(), l.ast, l.pf
				pt.Steals, pt.Turnovers, pt.Blocks, pt.PlusMinus, pt.Points = l.stl, l.tov, l.blk, l.plusMinus, l.pts
			}
			if foldASCII(pt.PrintedName) != pt.PrintedName {
				traps["accents"] = true
			}
			if p.Suffix != "" {
				traps["suffix"] = true
			}
			if row.status == GamebookInactive && row.injury != "" {
				traps["inactive_injured"] = true
			}
			t.Players = append(t.Players, pt)
		}
	}
	for _, name := range []string{"two_pages", "box_split", "wrapped_reason", "overtime", "accents", "suffix", "inactive_injured", "late", GamebookTruncated, GamebookGarbage} {
		if traps[name] {
			t.Traps = append(t.Traps, name)
		}
	}
	return t
}
