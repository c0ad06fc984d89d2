package raw

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nba-props/pipeline/consumers/nba"
	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/messages"
)

// nbacSchedule loads the NBA.com CDN schedule, narrowed by the scraper to one date, into
// nba_raw.nbac_schedule. An off day's object has no gameDates entry: the partition is
// truncated and the run is Empty.
type nbacSchedule struct{ l *loader }

// scheduleRow is one row of nba_raw.nbac_schedule.
type scheduleRow struct {
	GameID        string  `json:"game_id"`
	NBAGameID     string  `json:"nba_game_id"`
	GameCode      string  `json:"game_code"`
	GameDate      string  `json:"game_date"`
	SeasonYear    int     `json:"season_year"`
	GameStatus    int     `json:"game_status"`
	GameStartUTC  *string `json:"game_start_utc"`
	HomeTeamAbbr  string  `json:"home_team_abbr"`
	AwayTeamAbbr  string  `json:"away_team_abbr"`
	HomeTeamScore int     `json:"home_team_score"`
	AwayTeamScore int     `json:"away_team_score"`
	ArenaName     string  `json:"arena_name"`
	IsPlayoffs    bool    `json:"is_playoffs"`
	SourceFile    string  `json:"source_file_path"`
	ProcessedAt   string  `json:"processed_at"`
}

// cdnSchedule is the part of scheduleLeagueV2.json the job reads.
type cdnSchedule struct {
	LeagueSchedule *struct {
		SeasonYear string `json:"seasonYear"`
		GameDates  []struct {
			GameDate string            `json:"gameDate"`
			Games    []json.RawMessage `json:"games"`
		} `json:"gameDates"`
	} `json:"leagueSchedule"`
}

type cdnTeam struct {
	TeamTricode string `json:"teamTricode"`
	Score       *int   `json:"score"`
}

type cdnGame struct {
	GameID          string  `json:"gameId"`
	GameCode        string  `json:"gameCode"`
	GameStatus      int     `json:"gameStatus"`
	GameDateEst     string  `json:"gameDateEst"`
	GameDateTimeEst string  `json:"gameDateTimeEst"`
	GameDateTimeUTC string  `json:"gameDateTimeUTC"`
	ArenaName       string  `json:"arenaName"`
	HomeTeam        cdnTeam `json:"homeTeam"`
	AwayTeam        cdnTeam `json:"awayTeam"`
}

func (j *nbacSchedule) Run(ctx context.Context, req messages.Request) (runner.Result, error) {
	groups, err := j.l.listAndRead(ctx, messages.ScrapedNBACSchedule.Prefix(req.Date))
	if err != nil {
		return runner.Result{}, err
	}
	now := processedAt()
	var rows []any
	seen := map[string]string{}
	for _, o := range groups[0] {
		games, err := parseSchedule(o, req.Date)
		if err != nil {
			return runner.Result{}, err
		}
		for _, g := range games {
			if prev, dup := seen[g.GameID]; dup {
				return runner.Result{}, badRecord(o, "game "+g.NBAGameID, fmt.Errorf("game %s also in %s", g.GameID, prev))
			}
			seen[g.GameID] = o.Name
			g.ProcessedAt = now
			rows = append(rows, g)
		}
	}
	return j.l.load(ctx, req, "nbac_schedule", fingerprint("nbac_schedule", req.Date, groups...), rows)
}

// parseSchedule reads the games of date from one schedule object.
func parseSchedule(o object, date string) ([]scheduleRow, error) {
	var doc cdnSchedule
	if err := json.Unmarshal(o.Body, &doc); err != nil {
		return nil, badRecord(o, jsonPosition(err), err)
	}
	if doc.LeagueSchedule == nil {
		return nil, badRecord(o, "leagueSchedule", fmt.Errorf("missing: not a scheduleLeagueV2 document"))
	}
	season, err := seasonFromLabel(doc.LeagueSchedule.SeasonYear)
	if err != nil {
		return nil, badRecord(o, "leagueSchedule.seasonYear", err)
	}
	var out []scheduleRow
	for di, gd := range doc.LeagueSchedule.GameDates {
		for gi, raw := range gd.Games {
			pos := fmt.Sprintf("gameDates[%d].games[%d]", di, gi)
			var g cdnGame
			if err := json.Unmarshal(raw, &g); err != nil {
				return nil, badRecord(o, pos, err)
			}
			row, err := scheduleRowOf(g, season, o)
			if err != nil {
				return nil, badRecord(o, pos+" (game "+g.GameID+")", err)
			}
			if row.GameDate != date {
				return nil, badRecord(o, pos+" (game "+g.GameID+")", fmt.Errorf("game date %s in the object of %s", row.GameDate, date))
			}
			out = append(out, row)
		}
	}
	return out, nil
}

func scheduleRowOf(g cdnGame, season int, o object) (scheduleRow, error) {
	if g.GameID == "" {
		return scheduleRow{}, fmt.Errorf("gameId missing")
	}
	// gameDateTimeEst says Z but is Eastern wall-clock time; gameDateEst is its date.
	est := g.GameDateTimeEst
	if est == "" {
		est = g.GameDateEst
	}
	et, err := nba.ParseEasternWallClock(est)
	if err != nil {
		return scheduleRow{}, err
	}
	date := et.Format(nba.DateLayout)
	home, err := nba.Team(g.HomeTeam.TeamTricode)
	if err != nil {
		return scheduleRow{}, fmt.Errorf("homeTeam: %w", err)
	}
	away, err := nba.Team(g.AwayTeam.TeamTricode)
	if err != nil {
		return scheduleRow{}, fmt.Errorf("awayTeam: %w", err)
	}
	id, err := nba.GameID(date, away, home)
	if err != nil {
		return scheduleRow{}, err
	}
	var start *string
	if g.GameDateTimeUTC != "" {
		t, err := nba.ParseUTC(g.GameDateTimeUTC)
		if err != nil {
			return scheduleRow{}, fmt.Errorf("gameDateTimeUTC: %w", err)
		}
		s := t.Format("2006-01-02T15:04:05Z")
		start = &s
	}
	if g.GameStatus < 1 || g.GameStatus > 3 {
		return scheduleRow{}, fmt.Errorf("gameStatus %d: want 1, 2 or 3", g.GameStatus)
	}
	return scheduleRow{
		GameID: id, NBAGameID: g.GameID, GameCode: g.GameCode, GameDate: date, SeasonYear: season,
		GameStatus: g.GameStatus, GameStartUTC: start, HomeTeamAbbr: home, AwayTeamAbbr: away,
		HomeTeamScore: deref(g.HomeTeam.Score), AwayTeamScore: deref(g.AwayTeam.Score),
		ArenaName: g.ArenaName, IsPlayoffs: strings.HasPrefix(g.GameID, "004"), SourceFile: o.URI(),
	}, nil
}

// seasonFromLabel reads "2024-25" (or "2024").
func seasonFromLabel(s string) (int, error) {
	y, _, _ := strings.Cut(s, "-")
	n, err := strconv.Atoi(y)
	if err != nil || n < 1946 || n > 2100 {
		return 0, fmt.Errorf("season %q: want a label such as 2024-25", s)
	}
	return n, nil
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

// jsonPosition describes where a JSON decoding error happened.
func jsonPosition(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("byte %d (field %s)", te.Offset, te.Field)
	}
	return "body"
}
