package runner

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/nba-props/pipeline/consumers/telemetry"
	"github.com/nba-props/pipeline/messages"
)

// instruments are the runtime's spans and metrics. Every delivery is one span (a child of
// the span whose traceparent the message carries), with child spans for the decision (its
// ledger reads and writes), the job's run and each publish; its outcome is counted and
// timed by job.
type instruments struct {
	tp       trace.TracerProvider
	tracer   trace.Tracer
	messages metric.Int64Counter
	elapsed  metric.Float64Histogram
	jobRuns  metric.Float64Histogram
}

// Metric names of the runtime (README: "Seeing a backfill").
const (
	MetricMessages       = "pipeline.messages"
	MetricMessageSeconds = "pipeline.message.duration"
	MetricJobSeconds     = "pipeline.job.duration"
)

// latencyBuckets cover a no-op duplicate (milliseconds) to a long scrape (minutes).
var latencyBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}

func newInstruments(tp trace.TracerProvider, mp metric.MeterProvider) (*instruments, error) {
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	m := mp.Meter(telemetry.ScopeName)
	in := &instruments{tp: tp, tracer: tp.Tracer(telemetry.ScopeName)}
	var errs [3]error
	in.messages, errs[0] = m.Int64Counter(MetricMessages, metric.WithUnit("{message}"),
		metric.WithDescription("Deliveries handled, by phase, job and outcome (succeeded, duplicate, waiting, retry, dead, ...)"))
	in.elapsed, errs[1] = m.Float64Histogram(MetricMessageSeconds, metric.WithUnit("s"),
		metric.WithDescription("Time from receiving a delivery to its settlement, by phase, job and outcome"),
		metric.WithExplicitBucketBoundaries(latencyBuckets...))
	in.jobRuns, errs[2] = m.Float64Histogram(MetricJobSeconds, metric.WithUnit("s"),
		metric.WithDescription("Time of one job run, by phase, job and result (ok, error)"),
		metric.WithExplicitBucketBoundaries(latencyBuckets...))
	for _, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("runner: metrics: %w", err)
		}
	}
	return in, nil
}

// startDelivery continues the trace the delivery's attributes carry with the delivery's
// span.
func (rt *Runtime) startDelivery(ctx context.Context, d Delivery) (context.Context, trace.Span) {
	ctx = telemetry.Extract(ctx, d.Attributes)
	return rt.tel.tracer.Start(ctx, "deliver "+d.Subscription, trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			attribute.String("messaging.system", "gcp_pubsub"),
			attribute.String("messaging.destination.subscription.name", d.Subscription),
			attribute.String("messaging.message.id", d.ID),
			attribute.Int("messaging.gcp_pubsub.message.delivery_attempt", d.DeliveryAttempt)))
}

// endDelivery ends the delivery's span with what was done and counts the outcome.
func (rt *Runtime) endDelivery(ctx context.Context, span trace.Span, d Delivery, h handling, elapsed time.Duration) {
	labels := attribute.NewSet(telemetry.AttrPhase.String(string(h.ref.Phase)), telemetry.AttrJob.String(h.ref.Job),
		telemetry.AttrOutcome.String(string(h.outcome)))
	rt.tel.messages.Add(ctx, 1, metric.WithAttributeSet(labels))
	rt.tel.elapsed.Record(ctx, elapsed.Seconds(), metric.WithAttributeSet(labels))
	span.SetAttributes(telemetry.AttrPhase.String(string(h.ref.Phase)), telemetry.AttrJob.String(h.ref.Job),
		telemetry.AttrDate.String(h.date), telemetry.AttrRunID.String(firstNonEmpty(h.req.RunID, d.Attributes[messages.AttrRunID])),
		telemetry.AttrOutcome.String(string(h.outcome)), telemetry.AttrState.String(string(h.state)),
		attribute.Int("pipeline.attempt", h.attempt), attribute.Int64("pipeline.rows", h.rows),
		attribute.String("pipeline.settlement", h.outcome.Settlement().String()))
	if h.reason != "" {
		span.SetAttributes(attribute.String("pipeline.reason", h.reason))
	}
	switch h.outcome {
	case OutcomeDead, OutcomeRetry, OutcomeNotHandled, OutcomeUnroutable:
		msg := string(h.outcome)
		if h.err != nil {
			span.RecordError(h.err)
			msg = h.err.Error()
		}
		span.SetStatus(codes.Error, msg)
	}
	span.End()
}

// span starts a child span of the work on one delivery; end records err on it.
func (rt *Runtime) span(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, func(err error)) {
	ctx, span := rt.tel.tracer.Start(ctx, name, trace.WithAttributes(attrs...))
	return ctx, func(err error) {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}
}

// runTraced runs the job under its span and times it.
func (rt *Runtime) runTraced(ctx context.Context, job Job, req messages.Request) (Result, error) {
	ctx, end := rt.span(ctx, "run "+req.Ref().String(), telemetry.RequestAttrs(req)...)
	start := time.Now()
	res, err := runJob(ctx, job, req)
	result := "ok"
	if err != nil {
		result = "error"
	}
	rt.tel.jobRuns.Record(ctx, time.Since(start).Seconds(), metric.WithAttributes(
		telemetry.AttrPhase.String(string(req.Phase)), telemetry.AttrJob.String(req.Job), attribute.String("result", result)))
	end(err)
	return res, err
}

// traceLogAttrs are the Cloud Logging trace fields of ctx's span: the delivery's own span
// when traces are recorded, else the span the message's traceparent names, so that a log
// line and its span share their ids.
func traceLogAttrs(ctx context.Context, project string) []slog.Attr {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return nil
	}
	return []slog.Attr{
		slog.String(LogKeyTrace, "projects/"+project+"/traces/"+sc.TraceID().String()),
		slog.String(LogKeySpanID, sc.SpanID().String()),
		slog.Bool(LogKeyTraceSampled, sc.IsSampled()),
	}
}

// publishSpan starts the span of one outgoing message and writes its trace context into
// the message's attributes; the returned func ends it with the publish result.
func (rt *Runtime) publishSpan(ctx context.Context, m outgoing) func(error) {
	_, span := telemetry.PublishSpan(ctx, rt.tel.tp, m.topic, m.req, m.msg.Attributes)
	return func(err error) {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}
}
