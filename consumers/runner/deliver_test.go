package runner_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"cloud.google.com/go/storage"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/option"

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
		runner.OutcomeLeaseHeld:  runner.Nack,
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

	// Another consumer holds a live lease on a2's first date: handed back, untouched.
	held := ledger.Record{Phase: a2.Phase, Job: a2.Job, Date: d[0]}.Start("someone-else", "run-other", time.Minute, time.Now())
	hgen, err := e.led.Write(ctx, held, 0)
	if err != nil {
		t.Fatal(err)
	}
	if s := deliver(subA2, request(a2, d[0])); s != runner.Nack {
		t.Errorf("lease held: %v, want nack", s)
	}
	if _, after := e.record(a2, d[0]); after != hgen || tr.count(a2, d[0]) != 0 {
		t.Errorf("lease held: generation %d -> %d, runs %d; want untouched, not run", hgen, after, tr.count(a2, d[0]))
	}

	// A valid message of another job of the phase on a1's subscription (an emulator that
	// ignores filters delivers it there): acked as routed, not run, not dead-lettered.
	if s := deliver(subA1, request(b1, d[0])); s != runner.Ack {
		t.Errorf("routed: %v, want ack", s)
	}
	if n := len(e.published(e.names.DeadLetterTopic())); n != 1 {
		t.Errorf("dead-letter topic holds %d messages, want 1 (a2's permanent error only)", n)
	}
	if s := deliver("no-such-subscription", request(a1, d[0])); s != runner.Nack {
		t.Errorf("not handled: %v, want nack", s)
	}
	rt.Close()
	if s := deliver(subA1, request(a1, "2024-11-01")); s != runner.Busy {
		t.Errorf("abandoned: %v, want busy", s)
	}
	if rec, _ := e.record(a1, "2024-11-01"); rec.State != "" {
		t.Errorf("abandoned: a1 2024-11-01 is %s, want no record", rec.State)
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
	bounded := messages.Ref(messages.PhaseScrapers, "bounded")
	cat, err := messages.NewCatalog(messages.JobSpec{Phase: messages.PhaseScrapers, Name: "bounded", BackfillFrom: "2023-05-03"})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, cat)
	tr := newTracker()
	rt := e.runtime(e.options(map[messages.JobRef]runner.Job{bounded: tr.job(bounded, nil)}))
	if s := rt.Deliver(context.Background(), e.delivery(e.names.Subscription(bounded), request(bounded, "2023-05-02"))); s != runner.Ack {
		t.Errorf("settlement %v, want ack after dead-lettering", s)
	}
	if tr.count(bounded, "2023-05-02") != 0 {
		t.Error("the job ran for a date before its source's first")
	}
	if rec, _ := e.record(bounded, "2023-05-02"); rec.State != "" {
		t.Errorf("record %s, want none", rec.State)
	}
	dl := e.published(e.names.DeadLetterTopic())
	if len(dl) != 1 || dl[0].Attributes[runner.AttrReason] != "not_backfillable" {
		t.Errorf("dead letters = %v, want one not_backfillable", dl)
	}
	if s := rt.Deliver(context.Background(), e.delivery(e.names.Subscription(bounded), request(bounded, "2023-05-03"))); s != runner.Ack || tr.count(bounded, "2023-05-03") != 1 {
		t.Errorf("first servable date: %v, runs %d; want ack and one run", s, tr.count(bounded, "2023-05-03"))
	}
}

// gcsFaults is the HTTP transport of a GCS client pointed at the emulator that can delay
// or refuse uploads (every ledger write is one), to reach the paths where recording is
// slow or fails.
type gcsFaults struct {
	delay  atomic.Int64 // nanoseconds before an upload is forwarded
	refuse atomic.Bool
}

func (f *gcsFaults) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasPrefix(r.URL.Path, "/upload/") {
		if d := f.delay.Load(); d > 0 {
			time.Sleep(time.Duration(d))
		}
		if f.refuse.Load() {
			body := `{"error":{"code":403,"message":"injected: upload refused","errors":[{"reason":"forbidden"}]}}`
			return &http.Response{StatusCode: http.StatusForbidden, Status: "403 Forbidden", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
				Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(body)),
				ContentLength: int64(len(body)), Request: r}, nil
		}
	}
	return http.DefaultTransport.RoundTrip(r)
}

// faultyStorage is a real storage client for the env's emulator whose uploads pass f.
func (e *env) faultyStorage(f *gcsFaults) *storage.Client {
	e.t.Helper()
	c, err := storage.NewClient(context.Background(), option.WithEndpoint("http://"+e.gcsHost+"/storage/v1/"),
		option.WithHTTPClient(&http.Client{Transport: f}), storage.WithJSONReads())
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

// When recording the success fails, the delivery is handed back and nothing is emitted;
// the redelivery records and emits.
func TestFailedSuccessWriteIsHandedBackAndNothingEmitted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testCatalog(t))
	faults := &gcsFaults{}
	var ran atomic.Bool
	job := func(ctx context.Context, req messages.Request) (runner.Result, error) {
		if !ran.Swap(true) {
			faults.refuse.Store(true) // the job is done; the ledger write of its success fails
		}
		return runner.Result{Rows: map[string]int64{req.Date: 7}}, nil
	}
	tr := newTracker()
	opts := e.options(map[messages.JobRef]runner.Job{a1: tr.job(a1, job)})
	opts.Storage = e.faultyStorage(faults)
	opts.Lease = 200 * time.Millisecond
	rt := e.runtime(opts)
	d := e.delivery(e.names.Subscription(a1), request(a1, dates[0]))

	if s := rt.Deliver(context.Background(), d); s != runner.Nack {
		t.Fatalf("settlement after a failed success write: %v, want nack", s)
	}
	if rec, _ := e.record(a1, dates[0]); rec.State != ledger.StateRunning {
		t.Errorf("record after the failed write: %s, want still running (its lease lapses)", rec.State)
	}
	for _, topic := range []string{e.names.Topic(messages.PhaseRaw), e.names.DeadLetterTopic()} {
		if n := len(e.published(topic)); n != 0 {
			t.Errorf("%d messages on %s after a success that was not recorded, want 0", n, topic)
		}
	}
	faults.refuse.Store(false)
	// The redelivery waits for the lapsed lease and runs the date again.
	if s := rt.Deliver(context.Background(), d); s != runner.Ack {
		t.Fatalf("settlement of the redelivery: %v, want ack", s)
	}
	if rec, _ := e.record(a1, dates[0]); rec.State != ledger.StateSucceeded || !rec.Emitted {
		t.Errorf("record after the redelivery: %s emitted=%v, want succeeded and emitted", rec.State, rec.Emitted)
	}
	if n := len(e.published(e.names.Topic(messages.PhaseRaw))); n != 2 {
		t.Errorf("%d downstream messages after the redelivery, want 2 (a2 and ab2)", n)
	}
}

// settleOrder is a pstest reactor that writes down, in the emulator's own order, every
// publish of a job's message and every ack on one subscription, with the ledger record of
// the acked job as it stands at that moment.
type settleOrder struct {
	sub   string
	state func() string
	mu    sync.Mutex
	order []string
}

func (o *settleOrder) React(req any) (bool, any, error) {
	var ev []string
	switch r := req.(type) {
	case *pubsubpb.PublishRequest:
		for _, m := range r.GetMessages() {
			ev = append(ev, "publish "+m.GetAttributes()[messages.AttrJob])
		}
	case *pubsubpb.AcknowledgeRequest:
		if strings.HasSuffix(r.GetSubscription(), "/"+o.sub) {
			ev = append(ev, "ack with the record "+o.state())
		}
	}
	o.mu.Lock()
	o.order = append(o.order, ev...)
	o.mu.Unlock()
	return false, nil, nil
}

func (o *settleOrder) events() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.order...)
}

// One delivery, delivered once, through streaming pull: the ledger records the success
// and every downstream message is published before the message is acked. Recording is
// slowed down, so an ack sent as soon as the job returns would reach the emulator first.
func TestSettleComesAfterTheRecordAndEveryDownstreamPublish(t *testing.T) {
	t.Parallel()
	order := &settleOrder{}
	cat := testCatalog(t)
	e := newEnvWithReactors(t, cat,
		pstest.ServerReactorOption{FuncName: "Publish", Reactor: order},
		pstest.ServerReactorOption{FuncName: "Acknowledge", Reactor: order})
	order.sub = e.names.Subscription(a1)
	order.state = func() string {
		rec, _, err := e.led.Get(context.Background(), a1, dates[0])
		if err != nil {
			return err.Error()
		}
		return fmt.Sprintf("%s emitted=%v", rec.State, rec.Emitted)
	}
	faults := &gcsFaults{}
	job := func(ctx context.Context, req messages.Request) (runner.Result, error) {
		faults.delay.Store(int64(time.Second))
		return runner.Result{Rows: map[string]int64{req.Date: 3}}, nil
	}
	tr := newTracker()
	opts := e.options(map[messages.JobRef]runner.Job{a1: tr.job(a1, job)})
	opts.Storage = e.faultyStorage(faults)
	opts.Lease = 30 * time.Second
	opts.Unroutable = []messages.Phase{}
	e.start(opts)
	e.publish(1, request(a1, dates[0]))
	e.settled(messages.PhaseScrapers)

	want := []string{"publish a1", "publish a2", "publish ab2", "ack with the record succeeded emitted=true"}
	got := order.events()
	// The producer's publish comes first; the two downstream messages may go out in one
	// request or two, in either order.
	if len(got) == len(want) && got[1] > got[2] {
		got[1], got[2] = got[2], got[1]
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events on the emulator (-want +got):\n%s", diff)
	}
	for _, m := range e.published(e.names.Topic(messages.PhaseScrapers)) {
		if m.Deliveries != 1 {
			t.Errorf("a1's message was delivered %d times, want once", m.Deliveries)
		}
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
