package raw

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"
	"google.golang.org/api/iterator"

	"github.com/nba-props/pipeline/consumers/nba"
	"github.com/nba-props/pipeline/consumers/raw/gamebook"
	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/messages"
)

// nbacGamebookPlayerStats loads every game book PDF of a date into
// nba_raw.nbac_gamebook_player_stats: one row per roster player and game, those who did not
// play included, with the availability status, the reason and its category, and the stat line
// of those who played.
//
// The book prints full names in its box scores but usually only the last name in its
// inactive lists ("Morant", "Jackson Jr."). Such a name is resolved among the players of the
// team's rows in the date's box scores already loaded (Ball Don't Lie's, which list players
// who dressed and did not play too; NBA.com's list only those who played, whom the book
// names in full), leaving out the players the book itself lists elsewhere for the team (a
// player appears once in a book): the one player whose last name it is, else, if the name
// holds a first name too, the name as printed. Otherwise its player_lookup stays NULL with
// the printed name kept; nba_reference.gamebook_registry resolves it later against the whole
// season. The box scores of the date are a soft upstream, so the rows they resolve are part
// of the load's input.
//
// A book that is not a readable, complete game book fails the date permanently, naming the
// object: the date loads every book or none.
type nbacGamebookPlayerStats struct{ l *loader }

// gamebookRow is one row of nba_raw.nbac_gamebook_player_stats.
type gamebookRow struct {
	GameID         string   `json:"game_id"`
	NBAGameID      string   `json:"nba_game_id"`
	GameDate       string   `json:"game_date"`
	SeasonYear     int      `json:"season_year"`
	TeamAbbr       string   `json:"team_abbr"`
	OpponentAbbr   string   `json:"opponent_abbr"`
	IsHome         bool     `json:"is_home"`
	PrintedName    string   `json:"printed_name"`
	NameKey        string   `json:"name_key"`
	PlayerFullName *string  `json:"player_full_name"`
	PlayerLookup   *string  `json:"player_lookup"`
	NameResolution string   `json:"name_resolution"`
	Jersey         *string  `json:"jersey"`
	Position       *string  `json:"position"`
	Starter        bool     `json:"starter"`
	Status         string   `json:"status"`
	Reason         *string  `json:"reason"`
	ReasonCategory *string  `json:"reason_category"`
	Minutes        *float64 `json:"minutes"`
	Points         *int     `json:"points"`
	FGM            *int     `json:"fgm"`
	FGA            *int     `json:"fga"`
	FG3M           *int     `json:"fg3m"`
	FG3A           *int     `json:"fg3a"`
	FTM            *int     `json:"ftm"`
	FTA            *int     `json:"fta"`
	OffReb         *int     `json:"offensive_rebounds"`
	DefReb         *int     `json:"defensive_rebounds"`
	Rebounds       *int     `json:"rebounds"`
	Assists        *int     `json:"assists"`
	Fouls          *int     `json:"personal_fouls"`
	Steals         *int     `json:"steals"`
	Turnovers      *int     `json:"turnovers"`
	Blocks         *int     `json:"blocks"`
	PlusMinus      *int     `json:"plus_minus"`
	SourceFile     string   `json:"source_file_path"`
	ProcessedAt    string   `json:"processed_at"`
}

// How a printed name was resolved (name_resolution).
const (
	resolvedPrinted  = "printed"
	resolvedBoxScore = "boxscore"
	unresolved       = "unresolved"
)

// boxScorePlayer is a player of a team in a game of the date's box scores.
type boxScorePlayer struct {
	GameID string `bigquery:"game_id"`
	Team   string `bigquery:"team_abbr"`
	Name   string `bigquery:"player_full_name"`
}

func (j *nbacGamebookPlayerStats) Run(ctx context.Context, req messages.Request) (runner.Result, error) {
	const table = "nbac_gamebook_player_stats"
	groups, err := j.l.listAndRead(ctx, messages.ScrapedNBACGamebooks.Prefix(req.Date))
	if err != nil {
		return runner.Result{}, err
	}
	objs := groups[0]
	books := make([]gamebook.Gamebook, len(objs))
	for i, o := range objs {
		if books[i], err = readBook(o, req.Date); err != nil {
			return runner.Result{}, err
		}
	}
	var roster []boxScorePlayer
	if len(objs) > 0 {
		if roster, err = j.l.boxScorePlayers(ctx, req.Date); err != nil {
			return runner.Result{}, err
		}
	}
	season, err := nba.SeasonYear(req.Date)
	if err != nil {
		return runner.Result{}, runner.Permanent(err)
	}
	now := processedAt()
	var rows []any
	for i, gb := range books {
		rs, err := bookRows(gb, season, objs[i], roster)
		if err != nil {
			return runner.Result{}, err
		}
		for _, r := range rs {
			r.ProcessedAt = now
			rows = append(rows, r)
		}
	}
	return j.l.load(ctx, req, table, withRoster(fingerprint(table, req.Date, groups...), roster), rows)
}

// readBook parses one object and checks that it is the book its name and date say.
func readBook(o object, date string) (gamebook.Gamebook, error) {
	gb, err := gamebook.Parse(o.Body)
	if err != nil {
		return gamebook.Gamebook{}, runner.Permanent(fmt.Errorf("%w: %s: %w (the source holds a broken book: scrape the date again once it serves a readable one)", ErrBadRecord, o.URI(), err))
	}
	if gb.Date != date {
		return gamebook.Gamebook{}, badRecord(o, "header", fmt.Errorf("game code %s is a game of %s, not %s", gb.GameCode, gb.Date, date))
	}
	if want := messages.GamebookPart(gb.Away.Tricode, gb.Home.Tricode); path.Base(o.Name) != want {
		return gamebook.Gamebook{}, badRecord(o, "header", fmt.Errorf("game code %s is the book of %s", gb.GameCode, want))
	}
	return gb, nil
}

// bookRows turns a book into rows, resolving the names its inactive lists print.
func bookRows(gb gamebook.Gamebook, season int, o object, roster []boxScorePlayer) ([]gamebookRow, error) {
	away, err := nba.Team(gb.Away.Tricode)
	if err != nil {
		return nil, badRecord(o, "game code", err)
	}
	home, err := nba.Team(gb.Home.Tricode)
	if err != nil {
		return nil, badRecord(o, "game code", err)
	}
	id, err := nba.GameID(gb.Date, away, home)
	if err != nil {
		return nil, badRecord(o, "game code", err)
	}
	var out []gamebookRow
	for _, side := range []struct {
		team, opp string
		isHome    bool
		t         gamebook.Team
	}{{away, home, false, gb.Away}, {home, away, true, gb.Home}} {
		printed := map[string]bool{}
		listed := map[string]bool{} // lookups of the players the book names in full
		for _, p := range side.t.Players {
			if printed[p.Name] {
				return nil, badRecord(o, side.team, fmt.Errorf("two entries named %q", p.Name))
			}
			printed[p.Name] = true
			if p.Status != gamebook.StatusInactive {
				listed[nba.PlayerLookup(p.Name)] = true
			}
		}
		var candidates []string
		for _, b := range roster {
			if b.GameID == id && b.Team == side.team && !listed[nba.PlayerLookup(b.Name)] {
				candidates = append(candidates, b.Name)
			}
		}
		resolved := map[string]bool{}
		for _, p := range side.t.Players {
			r := gamebookRow{
				GameID: id, NBAGameID: gb.NBAGameID, GameDate: gb.Date, SeasonYear: season,
				TeamAbbr: side.team, OpponentAbbr: side.opp, IsHome: side.isHome,
				PrintedName: p.Name, NameKey: nba.PlayerLookup(p.Name), NameResolution: unresolved,
				Jersey: optional(p.Jersey), Position: optional(p.Position), Starter: p.Starter, Status: string(p.Status),
				Reason: optional(p.Reason), ReasonCategory: optional(string(p.Category)), SourceFile: o.URI(),
			}
			if r.NameKey == "" {
				return nil, badRecord(o, side.team, fmt.Errorf("entry %q has no letters or digits", p.Name))
			}
			full, lookup, how := resolveEntry(p, candidates)
			if how != unresolved && !resolved[lookup] {
				resolved[lookup] = true
				r.PlayerFullName, r.PlayerLookup, r.NameResolution = &full, &lookup, how
			}
			if p.Status == gamebook.StatusActive {
				statLine(&r, p.Stats)
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// resolveEntry resolves one entry of a book: a box score entry by its printed full name, an
// inactive one among the candidates (full names of the team's other players in the date's
// box scores), else by its printed name if that holds a first name.
func resolveEntry(p gamebook.Player, candidates []string) (full, lookup, how string) {
	if p.Status != gamebook.StatusInactive {
		return p.Name, nba.PlayerLookup(p.Name), resolvedPrinted
	}
	if l, ok := nba.ResolveName(p.Name, candidates); ok {
		for _, c := range candidates {
			if nba.PlayerLookup(c) == l {
				return c, l, resolvedBoxScore
			}
		}
	}
	if nba.PrintedInFull(p.Name) {
		return p.Name, nba.PlayerLookup(p.Name), resolvedPrinted
	}
	return "", "", unresolved
}

// statLine fills an active player's stat line.
func statLine(r *gamebookRow, s gamebook.Stats) {
	n := func(v int) *int { return &v }
	m := float64(s.Seconds) / 60
	r.Minutes = &m
	r.Points, r.FGM, r.FGA, r.FG3M, r.FG3A, r.FTM, r.FTA = n(s.Points), n(s.FGM), n(s.FGA), n(s.FG3M), n(s.FG3A), n(s.FTM), n(s.FTA)
	r.OffReb, r.DefReb, r.Rebounds, r.Assists, r.Fouls = n(s.OffReb), n(s.DefReb), n(s.Rebounds), n(s.Assists), n(s.Fouls)
	r.Steals, r.Turnovers, r.Blocks, r.PlusMinus = n(s.Steals), n(s.Turnovers), n(s.Blocks), n(s.PlusMinus)
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// boxScorePlayers reads the players of every team and game of a date in Ball Don't Lie's raw
// box scores (whose rows include players who dressed and did not play), ordered so that the
// same table gives the same list.
func (l *loader) boxScorePlayers(ctx context.Context, date string) ([]boxScorePlayer, error) {
	d, err := messages.ParseDate(date)
	if err != nil {
		return nil, runner.Permanent(err)
	}
	q := l.bq.Query("SELECT DISTINCT game_id, team_abbr, player_full_name FROM `" + Dataset + ".bdl_player_boxscores`" +
		" WHERE game_date = @game_date ORDER BY game_id, team_abbr, player_full_name")
	q.Parameters = []bigquery.QueryParameter{{Name: "game_date", Value: civil.DateOf(d)}}
	it, err := q.Read(ctx)
	if err != nil {
		return nil, fmt.Errorf("box score players of %s: %w", date, err)
	}
	var out []boxScorePlayer
	for {
		var p boxScorePlayer
		err := it.Next(&p)
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("box score players of %s: %w", date, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// withRoster extends a load's input fingerprint with the box score players the names were
// resolved against, so that box scores loaded later (or changed) load the date again.
func withRoster(fp string, roster []boxScorePlayer) string {
	h := sha256.New()
	fmt.Fprintln(h, fp)
	for _, p := range roster {
		fmt.Fprintf(h, "%s\t%s\t%s\n", p.GameID, p.Team, p.Name)
	}
	return hex.EncodeToString(h.Sum(nil))
}
