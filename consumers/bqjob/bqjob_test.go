package bqjob_test

import (
	"context"
	"testing"

	"cloud.google.com/go/bigquery"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/nba-props/pipeline/consumers/bqjob"
	"github.com/nba-props/pipeline/infra/warehousetest"
)

// Each BigQuery job is one span under the caller's, named by its job id; a redelivered run
// attaches to the job that already ran, and its span says so. Not parallel: it installs
// the global tracer provider, which the jobs use (main installs it in production).
func TestEachBigQueryJobIsASpanAndARerunAttaches(t *testing.T) {
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { otel.SetTracerProvider(tracenoop.NewTracerProvider()) })
	env := warehousetest.Start(t)

	ctx, parent := tp.Tracer("test").Start(context.Background(), "run analytics/x")
	start := func(id string) (*bigquery.Job, error) {
		q := env.BigQuery.Query("SELECT 1 AS one")
		q.JobID = id
		return q.Run(ctx)
	}
	for range 2 {
		if _, err := bqjob.Run(ctx, env.BigQuery, "analytics_x_20241022_abc", start); err != nil {
			t.Fatal(err)
		}
	}
	parent.End()

	var jobs []tracetest.SpanStub
	for _, s := range spans.GetSpans() {
		if s.Name == "bigquery job" {
			jobs = append(jobs, s)
		}
	}
	if len(jobs) != 2 {
		t.Fatalf("%d bigquery job spans, want 2", len(jobs))
	}
	for i, s := range jobs {
		attrs := map[string]string{}
		for _, a := range s.Attributes {
			attrs[string(a.Key)] = a.Value.String()
		}
		if attrs["bigquery.job.id"] != "analytics_x_20241022_abc" || s.Parent.SpanID() != parent.SpanContext().SpanID() || s.Status.Code == codes.Error {
			t.Errorf("span %d: attributes %v, parent %s, status %v; want the job id under the run's span, ok", i, attrs, s.Parent.SpanID(), s.Status)
		}
		if attached := attrs["bigquery.job.attached"] == "true"; attached != (i == 1) {
			t.Errorf("span %d: attached %v, want %v (the second run finds the job already there)", i, attached, i == 1)
		}
	}
}
