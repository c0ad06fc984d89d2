package sourcesim

import (
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"time"
)

// Ball Don't Lie v1 shapes.

type bdlTeam struct {
	ID           int    `json:"id"`
	Conference   string `json:"conference"`
	Division     string `json:"division"`
	City         string `json:"city"`
	Name         string `json:"name"`
	FullName     string `json:"full_name"`
	Abbreviation string `json:"abbreviation"`
}

type bdlGame struct {
	ID               int      `json:"id"`
	Date             string   `json:"date"`
	Season           int      `json:"season"`
	Status           string   `json:"status"`
	Period           int      `json:"period"`
	Time             *string  `json:"time"`
	Postseason       bool     `json:"postseason"`
	HomeTeamScore    int      `json:"home_team_score"`
	VisitorTeamScore int      `json:"visitor_team_score"`
	Datetime         string   `json:"datetime"`
	HomeTeam         *bdlTeam `json:"home_team,omitempty"`
	VisitorTeam      *bdlTeam `json:"visitor_team,omitempty"`
	HomeTeamID       *int     `json:"home_team_id,omitempty"`
	VisitorTeamID    *int     `json:"visitor_team_id,omitempty"`
}

type bdlPlayer struct {
	ID           int    `json:"id"`
	FirstName    string `json:"first_name"`
	LastName     string `json:"last_name"`
	Position     string `json:"position"`
	Height       string `json:"height"`
	Weight       string `json:"weight"`
	JerseyNumber string `json:"jersey_number"`
	College      string `json:"college"`
	Country      string `json:"country"`
	DraftYear    *int   `json:"draft_year"`
	DraftRound   *int   `json:"draft_round"`
	DraftNumber  *int   `json:"draft_number"`
	TeamID       *int   `json:"team_id"`
}

type bdlStat struct {
	ID       int       `json:"id"`
	Min      string    `json:"min"`
	FGM      int       `json:"fgm"`
	FGA      int       `json:"fga"`
	FGPct    float64   `json:"fg_pct"`
	FG3M     int       `json:"fg3m"`
	FG3A     int       `json:"fg3a"`
	FG3Pct   float64   `json:"fg3_pct"`
	FTM      int       `json:"ftm"`
	FTA      int       `json:"fta"`
	FTPct    float64   `json:"ft_pct"`
	OReb     int       `json:"oreb"`
	DReb     int       `json:"dreb"`
	Reb      int       `json:"reb"`
	Ast      int       `json:"ast"`
	Stl      int       `json:"stl"`
	Blk      int       `json:"blk"`
	Turnover int       `json:"turnover"`
	PF       int       `json:"pf"`
	Pts      int       `json:"pts"`
	Player   bdlPlayer `json:"player"`
	Team     bdlTeam   `json:"team"`
	Game     bdlGame   `json:"game"`
}

type bdlInjury struct {
	Player      bdlPlayer `json:"player"`
	ReturnDate  string    `json:"return_date"`
	Description string    `json:"description"`
	Status      string    `json:"status"`
}

type bdlMeta struct {
	NextCursor *int `json:"next_cursor,omitempty"`
	PerPage    int  `json:"per_page"`
}

type bdlPage[T any] struct {
	Data []T     `json:"data"`
	Meta bdlMeta `json:"meta"`
}

func bdlDates(r *http.Request) []string {
	q := r.URL.Query()
	return append(q["dates[]"], q["dates"]...)
}

func toBDLTeam(t Team) bdlTeam {
	return bdlTeam{ID: t.BDLID, Conference: t.Conference, Division: t.Division, City: t.City, Name: t.Name, FullName: t.FullName, Abbreviation: t.Tricode}
}

// bdlDatetime is BDL's UTC tip-off: "2024-10-22T23:30:00.000Z".
func bdlDatetime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// bdlGameOf renders a game as of now: final with scores, in progress with partial scores,
// or scheduled (status is the tip-off instant, as BDL prints it).
func (s *Sim) bdlGameOf(g Game, b *boxScore, now time.Time, nested bool) bdlGame {
	out := bdlGame{ID: g.BDLID, Date: g.Date, Season: g.Season, Datetime: bdlDatetime(g.Start)}
	switch s.gameState(g, b, now) {
	case 3:
		fin := "Final"
		out.Status, out.Time, out.Period = "Final", &fin, b.periods
		out.HomeTeamScore, out.VisitorTeamScore = b.pts[0], b.pts[1]
	case 2:
		frac := math.Min(0.95, now.Sub(g.Start).Minutes()/135)
		q := min(4, 1+int(frac*4))
		clock := fmt.Sprintf("%d:%02d", 11-int(frac*44)%12, int(frac*600)%60)
		out.Status, out.Time, out.Period = []string{"", "1st Qtr", "2nd Qtr", "3rd Qtr", "4th Qtr"}[q], &clock, q
		out.HomeTeamScore = int(float64(b.pts[0]) * frac)
		out.VisitorTeamScore = int(float64(b.pts[1]) * frac)
	default:
		out.Status = g.Start.UTC().Format(time.RFC3339)
	}
	if nested {
		ht, at := toBDLTeam(teams[g.home]), toBDLTeam(teams[g.away])
		out.HomeTeam, out.VisitorTeam = &ht, &at
	} else {
		h, a := teams[g.home].BDLID, teams[g.away].BDLID
		out.HomeTeamID, out.VisitorTeamID = &h, &a
	}
	return out
}

// bdlPlayerOf renders a player; team_id is the player's team in the season of now (his
// current team), which can differ from the team he played a past game for.
func (s *Sim) bdlPlayerOf(p int) bdlPlayer {
	pl := s.pool[p]
	out := bdlPlayer{
		ID: pl.BDLID, FirstName: pl.BDLFirst(), LastName: pl.BDLLast(), Position: pl.Position,
		Height: pl.Height, Weight: pl.Weight, JerseyNumber: pl.Jersey, College: pl.College, Country: pl.Country,
	}
	if pl.DraftYear != 0 {
		y, r, n := pl.DraftYear, pl.DraftRound, pl.DraftNumber
		out.DraftYear, out.DraftRound, out.DraftNumber = &y, &r, &n
	}
	cur := SeasonOf(s.now().In(s.eastern))
	if cur >= FirstSeason && cur <= LastSeason {
		if m, err := s.season(cur); err == nil {
			if t, ok := m.teamOf[p]; ok {
				id := teams[t].BDLID
				out.TeamID = &id
			}
		}
	}
	return out
}

// bdlPaging reads per_page (default 25, at most 100) and cursor.
func bdlPaging(r *http.Request) (perPage, cursor int, err error) {
	q := r.URL.Query()
	perPage = 25
	if v := q.Get("per_page"); v != "" {
		perPage, err = strconv.Atoi(v)
		if err != nil || perPage < 1 {
			return 0, 0, fmt.Errorf("per_page %q: want a positive integer", v)
		}
		perPage = min(perPage, 100)
	}
	if v := q.Get("cursor"); v != "" {
		cursor, err = strconv.Atoi(v)
		if err != nil || cursor < 0 {
			return 0, 0, fmt.Errorf("cursor %q: want the next_cursor of the previous page", v)
		}
	}
	return perPage, cursor, nil
}

// page cuts rows (sorted by key ascending) after the cursor.
func page[T any](rows []T, key func(T) int, perPage, cursor int) bdlPage[T] {
	i := sort.Search(len(rows), func(i int) bool { return key(rows[i]) > cursor })
	rows = rows[i:]
	out := bdlPage[T]{Data: rows, Meta: bdlMeta{PerPage: perPage}}
	if len(rows) > perPage {
		out.Data = rows[:perPage]
		next := key(rows[perPage-1])
		out.Meta.NextCursor = &next
	}
	if out.Data == nil {
		out.Data = []T{}
	}
	return out
}

// gamesForQuery resolves dates[] and seasons[] to games.
func (s *Sim) gamesForQuery(r *http.Request) ([]Game, *response) {
	q := r.URL.Query()
	dates := bdlDates(r)
	seasons := append(q["seasons[]"], q["seasons"]...)
	if len(dates) == 0 && len(seasons) == 0 {
		resp := textResponse(http.StatusBadRequest, "sourcesim: pass dates[]=YYYY-MM-DD or seasons[]=YYYY")
		return nil, &resp
	}
	var games []Game
	for _, d := range dates {
		gs, err := s.GamesOn(d)
		if err != nil {
			resp := textResponse(http.StatusBadRequest, err.Error())
			return nil, &resp
		}
		games = append(games, gs...)
	}
	for _, v := range seasons {
		y, err := strconv.Atoi(v)
		if err != nil {
			resp := textResponse(http.StatusBadRequest, fmt.Sprintf("seasons[] %q: want a start year such as 2024", v))
			return nil, &resp
		}
		gs, err := s.Schedule(y)
		if err != nil {
			resp := textResponse(http.StatusBadRequest, err.Error())
			return nil, &resp
		}
		games = append(games, gs...)
	}
	sort.Slice(games, func(i, j int) bool { return games[i].BDLID < games[j].BDLID })
	return games, nil
}

func (s *Sim) bdlGames(r *http.Request, mode serveMode) response {
	perPage, cursor, err := bdlPaging(r)
	if err != nil {
		return textResponse(http.StatusBadRequest, err.Error())
	}
	games, bad := s.gamesForQuery(r)
	if bad != nil {
		return *bad
	}
	now := s.now()
	rows := make([]bdlGame, 0, len(games))
	if !mode.empty {
		for _, g := range games {
			if mode.skip(g) {
				continue
			}
			m, _ := s.season(g.Season)
			rows = append(rows, s.bdlGameOf(g, s.box(m, g.Seq-1), now, true))
		}
	}
	return jsonResponse(http.StatusOK, page(rows, func(g bdlGame) int { return g.ID }, perPage, cursor))
}

// bdlStatID numbers stat rows so that their order follows the games'.
func bdlStatID(g Game, side, k int) int {
	return 100_000_000 + (g.Season-2000)*1_000_000 + g.Seq*32 + side*16 + k
}

func (s *Sim) bdlStats(r *http.Request, mode serveMode) response {
	perPage, cursor, err := bdlPaging(r)
	if err != nil {
		return textResponse(http.StatusBadRequest, err.Error())
	}
	games, bad := s.gamesForQuery(r)
	if bad != nil {
		return *bad
	}
	now := s.now()
	var rows []bdlStat
	for _, g := range games {
		if mode.empty {
			break
		}
		if mode.skip(g) {
			continue
		}
		m, _ := s.season(g.Season)
		b := s.box(m, g.Seq-1)
		if s.gameState(g, b, now) != 3 {
			continue
		}
		game := s.bdlGameOf(g, b, now, false)
		for side := range 2 {
			for k, l := range b.lines[side] {
				min := strconv.Itoa(l.min)
				if l.min == 0 {
					min = "00"
				}
				rows = append(rows, bdlStat{
					ID: bdlStatID(g, side, k), Min: min,
					FGM: l.fgm, FGA: l.fga, FGPct: pct(l.fgm, l.fga),
					FG3M: l.fg3m, FG3A: l.fg3a, FG3Pct: pct(l.fg3m, l.fg3a),
					FTM: l.ftm, FTA: l.fta, FTPct: pct(l.ftm, l.fta),
					OReb: l.oreb, DReb: l.dreb, Reb: l.reb(), Ast: l.ast, Stl: l.stl, Blk: l.blk,
					Turnover: l.tov, PF: l.pf, Pts: l.pts,
					Player: s.bdlPlayerOf(l.player), Team: toBDLTeam(teams[l.team]), Game: game,
				})
			}
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].ID < rows[j].ID })
	return jsonResponse(http.StatusOK, page(rows, func(x bdlStat) int { return x.ID }, perPage, cursor))
}

// pct is a shooting percentage rounded to three decimals, 0 without attempts.
func pct(made, att int) float64 {
	if att == 0 {
		return 0
	}
	return math.Round(float64(made)/float64(att)*1000) / 1000
}

func (s *Sim) bdlInjuries(r *http.Request, mode serveMode) response {
	perPage, cursor, err := bdlPaging(r)
	if err != nil {
		return textResponse(http.StatusBadRequest, err.Error())
	}
	var rows []bdlInjury
	if !mode.empty {
		for _, in := range s.InjuryReport() {
			rows = append(rows, bdlInjury{
				Player:      s.bdlPlayerOf(in.pool),
				ReturnDate:  in.ReturnDate,
				Description: in.Description,
				Status:      in.Status,
			})
		}
	}
	return jsonResponse(http.StatusOK, page(rows, func(x bdlInjury) int { return x.Player.ID }, perPage, cursor))
}
