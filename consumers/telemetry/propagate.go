package telemetry

import (
	"context"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/nba-props/pipeline/messages"
)

// TraceparentAttr is the message attribute that carries the W3C traceparent: the key the
// Pub/Sub client library uses (its "googclient_" prefix before the header's name), so
// that a subscriber with the library's own tracing finds it too.
const TraceparentAttr = attrPrefix + "traceparent"

const attrPrefix = "googclient_"

// ScopeName is the instrumentation scope of the pipeline's own spans and metrics.
const ScopeName = "github.com/nba-props/pipeline"

// carrier reads and writes trace context in message attributes.
type carrier map[string]string

func (c carrier) Get(key string) string { return c[attrPrefix+key] }
func (c carrier) Set(key, v string)     { c[attrPrefix+key] = v }
func (c carrier) Keys() []string {
	var out []string
	for k := range c {
		if len(k) > len(attrPrefix) && k[:len(attrPrefix)] == attrPrefix {
			out = append(out, k[len(attrPrefix):])
		}
	}
	return out
}

// The W3C trace context alone: what travels in messages does not depend on which
// propagator a binary installed.
var traceContext = propagation.TraceContext{}

// Inject writes the trace context of ctx's span into message attributes. A context
// without a valid span leaves attrs as they are.
func Inject(ctx context.Context, attrs map[string]string) {
	if trace.SpanContextFromContext(ctx).IsValid() {
		traceContext.Inject(ctx, carrier(attrs))
	}
}

// Extract returns ctx with the remote span context a message's attributes carry, the
// parent of the span that handles it.
func Extract(ctx context.Context, attrs map[string]string) context.Context {
	return traceContext.Extract(ctx, carrier(attrs))
}

// Attributes of the pipeline's spans and metrics.
const (
	AttrPhase   = attribute.Key("pipeline.phase")
	AttrJob     = attribute.Key("pipeline.job")
	AttrDate    = attribute.Key("pipeline.date")
	AttrRunID   = attribute.Key("pipeline.run_id")
	AttrOutcome = attribute.Key("pipeline.outcome")
	AttrState   = attribute.Key("pipeline.state")
	AttrLane    = attribute.Key("pipeline.lane")
)

// RequestAttrs describes a request on a span.
func RequestAttrs(req messages.Request) []attribute.KeyValue {
	return []attribute.KeyValue{
		AttrPhase.String(string(req.Phase)), AttrJob.String(req.Job), AttrDate.String(req.Date),
		AttrRunID.String(req.RunID), AttrLane.String(req.Lane),
	}
}

// PublishSpan starts the span of one message published to topic for req, as a child of
// ctx's span, and writes its trace context into attrs. The caller ends the span once the
// publish is confirmed (or has failed).
func PublishSpan(ctx context.Context, tp trace.TracerProvider, topic string, req messages.Request, attrs map[string]string) (context.Context, trace.Span) {
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	ctx, span := tp.Tracer(ScopeName).Start(ctx, "publish "+topic, trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(append(RequestAttrs(req),
			attribute.String("messaging.system", "gcp_pubsub"),
			attribute.String("messaging.destination.name", topic))...))
	Inject(ctx, attrs)
	return ctx, span
}

// RunTraces gives a producer run one trace per date: the first message of a date starts
// the date's root span, and every message of the date is published under it, so the
// date's jobs in every phase share its trace id. End ends the root spans.
type RunTraces struct {
	tp    trace.TracerProvider
	runID string

	mu    sync.Mutex
	dates map[string]dateSpan
}

type dateSpan struct {
	ctx  context.Context
	span trace.Span
}

// NewRunTraces returns the traces of run runID; tp nil means the global provider.
func NewRunTraces(tp trace.TracerProvider, runID string) *RunTraces {
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	return &RunTraces{tp: tp, runID: runID, dates: map[string]dateSpan{}}
}

// Message starts and ends the publish span of req's message under its date's root span
// and writes its trace context into attrs, the attributes of the message to publish.
func (r *RunTraces) Message(ctx context.Context, topic string, req messages.Request, attrs map[string]string) {
	r.mu.Lock()
	d, ok := r.dates[req.Date]
	if !ok {
		d.ctx, d.span = r.tp.Tracer(ScopeName).Start(context.WithoutCancel(ctx), "enqueue "+req.Date,
			trace.WithNewRoot(), trace.WithSpanKind(trace.SpanKindProducer),
			trace.WithAttributes(AttrRunID.String(r.runID), AttrDate.String(req.Date), AttrPhase.String(string(req.Phase))))
		r.dates[req.Date] = d
	}
	r.mu.Unlock()
	_, span := PublishSpan(d.ctx, r.tp, topic, req, attrs)
	span.End()
}

// End ends every date's root span.
func (r *RunTraces) End() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range r.dates {
		d.span.End()
	}
	r.dates = map[string]dateSpan{}
}
