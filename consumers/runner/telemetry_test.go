package runner_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/consumers/telemetry"
	"github.com/nba-props/pipeline/messages"
)

// A message the producer publishes for a date and the runtime's chain a1 → a2 → c3 form one
// trace: the producer's date span, its publish span, each delivery with its decision,
// ledger writes and job run, and the publishes that lead to the next phase. The log line
// of each delivery names the delivery's span, and the outcome counter sees every delivery.
func TestOneTracePerDateFromProducerThroughEveryPhase(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testCatalog(t))
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	opts := e.options(newTracker().allJobs())
	opts.TracerProvider, opts.MeterProvider = tp, mp
	e.start(opts)

	// The producer's side, as producer enqueue does it.
	req := request(a1, dates[0])
	body, attrs, err := messages.Encode(req, e.cat)
	if err != nil {
		t.Fatal(err)
	}
	run := telemetry.NewRunTraces(tp, req.RunID)
	run.Message(context.Background(), e.names.Topic(req.Phase), req, attrs)
	run.End()
	e.publishRaw(req.Phase, body, attrs)
	e.waitState(c3, dates[0], ledger.StateSucceeded)

	root := find(t, spans.GetSpans(), "enqueue "+dates[0])
	traceID := root.SpanContext.TraceID()
	if root.Parent.IsValid() {
		t.Errorf("the date's span has parent %s, want a root span", root.Parent.SpanID())
	}
	var got tracetest.SpanStubs
	waitFor(t, 20*time.Second, "the delivery span of c3", func() (bool, string) {
		got = nil
		for _, s := range spans.GetSpans() {
			if s.SpanContext.TraceID() == traceID {
				got = append(got, s)
			}
		}
		return has(got, "deliver "+e.names.LaneSubscription(c3, messages.LaneBackfill)), fmt.Sprintf("%d spans: %s", len(got), names(got))
	})
	if n := len(spans.GetSpans()) - len(got); n != 0 {
		t.Errorf("%d spans outside the date's trace %s: %s", n, traceID, names(spans.GetSpans()))
	}

	// producer → delivery → decide → ledger write; → job run; → emit to the next phase.
	pub := find(t, got, "publish "+e.names.Topic(messages.PhaseScrapers))
	deliverA1 := find(t, got, "deliver "+e.names.LaneSubscription(a1, messages.LaneBackfill))
	wantParent(t, pub, root)
	wantParent(t, deliverA1, pub)
	decide := findChild(t, got, "decide", deliverA1)
	claim := findChild(t, got, "ledger.write", decide)
	if st := attr(claim, telemetry.AttrState); st != string(ledger.StateRunning) {
		t.Errorf("the decision's ledger write recorded %q, want running (the claim)", st)
	}
	jobRun := findChild(t, got, "run "+a1.String(), deliverA1)
	if d := attr(jobRun, telemetry.AttrDate); d != dates[0] {
		t.Errorf("job span's date = %q, want %s", d, dates[0])
	}
	var recorded bool
	for _, s := range got {
		if s.Name == "ledger.write" && s.Parent.SpanID() == deliverA1.SpanContext.SpanID() && attr(s, telemetry.AttrState) == string(ledger.StateSucceeded) {
			recorded = true
		}
	}
	if !recorded {
		t.Errorf("no ledger write of succeeded under a1's delivery; spans: %s", names(got))
	}
	emit := findChild(t, got, "publish "+e.names.Topic(messages.PhaseRaw), deliverA1)
	wantParent(t, find(t, got, "deliver "+e.names.LaneSubscription(a2, messages.LaneBackfill)), emit)
	if o := attr(deliverA1, telemetry.AttrOutcome); o != string(runner.OutcomeSucceeded) {
		t.Errorf("a1's delivery span outcome = %q, want succeeded", o)
	}

	// The log line of a1's delivery carries the delivery span's ids.
	var line map[string]any
	for l := range strings.SplitSeq(e.logs.String(), "\n") {
		if strings.Contains(l, `"job":"a1"`) && strings.Contains(l, `"outcome":"succeeded"`) {
			if err := json.Unmarshal([]byte(l), &line); err != nil {
				t.Fatal(err)
			}
		}
	}
	if want := "projects/" + e.project + "/traces/" + traceID.String(); line[runner.LogKeyTrace] != want {
		t.Errorf("log trace = %v, want %s", line[runner.LogKeyTrace], want)
	}
	if want := deliverA1.SpanContext.SpanID().String(); line[runner.LogKeySpanID] != want {
		t.Errorf("log span id = %v, want the delivery span's %s", line[runner.LogKeySpanID], want)
	}

	// The outcome counter.
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []messages.JobRef{a1, a2, c3} {
		if n := counter(rm, runner.MetricMessages, ref.Job, string(runner.OutcomeSucceeded)); n != 1 {
			t.Errorf("%s{job=%s, outcome=succeeded} = %d, want 1", runner.MetricMessages, ref.Job, n)
		}
	}
	if n := counter(rm, ledger.MetricWrites, a1.Job, ""); n < 3 {
		t.Errorf("%s{job=a1} = %d, want at least 3 (claim, succeeded, emitted)", ledger.MetricWrites, n)
	}
}

func find(t *testing.T, spans tracetest.SpanStubs, name string) tracetest.SpanStub {
	t.Helper()
	for _, s := range spans {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no span %q; have %s", name, names(spans))
	return tracetest.SpanStub{}
}

func findChild(t *testing.T, spans tracetest.SpanStubs, name string, parent tracetest.SpanStub) tracetest.SpanStub {
	t.Helper()
	for _, s := range spans {
		if s.Name == name && s.Parent.SpanID() == parent.SpanContext.SpanID() {
			return s
		}
	}
	t.Fatalf("no span %q under %q; have %s", name, parent.Name, names(spans))
	return tracetest.SpanStub{}
}

func wantParent(t *testing.T, child, parent tracetest.SpanStub) {
	t.Helper()
	if child.Parent.SpanID() != parent.SpanContext.SpanID() || child.Parent.TraceID() != parent.SpanContext.TraceID() {
		t.Errorf("span %q has parent %s, want %q (%s)", child.Name, child.Parent.SpanID(), parent.Name, parent.SpanContext.SpanID())
	}
}

func has(spans tracetest.SpanStubs, name string) bool {
	for _, s := range spans {
		if s.Name == name {
			return true
		}
	}
	return false
}

func names(spans tracetest.SpanStubs) string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return strings.Join(out, ", ")
}

func attr(s tracetest.SpanStub, k attribute.Key) string {
	for _, a := range s.Attributes {
		if a.Key == k {
			return a.Value.String()
		}
	}
	return ""
}

// counter sums an Int64 counter's points for job (and outcome, unless "").
func counter(rm metricdata.ResourceMetrics, name, job, outcome string) int64 {
	var n int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			sum, ok := m.Data.(metricdata.Sum[int64])
			if m.Name != name || !ok {
				continue
			}
			for _, p := range sum.DataPoints {
				j, _ := p.Attributes.Value(telemetry.AttrJob)
				o, _ := p.Attributes.Value(telemetry.AttrOutcome)
				if j.AsString() == job && (outcome == "" || o.AsString() == outcome) {
					n += p.Value
				}
			}
		}
	}
	return n
}
