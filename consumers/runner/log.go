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

// traceparentAttr is where the Pub/Sub client library carries W3C trace context in
// message attributes. The runtime also copies it onto the messages it emits, so one date
// can be followed from scraper to analytics even without OpenTelemetry.
const traceparentAttr = "googclient_traceparent"

// traceAttrs returns the Cloud Logging trace fields for a W3C traceparent
// ("00-<trace>-<span>-<flags>") in project, or nothing if it does not parse.
func traceAttrs(project, traceparent string) []slog.Attr {
	parts := strings.Split(traceparent, "-")
	if len(parts) != 4 || len(parts[1]) != 32 || len(parts[2]) != 16 || !isHex(parts[1]) || !isHex(parts[2]) {
		return nil
	}
	return []slog.Attr{
		slog.String(LogKeyTrace, "projects/"+project+"/traces/"+parts[1]),
		slog.String(LogKeySpanID, parts[2]),
		slog.Bool(LogKeyTraceSampled, strings.HasSuffix(parts[3], "1")),
	}
}

func isHex(s string) bool {
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
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
	attrs = append(attrs, traceAttrs(rt.project, d.Attributes[traceparentAttr])...)
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
