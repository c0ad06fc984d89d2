package telemetry_test

import (
	"bytes"
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sethvargo/go-envconfig"
	"go.opentelemetry.io/otel/trace"

	"github.com/nba-props/pipeline/consumers/telemetry"
	"github.com/nba-props/pipeline/messages"
)

func load(t *testing.T, vars map[string]string) (telemetry.Config, error) {
	t.Helper()
	return telemetry.Load(context.Background(), envconfig.MapLookuper(vars))
}

func TestLoadRefusesUnknownExportersNamingTheVariable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		vars map[string]string
		want string
	}{
		{map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, `OTEL_TRACES_EXPORTER="zipkin": use none, console, otlp or gcp`},
		{map[string]string{"OTEL_METRICS_EXPORTER": "statsd"}, `OTEL_METRICS_EXPORTER="statsd": use none, console, otlp, gcp or prometheus`},
		{map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, `OTEL_EXPORTER_OTLP_PROTOCOL="http/json": use http/protobuf or grpc`},
		{map[string]string{"OTEL_EXPORTER_PROMETHEUS_PORT": "70000"}, `OTEL_EXPORTER_PROMETHEUS_PORT=70000: use a TCP port (0: any free one)`},
	} {
		if _, err := load(t, tc.vars); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load(%v) = %v, want an error containing %q", tc.vars, err, tc.want)
		}
	}
	c, err := load(t, nil)
	if err != nil || c.TracesExporter != "none" || c.MetricsExporter != "none" || c.PrometheusAddr() != "localhost:9464" {
		t.Errorf("defaults: %+v, %v; want none, none, localhost:9464", c, err)
	}
	if _, err := telemetry.Setup(context.Background(), telemetry.Config{TracesExporter: "gcp", MetricsExporter: "none", PrometheusPort: 9464}, telemetry.Options{}); err == nil ||
		!strings.Contains(err.Error(), "GOOGLE_CLOUD_PROJECT") {
		t.Errorf("gcp without a project: %v, want an error naming GOOGLE_CLOUD_PROJECT", err)
	}
}

// By default nothing is recorded: the providers are the no-op ones, and an incoming
// traceparent is passed on unchanged.
func TestNoneRecordsNothingAndPassesTraceparentOn(t *testing.T) {
	t.Parallel()
	c, _ := load(t, nil)
	tel, err := telemetry.Setup(context.Background(), c, telemetry.Options{Service: "test"})
	if err != nil {
		t.Fatal(err)
	}
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	ctx := telemetry.Extract(context.Background(), map[string]string{telemetry.TraceparentAttr: tp})
	ctx, span := tel.TracerProvider.Tracer("t").Start(ctx, "deliver")
	if span.IsRecording() {
		t.Error("the default provider records spans")
	}
	out := map[string]string{}
	telemetry.Inject(ctx, out)
	if out[telemetry.TraceparentAttr] != tp {
		t.Errorf("passed on %q, want %q unchanged", out[telemetry.TraceparentAttr], tp)
	}
	if tel.Metrics != nil {
		t.Error("a /metrics handler without OTEL_METRICS_EXPORTER=prometheus")
	}
}

// The console exporter writes each span as JSON; the Prometheus reader serves the text
// format with the pipeline's metric names.
func TestConsoleTracesAndPrometheusMetrics(t *testing.T) {
	t.Parallel()
	c, err := load(t, map[string]string{"OTEL_TRACES_EXPORTER": "console", "OTEL_METRICS_EXPORTER": "prometheus"})
	if err != nil {
		t.Fatal(err)
	}
	var console bytes.Buffer
	tel, err := telemetry.Setup(context.Background(), c, telemetry.Options{Service: "test", Console: &console})
	if err != nil {
		t.Fatal(err)
	}
	req := messages.Request{Phase: messages.PhaseScrapers, Job: "bdl_games", Date: "2024-10-22", RunID: "r1"}
	run := telemetry.NewRunTraces(tel.TracerProvider, req.RunID)
	attrs := map[string]string{}
	run.Message(context.Background(), "nba-phase1-scrapers", req, attrs)
	run.End()
	ctx := telemetry.Extract(context.Background(), attrs)
	if !trace.SpanContextFromContext(ctx).IsValid() {
		t.Fatalf("the message's attributes %v carry no trace context", attrs)
	}
	counter, _ := tel.MeterProvider.Meter(telemetry.ScopeName).Int64Counter("pipeline.messages")
	counter.Add(ctx, 3)
	rec := httptest.NewRecorder()
	tel.Metrics.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	if !strings.Contains(string(body), `pipeline_messages_total{otel_scope_name="github.com/nba-props/pipeline",otel_scope_schema_url="",otel_scope_version=""} 3`) {
		t.Errorf("/metrics lacks pipeline_messages_total 3:\n%s", body)
	}
	if err := tel.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"Name":"enqueue 2024-10-22"`, `"Name":"publish nba-phase1-scrapers"`, trace.SpanContextFromContext(ctx).TraceID().String()} {
		if !strings.Contains(console.String(), want) {
			t.Errorf("console output lacks %s:\n%s", want, console.String())
		}
	}
}
