package runner_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/messages"
)

// write puts rec into the ledger as it stands (creating or replacing it).
func (e *env) write(rec ledger.Record) {
	e.t.Helper()
	_, gen := e.record(rec.Ref(), rec.Date)
	if _, err := e.led.Write(context.Background(), rec, gen); err != nil {
		e.t.Fatal(err)
	}
}

// Each kind of stranded record is found by one pass and its request sent again, so the
// date finishes with no operator: a lapsed lease, a failed run whose retry never came, a
// date waiting for hard upstreams that have finished since, and one waiting for a soft
// upstream that died, and a finished date whose downstream messages never went out.
// Records that are fine are left alone.
func TestReconcilerRedrivesEveryStrandedRecord(t *testing.T) {
	t.Parallel()
	cat, s1, u2, v2 := settleCatalog(t)
	e := newEnv(t, cat)
	tr := newTracker()
	opts := e.options(map[messages.JobRef]runner.Job{s1: tr.job(s1, nil), u2: tr.job(u2, nil), v2: tr.job(v2, nil)})
	opts.ReconcileEvery, opts.RetryWithin = -1, time.Minute // passes by hand
	rt, _ := e.start(opts)

	now := time.Now()
	long := now.Add(-time.Hour)
	run := func(ref messages.JobRef, date string) ledger.Record {
		return ledger.Record{Phase: ref.Phase, Job: ref.Job, Date: date}.For(request(ref, date))
	}
	done := func(ref messages.JobRef, date string) ledger.Record {
		return run(ref, date).Start("x", "run-test", time.Minute, long).Succeed(ledger.Output{}, "fp-"+date, false, long).MarkEmittedThrough("", long)
	}
	d := []string{"2024-11-01", "2024-11-02", "2024-11-03", "2024-11-04", "2024-11-05", "2024-11-07"}
	e.write(run(s1, d[0]).Start("crashed-consumer", "run-test", time.Minute, long))       // lease lapsed
	e.write(run(s1, d[1]).Start("c", "run-test", time.Minute, long).Fail(errFlaky, long)) // never retried
	e.write(done(s1, d[2]))
	e.write(run(v2, d[2]).Wait([]string{s1.String()}, nil, long)) // its upstream finished since
	e.write(done(s1, d[3]))
	e.write(run(v2, d[3]).Start("c", "run-test", time.Minute, long).Die("job_error", errors.New("bad"), long))
	e.write(run(u2, d[3]).Wait(nil, []string{v2.String()}, now))      // awaits v2, which died
	e.write(run(s1, d[4]).Start("alive", "run-test", time.Hour, now)) // a live lease: left alone
	// Finished, but its consumer died before its downstream messages went out.
	e.write(run(s1, d[5]).Start("c", "run-test", time.Minute, long).Succeed(ledger.Output{}, "fp-"+d[5], false, long))

	rep, err := rt.Reconcile(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rep.Redriven {
		got = append(got, r[:strings.Index(r, ":")])
	}
	// (u2 on 11-03 has no record though s1 emitted it, but the run is still moving: its
	// message may be queued; see TestReconcilerSendsWhatNoRecordCovers.)
	want := []string{"scrapers/s1 2024-11-01", "scrapers/s1 2024-11-02", "raw/v2 2024-11-03", "raw/u2 2024-11-04", "scrapers/s1 2024-11-07"}
	if diff := cmp.Diff(want, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); !rep.Ran || diff != "" {
		t.Fatalf("pass ran=%v, re-driven (-want +got):\n%s\nreport: %v", rep.Ran, diff, rep.Redriven)
	}
	e.waitState(s1, d[0], ledger.StateSucceeded)
	e.waitState(s1, d[1], ledger.StateSucceeded)
	e.waitState(v2, d[2], ledger.StateSucceeded)
	e.waitState(u2, d[3], ledger.StateSucceeded)
	e.waitState(v2, d[5], ledger.StateSucceeded) // s1's downstream, sent at last
	if rec, _ := e.record(s1, d[4]); rec.State != ledger.StateRunning || rec.Lease.Owner != "alive" {
		t.Errorf("the live lease was touched: %s %+v", rec.State, rec.Lease)
	}

	// A second pass right away sends nothing again: each re-drive is spaced.
	e.write(run(s1, "2024-11-06").Start("crashed-consumer", "run-test", time.Minute, long))
	rep, err = rt.Reconcile(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// (Records the first re-drives created since, such as a date now waiting for a soft
	// upstream, may be re-driven too: only the first pass's records must not come again.)
	again := map[string]bool{}
	for _, r := range rep.Redriven {
		again[r[:strings.Index(r, ":")]] = true
	}
	if !again["scrapers/s1 2024-11-06"] {
		t.Errorf("second pass re-drove %v, want the new lapsed lease among them", rep.Redriven)
	}
	for _, k := range want {
		if again[k] {
			t.Errorf("second pass re-drove %s again, within the redrive spacing", k)
		}
	}
}

// However many instances offer to reconcile at once, one runs the pass.
func TestOneReconcilerAtATime(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testCatalog(t))
	var ran []bool
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 6 {
		opts := e.options(newTracker().allJobs())
		opts.ReconcileEvery = time.Minute
		rt := e.runtime(opts)
		wg.Go(func() {
			rep, err := rt.Reconcile(context.Background())
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			ran = append(ran, rep.Ran)
			mu.Unlock()
		})
	}
	wg.Wait()
	n := 0
	for _, r := range ran {
		if r {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d of 6 instances ran the pass, want exactly 1", n)
	}
}

// The reconciler runs by itself in a pulling consumer: a date whose consumer died with
// the only message finishes without anyone re-sending it.
func TestStrandedDateFinishesWithNoOperator(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testCatalog(t))
	tr := newTracker()
	opts := e.options(tr.allJobs())
	opts.ReconcileEvery = 200 * time.Millisecond
	e.start(opts)
	lapsed := ledger.Record{Phase: a1.Phase, Job: a1.Job, Date: dates[0]}.For(request(a1, dates[0])).
		Start("died", "run-test", time.Second, time.Now().Add(-time.Minute))
	e.write(lapsed)
	e.waitState(c3, dates[0], ledger.StateSucceeded) // a1 re-driven, and the chain followed
}

// A message that a subscription's dead-letter policy forwarded on its own (no reason
// attribute) ran out of deliveries, not runs: while its date has runs left it is recorded
// failed and sent again, and is no dead letter; once they are spent the date is dead with
// reason delivery_limit and the message is kept. Junk is kept and touches no record.
func TestPolicyDeadLetteredMessage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testCatalog(t))
	opts := e.options(map[messages.JobRef]runner.Job{})
	opts.DeadLetters, opts.Unroutable, opts.MaxAttempts = true, []messages.Phase{}, 3
	rt := e.runtime(opts)
	ctx := context.Background()
	deliver := func(d runner.Delivery) {
		t.Helper()
		if s := rt.Deliver(ctx, d); s != runner.Ack {
			t.Fatalf("settlement %v, want ack", s)
		}
	}
	d := e.delivery(e.names.DeadLetterSubscription(), request(a2, dates[0]))
	deliver(d)
	if rec, _ := e.record(a2, dates[0]); rec.State != ledger.StateFailed || rec.Redriven.IsZero() {
		t.Errorf("runs left: record %s redriven %v, want failed and re-sent", rec.State, rec.Redriven)
	}
	if n := len(e.published(e.names.Topic(messages.PhaseRaw))); n != 1 {
		t.Errorf("runs left: %d messages sent again, want 1", n)
	}
	spent := ledger.Record{Phase: a2.Phase, Job: a2.Job, Date: dates[1]}.For(request(a2, dates[1]))
	for i := range 3 { // three runs, each after the lease of the one before lapsed
		spent = spent.Start("x", "run-test", time.Second, time.Now().Add(-time.Hour+time.Duration(i)*time.Minute))
	}
	e.write(spent.Fail(errFlaky, time.Now().Add(-time.Hour)))
	d2 := e.delivery(e.names.DeadLetterSubscription(), request(a2, dates[1]))
	deliver(d2)
	if rec, _ := e.record(a2, dates[1]); rec.State != ledger.StateDead || rec.Reason != runner.ReasonDeliveryLimit {
		t.Errorf("runs spent: record %s (%s), want dead (delivery_limit)", rec.State, rec.Reason)
	}
	// A date that finished, but whose downstream messages were never marked sent: its
	// deliveries ran out on emitting them. They are sent now.
	finished := ledger.Record{Phase: a1.Phase, Job: a1.Job, Date: dates[0]}.For(request(a1, dates[0])).
		Start("x", "run-test", time.Minute, time.Now().Add(-time.Hour)).Succeed(ledger.Output{}, "fp", false, time.Now().Add(-time.Hour))
	e.write(finished)
	before := len(e.published(e.names.Topic(messages.PhaseRaw)))
	deliver(e.delivery(e.names.DeadLetterSubscription(), request(a1, dates[0])))
	if n := len(e.published(e.names.Topic(messages.PhaseRaw))) - before; n != 2 {
		t.Errorf("finished date not emitted: %d downstream messages sent, want 2 (a2, ab2)", n)
	}
	if rec, _ := e.record(a1, dates[0]); rec.State != ledger.StateSucceeded || !rec.Emitted {
		t.Errorf("finished date: record %s emitted=%v, want succeeded and emitted", rec.State, rec.Emitted)
	}
	junk := runner.Delivery{ID: "junk-1", Data: []byte("{"), Attributes: map[string]string{"job": "a2", "phase": "raw", "date": dates[2]},
		Subscription: e.names.DeadLetterSubscription()}
	deliver(junk)
	deliver(junk) // the emulator forwards a dead letter more than once: still one kept
	if rec, _ := e.record(a2, dates[2]); rec.State != "" {
		t.Errorf("junk touched the record of %s: %s", dates[2], rec.State)
	}
	all, err := e.led.ListDeadLetters(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range all {
		ids = append(ids, k.MessageID+" "+k.Reason)
	}
	if want := []string{d2.ID + " delivery_limit", "junk-1 delivery_limit"}; !cmp.Equal(ids, want, cmpopts.SortSlices(func(a, b string) bool { return a < b })) {
		t.Errorf("dead letters kept %v, want %v", ids, want)
	}
}

// A message lost before any consumer recorded its date is sent again from what the ledger
// promised: a run's plan that lists the pair, or a finished record that emitted it. A
// paced run's plan and a cancelled run's are left alone (their pairs may be unpublished on
// purpose), and a plan whose pairs all have records is marked complete.
func TestReconcilerSendsWhatNoRecordCovers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testCatalog(t))
	tr := newTracker()
	opts := e.options(tr.allJobs())
	opts.ReconcileEvery, opts.RetryWithin = -1, time.Minute // passes by hand
	// The runtime's clock runs two minutes ahead: the plans written now are older than
	// RetryWithin to it.
	var skew atomic.Int64
	skew.Store(int64(2 * time.Minute))
	ahead := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	opts.Now = ahead
	rt, _ := e.start(opts)
	ctx := context.Background()
	long := time.Now().Add(-time.Hour)

	d := []string{"2024-11-01", "2024-11-02", "2024-11-03", "2024-11-04", "2024-11-05", "2024-11-06"}
	for _, p := range []ledger.Plan{
		{RunID: "lost", Pairs: map[string][]string{a1.String(): {d[0]}}, Lane: messages.LaneDaily},
		{RunID: "paced", Pairs: map[string][]string{a1.String(): {d[2]}}, Paced: true},
		{RunID: "stopped", Pairs: map[string][]string{a1.String(): {d[3]}}},
		{RunID: "moving", Pairs: map[string][]string{a1.String(): {d[4], d[5]}}},
	} {
		if err := e.led.WritePlan(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.led.CancelRun(ctx, "stopped", "test"); err != nil {
		t.Fatal(err)
	}
	// a1 finished on d[1] and emitted, but a2's and ab2's messages never made a record.
	emitted := ledger.Record{Phase: a1.Phase, Job: a1.Job, Date: d[1]}.For(request(a1, d[1])).
		Start("x", "run-test", time.Minute, long).Succeed(ledger.Output{}, "fp", false, long).MarkEmittedThrough("", long)
	e.write(emitted)
	// The run "moving" writes records as the pass runs (a live lease here): its pair
	// without a record may be queued behind its backlog, not lost.
	moving := request(a1, d[5])
	moving.RunID = "moving"
	e.write(ledger.Record{Phase: a1.Phase, Job: a1.Job, Date: d[5]}.For(moving).Start("alive", "moving", time.Hour, ahead()))

	rep, err := rt.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rep.Redriven {
		got = append(got, r[:strings.Index(r, ":")])
	}
	want := []string{"scrapers/a1 2024-11-01", "raw/a2 2024-11-02", "raw/ab2 2024-11-02"}
	if diff := cmp.Diff(want, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Fatalf("re-sent (-want +got):\n%s\nreport: %v", diff, rep.Redriven)
	}
	rec := e.waitState(a1, d[0], ledger.StateSucceeded)
	if rec.Lane != messages.LaneDaily || rec.RunID != "lost" {
		t.Errorf("the lost pair ran in lane %q, run %q; want the plan's daily lane and run lost", rec.Lane, rec.RunID)
	}
	e.waitState(a2, d[1], ledger.StateSucceeded)
	e.waitState(c3, d[1], ledger.StateSucceeded)
	e.waitState(ab2, d[1], ledger.StateWaiting) // b1 never ran: waiting, recorded
	for _, date := range d[2:5] {
		if _, gen := e.record(a1, date); gen != 0 {
			t.Errorf("a1 %s has a record: a paced, cancelled or moving run's pair was sent", date)
		}
	}

	// A pass while the run "lost" moves does not read its plan; the first once it is quiet
	// marks the plan complete: every pair of it has a record now.
	if _, err := rt.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if plans, err := e.led.ListPlans(ctx); err != nil || !slices.ContainsFunc(plans, func(p ledger.PlanSummary) bool { return p.RunID == "lost" && !p.Complete }) {
		t.Fatalf("plan of the moving run lost marked complete (or unlisted: %v)", err)
	}
	skew.Store(int64(4 * time.Minute))
	if _, err := rt.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	plans, err := e.led.ListPlans(ctx)
	if err != nil {
		t.Fatal(err)
	}
	complete := map[string]bool{}
	for _, p := range plans {
		complete[p.RunID] = p.Complete
	}
	if !complete["lost"] || complete["paced"] || complete["stopped"] || complete["moving"] {
		t.Errorf("complete plans: %v; want lost only", complete)
	}
}
