package runner_test

// Failure classes of docs/lessons.md at the runtime's level: "fan-in fires once per input"
// and "limits tied together". The classes that need a real job and BigQuery are tested in
// consumers/raw/lessons_test.go, those of a real scraper in consumers/scrapers.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/infra/emulators"
	"github.com/nba-props/pipeline/infra/testlog"
	"github.com/nba-props/pipeline/infra/topology"
	"github.com/nba-props/pipeline/messages"
)

// failPublish is a pstest reactor that rejects the first Publish carrying a message for job
// (with a code the client does not retry), and counts the rejections.
type failPublish struct {
	job    string
	mu     sync.Mutex
	failed int
}

func (f *failPublish) React(req any) (bool, any, error) {
	pr, ok := req.(*pubsubpb.PublishRequest)
	if !ok {
		return false, nil, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failed > 0 {
		return false, nil, nil
	}
	for _, m := range pr.GetMessages() {
		if m.GetAttributes()[messages.AttrJob] == f.job {
			f.failed++
			return true, nil, status.Error(codes.FailedPrecondition, "injected: publish refused")
		}
	}
	return false, nil, nil
}

func (f *failPublish) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed
}

// newEnvWithReactors is newEnv on a Pub/Sub emulator of its own that applies reactors.
func newEnvWithReactors(t *testing.T, cat *messages.Catalog, reactors ...pstest.ServerReactorOption) *env {
	t.Helper()
	em := emulators.StartTest(t) // GCS and the bucket; its Pub/Sub is not used
	ps := pstest.NewServerWithAddress("127.0.0.1:0", reactors...)
	t.Cleanup(func() { _ = ps.Close() })
	ctx := context.Background()
	psc, err := pubsub.NewClient(ctx, em.Project, option.WithEndpoint(ps.Addr), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = psc.Close() })
	if _, err := topology.Apply(ctx, topology.Clients{PubSub: psc, Storage: em.Storage},
		topology.Options{Catalog: cat, Names: em.Names, Bucket: em.Bucket}); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ps: ps, psc: psc, gcs: em.Storage, gcsHost: em.GCSHost, project: em.Project, bucket: em.Bucket,
		names: em.Names, cat: cat, led: ledger.New(em.Storage, em.Bucket, ledger.Options{}), logs: &testlog.Buffer{},
		pubs: map[string]*pubsub.Publisher{}}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("runtime log:\n%s", e.logs.String())
		}
	})
	t.Cleanup(func() {
		e.pubMu.Lock()
		defer e.pubMu.Unlock()
		for _, p := range e.pubs {
			p.Stop()
		}
	})
	return e
}

// settled waits until every message on the phase topics (all of them if none is given) has
// been acked; the dead-letter topic is never consumed.
func (e *env) settled(phases ...messages.Phase) {
	e.t.Helper()
	watched := func(topic string) bool {
		if len(phases) == 0 {
			return !strings.HasSuffix(topic, "/"+e.names.DeadLetterTopic())
		}
		for _, p := range phases {
			if topic == e.topicName(e.names.Topic(p)) {
				return true
			}
		}
		return false
	}
	waitFor(e.t, 60*time.Second, "every message acked", func() (bool, string) {
		for _, m := range e.ps.Messages() {
			if m.Acks == 0 && watched(m.Topic) {
				return false, fmt.Sprintf("%s %s on %s not acked", m.Attributes[messages.AttrJob], m.Attributes[messages.AttrDate], m.Topic)
			}
		}
		return true, ""
	})
}

// TestLessonFanInShuffledDuplicatedWithFailedPublish (docs/lessons.md: fan-in fires once per input): the completions of a
// fan-in's upstreams arrive shuffled and three times each, and the first publish towards the
// fan-in job is refused. The fan-in job still runs, exactly once per input fingerprint: once
// for the first inputs, once more when one upstream's output changes, never for duplicates.
func TestLessonFanInShuffledDuplicatedWithFailedPublish(t *testing.T) {
	t.Parallel()
	fail := &failPublish{job: ab2.Job}
	e := newEnvWithReactors(t, testCatalog(t), pstest.ServerReactorOption{FuncName: "Publish", Reactor: fail})
	tr := newTracker()
	var b1Rows atomic.Int64
	b1Rows.Store(10)
	jobs := tr.allJobs()
	jobs[b1] = tr.job(b1, func(ctx context.Context, req messages.Request) (runner.Result, error) {
		return runner.Result{Rows: map[string]int64{req.Date: b1Rows.Load()}}, nil
	})
	// Two consumers, so that duplicates also race across processes.
	for _, owner := range []string{"consumer-a", "consumer-b"} {
		o := e.options(jobs)
		o.Owner = owner
		e.start(o)
	}

	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	var reqs []messages.Request
	for _, d := range dates {
		for range 3 {
			reqs = append(reqs, request(a1, d), request(b1, d))
		}
	}
	rng.Shuffle(len(reqs), func(i, j int) { reqs[i], reqs[j] = reqs[j], reqs[i] })
	e.publish(1, reqs...)
	for _, d := range dates {
		e.waitState(ab2, d, ledger.StateSucceeded)
		e.waitState(c3, d, ledger.StateSucceeded)
	}
	e.settled()
	if n := fail.count(); n != 1 {
		t.Fatalf("%d publishes refused, want 1: the fault never hit (seed %d)", n, seed)
	}
	runs, _, _ := tr.snapshot()
	for _, d := range dates {
		for _, r := range []messages.JobRef{a1, b1, a2, ab2, c3} {
			if n := runs[key(r, d)]; n != 1 {
				t.Errorf("%s %s ran %d times, want 1 (seed %d)", r, d, n, seed)
			}
		}
		rec := e.waitState(ab2, d, ledger.StateSucceeded)
		if rec.Inputs[a1.String()] == "" || rec.Inputs[b1.String()] == "" || len(rec.History) != 1 {
			t.Errorf("ab2 %s: inputs %v, %d runs in history; want both upstreams and one run", d, rec.Inputs, len(rec.History))
		}
	}
	if dl := e.published(e.names.DeadLetterTopic()); len(dl) != 0 {
		t.Errorf("%d messages dead-lettered, want none", len(dl))
	}

	// b1's output changes for one date: forced three times over, it runs three times, but
	// its output, and so ab2's input, changes once, so ab2 runs once more.
	b1Rows.Store(20)
	force := request(b1, dates[0])
	force.Force = true
	e.publish(3, force)
	waitFor(t, 60*time.Second, "b1 forced three times", func() (bool, string) {
		n := tr.count(b1, dates[0])
		return n == 4, fmt.Sprintf("%d runs", n)
	})
	var rec ledger.Record
	waitFor(t, 60*time.Second, "ab2 run on b1's new output", func() (bool, string) {
		r, _, err := e.led.Get(context.Background(), ab2, dates[0])
		rec = r
		return err == nil && r.State == ledger.StateSucceeded && len(r.History) == 2, fmt.Sprintf("%s, %d runs", r.State, len(r.History))
	})
	e.settled()
	if n := tr.count(ab2, dates[0]); n != 2 {
		t.Errorf("ab2 ran %d times for two distinct inputs, want 2", n)
	}
	if rec.History[0].InputFingerprint == rec.History[1].InputFingerprint {
		t.Errorf("ab2 ran twice on one input fingerprint %s", rec.History[0].InputFingerprint)
	}
	for _, d := range dates[1:] {
		if n := tr.count(ab2, d); n != 1 {
			t.Errorf("ab2 %s ran %d times, want 1 (its inputs did not change)", d, n)
		}
	}
}

// TestLessonLeaseExtendedWhileTheJobOutlivesIt (docs/lessons.md: limits tied together): a run that lasts several
// leases keeps its lease extended, so a second consumer holding a copy of the message does
// not run the date again; and every catalogue job's handler deadline is below its
// subscription's ack deadline.
func TestLessonLeaseExtendedWhileTheJobOutlivesIt(t *testing.T) {
	t.Parallel()
	for _, s := range messages.DefaultCatalog().Jobs() {
		if s.Timeout <= 0 || s.Timeout >= s.AckDeadline() {
			t.Errorf("%s: handler deadline %v is not below the ack deadline %v", s.Ref(), s.Timeout, s.AckDeadline())
		}
	}

	e := newEnv(t, testCatalog(t))
	tr := newTracker()
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	slow := tr.job(a1, func(ctx context.Context, req messages.Request) (runner.Result, error) {
		select {
		case entered <- struct{}{}:
		default:
		}
		select {
		case <-release:
		case <-ctx.Done():
			return runner.Result{}, ctx.Err()
		}
		return runner.Result{Rows: map[string]int64{req.Date: 10}}, nil
	})
	const lease = time.Second
	for _, owner := range []string{"consumer-a", "consumer-b"} {
		o := e.options(map[messages.JobRef]runner.Job{a1: slow})
		o.Owner, o.Lease, o.Unroutable = owner, lease, []messages.Phase{}
		e.start(o)
	}
	e.publish(1, request(a1, dates[0]))
	select {
	case <-entered:
	case <-time.After(60 * time.Second):
		t.Fatal("the job never started")
	}
	first := e.waitState(a1, dates[0], ledger.StateRunning)
	// A copy of the message arrives while the run goes on, and the run outlives its first
	// lease three times over.
	e.publish(1, request(a1, dates[0]))
	until := first.Lease.Expires.Add(3 * lease)
	for time.Now().Before(until) {
		time.Sleep(100 * time.Millisecond)
	}
	rec, _, err := e.led.Get(context.Background(), a1, dates[0])
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != ledger.StateRunning || rec.Lease == nil || rec.Lease.Owner != first.Lease.Owner || !rec.Lease.Expires.After(first.Lease.Expires.Add(2*lease)) {
		t.Errorf("record %v after the first lease would have lapsed: %s lease %+v, want running, still %s's, extended", lease*3, rec.State, rec.Lease, first.Lease.Owner)
	}
	if n := tr.count(a1, dates[0]); n != 1 {
		t.Errorf("a1 started %d times while its first run held the lease, want 1", n)
	}
	close(release)
	done := e.waitState(a1, dates[0], ledger.StateSucceeded)
	e.settled(messages.PhaseScrapers) // a2 has no consumer here
	if n := tr.count(a1, dates[0]); n != 1 || done.Attempts != 1 {
		t.Errorf("a1 ran %d times (%d attempts), want once", n, done.Attempts)
	}
}

// TestLessonInFlightWorkIsBounded (docs/lessons.md: limits tied together, the unbounded buffer): a backlog of many
// dates never has more runs of a job in flight in one consumer than its MaxConcurrency, so
// the memory one consumer holds is bounded by the catalogue, not by the backlog; and the
// whole backlog is worked off.
func TestLessonInFlightWorkIsBounded(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testCatalog(t))
	spec, _ := e.cat.Lookup(a1)
	var active, peak atomic.Int32
	job := runner.JobFunc(func(ctx context.Context, req messages.Request) (runner.Result, error) {
		n := active.Add(1)
		defer active.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
			return runner.Result{}, ctx.Err()
		}
		return runner.Result{Rows: map[string]int64{req.Date: 1}}, nil
	})
	o := e.options(map[messages.JobRef]runner.Job{a1: job})
	o.Unroutable = []messages.Phase{}
	e.start(o)
	from, _ := messages.ParseDate("2024-10-22")
	var reqs []messages.Request
	for i := range 120 {
		reqs = append(reqs, request(a1, from.AddDate(0, 0, i).Format(messages.DateLayout)))
	}
	e.publish(1, reqs...)
	last := reqs[len(reqs)-1].Date
	waitFor(t, 90*time.Second, "the backlog worked off", func() (bool, string) {
		grid, err := e.led.List(context.Background(), a1, reqs[0].Date, last)
		if err != nil {
			return false, err.Error()
		}
		n := 0
		for _, s := range grid {
			if s.State == ledger.StateSucceeded {
				n++
			}
		}
		return n == len(reqs), fmt.Sprintf("%d of %d succeeded", n, len(reqs))
	})
	if p := peak.Load(); p > int32(spec.MaxConcurrency) || p < 2 {
		t.Errorf("at most %d runs were in flight at once; want between 2 and MaxConcurrency %d", p, spec.MaxConcurrency)
	}
}

// TestDeliveriesWithoutARunPassBusySlots: MaxConcurrency bounds a job's runs, not its
// deliveries. While the only slot of a job with MaxConcurrency 1 is held by a long run, a
// delivery for a date whose upstream is not done is still recorded waiting, and one for a
// date already done is acknowledged as a duplicate, without waiting for the run to end.
func TestDeliveriesWithoutARunPassBusySlots(t *testing.T) {
	t.Parallel()
	cat, err := messages.NewCatalog(
		messages.JobSpec{Phase: messages.PhaseScrapers, Name: "a1", MaxConcurrency: 1, Timeout: 20 * time.Second},
		messages.JobSpec{Phase: messages.PhaseRaw, Name: "a2", Hard: []messages.JobRef{a1}, MaxConcurrency: 1, Timeout: 20 * time.Second},
	)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, cat)
	ctx := context.Background()
	now := time.Now()
	for _, d := range dates[:2] {
		rec := ledger.Record{Phase: a1.Phase, Job: a1.Job, Date: d}.Start("gone", "run-0", time.Minute, now)
		if _, err := e.led.Write(ctx, rec.Succeed(ledger.Output{}, "out-"+d, false, now).MarkEmittedThrough("", now), 0); err != nil {
			t.Fatal(err)
		}
	}
	started, release := make(chan string, 4), make(chan struct{})
	var runs atomic.Int32
	job := runner.JobFunc(func(ctx context.Context, req messages.Request) (runner.Result, error) {
		runs.Add(1)
		started <- req.Date
		if req.Date == dates[0] {
			select {
			case <-release:
			case <-ctx.Done():
				return runner.Result{}, ctx.Err()
			}
		}
		return runner.Result{}, nil
	})
	o := e.options(map[messages.JobRef]runner.Job{a2: job})
	o.Unroutable = []messages.Phase{}
	e.start(o)
	e.publish(1, request(a2, dates[1]))
	e.waitState(a2, dates[1], ledger.StateSucceeded)
	<-started
	e.publish(1, request(a2, dates[0]))
	if d := <-started; d != dates[0] {
		t.Fatalf("ran %s, want %s", d, dates[0])
	}
	// The slot is held. A date without its upstream, and a duplicate of a done date:
	e.publish(1, request(a2, dates[2]), request(a2, dates[1]))
	rec := e.waitState(a2, dates[2], ledger.StateWaiting)
	waitFor(t, 30*time.Second, "the duplicate of "+dates[1]+" acknowledged", func() (bool, string) {
		n := strings.Count(e.logs.String(), `"outcome":"duplicate"`)
		return n == 1, fmt.Sprintf("%d duplicate deliveries logged", n)
	})
	select {
	case d := <-started:
		t.Errorf("%s ran while %s held the only slot", d, dates[0])
	default:
	}
	close(release)
	e.waitState(a2, dates[0], ledger.StateSucceeded)
	if n := runs.Load(); n != 2 {
		t.Errorf("%d runs, want 2 (%s and %s once each); %s is %s", n, dates[1], dates[0], dates[2], rec.State)
	}
}
