package scrapers

import (
	"context"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/nba-props/pipeline/infra/sourcesim"
)

// A source request is one span, its 429 and retry included, and a wait for the source's
// token bucket is an event on it; the attempts are counted by status, the 429 as throttled, and
// The Odds API's remaining credits are a gauge. Not parallel: it installs the global
// providers, which the scrapers use (the binary's main installs them in production).
func TestSourceRequestSpansAndMetrics(t *testing.T) {
	spans := tracetest.NewInMemoryExporter()
	reader := sdkmetric.NewManualReader()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans)))
	otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
	t.Cleanup(func() {
		otel.SetTracerProvider(tracenoop.NewTracerProvider())
		otel.SetMeterProvider(metricnoop.NewMeterProvider())
	})

	f := sourcesim.Fault{Source: sourcesim.SourceBDL, Dataset: sourcesim.DatasetBDLGames, Kind: sourcesim.FaultRateLimit, RetryAfter: 1, First: 1}
	// 1,200 a minute with a burst of 1: the box-score pages, fetched one after another,
	// each wait for a token.
	e := newTestEnv(t, sourcesim.Config{Faults: []sourcesim.Fault{f}}, map[string]string{"BDL_RATE_PER_MINUTE": "1200", "BDL_BURST": "1"})
	e.mustRun(t, "bdl_games", gameDay)
	e.mustRun(t, "bdl_player_boxscores", gameDay)
	e.mustRun(t, "odds_api_player_props", gameDay)

	var games *tracetest.SpanStub
	var all []string
	waited := 0
	for _, s := range spans.GetSpans() {
		all = append(all, s.Name)
		if strings.HasPrefix(s.Name, "bdl GET ") && strings.Contains(s.Name, "games") && games == nil {
			games = &s
		}
		for _, ev := range s.Events {
			if ev.Name == "rate limiter" && strings.HasPrefix(s.Name, "bdl GET /v1/stats") {
				waited++
			}
		}
	}
	if waited == 0 {
		t.Errorf("no BDL box-score request span has a rate limiter event; spans: %s", strings.Join(all, ", "))
	}
	if games == nil {
		t.Fatalf("no span of the BDL games request; spans: %s", strings.Join(all, ", "))
	}
	if got := intAttr(games.Attributes, "pipeline.attempts"); got != 2 {
		t.Errorf("games request span: %d attempts, want 2 (a 429, then a 200)", got)
	}
	if got := intAttr(games.Attributes, "http.response.status_code"); got != 200 {
		t.Errorf("games request span: status %d, want 200", got)
	}
	events := map[string]string{}
	for _, ev := range games.Events {
		for _, a := range ev.Attributes {
			events[ev.Name] += string(a.Key) + "=" + a.Value.String() + " "
		}
	}
	if !strings.Contains(events["retry"], "429") {
		t.Errorf("games request span: retry event %q, want one naming the 429", events["retry"])
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	if n := sumPoints(rm, MetricSourceRequests, "bdl", "429"); n != 1 {
		t.Errorf("%s{bdl, 429} = %d, want 1", MetricSourceRequests, n)
	}
	if n := sumPoints(rm, MetricSourceThrottled, "bdl", ""); n != 1 {
		t.Errorf("%s{bdl} = %d, want 1", MetricSourceThrottled, n)
	}
	if n := sumPoints(rm, MetricSourceRequests, "odds", "200"); n == 0 {
		t.Errorf("%s{odds, 200} = 0, want the odds requests", MetricSourceRequests)
	}
	credits := int64(-1)
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if g, ok := m.Data.(metricdata.Gauge[int64]); ok && m.Name == MetricCreditsRemaining {
				for _, p := range g.DataPoints {
					if v, _ := p.Attributes.Value(AttrSource); v.AsString() == "odds" {
						credits = p.Value
					}
				}
			}
		}
	}
	if credits <= 0 {
		t.Errorf("%s{odds} = %d, want the credits the simulator reports left", MetricCreditsRemaining, credits)
	}
}

func intAttr(attrs []attribute.KeyValue, key string) int64 {
	for _, a := range attrs {
		if string(a.Key) == key {
			return a.Value.AsInt64()
		}
	}
	return -1
}

// sumPoints sums an Int64 counter's points for source (and status, unless "").
func sumPoints(rm metricdata.ResourceMetrics, name, source, status string) int64 {
	var n int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			sum, ok := m.Data.(metricdata.Sum[int64])
			if m.Name != name || !ok {
				continue
			}
			for _, p := range sum.DataPoints {
				src, _ := p.Attributes.Value(AttrSource)
				st, _ := p.Attributes.Value("http.response.status_code")
				if src.AsString() == source && (status == "" || st.AsString() == status) {
					n += p.Value
				}
			}
		}
	}
	return n
}
