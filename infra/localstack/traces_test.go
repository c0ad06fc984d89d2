package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
)

// TestTraceViewShowsWhatTheProducerSentByOTLP sends spans the way the producer does on
// make up (the standard OTLP exporter over HTTP, protobuf; OTEL_EXPORTER_OTLP_ENDPOINT
// gets the /v1/traces path added) and sees them in the view: the
// trace's page shows each span under its parent with its service, attributes and error,
// and the list shows the trace of a date but leaves a read-only one out.
func TestTraceViewShowsWhatTheProducerSentByOTLP(t *testing.T) {
	t.Parallel()
	view := newTraceView()
	srv := httptest.NewServer(view.handler())
	defer srv.Close()
	ctx := context.Background()
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(srv.URL+"/v1/traces"))
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp),
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName("producer"))))
	tr := tp.Tracer("test")
	dctx, date := tr.Start(ctx, "enqueue 2024-10-22")
	_, pub := tr.Start(dctx, "publish nba-phase1-scrapers")
	pub.SetAttributes(attribute.String("pipeline.job", "bdl_games"))
	pub.SetStatus(codes.Error, "publish refused")
	pub.End()
	date.End()
	_, read := tr.Start(ctx, "ledger.list")
	read.End()
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	id := date.SpanContext().TraceID().String()
	code, page := get("/traces/" + id)
	if code != http.StatusOK {
		t.Fatalf("GET /traces/%s: %d %s", id, code, page)
	}
	for _, want := range []string{"producer: enqueue 2024-10-22", "publish nba-phase1-scrapers", "pipeline.job=bdl_games",
		"Error: publish refused", "padding-left:16px"} {
		if !strings.Contains(page, want) {
			t.Errorf("the trace page lacks %q:\n%s", want, page)
		}
	}
	_, list := get("/traces/")
	if !strings.Contains(list, id) || strings.Contains(list, read.SpanContext().TraceID().String()) ||
		!strings.Contains(list, "the last 1 of housekeeping alone") {
		t.Errorf("the list should show the date's trace %s and leave the read-only one out:\n%s", id, list)
	}
	if code, body := get("/traces/0123456789abcdef0123456789abcdef"); code != http.StatusNotFound || !strings.Contains(body, "no spans of trace") {
		t.Errorf("an unknown trace: %d %s; want 404 saying so", code, body)
	}
	resp, err := http.Post(srv.URL+"/v1/traces", "text/plain", strings.NewReader("spans"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("POST /v1/traces as text/plain: %d, want 415", resp.StatusCode)
	}
}

// TestTraceViewKeepsWorkThroughAFloodOfHousekeeping: a backfill's Pub/Sub acknowledgements
// are a trace each, thousands of them; they must not push a date's trace out of the view.
func TestTraceViewKeepsWorkThroughAFloodOfHousekeeping(t *testing.T) {
	t.Parallel()
	v := newTraceView()
	v.add([]viewSpan{{TraceID: "date", SpanID: "1", Name: "ledger.get"}}) // housekeeping first...
	v.add([]viewSpan{{TraceID: "date", SpanID: "2", Name: "deliver nba-phase1-scrapers.bdl_games"}})
	for i := range maxTraces + maxOthers {
		v.add([]viewSpan{{TraceID: fmt.Sprint("ack", i), SpanID: "1", Name: "google.pubsub.v1.Subscriber/Acknowledge"}})
	}
	if got := len(v.snapshot("date")); got != 2 {
		t.Errorf("the date's trace has %d spans after the flood, want its 2", got)
	}
	if len(v.traces) != 1+maxOthers {
		t.Errorf("%d traces kept, want the date's and the last %d of housekeeping", len(v.traces), maxOthers)
	}
}

// TestTraceViewKeepsItsSpansWithinTheBudget: a date's trace holds over a thousand spans, so
// a long backfill's traces are dropped, oldest first, by their spans, not only their count;
// the newest stays whatever its size.
func TestTraceViewKeepsItsSpansWithinTheBudget(t *testing.T) {
	t.Parallel()
	v := newTraceView()
	const perDate = 1300
	dates := maxSpans/perDate + 10
	for d := range dates {
		spans := make([]viewSpan, perDate)
		for i := range spans {
			spans[i] = viewSpan{TraceID: fmt.Sprint("date", d), SpanID: fmt.Sprint(i), Name: "deliver nba-phase2-raw.nbac_schedule"}
		}
		v.add(spans)
	}
	total := 0
	for _, ss := range v.traces {
		total += len(ss)
	}
	if total > maxSpans || total != v.spans {
		t.Errorf("the view holds %d spans (counted %d), want at most %d", total, v.spans, maxSpans)
	}
	if got := len(v.snapshot(fmt.Sprint("date", dates-1))); got != perDate {
		t.Errorf("the newest date's trace has %d spans, want %d", got, perDate)
	}
	if got := len(v.snapshot("date0")); got != 0 {
		t.Errorf("the oldest date's trace still has %d spans", got)
	}
	if kept := len(v.traces); kept != maxSpans/perDate {
		t.Errorf("%d traces kept, want the newest %d", kept, maxSpans/perDate)
	}

	// One trace larger than the budget is kept whole while it is the newest.
	big := make([]viewSpan, maxSpans+1)
	for i := range big {
		big[i] = viewSpan{TraceID: "big", SpanID: fmt.Sprint(i), Name: "deliver nba-phase3-analytics.player_game_summary"}
	}
	v.add(big)
	if got := len(v.snapshot("big")); got != maxSpans+1 || len(v.traces) != 1 {
		t.Errorf("the oversized newest trace has %d spans of %d, %d traces kept", got, maxSpans+1, len(v.traces))
	}
}
