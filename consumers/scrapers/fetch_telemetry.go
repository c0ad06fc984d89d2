package scrapers

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/nba-props/pipeline/consumers/telemetry"
)

// Metric names of the source requests (README: "Seeing a backfill").
const (
	// MetricSourceRequests counts attempts by source and HTTP status ("error" when none came).
	MetricSourceRequests = "pipeline.source.requests"
	// MetricSourceThrottled counts 429 answers by source.
	MetricSourceThrottled = "pipeline.source.throttled"
	// MetricRateLimitWait times the waits for a source's token bucket.
	MetricRateLimitWait = "pipeline.source.rate_limit_wait"
	// MetricCreditsRemaining is the last x-requests-remaining a source reported (The Odds
	// API's usage credits).
	MetricCreditsRemaining = "pipeline.source.credits_remaining"
)

// AttrSource names the source on spans and metrics.
const AttrSource = attribute.Key("pipeline.source")

// minWaitEvent is the shortest rate-limiter wait worth an event on the request's span.
const minWaitEvent = time.Millisecond

// requestSpan is the span of one source request, retries and rate-limiter waits included.
type requestSpan struct{ trace.Span }

func (s *source) startRequest(ctx context.Context, r request) (context.Context, requestSpan) {
	ctx, span := otel.Tracer(telemetry.ScopeName).Start(ctx, s.name+" GET "+r.endpoint, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(AttrSource.String(s.name), attribute.String("http.request.method", http.MethodGet),
			attribute.String("url.path", r.endpoint)))
	return ctx, requestSpan{span}
}

// end records the answer: the status and attempts of a response, or the error (already
// scrubbed of keys).
func (sp requestSpan) end(resp *response, err error) {
	if resp != nil {
		sp.SetAttributes(attribute.Int("http.response.status_code", resp.status), attribute.Int("pipeline.attempts", resp.attempts))
	}
	if err != nil {
		var se *StatusError
		if errors.As(err, &se) {
			sp.SetAttributes(attribute.Int("http.response.status_code", se.Status))
		}
		sp.RecordError(err)
		sp.SetStatus(codes.Error, err.Error())
	}
	sp.End()
}

func meter() metric.Meter { return otel.Meter(telemetry.ScopeName) }

// waited records a wait for the rate limiter.
func (s *source) waited(ctx context.Context, d time.Duration) {
	if h, err := meter().Float64Histogram(MetricRateLimitWait, metric.WithUnit("s"),
		metric.WithDescription("Waits for a source's token bucket before a request, by source")); err == nil {
		h.Record(ctx, d.Seconds(), metric.WithAttributes(AttrSource.String(s.name)))
	}
	if d >= minWaitEvent {
		trace.SpanFromContext(ctx).AddEvent("rate limiter", trace.WithAttributes(attribute.Float64("wait_seconds", d.Seconds())))
	}
}

// attempted counts one attempt by its status.
func (s *source) attempted(ctx context.Context, resp *response, err error) {
	status := "error"
	var se *StatusError
	switch {
	case resp != nil:
		status = strconv.Itoa(resp.status)
	case errors.As(err, &se):
		status = strconv.Itoa(se.Status)
	}
	m := meter()
	if c, err := m.Int64Counter(MetricSourceRequests, metric.WithUnit("{request}"),
		metric.WithDescription("Source request attempts by source and HTTP status (error: no answer)")); err == nil {
		c.Add(ctx, 1, metric.WithAttributes(AttrSource.String(s.name), attribute.String("http.response.status_code", status)))
	}
	if status == strconv.Itoa(http.StatusTooManyRequests) {
		if c, err := m.Int64Counter(MetricSourceThrottled, metric.WithUnit("{response}"),
			metric.WithDescription("429 Too Many Requests answers by source")); err == nil {
			c.Add(ctx, 1, metric.WithAttributes(AttrSource.String(s.name)))
		}
	}
}

// retrying marks a retry on the request's span.
func (s *source) retrying(ctx context.Context, attempt int, delay time.Duration, err error) {
	trace.SpanFromContext(ctx).AddEvent("retry", trace.WithAttributes(attribute.Int("attempt", attempt),
		attribute.Float64("delay_seconds", delay.Seconds()), attribute.String("error", s.scrub(err).Error())))
}

// credits records the usage credits a source reports left (x-requests-remaining).
func (s *source) credits(ctx context.Context, h http.Header) {
	n, err := strconv.ParseInt(h.Get("x-requests-remaining"), 10, 64)
	if err != nil {
		return
	}
	if g, err := meter().Int64Gauge(MetricCreditsRemaining, metric.WithUnit("{credit}"),
		metric.WithDescription("Usage credits the source reported left after the last request")); err == nil {
		g.Record(ctx, n, metric.WithAttributes(AttrSource.String(s.name)))
	}
	trace.SpanFromContext(ctx).SetAttributes(attribute.Int64("pipeline.credits_remaining", n))
}
