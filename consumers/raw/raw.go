// Package raw holds the phase-2 jobs: each reads every scraper object of one date from GCS,
// parses, validates and normalises it to the canonical keys of package nba, writes the rows
// as NDJSON to a staging object and replaces the date's partition of its nba_raw table with
// one load job (WRITE_TRUNCATE into table$YYYYMMDD).
//
// A job is idempotent: the load job id is derived from the table, the date and the input
// objects with their generations, so a rerun on unchanged input attaches to the load job that
// already ran, and changed input (a new generation, a new per-event file) loads again. A
// record that cannot be parsed fails the run permanently, naming the object and the record's
// position; no record is dropped silently. A date whose input holds no rows succeeds with
// Result.Empty (its partition truncated to zero rows), unless the source says games were
// played that day, which is ErrEmptyInput.
//
// The game book job also reads the date's box scores back from BigQuery, to resolve the last
// names the books print; they are soft upstreams in the catalogue, and part of its input.
package raw

import (
	"errors"
	"fmt"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/storage"

	"github.com/nba-props/pipeline/consumers/runner"
)

// ErrEmptyInput is wrapped (as a permanent error) when a date's objects hold no rows although
// the schedule or the source itself says games were played: an empty 200 is never a success.
var ErrEmptyInput = errors.New("no rows for a date with games")

// ErrBadRecord is wrapped (as a permanent error) when a source record cannot be parsed or
// fails validation. The message names the object and the record's position.
var ErrBadRecord = errors.New("unparseable source record")

const (
	// Dataset holds the raw tables. It is fixed: the analytics and reference queries name it.
	Dataset = "nba_raw"
	// StagingPrefix holds the NDJSON a load job reads, _staging/<table>/<date>/<input>.ndjson,
	// beside the scraped objects in the same bucket.
	StagingPrefix = "_staging/"
)

// Deps are the clients the jobs use, wired by the service main: the bucket the scrapers
// write to (the raw jobs read it and stage their loads there) and BigQuery.
type Deps struct {
	Storage  *storage.Client
	Bucket   string
	BigQuery *bigquery.Client
}

// Jobs returns the raw jobs keyed by their catalogue name. The phase has no settings.
func Jobs(deps Deps) (map[string]runner.Job, error) {
	if deps.Storage == nil || deps.BigQuery == nil || deps.Bucket == "" {
		return nil, errors.New("raw jobs: Deps needs Storage, Bucket and BigQuery")
	}
	l := &loader{gcs: deps.Storage, bucket: deps.Bucket, bq: deps.BigQuery}
	return map[string]runner.Job{
		"nbac_schedule":                &nbacSchedule{l},
		"nbac_player_boxscores":        &nbacPlayerBoxscores{l},
		"bdl_player_boxscores":         &bdlPlayerBoxscores{l},
		"bdl_injuries":                 &bdlInjuries{l},
		"odds_api_player_points_props": &oddsPlayerPointsProps{l},
		"nbac_gamebook_player_stats":   &nbacGamebookPlayerStats{l},
	}, nil
}

// badRecord reports an unparseable record of an object as a permanent error.
func badRecord(o object, pos string, err error) error {
	return runner.Permanent(fmt.Errorf("%w: gs://%s/%s %s: %v", ErrBadRecord, o.Bucket, o.Name, pos, err))
}
