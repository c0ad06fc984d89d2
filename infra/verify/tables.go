package verify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/bigquery"

	"github.com/nba-props/pipeline/infra/sourcesim"
)

func (c comparer) schedule(ctx context.Context) (TableReport, error) {
	type row struct {
		GameID    string             `bigquery:"game_id"`
		NBAGameID string             `bigquery:"nba_game_id"`
		GameDate  string             `bigquery:"game_date"`
		Home      string             `bigquery:"home_team_abbr"`
		Away      string             `bigquery:"away_team_abbr"`
		HomeScore bigquery.NullInt64 `bigquery:"home_team_score"`
		AwayScore bigquery.NullInt64 `bigquery:"away_team_score"`
		Start     time.Time          `bigquery:"game_start_utc"`
	}
	rep, err := load(ctx, c, "nba_raw.nbac_schedule", `game_id, nba_game_id, CAST(game_date AS STRING) AS game_date, home_team_abbr,
  away_team_abbr, home_team_score, away_team_score, game_start_utc`, dateFilter,
		func(r row) string { return r.GameID })
	if err != nil {
		return TableReport{}, err
	}
	for _, day := range c.truth {
		for _, g := range day.Games {
			rep.expectNamed("game", g.GameID, func(r row) []string {
				d := diffs("nba_game_id", r.NBAGameID, g.NBAGameID, "game_date", r.GameDate, g.GameDate,
					"home", r.Home, g.HomeTeam, "away", r.Away, g.AwayTeam,
					"home_score", r.HomeScore.Int64, int64(g.HomeScore), "away_score", r.AwayScore.Int64, int64(g.AwayScore))
				if !r.Start.Equal(g.StartUTC) {
					d = append(d, fmt.Sprintf("game_start_utc=%v want %v", r.Start, g.StartUTC))
				}
				return d
			})
		}
	}
	return rep.TableReport, nil
}

type boxRow struct {
	GameID    string               `bigquery:"game_id"`
	Lookup    string               `bigquery:"player_lookup"`
	Team      string               `bigquery:"team_abbr"`
	Opponent  string               `bigquery:"opponent_abbr"`
	IsHome    bool                 `bigquery:"is_home"`
	Minutes   bigquery.NullFloat64 `bigquery:"minutes"`
	Points    bigquery.NullInt64   `bigquery:"points"`
	Assists   bigquery.NullInt64   `bigquery:"assists"`
	Rebounds  bigquery.NullInt64   `bigquery:"rebounds"`
	OReb      bigquery.NullInt64   `bigquery:"offensive_rebounds"`
	DReb      bigquery.NullInt64   `bigquery:"defensive_rebounds"`
	Steals    bigquery.NullInt64   `bigquery:"steals"`
	Blocks    bigquery.NullInt64   `bigquery:"blocks"`
	Turnovers bigquery.NullInt64   `bigquery:"turnovers"`
	FGM       bigquery.NullInt64   `bigquery:"fgm"`
	FGA       bigquery.NullInt64   `bigquery:"fga"`
	FG3M      bigquery.NullInt64   `bigquery:"fg3m"`
	FG3A      bigquery.NullInt64   `bigquery:"fg3a"`
	FTM       bigquery.NullInt64   `bigquery:"ftm"`
	FTA       bigquery.NullInt64   `bigquery:"fta"`
}

const boxColumns = `game_id, player_lookup, team_abbr, opponent_abbr, is_home, minutes, points, assists, rebounds,
  offensive_rebounds, defensive_rebounds, steals, blocks, turnovers, fgm, fga, fg3m, fg3a, ftm, fta`

func boxDiffs(r boxRow, p sourcesim.PlayerTruth) []string {
	return diffs("team", r.Team, p.TeamAbbr, "opponent", r.Opponent, p.OpponentAbbr, "is_home", r.IsHome, p.IsHome,
		"minutes", r.Minutes.Float64, p.Minutes, "points", r.Points.Int64, int64(p.Points),
		"assists", r.Assists.Int64, int64(p.Assists), "rebounds", r.Rebounds.Int64, int64(p.Rebounds),
		"oreb", r.OReb.Int64, int64(p.OffReb), "dreb", r.DReb.Int64, int64(p.DefReb),
		"steals", r.Steals.Int64, int64(p.Steals), "blocks", r.Blocks.Int64, int64(p.Blocks),
		"turnovers", r.Turnovers.Int64, int64(p.Turnovers), "fgm", r.FGM.Int64, int64(p.FGM), "fga", r.FGA.Int64, int64(p.FGA),
		"fg3m", r.FG3M.Int64, int64(p.FG3M), "fg3a", r.FG3A.Int64, int64(p.FG3A),
		"ftm", r.FTM.Int64, int64(p.FTM), "fta", r.FTA.Int64, int64(p.FTA))
}

// boxScores compares a box score table with the truth's players. Rows for players who
// dressed but did not play (0 minutes, no stats) are allowed only when allowDNP is set, and
// then counted against the source's own row count.
func (c comparer) boxScores(ctx context.Context, table string, allowDNP bool) (TableReport, error) {
	rep, err := load(ctx, c, table, boxColumns, dateFilter, func(r boxRow) string { return r.GameID + "/" + r.Lookup })
	if err != nil {
		return TableReport{}, err
	}
	want := map[string]bool{}
	for _, day := range c.truth {
		for _, p := range day.Players {
			key := p.GameID + "/" + p.PlayerLookup
			want[key] = true
			rep.expect(key, func(r boxRow) []string { return boxDiffs(r, p) })
		}
		if allowDNP {
			for _, g := range day.Games {
				played := 0
				for _, p := range day.Players {
					if p.GameID == g.GameID {
						played++
					}
				}
				rep.Expected += g.BDLStatRows - played
			}
		}
	}
	for key, r := range rep.rows {
		if want[key] {
			continue
		}
		if allowDNP && r.Minutes.Float64 == 0 && r.Points.Int64 == 0 {
			rep.Matched++ // a player who dressed and did not play
			continue
		}
		rep.problem("unexpected row %s", key)
	}
	return rep.TableReport, nil
}

func (c comparer) nbacBoxScores(ctx context.Context) (TableReport, error) {
	return c.boxScores(ctx, "nba_raw.nbac_player_boxscores", false)
}

func (c comparer) bdlBoxScores(ctx context.Context) (TableReport, error) {
	return c.boxScores(ctx, "nba_raw.bdl_player_boxscores", true)
}

// props checks every raw odds row against what the simulator says The Odds API served for
// that event at that snapshot, that every event of the dates was scraped, and that every
// event has every snapshot the scraper took of the others.
func (c comparer) props(ctx context.Context) (TableReport, error) {
	type row struct {
		GameID   string             `bigquery:"game_id"`
		EventID  string             `bigquery:"odds_api_event_id"`
		Snapshot time.Time          `bigquery:"snapshot_timestamp"`
		MBT      int64              `bigquery:"minutes_before_tipoff"`
		Book     string             `bigquery:"bookmaker"`
		Lookup   string             `bigquery:"player_lookup"`
		Line     float64            `bigquery:"points_line"`
		Over     bigquery.NullInt64 `bigquery:"over_price_american"`
		Under    bigquery.NullInt64 `bigquery:"under_price_american"`
	}
	rows, err := query[row](ctx, c, `SELECT game_id, odds_api_event_id, snapshot_timestamp, minutes_before_tipoff, bookmaker,
  player_lookup, points_line, over_price_american, under_price_american
FROM nba_raw.odds_api_player_points_props WHERE `+dateFilter)
	if err != nil {
		return TableReport{}, err
	}
	rep := TableReport{Table: "nba_raw.odds_api_player_points_props", Found: len(rows)}
	type snap struct {
		event string
		at    time.Time
	}
	got := map[snap]map[string]row{}
	for _, r := range rows {
		k := snap{r.EventID, r.Snapshot.UTC()}
		if got[k] == nil {
			got[k] = map[string]row{}
		}
		got[k][r.Book+"/"+r.Lookup] = r
	}
	events := map[string]bool{}
	for k := range got {
		events[k.event] = true
	}
	// Every snapshot the scraper took of one game it must have taken of every game: the
	// offsets before tip-off are its configuration, read here off the rows of any game. A
	// snapshot of a game with lines at the source and no row in the table is missing.
	starts := map[string]time.Time{}
	for _, day := range c.truth {
		for _, g := range day.Games {
			starts[g.OddsEventID] = g.StartUTC
		}
	}
	offsets := map[time.Duration]bool{}
	for k := range got {
		if start, ok := starts[k.event]; ok {
			offsets[start.Sub(k.at)] = true
		}
	}
	for _, day := range c.truth {
		if day.Date < sourcesim.PropsStart {
			continue
		}
		for _, g := range day.Games {
			if !events[g.OddsEventID] {
				continue // reported below: no lines at all
			}
			for off := range offsets {
				lines, err := c.sim.PropLines(g.OddsEventID, g.StartUTC.Add(-off))
				if errors.Is(err, sourcesim.ErrNotListed) || len(lines) == 0 {
					continue // the source had nothing then: nothing to store
				}
				if err != nil {
					return TableReport{}, err
				}
				if _, ok := got[snap{g.OddsEventID, lines[0].Snapshot}]; ok {
					continue
				}
				rep.Expected += len(lines)
				rep.problem("event %s (%s) at %s: snapshot missing, %d lines at the source", g.OddsEventID, g.GameID,
					lines[0].Snapshot.Format(time.RFC3339), len(lines))
			}
		}
	}
	for k, byKey := range got {
		lines, err := c.sim.PropLines(k.event, k.at)
		if err != nil {
			rep.problem("event %s at %s: %v", k.event, k.at.Format(time.RFC3339), err)
			continue
		}
		for _, l := range lines {
			rep.Expected++
			r, ok := byKey[l.Bookmaker+"/"+l.PlayerLookup]
			if !ok {
				rep.problem("event %s at %s: %s %s missing", k.event, k.at.Format(time.RFC3339), l.Bookmaker, l.PlayerLookup)
				continue
			}
			if d := diffs("game_id", r.GameID, l.GameID, "minutes_before_tipoff", r.MBT, int64(l.MinutesBeforeTipoff),
				"points_line", r.Line, l.Point, "over", r.Over.Int64, int64(l.OverPrice), "under", r.Under.Int64, int64(l.UnderPrice)); len(d) > 0 {
				rep.problem("event %s %s %s: %s", k.event, l.Bookmaker, l.PlayerLookup, strings.Join(d, ", "))
				continue
			}
			if r.MBT < 0 {
				rep.problem("event %s %s: a snapshot after tip-off (%d min) was kept", k.event, l.Bookmaker, r.MBT)
				continue
			}
			rep.Matched++
		}
	}
	for _, day := range c.truth {
		for _, g := range day.Games {
			if day.Date >= sourcesim.PropsStart && !events[g.OddsEventID] {
				rep.problem("no lines at all for event %s (%s)", g.OddsEventID, g.GameID)
			}
		}
	}
	return rep, nil
}

func (c comparer) registry(ctx context.Context) (TableReport, error) {
	type row struct {
		Lookup string `bigquery:"player_lookup"`
		First  string `bigquery:"first_game_date"`
		Last   string `bigquery:"last_game_date"`
	}
	rep, err := load(ctx, c, "nba_reference.player_registry", `player_lookup, CAST(first_game_date AS STRING) AS first_game_date,
  CAST(last_game_date AS STRING) AS last_game_date`, "last_game_date >= CAST(@from AS DATE) AND first_game_date <= CAST(@to AS DATE)",
		func(r row) string { return r.Lookup })
	if err != nil {
		return TableReport{}, err
	}
	first, last := map[string]string{}, map[string]string{}
	for _, day := range c.truth {
		for _, p := range day.Players {
			if first[p.PlayerLookup] == "" {
				first[p.PlayerLookup] = p.GameDate
			}
			last[p.PlayerLookup] = p.GameDate
		}
	}
	for lookup := range first {
		rep.expectNamed("player", lookup, func(r row) []string {
			// A registry built from a wider backfill may know earlier or later games.
			if r.First > first[lookup] || r.Last < last[lookup] {
				return []string{fmt.Sprintf("seen %s..%s, want at least %s..%s", r.First, r.Last, first[lookup], last[lookup])}
			}
			return nil
		})
	}
	for lookup := range rep.rows {
		if first[lookup] == "" {
			rep.Expected++ // known from dates outside the range, or a dressed-only player: not an error
			rep.Matched++
		}
	}
	return rep.TableReport, nil
}

func (c comparer) teamOffense(ctx context.Context) (TableReport, error) {
	type row struct {
		GameID   string             `bigquery:"game_id"`
		Team     string             `bigquery:"team_abbr"`
		Opponent string             `bigquery:"opponent_abbr"`
		IsHome   bool               `bigquery:"is_home"`
		Points   bigquery.NullInt64 `bigquery:"points"`
		Opp      bigquery.NullInt64 `bigquery:"opponent_points"`
		FGA      bigquery.NullInt64 `bigquery:"fga"`
		FG3M     bigquery.NullInt64 `bigquery:"fg3m"`
		Assists  bigquery.NullInt64 `bigquery:"assists"`
		Win      bool               `bigquery:"win"`
		Margin   bigquery.NullInt64 `bigquery:"margin"`
	}
	rep, err := load(ctx, c, "nba_analytics.team_offense_game_summary", `game_id, team_abbr, opponent_abbr, is_home, points, opponent_points, fga, fg3m,
  assists, win, margin`, dateFilter, func(r row) string { return r.GameID + "/" + r.Team })
	if err != nil {
		return TableReport{}, err
	}
	for _, day := range c.truth {
		for _, t := range day.Teams {
			rep.expect(t.GameID+"/"+t.TeamAbbr, func(r row) []string {
				return diffs("opponent", r.Opponent, t.OpponentAbbr, "is_home", r.IsHome, t.IsHome,
					"points", r.Points.Int64, int64(t.Points), "opponent_points", r.Opp.Int64, int64(t.OppPoints),
					"fga", r.FGA.Int64, int64(t.FGA), "fg3m", r.FG3M.Int64, int64(t.FG3M), "assists", r.Assists.Int64, int64(t.Assists),
					"win", r.Win, t.Win, "margin", r.Margin.Int64, int64(t.Margin))
			})
		}
	}
	return rep.TableReport, nil
}

func (c comparer) playerSummary(ctx context.Context) (TableReport, error) {
	type row struct {
		GameID   string               `bigquery:"game_id"`
		Lookup   string               `bigquery:"player_lookup"`
		Team     bigquery.NullString  `bigquery:"team_abbr"`
		Opponent bigquery.NullString  `bigquery:"opponent_abbr"`
		Minutes  bigquery.NullFloat64 `bigquery:"minutes"`
		Points   bigquery.NullInt64   `bigquery:"points"`
		Line     bigquery.NullFloat64 `bigquery:"points_line"`
		Books    bigquery.NullInt64   `bigquery:"bookmaker_count"`
		Result   bigquery.NullString  `bigquery:"over_under_result"`
		Margin   bigquery.NullFloat64 `bigquery:"line_margin"`
		Status   bigquery.NullString  `bigquery:"availability_status"`
		Reason   bigquery.NullString  `bigquery:"availability_reason"`
		Category bigquery.NullString  `bigquery:"availability_category"`
		Void     bool                 `bigquery:"line_void"`
	}
	rep, err := load(ctx, c, "nba_analytics.player_game_summary", `game_id, player_lookup, team_abbr, opponent_abbr, minutes, points, points_line,
  bookmaker_count, over_under_result, line_margin, availability_status, availability_reason, availability_category, line_void`,
		dateFilter, func(r row) string { return r.GameID + "/" + r.Lookup })
	if err != nil {
		return TableReport{}, err
	}
	for _, day := range c.truth {
		for _, p := range day.Players {
			rep.expect(p.GameID+"/"+p.PlayerLookup, func(r row) []string {
				d := diffs("points", r.Points.Int64, int64(p.Points), "over_under_result", r.Result.StringVal, p.OverUnder,
					"availability_status", r.Status.StringVal, p.Availability, "availability_reason", r.Reason.StringVal, "",
					"line_void", r.Void, false)
				switch {
				case p.PointsLine == nil && r.Line.Valid:
					d = append(d, fmt.Sprintf("points_line=%v want NULL", r.Line.Float64))
				case p.PointsLine != nil && (!r.Line.Valid || !near(r.Line.Float64, *p.PointsLine)):
					d = append(d, fmt.Sprintf("points_line=%v want %v", r.Line, *p.PointsLine))
				case p.LineMargin != nil && (!r.Margin.Valid || !near(r.Margin.Float64, *p.LineMargin)):
					d = append(d, fmt.Sprintf("line_margin=%v want %v", r.Margin, *p.LineMargin))
				}
				return d
			})
		}
		// A player with a closing line who did not play: the line void, why from the book.
		for _, v := range day.VoidLines {
			rep.expectNamed("void line", v.GameID+"/"+v.PlayerLookup, func(r row) []string {
				d := diffs("line_void", r.Void, true, "team_abbr", r.Team.StringVal, v.TeamAbbr, "opponent_abbr", r.Opponent.StringVal, v.OpponentAbbr,
					"availability_status", r.Status.StringVal, v.Status, "availability_reason", r.Reason.StringVal, v.Reason,
					"availability_category", r.Category.StringVal, v.Category, "bookmaker_count", r.Books.Int64, int64(v.Bookmakers),
					"points_line", r.Line.Float64, v.PointsLine)
				if r.Minutes.Valid || r.Points.Valid || r.Result.Valid || r.Margin.Valid {
					d = append(d, fmt.Sprintf("minutes=%v points=%v over_under_result=%v line_margin=%v want NULL", r.Minutes, r.Points, r.Result, r.Margin))
				}
				return d
			})
		}
	}
	return rep.TableReport, nil
}

// gamebooks checks every row of the raw game book table against what the simulator's books
// say. A date whose published books do not all read loads none of them.
func (c comparer) gamebooks(ctx context.Context) (TableReport, error) {
	type row struct {
		GameID     string               `bigquery:"game_id"`
		Team       string               `bigquery:"team_abbr"`
		Printed    string               `bigquery:"printed_name"`
		IsHome     bool                 `bigquery:"is_home"`
		Status     string               `bigquery:"status"`
		Reason     bigquery.NullString  `bigquery:"reason"`
		Category   bigquery.NullString  `bigquery:"reason_category"`
		Starter    bool                 `bigquery:"starter"`
		Lookup     bigquery.NullString  `bigquery:"player_lookup"`
		Resolution string               `bigquery:"name_resolution"`
		Minutes    bigquery.NullFloat64 `bigquery:"minutes"`
		Points     bigquery.NullInt64   `bigquery:"points"`
		FGA        bigquery.NullInt64   `bigquery:"fga"`
		FG3M       bigquery.NullInt64   `bigquery:"fg3m"`
		Rebounds   bigquery.NullInt64   `bigquery:"rebounds"`
		Assists    bigquery.NullInt64   `bigquery:"assists"`
		PlusMinus  bigquery.NullInt64   `bigquery:"plus_minus"`
	}
	rep, err := load(ctx, c, "nba_raw.nbac_gamebook_player_stats", `game_id, team_abbr, printed_name, is_home, status, reason, reason_category, starter,
  player_lookup, name_resolution, minutes, points, fga, fg3m, rebounds, assists, plus_minus`,
		dateFilter, func(r row) string { return r.GameID + "/" + r.Team + "/" + r.Printed })
	if err != nil {
		return TableReport{}, err
	}
	for _, day := range c.truth {
		books, err := c.sim.Gamebooks(day.Date)
		if err != nil {
			return TableReport{}, fmt.Errorf("verify: game books of %s: %w", day.Date, err)
		}
		if slices.ContainsFunc(books, func(b sourcesim.GamebookTruth) bool { return b.Available && b.Corrupt != "" }) {
			continue // a broken book keeps the date out
		}
		for _, b := range books {
			if !b.Available {
				continue
			}
			for _, p := range b.Players {
				rep.expect(p.GameID+"/"+p.TeamAbbr+"/"+p.PrintedName, func(r row) []string {
					d := diffs("is_home", r.IsHome, p.IsHome, "status", r.Status, p.Status, "reason", r.Reason.StringVal, p.Reason,
						"reason_category", r.Category.StringVal, p.Category, "starter", r.Starter, p.Starter,
						"player_lookup", r.Lookup.StringVal, p.BookLookup, "name_resolution", r.Resolution, p.BookResolution,
						"minutes", r.Minutes.Float64, float64(p.Minutes), "points", r.Points.Int64, int64(p.Points), "fga", r.FGA.Int64, int64(p.FGA),
						"fg3m", r.FG3M.Int64, int64(p.FG3M), "rebounds", r.Rebounds.Int64, int64(p.Rebounds),
						"assists", r.Assists.Int64, int64(p.Assists), "plus_minus", r.PlusMinus.Int64, int64(p.PlusMinus))
					if active := p.Status == sourcesim.GamebookActive; r.Points.Valid != active || r.Minutes.Valid != active {
						d = append(d, fmt.Sprintf("stat line present %v for status %s", r.Points.Valid, p.Status))
					}
					return d
				})
			}
		}
	}
	return rep.TableReport, nil
}

// gamebookRegistry checks the registry against the simulator's: a row per game of the range
// (parsed or missing) and per name of every book read, resolved where the range can tell.
func (c comparer) gamebookRegistry(ctx context.Context) (TableReport, error) {
	type row struct {
		GameDate   string              `bigquery:"game_date"`
		GameID     string              `bigquery:"game_id"`
		Entry      string              `bigquery:"entry"`
		Gamebook   string              `bigquery:"gamebook"`
		Status     bigquery.NullString `bigquery:"status"`
		Lookup     bigquery.NullString `bigquery:"player_lookup"`
		Resolution bigquery.NullString `bigquery:"resolution"`
	}
	rep, err := load(ctx, c, "nba_reference.gamebook_registry", `CAST(game_date AS STRING) AS game_date, game_id, entry, gamebook, status,
  player_lookup, resolution`, dateFilter, func(r row) string { return r.GameDate + "/" + r.GameID + "/" + r.Entry })
	if err != nil {
		return TableReport{}, err
	}
	truth, err := c.sim.GamebookRegistry(c.loadedFrom, c.loadedTo)
	if err != nil {
		return TableReport{}, fmt.Errorf("verify: game book registry: %w", err)
	}
	for _, w := range truth {
		if w.GameDate < c.from || w.GameDate > c.to {
			continue
		}
		entry := "game"
		if w.TeamAbbr != "" {
			entry = w.TeamAbbr + "/" + w.PrintedName
		}
		rep.expect(w.GameDate+"/"+w.GameID+"/"+entry, func(r row) []string {
			return diffs("gamebook", r.Gamebook, w.Gamebook, "status", r.Status.StringVal, w.Status, "player_lookup", r.Lookup.StringVal, w.PlayerLookup,
				"resolution", r.Resolution.StringVal, w.Resolution)
		})
	}
	return rep.TableReport, nil
}

func (c comparer) teamDefense(ctx context.Context) (TableReport, error) {
	type row struct {
		GameID   string               `bigquery:"game_id"`
		Team     string               `bigquery:"team_abbr"`
		Opponent string               `bigquery:"opponent_abbr"`
		IsHome   bool                 `bigquery:"is_home"`
		Points   bigquery.NullInt64   `bigquery:"opponent_points"`
		FGM      bigquery.NullInt64   `bigquery:"opponent_fgm"`
		FGA      bigquery.NullInt64   `bigquery:"opponent_fga"`
		FG3M     bigquery.NullInt64   `bigquery:"opponent_fg3m"`
		FG3A     bigquery.NullInt64   `bigquery:"opponent_fg3a"`
		FTM      bigquery.NullInt64   `bigquery:"opponent_ftm"`
		FTA      bigquery.NullInt64   `bigquery:"opponent_fta"`
		OReb     bigquery.NullInt64   `bigquery:"opponent_offensive_rebounds"`
		Rebounds bigquery.NullInt64   `bigquery:"opponent_rebounds"`
		DReb     bigquery.NullInt64   `bigquery:"defensive_rebounds"`
		Forced   bigquery.NullInt64   `bigquery:"turnovers_forced"`
		Steals   bigquery.NullInt64   `bigquery:"steals"`
		Blocks   bigquery.NullInt64   `bigquery:"blocks"`
		Poss     bigquery.NullFloat64 `bigquery:"opponent_possessions"`
		Pace     bigquery.NullFloat64 `bigquery:"pace"`
		Rating   bigquery.NullFloat64 `bigquery:"defensive_rating"`
	}
	rep, err := load(ctx, c, "nba_analytics.team_defense_game_summary", `game_id, team_abbr, opponent_abbr, is_home, opponent_points, opponent_fgm, opponent_fga,
  opponent_fg3m, opponent_fg3a, opponent_ftm, opponent_fta, opponent_offensive_rebounds, opponent_rebounds, defensive_rebounds,
  turnovers_forced, steals, blocks, opponent_possessions, pace, defensive_rating`, dateFilter,
		func(r row) string { return r.GameID + "/" + r.Team })
	if err != nil {
		return TableReport{}, err
	}
	for _, day := range c.truth {
		for _, t := range day.Defense {
			rep.expect(t.GameID+"/"+t.TeamAbbr, func(r row) []string {
				return diffs("opponent", r.Opponent, t.OpponentAbbr, "is_home", r.IsHome, t.IsHome,
					"opponent_points", r.Points.Int64, int64(t.OppPoints), "opponent_fgm", r.FGM.Int64, int64(t.OppFGM),
					"opponent_fga", r.FGA.Int64, int64(t.OppFGA), "opponent_fg3m", r.FG3M.Int64, int64(t.OppFG3M),
					"opponent_fg3a", r.FG3A.Int64, int64(t.OppFG3A), "opponent_ftm", r.FTM.Int64, int64(t.OppFTM),
					"opponent_fta", r.FTA.Int64, int64(t.OppFTA), "opponent_offensive_rebounds", r.OReb.Int64, int64(t.OppOffReb),
					"opponent_rebounds", r.Rebounds.Int64, int64(t.OppRebounds), "defensive_rebounds", r.DReb.Int64, int64(t.DefReb),
					"turnovers_forced", r.Forced.Int64, int64(t.TurnoversForced), "steals", r.Steals.Int64, int64(t.Steals),
					"blocks", r.Blocks.Int64, int64(t.Blocks), "opponent_possessions", r.Poss.Float64, t.OppPossessions,
					"pace", r.Pace.Float64, t.Pace, "defensive_rating", r.Rating.Float64, t.DefensiveRating)
			})
		}
	}
	return rep.TableReport, nil
}
