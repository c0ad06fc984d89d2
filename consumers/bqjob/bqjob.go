// Package bqjob runs BigQuery jobs idempotently: each (table, date) run gets a deterministic
// job id, a redelivered message attaches to the job that already ran instead of running it
// twice, and only a job known to have failed is followed by a new one. No operation that
// may have committed is ever retried blindly: a retry after a commit would write the rows a
// second time (docs/lessons.md: a committed write is never redone).
package bqjob

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"

	"cloud.google.com/go/bigquery"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/api/googleapi"

	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/consumers/telemetry"
	"github.com/nba-props/pipeline/messages"
)

// MaxAttempts bounds the jobs one run starts after earlier ones with its id failed.
const MaxAttempts = 5

// BaseID names the job of one (table, partition) run: "<phase>_<table>_<part>_" followed by
// the first 16 hex of the input fingerprint the runtime passes in ctx. Outside the runtime,
// or for a forced run, the suffix is random, so the job runs afresh.
func BaseID(ctx context.Context, phase, table, part string, req messages.Request) string {
	if info, ok := runner.Info(ctx); ok && len(info.InputFingerprint) >= 16 && !req.Force {
		return fmt.Sprintf("%s_%s_%s_%s", phase, table, part, info.InputFingerprint[:16])
	}
	return fmt.Sprintf("%s_%s_%s_r%s", phase, table, part, randomHex(8))
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ForcedID returns base with a random suffix: a forced run must not attach to the job of
// an earlier run with the same input.
func ForcedID(base string) string { return base + "_f" + randomHex(4) }

// Run starts a job with start(id) under base, then base_a2, base_a3... while the jobs end
// in failure. A job id that already exists (HTTP 409) is attached to and waited for
// instead of started again. It returns the status of the job that succeeded.
func Run(ctx context.Context, bq *bigquery.Client, base string, start func(id string) (*bigquery.Job, error)) (*bigquery.JobStatus, error) {
	var lastErr error
	for attempt := 1; attempt <= MaxAttempts; attempt++ {
		id := base
		if attempt > 1 {
			id = fmt.Sprintf("%s_a%d", base, attempt)
		}
		st, err := runOne(ctx, bq, id, attempt, start)
		if err != nil {
			return nil, err
		}
		if lastErr = st.Err(); lastErr != nil {
			lastErr = fmt.Errorf("bigquery job %s: %w", id, lastErr)
			continue
		}
		return st, nil
	}
	return nil, fmt.Errorf("%d bigquery jobs failed: %w", MaxAttempts, lastErr)
}

// runOne starts (or attaches to) the job id and waits for it, under the job's span. An
// error means the job's fate is unknown; a job that ran and failed is in the status.
func runOne(ctx context.Context, bq *bigquery.Client, id string, attempt int, start func(id string) (*bigquery.Job, error)) (*bigquery.JobStatus, error) {
	ctx, span := otel.Tracer(telemetry.ScopeName).Start(ctx, "bigquery job", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("bigquery.job.id", id), attribute.Int("pipeline.attempt", attempt)))
	defer span.End()
	job, err := start(id)
	if IsConflict(err) {
		// It already exists (a redelivery): wait for it instead of running it twice.
		span.SetAttributes(attribute.Bool("bigquery.job.attached", true))
		job, err = bq.JobFromID(ctx, id)
	}
	if err != nil {
		err = fmt.Errorf("bigquery job %s: %w", id, err)
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		return nil, err
	}
	st, err := job.Wait(ctx)
	if err != nil {
		err = fmt.Errorf("bigquery job %s: wait: %w", id, err)
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		return nil, err
	}
	if jerr := st.Err(); jerr != nil {
		span.RecordError(jerr)
		span.SetStatus(codes.Error, jerr.Error())
	}
	if stats := st.Statistics; stats != nil {
		if q, ok := stats.Details.(*bigquery.QueryStatistics); ok {
			span.SetAttributes(attribute.Int64("bigquery.rows_affected", q.NumDMLAffectedRows))
		}
		if l, ok := stats.Details.(*bigquery.LoadStatistics); ok {
			span.SetAttributes(attribute.Int64("bigquery.output_rows", l.OutputRows))
		}
	}
	return st, nil
}

// IsConflict reports BigQuery's answer to a job id that already exists.
func IsConflict(err error) bool {
	var g *googleapi.Error
	return errors.As(err, &g) && g.Code == http.StatusConflict
}
