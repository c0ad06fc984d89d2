package runner_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/messages"
)

// The one table from outcome to settlement, as the package documentation states it.
func TestOutcomeSettlementTable(t *testing.T) {
	t.Parallel()
	want := map[runner.Outcome]runner.Settlement{
		runner.OutcomeSucceeded:  runner.Ack,
		runner.OutcomeDuplicate:  runner.Ack,
		runner.OutcomeWaiting:    runner.Ack,
		runner.OutcomeDead:       runner.Ack,
		runner.OutcomeRouted:     runner.Ack,
		runner.OutcomeUnroutable: runner.Ack,
		runner.OutcomeRetry:      runner.Nack,
		runner.OutcomeNotHandled: runner.Nack,
		runner.OutcomeLeaseHeld:  runner.Ack,
		runner.OutcomeCancelled:  runner.Ack,
		runner.OutcomeDeferred:   runner.Ack,
		runner.OutcomeAbandoned:  runner.Busy,
		runner.Outcome("new"):    runner.Nack, // a row forgotten in the table loses nothing
	}
	got := map[runner.Outcome]runner.Settlement{}
	for o := range want {
		got[o] = o.Settlement()
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("settlement by outcome (-want +got):\n%s", diff)
	}
}

// delivery is what a transport would hand the runtime for req on sub.
func (e *env) delivery(sub string, req messages.Request) runner.Delivery {
	e.t.Helper()
	body, attrs, err := messages.Encode(req, e.cat)
	if err != nil {
		e.t.Fatal(err)
	}
	return runner.Delivery{ID: fmt.Sprintf("test-%s-%s", req.Job, req.Date), Data: body, Attributes: attrs,
		PublishTime: time.Now(), Subscription: sub}
}

// runtime builds a runtime that the test drives through Deliver, without a transport.
func (e *env) runtime(opts runner.Options) *runner.Runtime {
	e.t.Helper()
	rt, err := runner.New(opts)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := rt.Prepare(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(rt.Close)
	return rt
}

// snapshot returns the record of (ref, date) and its generation ("" state if none).
func (e *env) record(ref messages.JobRef, date string) (ledger.Record, int64) {
	e.t.Helper()
	rec, gen, err := e.led.Get(context.Background(), ref, date)
	if err != nil && !errors.Is(err, ledger.ErrNotFound) {
		e.t.Fatal(err)
	}
	return rec, gen
}

// Every outcome reached through Deliver settles as the table says, and leaves the ledger
// as the contract says.
func TestDeliverSettlesEveryOutcome(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testCatalog(t))
	d := dates
	a2Job := func(ctx context.Context, req messages.Request) (runner.Result, error) {
		switch req.Date {
		case d[1]:
			return runner.Result{}, errFlaky
		case d[2]:
			return runner.Result{}, runner.Permanent(errors.New("source record will never parse"))
		}
		return runner.Result{Rows: map[string]int64{req.Date: 5}}, nil
	}
	tr := newTracker()
	opts := e.options(map[messages.JobRef]runner.Job{a1: tr.job(a1, nil), a2: tr.job(a2, a2Job), c3: tr.job(c3, nil)})
	opts.LeaseWait = 300 * time.Millisecond
	rt := e.runtime(opts)
	ctx := context.Background()
	subA1, subA2, subC3 := e.names.Subscription(a1), e.names.Subscription(a2), e.names.Subscription(c3)

	deliver := func(sub string, req messages.Request) runner.Settlement {
		return rt.Deliver(ctx, e.delivery(sub, req))
	}
	for _, day := range d {
		if s := deliver(subA1, request(a1, day)); s != runner.Ack {
			t.Fatalf("a1 %s: %v, want ack", day, s)
		}
	}
	if rec, _ := e.record(a1, d[0]); rec.State != ledger.StateSucceeded || !rec.Emitted {
		t.Errorf("succeeded: a1 %s is %s emitted=%v", d[0], rec.State, rec.Emitted)
	}
	_, gen := e.record(a1, d[0])
	if s := deliver(subA1, request(a1, d[0])); s != runner.Ack {
		t.Errorf("duplicate: %v, want ack", s)
	}
	if _, after := e.record(a1, d[0]); after != gen || tr.count(a1, d[0]) != 1 {
		t.Errorf("duplicate: record generation %d -> %d, runs %d; want untouched, 1 run", gen, after, tr.count(a1, d[0]))
	}
	if s := deliver(subC3, request(c3, d[0])); s != runner.Ack {
		t.Errorf("waiting: %v, want ack", s)
	}
	if rec, _ := e.record(c3, d[0]); rec.State != ledger.StateWaiting || !cmp.Equal(rec.Missing, []string{a2.String()}) {
		t.Errorf("waiting: c3 is %s missing %v, want waiting for %s", rec.State, rec.Missing, a2)
	}
	if s := deliver(subA2, request(a2, d[1])); s != runner.Nack {
		t.Errorf("retry: %v, want nack", s)
	}
	if rec, _ := e.record(a2, d[1]); rec.State != ledger.StateFailed {
		t.Errorf("retry: a2 %s is %s, want failed", d[1], rec.State)
	}
	if s := deliver(subA2, request(a2, d[2])); s != runner.Ack {
		t.Errorf("dead: %v, want ack", s)
	}
	if rec, _ := e.record(a2, d[2]); rec.State != ledger.StateDead || rec.Reason != runner.ReasonJobError {
		t.Errorf("dead: a2 %s is %s (%s), want dead (job_error)", d[2], rec.State, rec.Reason)
	}

	// Another consumer holds a live lease on a2's first date: acked (the ledger has the
	// date: its holder finishes it, or the reconciler re-sends it), untouched.
	held := ledger.Record{Phase: a2.Phase, Job: a2.Job, Date: d[0]}.Start("someone-else", "run-other", time.Minute, time.Now())
	hgen, err := e.led.Write(ctx, held, 0)
	if err != nil {
		t.Fatal(err)
	}
	if s := deliver(subA2, request(a2, d[0])); s != runner.Ack {
		t.Errorf("lease held: %v, want ack", s)
	}
	if _, after := e.record(a2, d[0]); after != hgen || tr.count(a2, d[0]) != 0 {
		t.Errorf("lease held: generation %d -> %d, runs %d; want untouched, not run", hgen, after, tr.count(a2, d[0]))
	}

}

// Routing and shutdown through Deliver: a message for another job is routed, an unserved
// subscription is handed back, and after Close nothing is taken.
func TestDeliverSettlesRoutingAndShutdown(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testCatalog(t))
	tr := newTracker()
	rt := e.runtime(e.options(map[messages.JobRef]runner.Job{a1: tr.job(a1, nil), b1: tr.job(b1, nil)}))
	deliver := func(sub string, req messages.Request) runner.Settlement {
		return rt.Deliver(context.Background(), e.delivery(sub, req))
	}
	// A valid message of another job of the phase on a1's subscription (an emulator that
	// ignores filters delivers it there): acked as routed, not run, not dead-lettered.
	if s := deliver(e.names.Subscription(a1), request(b1, dates[0])); s != runner.Ack {
		t.Errorf("routed: %v, want ack", s)
	}
	if n := len(e.published(e.names.DeadLetterTopic())); n != 0 || tr.count(b1, dates[0]) != 0 || tr.count(a1, dates[0]) != 0 {
		t.Errorf("routed: %d dead letters, b1 ran %d, a1 ran %d; want none", n, tr.count(b1, dates[0]), tr.count(a1, dates[0]))
	}
	if s := deliver("no-such-subscription", request(a1, dates[0])); s != runner.Nack {
		t.Errorf("not handled: %v, want nack", s)
	}
	rt.Close()
	if s := deliver(e.names.Subscription(a1), request(a1, dates[1])); s != runner.Busy {
		t.Errorf("abandoned: %v, want busy", s)
	}
	if rec, _ := e.record(a1, dates[1]); rec.State != "" {
		t.Errorf("abandoned: a1 %s is %s, want no record", dates[1], rec.State)
	}
}

// A delivery that does not decode is dead-lettered with its reason and changes no ledger
// record, even when its attributes name a real job and date whose record is waiting or
// failed.
func TestJunkDeliveryLeavesTheLedgerUntouched(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testCatalog(t))
	tr := newTracker()
	flaky := func(ctx context.Context, req messages.Request) (runner.Result, error) {
		return runner.Result{}, errFlaky
	}
	rt := e.runtime(e.options(map[messages.JobRef]runner.Job{a1: tr.job(a1, flaky), c3: tr.job(c3, nil)}))
	ctx := context.Background()
	rt.Deliver(ctx, e.delivery(e.names.Subscription(a1), request(a1, dates[0])))     // failed
	rt.Deliver(ctx, e.delivery(e.names.Subscription(c3), request(c3, dates[0])))     // waiting
	rt.Deliver(ctx, e.delivery(e.names.Subscription(c3), request(c3, "2023-01-01"))) // nothing yet

	for _, c := range []struct {
		ref   messages.JobRef
		date  string
		state ledger.State
	}{{a1, dates[0], ledger.StateFailed}, {c3, dates[0], ledger.StateWaiting}, {c3, "2023-01-01", ledger.StateWaiting}} {
		before, gen := e.record(c.ref, c.date)
		if before.State != c.state {
			t.Fatalf("%s %s is %s before the junk, want %s", c.ref, c.date, before.State, c.state)
		}
		attrs := request(c.ref, c.date).Attributes()
		junk := runner.Delivery{ID: "junk-" + c.ref.Job, Data: []byte(`{"version":1,"phase":`), Attributes: attrs,
			Subscription: e.names.Subscription(c.ref)}
		if s := rt.Deliver(ctx, junk); s != runner.Ack {
			t.Errorf("junk for %s %s: %v, want ack after dead-lettering", c.ref, c.date, s)
		}
		after, agen := e.record(c.ref, c.date)
		if agen != gen || after.State != before.State {
			t.Errorf("junk for %s %s moved the record: %s gen %d -> %s gen %d", c.ref, c.date, before.State, gen, after.State, agen)
		}
	}
	var reasons []string
	for _, m := range e.published(e.names.DeadLetterTopic()) {
		reasons = append(reasons, m.Attributes[runner.AttrReason]+" "+m.Attributes[runner.AttrMessageID])
	}
	slices.Sort(reasons)
	want := []string{"malformed junk-a1", "malformed junk-c3", "malformed junk-c3"}
	if diff := cmp.Diff(want, reasons); diff != "" {
		t.Errorf("dead letters (-want +got):\n%s", diff)
	}
}

// A date before the job's catalogue bound is refused by the runtime itself, for every job:
// dead-lettered as not_backfillable, never run, no ledger record.
func TestDateOutsideTheCatalogueBoundsIsRefusedForEveryJob(t *testing.T) {
	t.Parallel()
	bounded, after := messages.Ref(messages.PhaseScrapers, "bounded"), messages.Ref(messages.PhaseRaw, "after")
	cat, err := messages.NewCatalog(messages.JobSpec{Phase: messages.PhaseScrapers, Name: "bounded", BackfillFrom: "2023-05-03"},
		messages.JobSpec{Phase: messages.PhaseRaw, Name: "after", Hard: []messages.JobRef{bounded}})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, cat)
	tr := newTracker()
	rt := e.runtime(e.options(map[messages.JobRef]runner.Job{bounded: tr.job(bounded, nil), after: tr.job(after, nil)}))
	for _, ref := range []messages.JobRef{bounded, after} { // a hard upstream's bound binds its dependents
		if s := rt.Deliver(context.Background(), e.delivery(e.names.Subscription(ref), request(ref, "2023-05-02"))); s != runner.Ack {
			t.Errorf("%s: settlement %v, want ack after dead-lettering", ref, s)
		}
		if tr.count(ref, "2023-05-02") != 0 {
			t.Errorf("%s ran for a date before its source's first", ref)
		}
		if rec, _ := e.record(ref, "2023-05-02"); rec.State != "" {
			t.Errorf("%s record %s, want none", ref, rec.State)
		}
	}
	dl := e.published(e.names.DeadLetterTopic())
	if len(dl) != 2 || dl[0].Attributes[runner.AttrReason] != "not_backfillable" || dl[1].Attributes[runner.AttrReason] != "not_backfillable" {
		t.Errorf("dead letters = %v, want two not_backfillable", dl)
	}
	if s := rt.Deliver(context.Background(), e.delivery(e.names.Subscription(bounded), request(bounded, "2023-05-03"))); s != runner.Ack || tr.count(bounded, "2023-05-03") != 1 {
		t.Errorf("first servable date: %v, runs %d; want ack and one run", s, tr.count(bounded, "2023-05-03"))
	}
}

// A consumer that dies after recording and emitting but before settling leaves the
// message unacked; its redelivery to another consumer finds the date done and emitted,
// acks it, and publishes nothing again.
func TestCrashBetweenRecordAndSettleIsAbsorbed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testCatalog(t))
	tr := newTracker()
	jobs := map[messages.JobRef]runner.Job{a1: tr.job(a1, nil)}
	opts := e.options(jobs)
	opts.Unroutable = []messages.Phase{}
	e.publish(1, request(a1, dates[0]))

	// The first consumer handles the delivery and dies before carrying out its settlement.
	first := e.runtime(opts)
	if s := first.Deliver(context.Background(), e.delivery(e.names.Subscription(a1), request(a1, dates[0]))); s != runner.Ack {
		t.Fatalf("first consumer decided %v, want ack", s)
	}
	first.Close()

	e.start(e.options(jobs))
	e.settled(messages.PhaseScrapers)
	if n := tr.count(a1, dates[0]); n != 1 {
		t.Errorf("a1 ran %d times, want once", n)
	}
	if n := len(e.published(e.names.Topic(messages.PhaseRaw))); n != 2 {
		t.Errorf("%d downstream messages, want 2 (one for a2, one for ab2), none again on the redelivery", n)
	}
}

// A scraper that could not get every scheduled game records the date partial: its
// dependents run with what there is, and the next message for it fetches again.
func TestPartialOutputFeedsDependentsAndIsFetchedAgain(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testCatalog(t))
	tr := newTracker()
	var calls atomic.Int32
	partial := func(ctx context.Context, req messages.Request) (runner.Result, error) {
		if calls.Add(1) == 1 {
			return runner.Result{Rows: map[string]int64{req.Date: 9}, Missing: []string{"game-7"}}, nil
		}
		return runner.Result{Rows: map[string]int64{req.Date: 10}}, nil
	}
	rt := e.runtime(e.options(map[messages.JobRef]runner.Job{a1: tr.job(a1, partial), a2: tr.job(a2, nil)}))
	ctx := context.Background()
	rt.Deliver(ctx, e.delivery(e.names.Subscription(a1), request(a1, dates[0])))
	if rec, _ := e.record(a1, dates[0]); rec.State != ledger.StatePartial || !cmp.Equal(rec.Output.Missing, []string{"game-7"}) {
		t.Fatalf("a1 is %s missing %v, want partial missing game-7", rec.State, rec.Output.Missing)
	}
	if s := rt.Deliver(ctx, e.delivery(e.names.Subscription(a2), request(a1, dates[0]).Next(a2))); s != runner.Ack {
		t.Fatalf("a2: %v", s)
	}
	if rec, _ := e.record(a2, dates[0]); rec.State != ledger.StateSucceeded {
		t.Errorf("a2 after a partial upstream: %s, want succeeded", rec.State)
	}
	rt.Deliver(ctx, e.delivery(e.names.Subscription(a1), request(a1, dates[0])))
	if rec, _ := e.record(a1, dates[0]); rec.State != ledger.StateSucceeded || tr.count(a1, dates[0]) != 2 {
		t.Errorf("a1 after a second message: %s after %d runs, want succeeded after 2", rec.State, tr.count(a1, dates[0]))
	}
}

// Once a run is cancelled, its messages are acknowledged and dropped everywhere (its
// downstream messages included): the dates it had not run are recorded cancelled, finished
// ones stay, and another run of the same dates goes ahead.
func TestCancelledRunIsDroppedEverywhere(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testCatalog(t))
	tr := newTracker()
	jobs := map[messages.JobRef]runner.Job{a1: tr.job(a1, nil), a2: tr.job(a2, nil)}
	ctx := context.Background()
	e.runtime(e.options(jobs)).Deliver(ctx, e.delivery(e.names.Subscription(a1), request(a1, dates[0]))) // done before the cancel
	if _, err := e.led.CancelRun(ctx, "run-test", "wrong range"); err != nil {
		t.Fatal(err)
	}
	// A consumer reads a run's status at most every 10 s; this one starts after the cancel.
	rt := e.runtime(e.options(jobs))
	for _, c := range []struct {
		ref  messages.JobRef
		date string
		want ledger.State
	}{{a1, dates[1], ledger.StateCancelled}, {a2, dates[0], ledger.StateCancelled}, {a1, dates[0], ledger.StateSucceeded}} {
		req := request(a1, c.date)
		if c.ref == a2 {
			req = req.Next(a2)
		}
		if s := rt.Deliver(ctx, e.delivery(e.names.Subscription(c.ref), req)); s != runner.Ack {
			t.Errorf("%s %s of the cancelled run: %v, want ack", c.ref, c.date, s)
		}
		if rec, _ := e.record(c.ref, c.date); rec.State != c.want {
			t.Errorf("%s %s is %s, want %s", c.ref, c.date, rec.State, c.want)
		}
	}
	if tr.count(a1, dates[1]) != 0 || tr.count(a2, dates[0]) != 0 {
		t.Error("a job of the cancelled run ran")
	}
	again := request(a1, dates[1])
	again.RunID = "run-resumed"
	if s := rt.Deliver(ctx, e.delivery(e.names.Subscription(a1), again)); s != runner.Ack || tr.count(a1, dates[1]) != 1 {
		t.Errorf("a new run of a cancelled date: %v, %d runs; want it run", s, tr.count(a1, dates[1]))
	}
}
