package sourcesim

import (
	"fmt"
	"math"
	"net/http"
	"sort"
	"time"
)

// stats.nba.com leaguegamelog shapes: rows are arrays read by header position.

var leagueLogHeaders = []string{
	"SEASON_ID", "PLAYER_ID", "PLAYER_NAME", "TEAM_ID", "TEAM_ABBREVIATION", "TEAM_NAME", "GAME_ID",
	"GAME_DATE", "MATCHUP", "WL", "MIN", "FGM", "FGA", "FG_PCT", "FG3M", "FG3A", "FG3_PCT", "FTM", "FTA",
	"FT_PCT", "OREB", "DREB", "REB", "AST", "STL", "BLK", "TOV", "PF", "PTS", "PLUS_MINUS", "FANTASY_PTS",
	"VIDEO_AVAILABLE",
}

type statsResultSet struct {
	Name    string   `json:"name"`
	Headers []string `json:"headers"`
	RowSet  [][]any  `json:"rowSet"`
}

type statsResponse struct {
	Resource   string           `json:"resource"`
	Parameters map[string]any   `json:"parameters"`
	ResultSets []statsResultSet `json:"resultSets"`
}

// statsDate is stats.nba.com's MM/DD/YYYY.
const statsDate = "01/02/2006"

func leagueLogDates(r *http.Request) []string {
	q := r.URL.Query()
	from, err1 := time.Parse(statsDate, q.Get("DateFrom"))
	to, err2 := time.Parse(statsDate, q.Get("DateTo"))
	if err1 != nil || err2 != nil || to.Before(from) || to.Sub(from) > 400*24*time.Hour {
		if err1 == nil {
			return []string{from.Format(dateLayout)}
		}
		return nil
	}
	var out []string
	for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
		out = append(out, d.Format(dateLayout))
	}
	return out
}

func statsError(msg string) response {
	return textResponse(http.StatusBadRequest, msg)
}

func (s *Sim) leagueGameLog(r *http.Request, mode serveMode) response {
	q := r.URL.Query()
	if q.Get("PlayerOrTeam") != "P" {
		return statsError("PlayerOrTeam is required: the simulator serves PlayerOrTeam=P")
	}
	seasonParam := q.Get("Season")
	season, err := parseSeason(seasonParam)
	if err != nil || seasonParam != seasonLabel(season) {
		return statsError("The Season property is required and must be of the form 2024-25.")
	}
	seasonType := q.Get("SeasonType")
	if seasonType == "" {
		return statsError("The SeasonType property is required: Regular Season, Playoffs, Pre Season, All Star.")
	}
	var from, to time.Time
	if v := q.Get("DateFrom"); v != "" {
		if from, err = time.Parse(statsDate, v); err != nil {
			return statsError(fmt.Sprintf("DateFrom %q: want MM/DD/YYYY", v))
		}
	}
	if v := q.Get("DateTo"); v != "" {
		if to, err = time.Parse(statsDate, v); err != nil {
			return statsError(fmt.Sprintf("DateTo %q: want MM/DD/YYYY", v))
		}
	}
	m, err := s.season(season)
	if err != nil {
		return statsError(err.Error())
	}
	params := map[string]any{
		"LeagueID": "00", "Season": seasonParam, "SeasonType": seasonType, "PlayerOrTeam": "P",
		"Counter": 1000, "Sorter": "DATE", "Direction": "DESC",
		"DateFrom": nullable(q.Get("DateFrom")), "DateTo": nullable(q.Get("DateTo")),
	}
	rows := [][]any{}
	now := s.now()
	if !mode.empty && seasonType == "Regular Season" {
		for gi, g := range m.games {
			d, _ := time.Parse(dateLayout, g.Date)
			if !from.IsZero() && d.Before(from) || !to.IsZero() && d.After(to) || mode.skip(g) {
				continue
			}
			b := s.box(m, gi)
			if s.gameState(g, b, now) != 3 {
				continue
			}
			for side := range 2 {
				t, o := g.home, g.away
				matchup := teams[t].Tricode + " vs. " + teams[o].Tricode
				if side == 1 {
					t, o = o, t
					matchup = teams[t].Tricode + " @ " + teams[o].Tricode
				}
				wl := "L"
				if b.pts[side] > b.pts[1-side] {
					wl = "W"
				}
				for _, l := range b.lines[side] {
					if l.min == 0 {
						continue
					}
					p := s.pool[l.player]
					fantasy := float64(l.pts) + 1.2*float64(l.reb()) + 1.5*float64(l.ast) + 3*float64(l.stl) + 3*float64(l.blk) - float64(l.tov)
					rows = append(rows, []any{
						fmt.Sprintf("2%d", season), p.NBAID, p.FullName(), teams[t].NBAID, teams[t].Tricode, teams[t].FullName,
						g.NBAGameID, g.Date, matchup, wl, l.min,
						l.fgm, l.fga, statsPct(l.fgm, l.fga), l.fg3m, l.fg3a, statsPct(l.fg3m, l.fg3a),
						l.ftm, l.fta, statsPct(l.ftm, l.fta), l.oreb, l.dreb, l.reb(), l.ast, l.stl, l.blk,
						l.tov, l.pf, l.pts, l.plusMinus, math.Round(fantasy*10) / 10, 1,
					})
				}
			}
		}
	}
	// DESC by date as the real endpoint sorts; stable on game id and player id within a date.
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i][7].(string) != rows[j][7].(string) {
			return rows[i][7].(string) > rows[j][7].(string)
		}
		if rows[i][6].(string) != rows[j][6].(string) {
			return rows[i][6].(string) < rows[j][6].(string)
		}
		return rows[i][1].(int) < rows[j][1].(int)
	})
	return jsonResponse(http.StatusOK, statsResponse{
		Resource:   "leaguegamelog",
		Parameters: params,
		ResultSets: []statsResultSet{{Name: "LeagueGameLog", Headers: leagueLogHeaders, RowSet: rows}},
	})
}

// statsPct is a percentage rounded to three decimals; null without attempts, as stats.nba.com
// prints it.
func statsPct(made, att int) any {
	if att == 0 {
		return nil
	}
	return math.Round(float64(made)/float64(att)*1000) / 1000
}

func nullable(v string) any {
	if v == "" {
		return nil
	}
	return v
}
