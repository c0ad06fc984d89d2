package runner_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/pstest"
	"cloud.google.com/go/storage"

	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/infra/emulators"
	"github.com/nba-props/pipeline/infra/testlog"
	"github.com/nba-props/pipeline/infra/topology"
	"github.com/nba-props/pipeline/messages"
)

var (
	a1  = messages.Ref(messages.PhaseScrapers, "a1")
	b1  = messages.Ref(messages.PhaseScrapers, "b1")
	a2  = messages.Ref(messages.PhaseRaw, "a2")
	ab2 = messages.Ref(messages.PhaseRaw, "ab2")
	c3  = messages.Ref(messages.PhaseAnalytics, "c3")
)

// testCatalog: a1 → a2 → c3, and a1 + b1 → ab2 (fan-in).
func testCatalog(t testing.TB) *messages.Catalog {
	t.Helper()
	to := 20 * time.Second
	c, err := messages.NewCatalog(
		messages.JobSpec{Phase: messages.PhaseScrapers, Name: "a1", MaxConcurrency: 4, Timeout: to},
		messages.JobSpec{Phase: messages.PhaseScrapers, Name: "b1", MaxConcurrency: 4, Timeout: to},
		messages.JobSpec{Phase: messages.PhaseRaw, Name: "a2", Hard: []messages.JobRef{a1}, MaxConcurrency: 4, Timeout: to},
		messages.JobSpec{Phase: messages.PhaseRaw, Name: "ab2", Hard: []messages.JobRef{a1, b1}, MaxConcurrency: 4, Timeout: to},
		messages.JobSpec{Phase: messages.PhaseAnalytics, Name: "c3", Hard: []messages.JobRef{a2}, MaxConcurrency: 4, Timeout: to},
	)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// env is one isolated pipeline: the emulators of infra/emulators (pstest on a TCP port,
// fake-gcs-server over HTTP with its filesystem backend) with real clients, and the
// topology infra/topology declares for the catalogue.
type env struct {
	t       testing.TB
	ps      *pstest.Server
	psc     *pubsub.Client
	gcs     *storage.Client
	gcsHost string
	project string
	bucket  string
	names   messages.Names
	cat     *messages.Catalog
	led     *ledger.Ledger
	logs    *testlog.Buffer

	pubMu sync.Mutex
	pubs  map[string]*pubsub.Publisher
}

func newEnv(t testing.TB, cat *messages.Catalog) *env {
	t.Helper()
	em := emulators.StartTest(t)
	if _, err := topology.Apply(context.Background(), topology.Clients{PubSub: em.PubSub, Storage: em.Storage},
		topology.Options{Catalog: cat, Names: em.Names, Bucket: em.Bucket}); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ps: em.PubSubServer.Server, psc: em.PubSub, gcs: em.Storage, gcsHost: em.GCSHost, project: em.Project, bucket: em.Bucket,
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

func (e *env) topicName(id string) string { return "projects/" + e.project + "/topics/" + id }

// options fills the runtime options for this env with test-sized leases and streams.
func (e *env) options(jobs map[messages.JobRef]runner.Job) runner.Options {
	return runner.Options{
		PubSub: e.psc, Storage: e.gcs, Bucket: e.bucket, Catalog: e.cat, Names: e.names, Jobs: jobs,
		Lease: 3 * time.Second, MaxAttempts: 5, Streams: 4, ShutdownGrace: 2 * time.Second,
		PublishTimeout: 20 * time.Second,
		Logger:         slog.New(runner.NewLogHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

// start runs a runtime until the test ends (or stop is called) and checks Run's error.
func (e *env) start(opts runner.Options) (rt *runner.Runtime, stop func()) {
	e.t.Helper()
	rt, err := runner.New(opts)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				e.t.Errorf("Run: %v", err)
			}
		})
	}
	e.t.Cleanup(stop)
	return rt, stop
}

func (e *env) publisher(topic string) *pubsub.Publisher {
	e.pubMu.Lock()
	defer e.pubMu.Unlock()
	p, ok := e.pubs[topic]
	if !ok {
		p = e.psc.Publisher(topic)
		e.pubs[topic] = p
	}
	return p
}

func request(ref messages.JobRef, date string) messages.Request {
	return messages.Request{Version: messages.Version, Phase: ref.Phase, Job: ref.Job, Date: date,
		RunID: "run-test", Trigger: messages.Trigger{Kind: messages.TriggerProducer}, Lane: messages.LaneBackfill}
}

// publish sends copies of each request to its phase topic, as the producer does.
func (e *env) publish(copies int, reqs ...messages.Request) {
	e.t.Helper()
	for _, r := range reqs {
		body, attrs, err := messages.Encode(r, e.cat)
		if err != nil {
			e.t.Fatal(err)
		}
		for range copies {
			e.publishRaw(r.Phase, body, attrs)
		}
	}
}

func (e *env) publishRaw(p messages.Phase, body []byte, attrs map[string]string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := e.publisher(e.names.Topic(p)).Publish(ctx, &pubsub.Message{Data: body, Attributes: attrs}).Get(ctx); err != nil {
		e.t.Fatal(err)
	}
}

// published returns what the emulator holds for a topic ID.
func (e *env) published(topicID string) []*pstest.Message {
	var out []*pstest.Message
	for _, m := range e.ps.Messages() {
		if m.Topic == e.topicName(topicID) {
			out = append(out, m)
		}
	}
	return out
}

// waitFor polls cond until it holds or the deadline passes; describe says what is wrong.
func waitFor(t testing.TB, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s still waiting for %s; last seen: %s", within, what, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitState waits for the ledger record of (ref, date) to reach one of states.
func (e *env) waitState(ref messages.JobRef, date string, states ...ledger.State) ledger.Record {
	e.t.Helper()
	var rec ledger.Record
	waitFor(e.t, 60*time.Second, fmt.Sprintf("%s %s in %v", ref, date, states), func() (bool, string) {
		r, _, err := e.led.Get(context.Background(), ref, date)
		if err != nil {
			return false, err.Error()
		}
		rec = r
		for _, s := range states {
			if r.State == s {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%s attempts=%d err=%s", r.State, r.Attempts, r.LastError)
	})
	return rec
}

// tracker records job runs: how often each (job, date) ran, how many ran at once, and the
// order of starts and ends.
type tracker struct {
	mu        sync.Mutex
	runs      map[string]int
	active    map[string]int
	maxActive map[string]int
	events    []string
	started   map[string]time.Time
}

func newTracker() *tracker {
	return &tracker{runs: map[string]int{}, active: map[string]int{}, maxActive: map[string]int{}, started: map[string]time.Time{}}
}

func key(ref messages.JobRef, date string) string { return ref.String() + " " + date }

// job wraps fn (nil: succeed with 10 rows) so that its runs are tracked.
func (tr *tracker) job(ref messages.JobRef, fn runner.JobFunc) runner.Job {
	return runner.JobFunc(func(ctx context.Context, req messages.Request) (runner.Result, error) {
		k := key(ref, req.Date)
		tr.mu.Lock()
		tr.runs[k]++
		tr.active[k]++
		tr.maxActive[k] = max(tr.maxActive[k], tr.active[k])
		tr.events = append(tr.events, "start "+k)
		tr.started[k] = time.Now()
		tr.mu.Unlock()
		defer func() {
			tr.mu.Lock()
			tr.active[k]--
			tr.events = append(tr.events, "end "+k)
			tr.mu.Unlock()
		}()
		if fn == nil {
			return runner.Result{Rows: map[string]int64{req.Date: 10}}, nil
		}
		return fn(ctx, req)
	})
}

func (tr *tracker) count(ref messages.JobRef, date string) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.runs[key(ref, date)]
}

func (tr *tracker) snapshot() (runs, maxActive map[string]int, events []string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	runs, maxActive = map[string]int{}, map[string]int{}
	for k, v := range tr.runs {
		runs[k] = v
	}
	for k, v := range tr.maxActive {
		maxActive[k] = v
	}
	return runs, maxActive, append([]string(nil), tr.events...)
}

func (tr *tracker) index(event string) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for i, e := range tr.events {
		if e == event {
			return i
		}
	}
	return -1
}

// allJobs tracks every job of the test catalogue with the default success.
func (tr *tracker) allJobs() map[messages.JobRef]runner.Job {
	return map[messages.JobRef]runner.Job{
		a1: tr.job(a1, nil), b1: tr.job(b1, nil), a2: tr.job(a2, nil), ab2: tr.job(ab2, nil), c3: tr.job(c3, nil),
	}
}

var errFlaky = errors.New("source answered 503")
