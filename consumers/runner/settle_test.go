package runner_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/messages"
)

// settleCatalog: s1 → u2 (hard) and s1 → v2 (hard); v2 is a soft upstream of u2. When s1
// finishes, u2 and v2 are triggered together, so v2 is on its way when u2 starts.
func settleCatalog(t *testing.T) (cat *messages.Catalog, s1, u2, v2 messages.JobRef) {
	t.Helper()
	s1, u2, v2 = messages.Ref(messages.PhaseScrapers, "s1"), messages.Ref(messages.PhaseRaw, "u2"), messages.Ref(messages.PhaseRaw, "v2")
	return catalogOf(t, jobSpec(s1, nil, nil), jobSpec(v2, []messages.JobRef{s1}, nil), jobSpec(u2, []messages.JobRef{s1}, []messages.JobRef{v2})), s1, u2, v2
}

// catalogOf is the catalogue of specs; the test fails if it is not one.
func catalogOf(t testing.TB, specs ...messages.JobSpec) *messages.Catalog {
	t.Helper()
	cat, err := messages.NewCatalog(specs...)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// jobSpec is the spec of the job ref with its hard and soft upstreams and a 20 s timeout.
func jobSpec(ref messages.JobRef, hard, soft []messages.JobRef) messages.JobSpec {
	return messages.JobSpec{Phase: ref.Phase, Name: ref.Job, Hard: hard, Soft: soft, Timeout: 20 * time.Second}
}

func TestSoftUpstreamOnItsWayIsAwaitedSoTheJobRunsOnce(t *testing.T) {
	t.Parallel()
	cat, s1, u2, v2 := settleCatalog(t)
	e := newEnv(t, cat)
	tr := newTracker()
	slow := func(ctx context.Context, req messages.Request) (runner.Result, error) {
		time.Sleep(1500 * time.Millisecond) // v2 is still running when u2 is first triggered
		return runner.Result{Rows: map[string]int64{req.Date: 3}}, nil
	}
	opts := e.options(map[messages.JobRef]runner.Job{s1: tr.job(s1, nil), u2: tr.job(u2, nil), v2: tr.job(v2, slow)})
	opts.SoftWait = 20 * time.Second
	e.start(opts)

	e.publish(1, request(s1, dates[0]))
	rec := e.waitState(u2, dates[0], ledger.StateSucceeded)
	e.waitState(v2, dates[0], ledger.StateSucceeded)
	if rec.Inputs[v2.String()] == "" {
		t.Errorf("u2 ran without its soft upstream v2: inputs %v", rec.Inputs)
	}
	// v2's completion triggers u2 again; that message must find u2 done with this input.
	waitFor(t, 30*time.Second, "v2's emitted message to u2 handled", func() (bool, string) {
		r, _, _ := e.led.Get(context.Background(), v2, dates[0])
		return r.Emitted, "v2 not yet emitted"
	})
	time.Sleep(500 * time.Millisecond)
	if n := tr.count(u2, dates[0]); n != 1 {
		t.Errorf("u2 ran %d times, want once (after v2, with its output)", n)
	}
	if end, start := tr.index("end "+key(v2, dates[0])), tr.index("start "+key(u2, dates[0])); end < 0 || start < end {
		t.Errorf("u2 started at event %d, before v2 ended at event %d", start, end)
	}
}

// A job that ran once its soft wait was over runs again when a soft upstream it lacked
// comes later, even while another soft upstream is still on its way: here that one is
// stuck for good behind an upstream that dies, so waiting for it would keep the run that
// lacked both.
func TestLateSoftUpstreamRunsAFinishedJobAgainWhileAnotherIsStillComing(t *testing.T) {
	t.Parallel()
	s1, x1 := messages.Ref(messages.PhaseScrapers, "s1"), messages.Ref(messages.PhaseScrapers, "x1")
	v2, w2, u2 := messages.Ref(messages.PhaseRaw, "v2"), messages.Ref(messages.PhaseRaw, "w2"), messages.Ref(messages.PhaseRaw, "u2")
	e := newEnv(t, catalogOf(t, jobSpec(s1, nil, nil), jobSpec(x1, nil, nil), jobSpec(v2, []messages.JobRef{s1}, nil),
		jobSpec(w2, []messages.JobRef{x1}, nil), jobSpec(u2, []messages.JobRef{s1}, []messages.JobRef{v2, w2})))
	tr := newTracker()
	late := func(ctx context.Context, req messages.Request) (runner.Result, error) {
		time.Sleep(2500 * time.Millisecond) // past u2's soft wait
		return runner.Result{Rows: map[string]int64{req.Date: 3}}, nil
	}
	dies := func(ctx context.Context, req messages.Request) (runner.Result, error) {
		time.Sleep(6 * time.Second) // still running when v2 comes; w2 waits for it
		return runner.Result{}, runner.Permanent(errors.New("the source will never answer"))
	}
	opts := e.options(map[messages.JobRef]runner.Job{s1: tr.job(s1, nil), x1: tr.job(x1, dies),
		v2: tr.job(v2, late), w2: tr.job(w2, nil), u2: tr.job(u2, nil)})
	opts.SoftWait = time.Second
	opts.ReconcileEvery = 300 * time.Millisecond // the reconciler ends the first wait
	e.start(opts)

	e.publish(1, request(s1, dates[0]), request(x1, dates[0]))
	e.waitState(v2, dates[0], ledger.StateSucceeded)
	e.waitState(x1, dates[0], ledger.StateDead)
	waitFor(t, 30*time.Second, "u2 run again with v2's output", func() (bool, string) {
		r, _, err := e.led.Get(context.Background(), u2, dates[0])
		if err != nil {
			return false, err.Error()
		}
		_, ok := r.Inputs[v2.String()]
		return ok && r.State == ledger.StateSucceeded, fmt.Sprintf("u2 %s with inputs %v after %d runs", r.State, r.Inputs, tr.count(u2, dates[0]))
	})
	if n := tr.count(u2, dates[0]); n != 2 {
		t.Errorf("u2 ran %d times, want 2 (without v2 and w2 once the soft wait was over, then with v2)", n)
	}
}

func TestSoftUpstreamThatNeverComesIsAwaitedOnlySoftWait(t *testing.T) {
	t.Parallel()
	cat, s1, u2, v2 := settleCatalog(t)
	e := newEnv(t, cat)
	tr := newTracker()
	// v2 is not served by this runtime, so it never runs. Its hard upstream s1 is done, so
	// v2 looks on its way: u2 waits SoftWait for it, no longer, and runs without it.
	opts := e.options(map[messages.JobRef]runner.Job{s1: tr.job(s1, nil), u2: tr.job(u2, nil)})
	opts.Select = []messages.JobRef{s1, u2}
	opts.SoftWait = 2 * time.Second
	opts.ReconcileEvery = 300 * time.Millisecond // the reconciler ends the wait
	e.start(opts)

	e.publish(1, request(s1, dates[0]))
	rec := e.waitState(u2, dates[0], ledger.StateSucceeded)
	if _, ok := rec.Inputs[v2.String()]; ok {
		t.Errorf("u2 inputs = %v, want s1 only", rec.Inputs)
	}
	if n := tr.count(u2, dates[0]); n != 1 {
		t.Errorf("u2 ran %d times, want 1", n)
	}
}

func TestSoftUpstreamThatDiesReleasesTheWaitAtOnce(t *testing.T) {
	t.Parallel()
	cat, s1, u2, v2 := settleCatalog(t)
	e := newEnv(t, cat)
	tr := newTracker()
	broken := func(ctx context.Context, req messages.Request) (runner.Result, error) {
		time.Sleep(500 * time.Millisecond) // u2 is triggered while v2 runs
		return runner.Result{}, runner.Permanent(errors.New("source record will never parse"))
	}
	opts := e.options(map[messages.JobRef]runner.Job{s1: tr.job(s1, nil), u2: tr.job(u2, nil), v2: tr.job(v2, broken)})
	opts.SoftWait = 10 * time.Minute // far beyond the test: only v2's death can release u2
	e.start(opts)

	e.publish(1, request(s1, dates[0]))
	e.waitState(v2, dates[0], ledger.StateDead)
	rec := e.waitState(u2, dates[0], ledger.StateSucceeded)
	if _, ok := rec.Inputs[v2.String()]; ok {
		t.Errorf("u2 inputs = %v, want s1 only (v2 died)", rec.Inputs)
	}
	if n := tr.count(u2, dates[0]); n != 1 {
		t.Errorf("u2 ran %d times, want 1", n)
	}
}

// A soft upstream that dies notifies its soft dependents with the trace context of the
// delivery that died, like every other message the runtime publishes.
func TestSoftDependentsAreNotifiedWithTheTraceContext(t *testing.T) {
	t.Parallel()
	cat, s1, u2, v2 := settleCatalog(t)
	e := newEnv(t, cat)
	tr := newTracker()
	dies := func(ctx context.Context, req messages.Request) (runner.Result, error) {
		return runner.Result{}, runner.Permanent(errors.New("never parses"))
	}
	rt := e.runtime(e.options(map[messages.JobRef]runner.Job{s1: tr.job(s1, nil), v2: tr.job(v2, dies)}))
	ctx := context.Background()
	if s := rt.Deliver(ctx, e.delivery(e.names.Subscription(s1), request(s1, dates[0]))); s != runner.Ack {
		t.Fatalf("s1: %v", s)
	}
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	d := e.delivery(e.names.Subscription(v2), request(s1, dates[0]).Next(v2))
	d.Attributes["googclient_traceparent"] = tp
	if s := rt.Deliver(ctx, d); s != runner.Ack {
		t.Fatalf("v2: %v, want ack after dead-lettering", s)
	}
	var notes []string
	for _, m := range e.published(e.names.Topic(messages.PhaseRaw)) {
		req, err := messages.Decode(m.Data, m.Attributes, cat)
		if err != nil {
			t.Fatal(err)
		}
		if req.Job == u2.Job && req.Trigger.From == v2.String() {
			notes = append(notes, m.Attributes["googclient_traceparent"])
		}
	}
	if !cmp.Equal(notes, []string{tp}) {
		t.Errorf("notifications to u2 that v2 died carry traceparents %q, want one with %q", notes, tp)
	}
}

// TestWaitingRecordWrittenOnlyWhenItWouldSayMore: a record waiting for two soft upstreams
// is not written again when one of them finishes and its delivery comes (the list still
// holds the other, and its readers look up which are done); it is written when a request of
// another run comes, and the job runs once both are done.
func TestWaitingRecordWrittenOnlyWhenItWouldSayMore(t *testing.T) {
	t.Parallel()
	s1, v2, w2, u2 := messages.Ref(messages.PhaseScrapers, "s1"), messages.Ref(messages.PhaseRaw, "v2"),
		messages.Ref(messages.PhaseRaw, "w2"), messages.Ref(messages.PhaseRaw, "u2")
	e := newEnv(t, catalogOf(t, jobSpec(s1, nil, nil), jobSpec(v2, []messages.JobRef{s1}, nil),
		jobSpec(w2, []messages.JobRef{s1}, nil), jobSpec(u2, []messages.JobRef{s1}, []messages.JobRef{v2, w2})))
	ctx := context.Background()
	now := time.Now()
	d := dates[0]
	write := func(rec ledger.Record) {
		t.Helper()
		_, gen, err := e.led.Get(ctx, rec.Ref(), d)
		if err != nil && !errors.Is(err, ledger.ErrNotFound) {
			t.Fatal(err)
		}
		if _, err := e.led.Write(ctx, rec, gen); err != nil {
			t.Fatal(err)
		}
	}
	record := func(ref messages.JobRef) ledger.Record {
		return ledger.Record{Phase: ref.Phase, Job: ref.Job, Date: d}.For(request(ref, d)).Start("elsewhere", "run-test", time.Minute, now)
	}
	done := func(ref messages.JobRef) ledger.Record {
		return record(ref).Succeed(ledger.Output{}, "out-"+ref.Job, false, now).MarkEmittedThrough("", now)
	}
	write(done(s1))
	write(record(v2)) // running elsewhere: on its way
	write(record(w2))
	tr := newTracker()
	opts := e.options(map[messages.JobRef]runner.Job{u2: tr.job(u2, nil)})
	opts.Select, opts.Unroutable = []messages.JobRef{u2}, []messages.Phase{}
	opts.SoftWait, opts.ReconcileEvery = 10*time.Minute, -1
	e.start(opts)

	deliveries := func(n int) {
		t.Helper()
		waitFor(t, 30*time.Second, fmt.Sprintf("%d deliveries of u2 handled", n), func() (bool, string) {
			got := strings.Count(e.logs.String(), `"outcome":"waiting"`)
			return got == n, fmt.Sprintf("%d handled", got)
		})
	}
	get := func() (ledger.Record, int64) {
		t.Helper()
		rec, gen, err := e.led.Get(ctx, u2, d)
		if err != nil {
			t.Fatal(err)
		}
		return rec, gen
	}
	e.publish(1, request(u2, d))
	deliveries(1)
	first, gen1 := get()
	if want := []string{v2.String(), w2.String()}; !cmp.Equal(first.Awaiting, want) {
		t.Fatalf("u2 awaits %v, want %v", first.Awaiting, want)
	}
	write(done(v2))
	e.publish(1, request(u2, d))
	deliveries(2)
	if rec, gen := get(); gen != gen1 || !cmp.Equal(rec.Awaiting, first.Awaiting) {
		t.Errorf("after v2 finished: u2 awaits %v at generation %d; want the record unwritten (%v at %d)", rec.Awaiting, gen, first.Awaiting, gen1)
	}
	other := request(u2, d)
	other.RunID = "run-other"
	e.publish(1, other)
	deliveries(3)
	if rec, gen := get(); gen == gen1 || rec.RunID != "run-other" || !cmp.Equal(rec.Awaiting, []string{w2.String()}) {
		t.Errorf("after a request of another run: u2 of run %q awaits %v at generation %d; want it written for run-other, awaiting w2", rec.RunID, rec.Awaiting, gen)
	}
	write(done(w2))
	e.publish(1, request(u2, d))
	e.waitState(u2, d, ledger.StateSucceeded)
	if n := tr.count(u2, d); n != 1 {
		t.Errorf("u2 ran %d times, want once", n)
	}
}
