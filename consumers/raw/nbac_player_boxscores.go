package raw

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/nba-props/pipeline/consumers/nba"
	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/messages"
)

// nbacPlayerBoxscores loads stats.nba.com leaguegamelog rows (one per player and game) into
// nba_raw.nbac_player_boxscores. Rows are arrays read by header position.
type nbacPlayerBoxscores struct{ l *loader }

type statsResponse struct {
	ResultSets []struct {
		Name    string            `json:"name"`
		Headers []string          `json:"headers"`
		RowSet  []json.RawMessage `json:"rowSet"`
	} `json:"resultSets"`
}

// leagueLogColumns are the headers the job needs.
var leagueLogColumns = []string{
	"SEASON_ID", "PLAYER_ID", "PLAYER_NAME", "TEAM_ABBREVIATION", "GAME_ID", "GAME_DATE", "MATCHUP", "MIN",
	"FGM", "FGA", "FG3M", "FG3A", "FTM", "FTA", "OREB", "DREB", "REB", "AST", "STL", "BLK", "TOV", "PF", "PTS", "PLUS_MINUS",
}

func (j *nbacPlayerBoxscores) Run(ctx context.Context, req messages.Request) (runner.Result, error) {
	groups, err := j.l.listAndRead(ctx, messages.ScrapedNBACPlayerBoxscores.Prefix(req.Date))
	if err != nil {
		return runner.Result{}, err
	}
	now := processedAt()
	var rows []any
	seen := map[string]bool{}
	for _, o := range groups[0] {
		parsed, err := parseLeagueGameLog(o, req.Date)
		if err != nil {
			return runner.Result{}, err
		}
		for _, r := range parsed {
			if seen[r.key()] {
				return runner.Result{}, badRecord(o, "player "+r.PlayerFullName, fmt.Errorf("second row for %s in game %s", r.PlayerLookup, r.GameID))
			}
			seen[r.key()] = true
			r.ProcessedAt = now
			rows = append(rows, r)
		}
	}
	if len(rows) == 0 {
		if err := j.l.checkNoFinalGames(ctx, req.Date, groups[0]); err != nil {
			return runner.Result{}, err
		}
	}
	return j.l.load(ctx, req, "nbac_player_boxscores", fingerprint("nbac_player_boxscores", req.Date, groups...), rows)
}

// checkNoFinalGames fails with ErrEmptyInput when objects exist for the date but held no
// rows while the scraped schedule of the date lists final games.
func (l *loader) checkNoFinalGames(ctx context.Context, date string, objs []object) error {
	if len(objs) == 0 {
		return nil
	}
	sched, err := l.listAndRead(ctx, messages.ScrapedNBACSchedule.Prefix(date))
	if err != nil {
		return err
	}
	final := 0
	for _, o := range sched[0] {
		games, err := parseSchedule(o, date)
		if err != nil {
			return fmt.Errorf("checking an empty input against the schedule: %w", err)
		}
		for _, g := range games {
			if g.GameStatus == 3 {
				final++
			}
		}
	}
	if final > 0 {
		return runner.Permanent(fmt.Errorf("%w: %d objects under gs://%s/%s hold no rows but the schedule has %d final games on %s; re-scrape the date",
			ErrEmptyInput, len(objs), objs[0].Bucket, objs[0].Name[:strings.LastIndex(objs[0].Name, "/")+1], final, date))
	}
	return nil
}

// parseLeagueGameLog reads the LeagueGameLog result set of one object.
func parseLeagueGameLog(o object, date string) ([]boxScoreRow, error) {
	var doc statsResponse
	if err := json.Unmarshal(o.Body, &doc); err != nil {
		return nil, badRecord(o, jsonPosition(err), err)
	}
	var out []boxScoreRow
	found := false
	for si, rs := range doc.ResultSets {
		if rs.Name != "LeagueGameLog" {
			continue
		}
		found = true
		col := map[string]int{}
		for i, h := range rs.Headers {
			col[h] = i
		}
		for _, h := range leagueLogColumns {
			if _, ok := col[h]; !ok {
				return nil, badRecord(o, fmt.Sprintf("resultSets[%d].headers", si), fmt.Errorf("column %s missing", h))
			}
		}
		for ri, raw := range rs.RowSet {
			pos := fmt.Sprintf("resultSets[%d].rowSet[%d]", si, ri)
			var cells []any
			dec := json.NewDecoder(strings.NewReader(string(raw)))
			dec.UseNumber()
			if err := dec.Decode(&cells); err != nil {
				return nil, badRecord(o, pos, err)
			}
			if len(cells) != len(rs.Headers) {
				return nil, badRecord(o, pos, fmt.Errorf("%d cells for %d headers", len(cells), len(rs.Headers)))
			}
			r, err := leagueLogRow(cells, col, o)
			if err != nil {
				return nil, badRecord(o, pos, err)
			}
			if r.GameDate != date {
				return nil, badRecord(o, pos, fmt.Errorf("game date %s in the object of %s", r.GameDate, date))
			}
			out = append(out, r)
		}
	}
	if !found {
		return nil, badRecord(o, "resultSets", fmt.Errorf("no LeagueGameLog result set"))
	}
	return out, nil
}

func leagueLogRow(cells []any, col map[string]int, o object) (boxScoreRow, error) {
	cell := func(h string) any { return cells[col[h]] }
	str := func(h string) (string, error) {
		s, ok := cell(h).(string)
		if !ok || strings.TrimSpace(s) == "" {
			return "", fmt.Errorf("%s %v: want a non-empty string", h, cell(h))
		}
		return strings.TrimSpace(s), nil
	}
	var firstErr error
	num := func(h string) *int64 {
		v, err := intCell(cell(h))
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("%s: %w", h, err)
		}
		return v
	}
	name, err := str("PLAYER_NAME")
	if err != nil {
		return boxScoreRow{}, err
	}
	team, err := str("TEAM_ABBREVIATION")
	if err != nil {
		return boxScoreRow{}, err
	}
	if team, err = nba.Team(team); err != nil {
		return boxScoreRow{}, err
	}
	matchup, err := str("MATCHUP")
	if err != nil {
		return boxScoreRow{}, err
	}
	t, opp, home, err := parseMatchup(matchup)
	if err != nil {
		return boxScoreRow{}, err
	}
	if t != team {
		return boxScoreRow{}, fmt.Errorf("MATCHUP %q is not a game of TEAM_ABBREVIATION %s", matchup, team)
	}
	gd, err := str("GAME_DATE")
	if err != nil {
		return boxScoreRow{}, err
	}
	date, err := statsDate(gd)
	if err != nil {
		return boxScoreRow{}, err
	}
	away, hm := team, opp
	if home {
		away, hm = opp, team
	}
	id, err := nba.GameID(date, away, hm)
	if err != nil {
		return boxScoreRow{}, err
	}
	sid, err := str("SEASON_ID")
	if err != nil {
		if n, ok := cell("SEASON_ID").(json.Number); ok {
			sid, err = n.String(), nil
		} else {
			return boxScoreRow{}, err
		}
	}
	season, err := seasonFromID(sid)
	if err != nil {
		return boxScoreRow{}, err
	}
	pid := num("PLAYER_ID")
	if pid == nil {
		return boxScoreRow{}, fmt.Errorf("PLAYER_ID missing")
	}
	var minv any = cell("MIN")
	if n, ok := minv.(json.Number); ok {
		f, err := n.Float64()
		if err != nil {
			return boxScoreRow{}, fmt.Errorf("MIN %v: %w", n, err)
		}
		minv = f
	}
	mins, err := nba.Minutes(minv)
	if err != nil {
		return boxScoreRow{}, err
	}
	r := boxScoreRow{
		GameID: id, GameDate: date, SeasonYear: season, TeamAbbr: team, OpponentAbbr: opp, IsHome: home,
		PlayerFullName: name, PlayerLookup: nba.PlayerLookup(name), SourcePlayerID: *pid, Minutes: mins,
		Points: num("PTS"), Assists: num("AST"), Rebounds: num("REB"), OffReb: num("OREB"), DefReb: num("DREB"),
		Steals: num("STL"), Blocks: num("BLK"), Turnovers: num("TOV"), Fouls: num("PF"),
		FGM: num("FGM"), FGA: num("FGA"), FG3M: num("FG3M"), FG3A: num("FG3A"), FTM: num("FTM"), FTA: num("FTA"),
		PlusMinus: num("PLUS_MINUS"), SourceFile: o.URI(),
	}
	if firstErr != nil {
		return boxScoreRow{}, firstErr
	}
	if r.PlayerLookup == "" {
		return boxScoreRow{}, fmt.Errorf("PLAYER_NAME %q has no letters or digits", name)
	}
	return r, nil
}

// intCell reads an integer cell: a JSON number without a fraction, or null.
func intCell(v any) (*int64, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return &n, nil
		}
		f, err := x.Float64()
		if err == nil && f == math.Trunc(f) && math.Abs(f) < 1e15 {
			n := int64(f)
			return &n, nil
		}
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			n := int64(x)
			return &n, nil
		}
	case int:
		n := int64(x)
		return &n, nil
	case int64:
		return &x, nil
	}
	return nil, fmt.Errorf("%v: want an integer", v)
}

// parseMatchup reads "GSW vs. NYK" (GSW at home) or "GSW @ NYK" (GSW away).
func parseMatchup(m string) (team, opp string, home bool, err error) {
	var a, b string
	switch {
	case strings.Contains(m, " vs. "):
		a, b, _ = strings.Cut(m, " vs. ")
		home = true
	case strings.Contains(m, " @ "):
		a, b, _ = strings.Cut(m, " @ ")
	default:
		return "", "", false, fmt.Errorf("MATCHUP %q: want \"TEAM vs. OPP\" or \"TEAM @ OPP\"", m)
	}
	if team, err = nba.Team(a); err != nil {
		return "", "", false, fmt.Errorf("MATCHUP %q: %w", m, err)
	}
	if opp, err = nba.Team(b); err != nil {
		return "", "", false, fmt.Errorf("MATCHUP %q: %w", m, err)
	}
	return team, opp, home, nil
}

// statsDate reads stats.nba.com's GAME_DATE forms: "2024-10-22", "2024-10-22T00:00:00",
// "OCT 22, 2024" (month names match in any case).
func statsDate(s string) (string, error) {
	for _, layout := range []string{"2006-01-02", "2006-01-02T15:04:05", "Jan 02, 2006", "01/02/2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.Format(nba.DateLayout), nil
		}
	}
	return "", fmt.Errorf("GAME_DATE %q: want YYYY-MM-DD", s)
}

// seasonFromID reads stats.nba.com's SEASON_ID "22024": a season-type digit and the year.
func seasonFromID(s string) (int, error) {
	if len(s) != 5 {
		return 0, fmt.Errorf("SEASON_ID %q: want a type digit and a year, e.g. 22024", s)
	}
	return seasonFromLabel(s[1:])
}
