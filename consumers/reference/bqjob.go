package reference

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/googleapi"

	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/messages"
)

// maxJobAttempts bounds the query jobs one run starts after earlier ones with the same id
// failed.
const maxJobAttempts = 5

// baseJobID names the query job of one (table, date) run: "<phase>_<table>_<YYYYMMDD>_"
// followed by the first 16 hex of the input fingerprint the runtime passes in ctx, so that
// a redelivered message attaches to the job that already ran instead of running it again.
// Outside the runtime, or for a forced run, the suffix is random.
func baseJobID(ctx context.Context, phase, table, part string, req messages.Request) string {
	if info, ok := runner.Info(ctx); ok && len(info.InputFingerprint) >= 16 && !req.Force {
		return fmt.Sprintf("%s_%s_%s_%s", phase, table, part, info.InputFingerprint[:16])
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s_%s_%s_r%s", phase, table, part, hex.EncodeToString(b))
}

// runQuery runs q under a deterministic job id. A job that already exists with the id is
// waited for instead of started again; only one known to have failed is followed by a new
// one, with an attempt suffix.
func runQuery(ctx context.Context, bq *bigquery.Client, q *bigquery.Query, base string) (*bigquery.JobStatus, error) {
	var lastErr error
	for attempt := 1; attempt <= maxJobAttempts; attempt++ {
		id := base
		if attempt > 1 {
			id = fmt.Sprintf("%s_a%d", base, attempt)
		}
		q.JobID = id
		job, err := q.Run(ctx)
		if isConflict(err) {
			job, err = bq.JobFromID(ctx, id)
		}
		if err != nil {
			return nil, fmt.Errorf("query job %s: %w", id, err)
		}
		st, err := job.Wait(ctx)
		if err != nil {
			return nil, fmt.Errorf("query job %s: wait: %w", id, err)
		}
		if lastErr = st.Err(); lastErr != nil {
			lastErr = fmt.Errorf("query job %s: %w", id, lastErr)
			continue
		}
		return st, nil
	}
	return nil, fmt.Errorf("%d query jobs failed: %w", maxJobAttempts, lastErr)
}

// isConflict reports BigQuery's answer to a job id that already exists.
func isConflict(err error) bool {
	var g *googleapi.Error
	return errors.As(err, &g) && g.Code == http.StatusConflict
}
