package runner_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/messages"
)

func TestTwoRuntimesNeverRunADateTwiceAtOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testCatalog(t))
	tr := newTracker()
	slow := func(ctx context.Context, req messages.Request) (runner.Result, error) {
		select {
		case <-time.After(200 * time.Millisecond): // long enough for duplicates to overlap
		case <-ctx.Done():
			return runner.Result{}, ctx.Err()
		}
		return runner.Result{Rows: map[string]int64{req.Date: 10}}, nil
	}
	jobs := map[messages.JobRef]runner.Job{
		a1: tr.job(a1, slow), b1: tr.job(b1, slow), a2: tr.job(a2, slow), ab2: tr.job(ab2, slow), c3: tr.job(c3, slow),
	}
	for _, owner := range []string{"consumer-a", "consumer-b"} {
		o := e.options(jobs)
		o.Owner = owner
		e.start(o)
	}
	for _, d := range dates {
		e.publish(3, request(a1, d), request(b1, d))
	}
	for _, d := range dates {
		e.waitState(c3, d, ledger.StateSucceeded)
		e.waitState(ab2, d, ledger.StateSucceeded)
	}
	runs, maxActive, _ := tr.snapshot()
	for k, n := range maxActive {
		if n > 1 {
			t.Errorf("%s ran %d times at once", k, n)
		}
	}
	for k, n := range runs {
		if n != 1 {
			t.Errorf("%s ran %d times, want 1", k, n)
		}
	}
}

func TestCrashedConsumerIsTakenOverAfterLeaseExpiry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testCatalog(t))
	entered := make(chan struct{}, 1)
	faults := &gcsFaults{}
	hang := runner.JobFunc(func(ctx context.Context, req messages.Request) (runner.Result, error) {
		faults.refuse.Store(true) // from now on consumer A writes nothing: it has crashed
		entered <- struct{}{}
		<-ctx.Done()
		return runner.Result{}, ctx.Err()
	})
	optsA := e.options(map[messages.JobRef]runner.Job{a1: hang})
	optsA.Owner, optsA.ShutdownGrace, optsA.Unroutable = "consumer-a", 100*time.Millisecond, []messages.Phase{}
	optsA.Storage = e.faultyStorage(faults)
	_, killA := e.start(optsA)
	e.publish(1, request(a1, dates[0]))
	select {
	case <-entered:
	case <-time.After(60 * time.Second):
		t.Fatal("consumer A never started the job")
	}
	killA() // its lease stays, unextended and not handed back
	held, _, err := e.led.Get(context.Background(), a1, dates[0])
	if err != nil {
		t.Fatal(err)
	}
	if held.State != ledger.StateRunning || held.Lease == nil || held.Lease.Owner != "consumer-a" {
		t.Fatalf("after the crash the record is %s with lease %+v, want running leased by consumer-a", held.State, held.Lease)
	}

	tr := newTracker()
	optsB := e.options(map[messages.JobRef]runner.Job{a1: tr.job(a1, nil)})
	optsB.Owner, optsB.Unroutable = "consumer-b", []messages.Phase{}
	e.start(optsB)
	// The crashed consumer's message comes back after its ack deadline; a producer re-send
	// arrives sooner. Either way B must wait for the lease to lapse.
	e.publish(1, request(a1, dates[0]))
	rec := e.waitState(a1, dates[0], ledger.StateSucceeded)
	tr.mu.Lock()
	startedB := tr.started[key(a1, dates[0])]
	tr.mu.Unlock()
	if startedB.Before(held.Lease.Expires) {
		t.Errorf("B started at %s, before A's lease expired at %s", startedB.Format(time.RFC3339Nano), held.Lease.Expires.Format(time.RFC3339Nano))
	}
	if rec.Attempts != 2 || rec.History[len(rec.History)-1].RunID != "run-test" {
		t.Errorf("record after takeover: attempts=%d, want 2 (the crashed run counts)", rec.Attempts)
	}
}

// A consumer stopped gracefully whose work outlives the grace period hands the date back
// at once: the lease is released and the run does not count, so the next consumer takes
// it without waiting for the lease to lapse.
func TestShutdownHandsBackTheLeaseAtOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testCatalog(t))
	entered := make(chan struct{}, 1)
	hang := runner.JobFunc(func(ctx context.Context, req messages.Request) (runner.Result, error) {
		entered <- struct{}{}
		<-ctx.Done()
		return runner.Result{}, ctx.Err()
	})
	opts := e.options(map[messages.JobRef]runner.Job{a1: hang})
	opts.ShutdownGrace, opts.Unroutable, opts.Lease = 100*time.Millisecond, []messages.Phase{}, time.Minute
	_, stop := e.start(opts)
	e.publish(1, request(a1, dates[0]))
	select {
	case <-entered:
	case <-time.After(60 * time.Second):
		t.Fatal("the job never started")
	}
	stop()
	rec, _, err := e.led.Get(context.Background(), a1, dates[0])
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != ledger.StateFailed || rec.Lease != nil || rec.Attempts != 0 {
		t.Fatalf("after shutdown the record is %s, lease %+v, attempts %d; want handed back: failed, no lease, 0 attempts", rec.State, rec.Lease, rec.Attempts)
	}
	tr := newTracker()
	opts2 := e.options(map[messages.JobRef]runner.Job{a1: tr.job(a1, nil)})
	opts2.Unroutable, opts2.Lease = []messages.Phase{}, time.Minute
	e.start(opts2)
	e.publish(1, request(a1, dates[0]))
	done := e.waitState(a1, dates[0], ledger.StateSucceeded)
	if done.Attempts != 1 {
		t.Errorf("attempts after the handed-back run: %d, want 1", done.Attempts)
	}
}

func TestShutdownLetsInFlightWorkFinish(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testCatalog(t))
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	job := runner.JobFunc(func(ctx context.Context, req messages.Request) (runner.Result, error) {
		entered <- struct{}{}
		<-release
		// The job's context survives the start of shutdown.
		if err := ctx.Err(); err != nil {
			return runner.Result{}, err
		}
		return runner.Result{Rows: map[string]int64{req.Date: 1}}, nil
	})
	opts := e.options(map[messages.JobRef]runner.Job{a1: job})
	opts.ShutdownGrace = 30 * time.Second
	_, stop := e.start(opts)
	e.publish(1, request(a1, dates[0]))
	<-entered
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("Run returned while a job was in flight within the grace period")
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	<-stopped
	rec, _, err := e.led.Get(context.Background(), a1, dates[0])
	if err != nil || rec.State != ledger.StateSucceeded {
		t.Fatalf("record after graceful shutdown = %s, %v; want succeeded", rec.State, err)
	}
}

func TestNewRefusesMissingImplementation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testCatalog(t))
	tr := newTracker()
	opts := e.options(tr.allJobs())
	opts.Select = []messages.JobRef{a1, messages.Ref(messages.PhaseRaw, "a2"), messages.Ref(messages.PhaseRaw, "zz")}
	if _, err := runner.New(opts); err == nil || !strings.Contains(err.Error(), "raw/zz") {
		t.Errorf("New with an unknown selected job: err = %v, want one naming raw/zz", err)
	}
	opts = e.options(map[messages.JobRef]runner.Job{a1: tr.job(a1, nil)})
	opts.Select = []messages.JobRef{a1, b1}
	if _, err := runner.New(opts); err == nil || !strings.Contains(err.Error(), "scrapers/b1") {
		t.Errorf("New with a selected job lacking an implementation: err = %v, want one naming scrapers/b1", err)
	}
}

// A daily run does not queue behind a backfill's backlog: each job has a daily-lane
// subscription with its own concurrency, so the daily date starts while the backlog of
// the same job is still being worked through.
func TestDailyLaneDoesNotQueueBehindABackfill(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testCatalog(t))
	tr := newTracker()
	slow := func(ctx context.Context, req messages.Request) (runner.Result, error) {
		time.Sleep(200 * time.Millisecond)
		return runner.Result{Rows: map[string]int64{req.Date: 1}}, nil
	}
	e.startLaneJob(tr.job(a1, slow), 1)
	var backlog []messages.Request
	for i := range 20 {
		backlog = append(backlog, request(a1, time.Date(2023, 1, 1+i, 0, 0, 0, 0, time.UTC).Format(messages.DateLayout)))
	}
	e.publish(1, backlog...)
	waitFor(t, 30*time.Second, "the backlog to start", func() (bool, string) { return tr.count(a1, backlog[0].Date) > 0, "" })
	daily := request(a1, "2024-10-22")
	daily.Lane = messages.LaneDaily
	e.publish(1, daily)
	e.waitState(a1, daily.Date, ledger.StateSucceeded)
	runs, _, _ := tr.snapshot()
	done := 0
	for _, r := range backlog {
		if runs[key(a1, r.Date)] > 0 {
			done++
		}
	}
	if done > 5 {
		t.Errorf("the daily date finished after %d of the 20 backlog dates had started; want it not queued behind them", done)
	}
}

// Daily work goes first in one process: a backfill delivery that arrives while a daily
// run is in flight waits before it claims its date, and starts only after the daily run
// ended. (Without the gate the backfill dates start at once beside it: the lanes have
// their own slots.)
func TestBackfillWaitsWhileDailyWorkRuns(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testCatalog(t))
	tr := newTracker()
	release := make(chan struct{})
	daily := request(a1, "2024-10-22")
	daily.Lane = messages.LaneDaily
	job := func(ctx context.Context, req messages.Request) (runner.Result, error) {
		if req.Date == daily.Date {
			select {
			case <-release:
			case <-ctx.Done():
				return runner.Result{}, ctx.Err()
			}
		}
		return runner.Result{Rows: map[string]int64{req.Date: 1}}, nil
	}
	e.startLaneJob(tr.job(a1, job), 4)
	e.publish(1, daily)
	waitFor(t, 30*time.Second, "the daily run to start", func() (bool, string) { return tr.count(a1, daily.Date) > 0, "" })
	var backlog []messages.Request
	for i := range 3 {
		backlog = append(backlog, request(a1, time.Date(2023, 1, 1+i, 0, 0, 0, 0, time.UTC).Format(messages.DateLayout)))
	}
	e.publish(1, backlog...)
	time.Sleep(time.Second) // the backlog is delivered meanwhile; without the gate it would run now
	close(release)
	e.waitState(a1, daily.Date, ledger.StateSucceeded)
	for _, r := range backlog {
		e.waitState(a1, r.Date, ledger.StateSucceeded)
	}
	dailyEnd := tr.index("end " + key(a1, daily.Date))
	for _, r := range backlog {
		if start := tr.index("start " + key(a1, r.Date)); start < dailyEnd {
			_, _, events := tr.snapshot()
			t.Errorf("backfill %s started before the daily run ended: %v", r.Date, events)
		}
	}
}

// startLaneJob runs a runtime serving only a1 (scrapers, both lanes) with job and the
// given concurrency per lane: the lane tests' pipeline.
func (e *env) startLaneJob(job runner.Job, maxConcurrency int) {
	e.t.Helper()
	cat, err := messages.NewCatalog(messages.JobSpec{Phase: messages.PhaseScrapers, Name: "a1", MaxConcurrency: maxConcurrency, Timeout: 20 * time.Second})
	if err != nil {
		e.t.Fatal(err)
	}
	e.cat = cat
	opts := e.options(map[messages.JobRef]runner.Job{a1: job})
	opts.Catalog, opts.Unroutable = cat, []messages.Phase{}
	e.start(opts)
}
