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
// games objects of the same date (a hard upstream), or, for a game those objects leave out,
// through the teams the date's objects name (statGame). Rows of players who did not play (min
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
	parsed, err := parseBDLStats(stats)
	if err != nil {
		return runner.Result{}, err
	}
	addStatTeams(parsed, teams)
	now := processedAt()
	var rows []any
	seen := map[string]bool{}
	for _, st := range parsed {
		r, err := bdlStatRow(st.stat, games, teams, st.o)
		if err != nil {
			return runner.Result{}, badRecord(st.o, fmt.Sprintf("%s (stat %d)", st.pos, st.stat.ID), err)
		}
		if r.GameDate != req.Date {
			return runner.Result{}, badRecord(st.o, st.pos, fmt.Errorf("game date %s in the object of %s", r.GameDate, req.Date))
		}
		if seen[r.key()] {
			return runner.Result{}, badRecord(st.o, st.pos, fmt.Errorf("second row for %s in game %s", r.PlayerLookup, r.GameID))
		}
		seen[r.key()] = true
		r.ProcessedAt = now
		rows = append(rows, r)
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

// statAt is a stat of the stats objects with the object and the position it came from.
type statAt struct {
	stat bdlStat
	o    object
	pos  string
}

// parseBDLStats decodes every stat of the stats objects, in order.
func parseBDLStats(objs []object) ([]statAt, error) {
	var out []statAt
	for _, o := range objs {
		var p bdlPage
		if err := json.Unmarshal(o.Body, &p); err != nil {
			return nil, badRecord(o, jsonPosition(err), err)
		}
		for i, raw := range p.Data {
			st := statAt{o: o, pos: fmt.Sprintf("data[%d]", i)}
			if err := json.Unmarshal(raw, &st.stat); err != nil {
				return nil, badRecord(o, st.pos, err)
			}
			out = append(out, st)
		}
	}
	return out, nil
}

// addStatTeams adds to teams (BDL team id → tricode, from the games objects) the teams the
// stats themselves name that the games objects do not: what places the stats of a game the
// games objects left out (see bdlStatRow). A team whose name does not map is left out here;
// its own stats fail with the reason.
func addStatTeams(stats []statAt, teams map[int]string) {
	for _, st := range stats {
		if _, ok := teams[st.stat.Team.ID]; ok {
			continue
		}
		if code, err := bdlTeamCode(st.stat.Team); err == nil {
			teams[st.stat.Team.ID] = code
		}
	}
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
			info, err := gameInfo(g, sides[0], sides[1])
			if err != nil {
				return nil, nil, badRecord(o, pos, err)
			}
			games[g.ID] = info
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

// statGame places a game the BDL games objects of the date leave out by the stat's own game
// object: its date, season and status, and its sides' team ids as tricodes (teams, which
// holds the games objects' teams and those of the date's stats). A games list can lack a
// game its stats hold (the source left it out and the scraper recorded the game missing);
// the stats still say everything a row needs.
func statGame(g bdlGame, teams map[int]string) (bdlGameInfo, error) {
	if g.HomeTeamID == nil || g.VisitorTeamID == nil {
		return bdlGameInfo{}, fmt.Errorf("game %d is not in the BDL games objects of the date and its stats do not name home_team_id and visitor_team_id", g.ID)
	}
	home, okH := teams[*g.HomeTeamID]
	away, okA := teams[*g.VisitorTeamID]
	if !okH || !okA {
		return bdlGameInfo{}, fmt.Errorf("game %d is not in the BDL games objects of the date and no object of the date names its teams %d and %d", g.ID, *g.HomeTeamID, *g.VisitorTeamID)
	}
	return gameInfo(g, home, away)
}

// gameInfo is a BDL game with its sides' tricodes.
func gameInfo(g bdlGame, home, away string) (bdlGameInfo, error) {
	date, err := bdlGameDate(g)
	if err != nil {
		return bdlGameInfo{}, err
	}
	return bdlGameInfo{date: date, home: home, away: away, season: g.Season, final: strings.EqualFold(g.Status, "Final")}, nil
}

func bdlStatRow(s bdlStat, games map[int]bdlGameInfo, teams map[int]string, o object) (boxScoreRow, error) {
	g, ok := games[s.Game.ID]
	if !ok {
		var err error
		if g, err = statGame(s.Game, teams); err != nil {
			return boxScoreRow{}, err
		}
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
