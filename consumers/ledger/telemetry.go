package ledger

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/nba-props/pipeline/consumers/telemetry"
	"github.com/nba-props/pipeline/messages"
)

// MetricWrites counts ledger writes by phase, job, the state written and the result (ok,
// conflict, error): the flow of dates through the states.
const MetricWrites = "pipeline.ledger.writes"

type instruments struct {
	tracer trace.Tracer
	writes metric.Int64Counter
}

func newInstruments(tp trace.TracerProvider, mp metric.MeterProvider) instruments {
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	writes, err := mp.Meter(telemetry.ScopeName).Int64Counter(MetricWrites, metric.WithUnit("{write}"),
		metric.WithDescription("Ledger writes by phase, job, state written and result (ok, conflict, error)"))
	if err != nil {
		// Only an invalid instrument name fails, and this one is valid: count nothing
		// rather than refuse to keep the ledger.
		otel.Handle(err)
	}
	return instruments{tracer: tp.Tracer(telemetry.ScopeName), writes: writes}
}

// ledgerSpan is the span of one ledger operation.
type ledgerSpan struct{ trace.Span }

func (t instruments) start(ctx context.Context, name string, ref messages.JobRef, date string) (context.Context, ledgerSpan) {
	attrs := []attribute.KeyValue{telemetry.AttrPhase.String(string(ref.Phase)), telemetry.AttrJob.String(ref.Job)}
	if date != "" {
		attrs = append(attrs, telemetry.AttrDate.String(date))
	}
	ctx, span := t.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	return ctx, ledgerSpan{span}
}

// end records err on the span; an expected answer (a record not found, a lost
// compare-and-swap) is an event, not an error.
func (s ledgerSpan) end(err error, expected bool) {
	switch {
	case err == nil:
	case expected:
		s.AddEvent(err.Error())
	default:
		s.RecordError(err)
		s.SetStatus(codes.Error, err.Error())
	}
	s.End()
}

// wrote counts one write of rec.
func (t instruments) wrote(ctx context.Context, span ledgerSpan, rec Record, err error) {
	result := "ok"
	switch {
	case errors.Is(err, ErrConflict):
		result = "conflict"
	case err != nil:
		result = "error"
	}
	span.SetAttributes(telemetry.AttrState.String(string(rec.State)), attribute.Int("pipeline.attempt", rec.Attempts))
	if t.writes != nil {
		t.writes.Add(ctx, 1, metric.WithAttributes(telemetry.AttrPhase.String(string(rec.Phase)),
			telemetry.AttrJob.String(rec.Job), telemetry.AttrState.String(string(rec.State)),
			attribute.String("result", result)))
	}
}
