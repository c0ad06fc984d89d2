package raw

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/nba-props/pipeline/consumers/nba"
	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/messages"
)

// bdlPlayerBoxscores loads Ball Don't Lie stats pages into nba_raw.bdl_player_boxscores.
// Each stat carries only team ids for the game's sides: they are resolved through the BDL
// games objects of the same date (a hard upstream). Rows of players who did not play (min
// "00") are kept with 0 minutes.
type bdlPlayerBoxscores struct{ l *loader }

type bdlTeam struct {
	ID           int    `json:"id"`
	Abbreviation string `json:"abbreviation"`
	FullName     string `json:"full_name"`
}

type bdlGame struct {
	ID            int      `json:"id"`
	Date          string   `json:"date"`
	Season        int      `json:"season"`
	Status        string   `json:"status"`
	Datetime      string   `json:"datetime"`
	HomeTeam      *bdlTeam `json:"home_team"`
	VisitorTeam   *bdlTeam `json:"visitor_team"`
	HomeTeamID    *int     `json:"home_team_id"`
	VisitorTeamID *int     `json:"visitor_team_id"`
}

type bdlPlayer struct {
	ID        int    `json:"id"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	TeamID    *int   `json:"team_id"`
}

type bdlStat struct {
	ID       int       `json:"id"`
	Min      any       `json:"min"`
	FGM      *int64    `json:"fgm"`
	FGA      *int64    `json:"fga"`
	FG3M     *int64    `json:"fg3m"`
	FG3A     *int64    `json:"fg3a"`
	FTM      *int64    `json:"ftm"`
	FTA      *int64    `json:"fta"`
	OReb     *int64    `json:"oreb"`
	DReb     *int64    `json:"dreb"`
	Reb      *int64    `json:"reb"`
	Ast      *int64    `json:"ast"`
	Stl      *int64    `json:"stl"`
	Blk      *int64    `json:"blk"`
	Turnover *int64    `json:"turnover"`
	PF       *int64    `json:"pf"`
	Pts      *int64    `json:"pts"`
	Player   bdlPlayer `json:"player"`
	Team     bdlTeam   `json:"team"`
	Game     bdlGame   `json:"game"`
}

type bdlPage struct {
	Data []json.RawMessage `json:"data"`
}

// bdlGameInfo is a game of the games objects with its sides as tricodes.
type bdlGameInfo struct {
	date, home, away string
	season           int
	final            bool
}

func (j *bdlPlayerBoxscores) Run(ctx context.Context, req messages.Request) (runner.Result, error) {
	groups, err := j.l.listAndRead(ctx, messages.ScrapedBDLPlayerBoxscores.Prefix(req.Date), messages.ScrapedBDLGames.Prefix(req.Date))
	if err != nil {
		return runner.Result{}, err
	}
	stats, gameObjs := groups[0], groups[1]
	games, teams, err := parseBDLGames(gameObjs)
	if err != nil {
		return runner.Result{}, err
	}
	now := processedAt()
	var rows []any
	seen := map[string]bool{}
	for _, o := range stats {
		var p bdlPage
		if err := json.Unmarshal(o.Body, &p); err != nil {
			return runner.Result{}, badRecord(o, jsonPosition(err), err)
		}
		for i, raw := range p.Data {
			pos := fmt.Sprintf("data[%d]", i)
			var s bdlStat
			if err := json.Unmarshal(raw, &s); err != nil {
				return runner.Result{}, badRecord(o, pos, err)
			}
			r, err := bdlStatRow(s, games, teams, o)
			if err != nil {
				return runner.Result{}, badRecord(o, fmt.Sprintf("%s (stat %d)", pos, s.ID), err)
			}
			if r.GameDate != req.Date {
				return runner.Result{}, badRecord(o, pos, fmt.Errorf("game date %s in the object of %s", r.GameDate, req.Date))
			}
			if seen[r.key()] {
				return runner.Result{}, badRecord(o, pos, fmt.Errorf("second row for %s in game %s", r.PlayerLookup, r.GameID))
			}
			seen[r.key()] = true
			r.ProcessedAt = now
			rows = append(rows, r)
		}
	}
	if len(rows) == 0 {
		final := 0
		for _, g := range games {
			if g.final && g.date == req.Date {
				final++
			}
		}
		if final > 0 {
			return runner.Result{}, runner.Permanent(fmt.Errorf("%w: %d stats objects for %s hold no rows but the BDL games objects have %d final games; re-scrape the date",
				ErrEmptyInput, len(stats), req.Date, final))
		}
	}
	return j.l.load(ctx, req, "bdl_player_boxscores", fingerprint("bdl_player_boxscores", req.Date, groups...), rows)
}

// parseBDLGames indexes the games objects: games by BDL id and tricodes by BDL team id.
func parseBDLGames(objs []object) (map[int]bdlGameInfo, map[int]string, error) {
	games := map[int]bdlGameInfo{}
	teams := map[int]string{}
	for _, o := range objs {
		var p bdlPage
		if err := json.Unmarshal(o.Body, &p); err != nil {
			return nil, nil, badRecord(o, jsonPosition(err), err)
		}
		for i, raw := range p.Data {
			pos := fmt.Sprintf("data[%d]", i)
			var g bdlGame
			if err := json.Unmarshal(raw, &g); err != nil {
				return nil, nil, badRecord(o, pos, err)
			}
			if g.HomeTeam == nil || g.VisitorTeam == nil {
				return nil, nil, badRecord(o, pos, fmt.Errorf("game %d without home_team and visitor_team", g.ID))
			}
			var sides [2]string
			for k, t := range []*bdlTeam{g.HomeTeam, g.VisitorTeam} {
				code, err := bdlTeamCode(*t)
				if err != nil {
					return nil, nil, badRecord(o, pos, err)
				}
				if prev, ok := teams[t.ID]; ok && prev != code {
					return nil, nil, badRecord(o, pos, fmt.Errorf("team id %d is %s here and %s elsewhere", t.ID, code, prev))
				}
				teams[t.ID] = code
				sides[k] = code
			}
			date, err := bdlGameDate(g)
			if err != nil {
				return nil, nil, badRecord(o, pos, err)
			}
			games[g.ID] = bdlGameInfo{date: date, home: sides[0], away: sides[1], season: g.Season, final: strings.EqualFold(g.Status, "Final")}
		}
	}
	return games, teams, nil
}

// bdlTeamCode maps a BDL team to its tricode by abbreviation, else by full name.
func bdlTeamCode(t bdlTeam) (string, error) {
	code, err := nba.Team(t.Abbreviation)
	if err != nil && t.FullName != "" {
		code, err = nba.Team(t.FullName)
	}
	if err != nil {
		return "", fmt.Errorf("team %d: %w", t.ID, err)
	}
	return code, nil
}

// bdlGameDate is BDL's game.date (the US date); datetime is UTC and often the next day, so
// it is only used when date is missing.
func bdlGameDate(g bdlGame) (string, error) {
	d := g.Date
	if len(d) >= 10 {
		d = d[:10]
	}
	if _, err := messages.ParseDate(d); err == nil {
		return d, nil
	}
	if g.Datetime != "" {
		t, err := nba.ParseUTC(g.Datetime)
		if err != nil {
			return "", fmt.Errorf("game %d: %w", g.ID, err)
		}
		return nba.GameDate(t), nil
	}
	return "", fmt.Errorf("game %d: date %q: want YYYY-MM-DD", g.ID, g.Date)
}

func bdlStatRow(s bdlStat, games map[int]bdlGameInfo, teams map[int]string, o object) (boxScoreRow, error) {
	g, ok := games[s.Game.ID]
	if !ok {
		return boxScoreRow{}, fmt.Errorf("game %d is not in the BDL games objects of the date", s.Game.ID)
	}
	team, ok := teams[s.Team.ID]
	if !ok {
		var err error
		if team, err = bdlTeamCode(s.Team); err != nil {
			return boxScoreRow{}, err
		}
	}
	var opp string
	switch team {
	case g.home:
		opp = g.away
	case g.away:
		opp = g.home
	default:
		return boxScoreRow{}, fmt.Errorf("team %s did not play game %d (%s at %s)", team, s.Game.ID, g.away, g.home)
	}
	name := strings.TrimSpace(strings.TrimSpace(s.Player.FirstName) + " " + strings.TrimSpace(s.Player.LastName))
	lookup := nba.PlayerLookup(name)
	if lookup == "" {
		return boxScoreRow{}, fmt.Errorf("player %d has no name", s.Player.ID)
	}
	if s.Player.ID == 0 {
		return boxScoreRow{}, fmt.Errorf("player id missing")
	}
	mins, err := nba.Minutes(s.Min)
	if err != nil {
		return boxScoreRow{}, err
	}
	id, err := nba.GameID(g.date, g.away, g.home)
	if err != nil {
		return boxScoreRow{}, err
	}
	season := g.season
	if season == 0 {
		if season, err = nba.SeasonYear(g.date); err != nil {
			return boxScoreRow{}, err
		}
	}
	return boxScoreRow{
		GameID: id, GameDate: g.date, SeasonYear: season, TeamAbbr: team, OpponentAbbr: opp, IsHome: team == g.home,
		PlayerFullName: name, PlayerLookup: lookup, SourcePlayerID: int64(s.Player.ID), Minutes: mins,
		Points: s.Pts, Assists: s.Ast, Rebounds: s.Reb, OffReb: s.OReb, DefReb: s.DReb, Steals: s.Stl, Blocks: s.Blk,
		Turnovers: s.Turnover, Fouls: s.PF, FGM: s.FGM, FGA: s.FGA, FG3M: s.FG3M, FG3A: s.FG3A, FTM: s.FTM, FTA: s.FTA,
		SourceFile: o.URI(),
	}, nil
}
