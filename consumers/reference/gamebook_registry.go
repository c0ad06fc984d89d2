package reference

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"
	"golang.org/x/sync/errgroup"
	"google.golang.org/api/iterator"

	"github.com/nba-props/pipeline/consumers/bqjob"
	"github.com/nba-props/pipeline/consumers/nba"
	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/messages"
)

// gamebookRegistrySQL is the MERGE of a run's rows; gamebookRegistryRowsSQL reads the
// date's rows it starts from, gamebookRegistryAgainSQL the other dates' names it resolves
// again, gamebookRegistryPlayersSQL the players each team fielded in the season.
var (
	//go:embed gamebook_registry.sql
	gamebookRegistrySQL string
	//go:embed gamebook_registry_rows.sql
	gamebookRegistryRowsSQL string
	//go:embed gamebook_registry_again.sql
	gamebookRegistryAgainSQL string
	//go:embed gamebook_registry_players.sql
	gamebookRegistryPlayersSQL string
)

// gamebookRegistry keeps nba_reference.gamebook_registry: for each date, a row per game of
// the schedule saying whether its game book was read ("parsed") or not ("missing"), and a row
// per name of every book read with the player_lookup it resolves to.
//
// The raw job resolves what the book and the date's box scores tell. A last name they leave
// unresolved is resolved here among the players the team fielded that season (the box
// scores loaded so far, players the registry has), leaving out the players the book lists
// elsewhere for the team: the one player whose last name it is, else the name stays listed
// with a NULL player_lookup. Each run also resolves again, against the registry as it is
// now, the names of the season that it resolved or could not resolve before, and writes
// those whose resolution changed, so the table ends the same whatever order the dates ran
// in: the run after the season's last registry change sees every player. The player_lookup
// is the registry's key: join nba_reference.player_registry on it for the universal id.
//
// A run reads with three queries side by side (the date's rows, the season's names to
// resolve again with what their books list, the season's players) and writes with one
// MERGE; the catalogue runs one date at a time (MaxConcurrency 1), so MERGEs into the table
// never race.
type gamebookRegistry struct{ bq *bigquery.Client }

// registryRow is one row of the MERGE's source, as the @rows parameter.
type registryRow struct {
	GameDate     civil.Date          `bigquery:"game_date"`
	GameID       string              `bigquery:"game_id"`
	Entry        string              `bigquery:"entry"`
	Gamebook     string              `bigquery:"gamebook"`
	HomeTeam     bigquery.NullString `bigquery:"home_team_abbr"`
	AwayTeam     bigquery.NullString `bigquery:"away_team_abbr"`
	SourceFile   bigquery.NullString `bigquery:"source_file_path"`
	TeamAbbr     bigquery.NullString `bigquery:"team_abbr"`
	PrintedName  bigquery.NullString `bigquery:"printed_name"`
	Status       bigquery.NullString `bigquery:"status"`
	PlayerLookup bigquery.NullString `bigquery:"player_lookup"`
	Resolution   bigquery.NullString `bigquery:"resolution"`
}

// Row kinds and resolutions.
const (
	bookParsed       = "parsed"
	bookMissing      = "missing"
	gameEntry        = "game"
	resolvedPrinted  = "printed"
	resolvedBoxScore = "boxscore"
	resolvedRegistry = "registry"
	unresolved       = "unresolved"
)

func (j *gamebookRegistry) Run(ctx context.Context, req messages.Request) (runner.Result, error) {
	d, err := messages.ParseDate(req.Date)
	if err != nil {
		return runner.Result{}, runner.Permanent(fmt.Errorf("gamebook_registry: %w", err))
	}
	season, err := nba.SeasonYear(req.Date)
	if err != nil {
		return runner.Result{}, runner.Permanent(err)
	}
	from := civil.Date{Year: season, Month: time.October, Day: 1}
	to := civil.Date{Year: season + 1, Month: time.September, Day: 30}
	day := civil.DateOf(d)

	// The three reads are independent: side by side, a run (and the chain of runs, one
	// date at a time) waits for the slowest of them, not for their sum.
	type fielded struct {
		Team string `bigquery:"team_abbr"`
		Name string `bigquery:"player_full_name"`
	}
	var (
		rows    []registryRow
		others  []againRow
		players []fielded
	)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		if rows, err = read[registryRow](gctx, j.bq, gamebookRegistryRowsSQL, map[string]any{"game_date": day}); err != nil {
			return fmt.Errorf("gamebook_registry %s: the date's games and names: %w", req.Date, err)
		}
		return nil
	})
	g.Go(func() (err error) {
		if others, err = read[againRow](gctx, j.bq, gamebookRegistryAgainSQL, map[string]any{"game_date": day, "from": from, "to": to}); err != nil {
			return fmt.Errorf("gamebook_registry %s: the season's names to resolve again: %w", req.Date, err)
		}
		return nil
	})
	g.Go(func() (err error) {
		if players, err = read[fielded](gctx, j.bq, gamebookRegistryPlayersSQL, map[string]any{"from": from, "to": to}); err != nil {
			return fmt.Errorf("gamebook_registry %s: the season's players: %w", req.Date, err)
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return runner.Result{}, err
	}
	roster := map[string][]string{} // team -> full names of the players it fielded
	for _, p := range players {
		roster[p.Team] = append(roster[p.Team], p.Name)
	}
	resolveRows(rows, roster, listedIn(rows))
	known := make([]registryRow, len(others))
	listed := map[string]map[string]bool{}
	for i, o := range others {
		known[i] = o.registryRow
		listed[o.GameID+"/"+o.TeamAbbr.StringVal] = setOf(o.Listed)
	}
	again := slices.Clone(known)
	resolveRows(again, roster, listed)
	changed := 0
	for i, r := range again {
		if r != known[i] {
			rows = append(rows, r)
			changed++
		}
	}

	q := j.bq.Query(gamebookRegistrySQL)
	q.Parameters = []bigquery.QueryParameter{
		{Name: "game_date", Value: day},
		{Name: "rows", Value: append([]registryRow{}, rows...)},
	}
	q.Labels = map[string]string{"phase": "reference", "table": "gamebook_registry", "partition": d.Format("20060102")}
	if _, err := bqjob.Run(ctx, j.bq, bqjob.BaseID(ctx, "reference", "gamebook_registry", d.Format("20060102"), req), func(id string) (*bigquery.Job, error) {
		q.JobID = id
		return q.Run(ctx)
	}); err != nil {
		return runner.Result{}, fmt.Errorf("gamebook_registry MERGE for %s: %w", req.Date, err)
	}
	m := map[string]int64{"other_dates_changed": int64(changed)}
	own := rows[:len(rows)-changed]
	for _, r := range own {
		switch {
		case r.Entry == gameEntry:
			m["games_"+r.Gamebook]++
		case r.PlayerLookup.Valid:
			m["names_resolved"]++
		default:
			m["names_unresolved"]++
		}
	}
	return runner.Result{Rows: map[string]int64{req.Date: int64(len(own))}, Empty: len(own) == 0, Metrics: m}, nil
}

// againRow is a row of another date to resolve again, with the player_lookups its book
// names itself for the same team.
type againRow struct {
	registryRow
	Listed []string `bigquery:"listed"`
}

// listedIn is, by game/team, the player_lookups the books of rows name themselves: printed
// in full, or found in the day's box score.
func listedIn(rows []registryRow) map[string]map[string]bool {
	listed := map[string]map[string]bool{}
	for _, r := range rows {
		res := r.Resolution.StringVal
		if r.Entry != gameEntry && r.PlayerLookup.Valid && (res == resolvedPrinted || res == resolvedBoxScore) {
			k := r.GameID + "/" + r.TeamAbbr.StringVal
			if listed[k] == nil {
				listed[k] = map[string]bool{}
			}
			listed[k][r.PlayerLookup.StringVal] = true
		}
	}
	return listed
}

func setOf(xs []string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}

// resolveRows resolves the names the raw job left unresolved, or that the registry resolved
// before, among the players each team fielded in the season (roster), leaving out the
// players the book lists elsewhere for the team (listed, by game/team).
func resolveRows(rows []registryRow, roster map[string][]string, listed map[string]map[string]bool) {
	for i := range rows {
		r := &rows[i]
		if r.Entry == gameEntry {
			continue
		}
		if res := r.Resolution.StringVal; res == resolvedRegistry || res == unresolved {
			r.PlayerLookup, r.Resolution = bigquery.NullString{}, bigquery.NullString{StringVal: unresolved, Valid: true}
			var candidates []string
			for _, c := range roster[r.TeamAbbr.StringVal] {
				if !listed[r.GameID+"/"+r.TeamAbbr.StringVal][nba.PlayerLookup(c)] {
					candidates = append(candidates, c)
				}
			}
			if l, ok := nba.ResolveName(r.PrintedName.StringVal, candidates); ok {
				r.PlayerLookup = bigquery.NullString{StringVal: l, Valid: true}
				r.Resolution.StringVal = resolvedRegistry
			}
		}
	}
}

// read runs a query with named parameters and decodes its rows.
func read[T any](ctx context.Context, bq *bigquery.Client, sql string, params map[string]any) ([]T, error) {
	q := bq.Query(sql)
	for _, k := range slices.Sorted(maps.Keys(params)) {
		q.Parameters = append(q.Parameters, bigquery.QueryParameter{Name: k, Value: params[k]})
	}
	return collect[T](ctx, q)
}

func collect[T any](ctx context.Context, q *bigquery.Query) ([]T, error) {
	it, err := q.Read(ctx)
	if err != nil {
		return nil, err
	}
	var out []T
	for {
		var row T
		err := it.Next(&row)
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, row)
	}
}
