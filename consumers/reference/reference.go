// Package reference holds the reference-phase jobs. player_registry folds each date's box
// score players into nba_reference.player_registry, and gamebook_registry records which games
// of a date have a game book read and whom each of its names stands for in
// nba_reference.gamebook_registry; each is one MERGE per date, and the catalogue runs each one
// date at a time (MaxConcurrency 1), so MERGEs into one table never race.
package reference

import (
	"context"
	_ "embed"
	"errors"
	"fmt"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"

	"github.com/nba-props/pipeline/consumers/bqjob"
	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/messages"
)

//go:embed player_registry.sql
var playerRegistrySQL string

// Deps are the clients the jobs use, wired by the service main. The jobs only query and
// MERGE, so BigQuery is all they need.
type Deps struct {
	BigQuery *bigquery.Client
}

// Jobs returns the reference jobs keyed by their catalogue name. The phase has no settings.
func Jobs(deps Deps) (map[string]runner.Job, error) {
	if deps.BigQuery == nil {
		return nil, errors.New("reference jobs: Deps needs BigQuery")
	}
	return map[string]runner.Job{
		"player_registry":   &playerRegistry{bq: deps.BigQuery},
		"gamebook_registry": &gamebookRegistry{bq: deps.BigQuery},
	}, nil
}

// playerRegistry runs the MERGE of one date.
type playerRegistry struct{ bq *bigquery.Client }

func (j *playerRegistry) Run(ctx context.Context, req messages.Request) (runner.Result, error) {
	d, err := messages.ParseDate(req.Date)
	if err != nil {
		return runner.Result{}, runner.Permanent(fmt.Errorf("player_registry: %w", err))
	}
	q := j.bq.Query(playerRegistrySQL)
	q.Parameters = []bigquery.QueryParameter{{Name: "game_date", Value: civil.DateOf(d)}}
	q.Labels = map[string]string{"phase": "reference", "table": "player_registry", "partition": d.Format("20060102")}
	st, err := bqjob.Run(ctx, j.bq, bqjob.BaseID(ctx, "reference", "player_registry", d.Format("20060102"), req), func(id string) (*bigquery.Job, error) {
		q.JobID = id
		return q.Run(ctx)
	})
	if err != nil {
		return runner.Result{}, fmt.Errorf("player_registry MERGE for %s: %w", req.Date, err)
	}
	var n int64
	if qs, ok := st.Statistics.Details.(*bigquery.QueryStatistics); ok {
		n = qs.NumDMLAffectedRows
	}
	// Rows counts the registry rows this date touched; the table is not partitioned by date.
	return runner.Result{Rows: map[string]int64{req.Date: n}, Empty: n == 0}, nil
}
