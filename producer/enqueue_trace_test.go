package main

import (
	"context"
	"strings"
	"testing"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/nba-props/pipeline/consumers/telemetry"
	"github.com/nba-props/pipeline/messages"
)

// Every message of a date carries the trace of that date: two jobs of one date share a
// trace id, two dates do not. Not parallel: it installs the global tracer provider, as
// main does with OTEL_TRACES_EXPORTER set.
func TestEnqueueGivesEachDateOneTrace(t *testing.T) {
	spans := tracetest.NewInMemoryExporter()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans)))
	t.Cleanup(func() { otel.SetTracerProvider(tracenoop.NewTracerProvider()) })
	env, vars := stack(t)
	code, _, stderr := runProducer(t, vars, "enqueue", "--phase", "scrapers", "--job", "all",
		"--start-date", "2024-10-22", "--end-date", "2024-10-23", "--run-id", "run-traced")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	traces := map[string]map[string]bool{} // date → trace ids of its messages
	ctx := context.Background()
	for _, job := range []string{"bdl_games", "nbac_schedule"} {
		sub := "projects/" + env.Project + "/subscriptions/" + env.Names.Subscription(messages.Ref(messages.PhaseScrapers, job))
		resp, err := env.PubSub.SubscriptionAdminClient.Pull(ctx, &pubsubpb.PullRequest{Subscription: sub, MaxMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range resp.ReceivedMessages {
			tp := m.Message.Attributes[telemetry.TraceparentAttr]
			parts := strings.Split(tp, "-")
			if len(parts) != 4 {
				t.Fatalf("%s %s: traceparent %q", job, m.Message.Attributes[messages.AttrDate], tp)
			}
			d := m.Message.Attributes[messages.AttrDate]
			if traces[d] == nil {
				traces[d] = map[string]bool{}
			}
			traces[d][parts[1]] = true
		}
	}
	if len(traces) != 2 || len(traces["2024-10-22"]) != 1 || len(traces["2024-10-23"]) != 1 {
		t.Fatalf("trace ids by date: %v; want one per date", traces)
	}
	for id := range traces["2024-10-22"] {
		if traces["2024-10-23"][id] {
			t.Errorf("both dates in trace %s", id)
		}
	}
	roots := 0
	for _, s := range spans.GetSpans() {
		if strings.HasPrefix(s.Name, "enqueue 2024-10-2") && s.SpanContext.TraceID().String() != "" {
			roots++
		}
	}
	if roots != 2 {
		t.Errorf("%d date spans exported, want 2", roots)
	}
}
