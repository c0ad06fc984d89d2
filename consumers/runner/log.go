package runner

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/nba-props/pipeline/messages"
)

// Cloud Logging's special JSON keys.
const (
	LogKeyTrace          = "logging.googleapis.com/trace"
	LogKeySpanID         = "logging.googleapis.com/spanId"
	LogKeyTraceSampled   = "logging.googleapis.com/trace_sampled"
	LogKeySourceLocation = "logging.googleapis.com/sourceLocation"
)

// NewLogHandler returns a slog JSON handler whose lines Cloud Logging parses as structured
// entries: "severity" (DEBUG, INFO, WARNING, ERROR), "message", "time" in RFC 3339, the
// source location under its special key (with opts.AddSource), and durations written as
// seconds ("1.250s"). opts may be nil; its ReplaceAttr, if any, runs after these rules.
func NewLogHandler(w io.Writer, opts *slog.HandlerOptions) slog.Handler {
	var o slog.HandlerOptions
	if opts != nil {
		o = *opts
	}
	next := o.ReplaceAttr
	o.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
		a = cloudLoggingAttr(groups, a)
		if next != nil {
			a = next(groups, a)
		}
		return a
	}
	return slog.NewJSONHandler(w, &o)
}

func cloudLoggingAttr(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 {
		switch a.Key {
		case slog.LevelKey:
			return slog.String("severity", severity(a.Value))
		case slog.MessageKey:
			a.Key = "message"
			return a
		case slog.TimeKey:
			if t, ok := a.Value.Any().(time.Time); ok {
				return slog.String("time", t.UTC().Format(time.RFC3339Nano))
			}
			return a
		case slog.SourceKey:
			if s, ok := a.Value.Any().(*slog.Source); ok && s != nil {
				return slog.Group(LogKeySourceLocation,
					slog.String("file", s.File), slog.String("line", fmt.Sprint(s.Line)), slog.String("function", s.Function))
			}
			return a
		}
	}
	if a.Value.Kind() == slog.KindDuration {
		return slog.String(a.Key, fmt.Sprintf("%.3fs", a.Value.Duration().Seconds()))
	}
	return a
}

func severity(v slog.Value) string {
	l, ok := v.Any().(slog.Level)
	if !ok {
		return strings.ToUpper(v.String())
	}
	switch {
	case l >= slog.LevelError:
		return "ERROR"
	case l >= slog.LevelWarn:
		return "WARNING"
	case l >= slog.LevelInfo:
		return "INFO"
	default:
		return "DEBUG"
	}
}

// logHandled writes the one log line of a delivery.
func (rt *Runtime) logHandled(ctx context.Context, d Delivery, h handling, elapsed time.Duration) {
	level := slog.LevelInfo
	switch h.outcome {
	case OutcomeRouted:
		level = slog.LevelDebug
	case OutcomeRetry, OutcomeLeaseHeld, OutcomeAbandoned, OutcomeNotHandled:
		level = slog.LevelWarn
	case OutcomeDead, OutcomeUnroutable:
		level = slog.LevelError
	}
	if !rt.log.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("outcome", string(h.outcome)),
		slog.String("phase", string(h.ref.Phase)),
		slog.String("job", h.ref.Job),
		slog.String("date", h.date),
		slog.String("run_id", firstNonEmpty(h.req.RunID, d.Attributes[messages.AttrRunID])),
		slog.Int("attempt", h.attempt),
		slog.Int("delivery_attempt", d.DeliveryAttempt),
		slog.String("state", string(h.state)),
		slog.Int64("rows", h.rows),
		slog.Duration("elapsed", elapsed),
		slog.String("subscription", d.Subscription),
		slog.String("message_id", d.ID),
	}
	if h.req.Trigger.From != "" {
		attrs = append(attrs, slog.String("from", h.req.Trigger.From))
	}
	if h.reason != "" {
		attrs = append(attrs, slog.String("reason", h.reason))
	}
	if h.err != nil {
		attrs = append(attrs, slog.String("err", h.err.Error()))
	}
	attrs = append(attrs, traceLogAttrs(ctx, rt.project)...)
	rt.log.LogAttrs(ctx, level, "message "+string(h.outcome), attrs...)
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
