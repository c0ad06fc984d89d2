// Package analytics holds the phase-3 jobs: each runs one parameterised query (an embedded
// .sql file) for one date with destination nba_analytics.<table>$YYYYMMDD and
// WRITE_TRUNCATE, so that a run replaces exactly that day and a rerun gives the same rows.
//
// The queries read the raw tables by the canonical game_id and player_lookup keys. Which
// upstreams must be there (hard) and which are used when present (soft) is the catalogue's
// business: the runtime runs a job once its hard upstreams succeeded for the date and again
// when a soft one arrives later.
package analytics

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"

	"github.com/nba-props/pipeline/consumers/bqjob"
	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/messages"
)

//go:embed *.sql
var queries embed.FS

// Deps are the clients the jobs use, wired by the service main. The jobs only run queries,
// so BigQuery is all they need.
type Deps struct {
	BigQuery *bigquery.Client
}

// Jobs returns the analytics jobs keyed by their catalogue name. The phase has no settings:
// the queries name the datasets they read and write (nba_raw, nba_reference, nba_analytics).
func Jobs(deps Deps) (map[string]runner.Job, error) {
	if deps.BigQuery == nil {
		return nil, errors.New("analytics jobs: Deps needs BigQuery")
	}
	out := map[string]runner.Job{}
	for _, table := range []string{"team_offense_game_summary", "team_defense_game_summary", "player_game_summary"} {
		sql, err := queries.ReadFile(table + ".sql")
		if err != nil {
			return nil, fmt.Errorf("analytics job %s: %w", table, err)
		}
		out[table] = &QueryJob{BigQuery: deps.BigQuery, Dataset: "nba_analytics", Table: table, SQL: string(sql)}
	}
	return out, nil
}

// QueryJob replaces one date's partition of Dataset.Table with the result of SQL, which reads
// the date as the DATE parameter @game_date.
type QueryJob struct {
	BigQuery *bigquery.Client
	Dataset  string
	Table    string
	SQL      string
}

// Run runs the query for req.Date and reports the rows of the partition.
func (j *QueryJob) Run(ctx context.Context, req messages.Request) (runner.Result, error) {
	d, err := messages.ParseDate(req.Date)
	if err != nil {
		return runner.Result{}, runner.Permanent(fmt.Errorf("%s: %w", j.Table, err))
	}
	part := d.Format("20060102")
	q := j.BigQuery.Query(j.SQL)
	q.Parameters = []bigquery.QueryParameter{{Name: "game_date", Value: civil.DateOf(d)}}
	q.Dst = j.BigQuery.Dataset(j.Dataset).Table(j.Table + "$" + part)
	q.WriteDisposition = bigquery.WriteTruncate
	q.CreateDisposition = bigquery.CreateNever
	q.Labels = map[string]string{"phase": "analytics", "table": j.Table, "partition": part}
	if _, err := bqjob.Run(ctx, j.BigQuery, bqjob.BaseID(ctx, "analytics", j.Table, part, req), func(id string) (*bigquery.Job, error) {
		q.JobID = id
		return q.Run(ctx)
	}); err != nil {
		return runner.Result{}, fmt.Errorf("%s for %s into %s.%s$%s: %w", j.Table, req.Date, j.Dataset, j.Table, part, err)
	}
	n, err := countRows(ctx, j.BigQuery, j.Dataset, j.Table, d)
	if err != nil {
		return runner.Result{}, err
	}
	return runner.Result{Rows: map[string]int64{req.Date: n}, Empty: n == 0}, nil
}

// countRows counts a partition's rows (the table's metadata is per table, not per day).
func countRows(ctx context.Context, bq *bigquery.Client, dataset, table string, d time.Time) (int64, error) {
	q := bq.Query(fmt.Sprintf("SELECT COUNT(*) AS n FROM `%s.%s` WHERE game_date = @game_date", dataset, table))
	q.Parameters = []bigquery.QueryParameter{{Name: "game_date", Value: civil.DateOf(d)}}
	it, err := q.Read(ctx)
	if err != nil {
		return 0, fmt.Errorf("count rows of %s.%s for %s: %w", dataset, table, d.Format(messages.DateLayout), err)
	}
	var row struct{ N int64 }
	if err := it.Next(&row); err != nil {
		return 0, fmt.Errorf("count rows of %s.%s for %s: %w", dataset, table, d.Format(messages.DateLayout), err)
	}
	return row.N, nil
}
