package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/infra/emulators"
	"github.com/nba-props/pipeline/messages"
	"github.com/sethvargo/go-envconfig"
)

// jobLog records the runs of the stand-in jobs in the order they started and ended.
type jobLog struct {
	mu     sync.Mutex
	events []jobEvent
}

type jobEvent struct {
	start bool
	ref   messages.JobRef
	date  string
}

func (l *jobLog) add(ev jobEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, ev)
}

func (l *jobLog) snapshot() []jobEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]jobEvent(nil), l.events...)
}

// ran reports whether (ref, date) started.
func (l *jobLog) ran(ref messages.JobRef, date string) bool {
	for _, ev := range l.snapshot() {
		if ev.start && ev.ref == ref && ev.date == date {
			return true
		}
	}
	return false
}

// consumers runs the real consumer runtime against the test's emulators, serving every
// job of the catalogue with a stand-in that succeeds at once (a scraper with one object,
// a later job with 10 rows), unless override has a function for it. Soft waits and the
// reconciler are off: a test sees each message handled once, by its own trigger.
func consumers(t *testing.T, env *emulators.Env, log *jobLog, override map[messages.JobRef]runner.JobFunc) {
	t.Helper()
	consumersWith(t, env, log, override, nil)
}

// consumersWith is consumers with the runtime's options changed by opts first.
func consumersWith(t *testing.T, env *emulators.Env, log *jobLog, override map[messages.JobRef]runner.JobFunc, opts func(*runner.Options)) {
	t.Helper()
	jobs := map[messages.JobRef]runner.Job{}
	for _, s := range messages.DefaultCatalog().Jobs() {
		ref := s.Ref()
		fn := override[ref]
		jobs[ref] = runner.JobFunc(func(ctx context.Context, req messages.Request) (runner.Result, error) {
			log.add(jobEvent{start: true, ref: ref, date: req.Date})
			defer log.add(jobEvent{ref: ref, date: req.Date})
			if fn != nil {
				return fn(ctx, req)
			}
			if ref.Phase == messages.PhaseScrapers {
				return runner.Result{Objects: []runner.Object{{Name: ref.Job + "/" + req.Date, Generation: 1}}}, nil
			}
			return runner.Result{Rows: map[string]int64{req.Date: 10}}, nil
		})
	}
	var logs bytes.Buffer
	var logMu sync.Mutex
	o := runner.Options{
		PubSub: env.PubSub, Storage: env.Storage, Bucket: env.Bucket, Catalog: messages.DefaultCatalog(), Names: env.Names,
		Jobs: jobs, DeadLetters: true, Lease: 5 * time.Second, Streams: 2, ShutdownGrace: 2 * time.Second,
		SoftWait: -1, ReconcileEvery: -1, PublishTimeout: 20 * time.Second, LeaseWait: 500 * time.Millisecond,
		Logger: slog.New(runner.NewLogHandler(lockedWriter{&logMu, &logs}, nil)),
	}
	if opts != nil {
		opts(&o)
	}
	rt, err := runner.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("consumer runtime: %v", err)
		}
		if t.Failed() {
			logMu.Lock()
			t.Logf("consumer log:\n%s", logs.String())
			logMu.Unlock()
		}
	})
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

// waitFor polls cond until it holds, failing the test after a minute with what it last saw.
func waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		ok, seen := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still waiting for %s; last seen: %s", what, seen)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitStates waits until every (ref, date) of dates has a record in one of states.
func waitStates(t *testing.T, l *ledger.Ledger, ref messages.JobRef, dates []string, states ...ledger.State) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%s %v in %v", ref, dates, states), func() (bool, string) {
		sums, err := l.List(context.Background(), ref, "", "")
		if err != nil {
			return false, err.Error()
		}
		got := map[string]ledger.State{}
		for _, s := range sums {
			got[s.Date] = s.State
		}
		for _, d := range dates {
			ok := false
			for _, st := range states {
				ok = ok || got[d] == st
			}
			if !ok {
				return false, fmt.Sprint(got)
			}
		}
		return true, ""
	})
}

// runProducerAsync runs the CLI in the background; wait returns its exit code and output.
func runProducerAsync(t *testing.T, vars map[string]string, args ...string) (wait func() (int, string, string)) {
	t.Helper()
	type result struct {
		code           int
		stdout, stderr string
	}
	ch := make(chan result, 1)
	go func() {
		var out, errb bytes.Buffer
		code := run(context.Background(), args, &out, &errb, envconfig.MapLookuper(vars))
		ch <- result{code, out.String(), errb.String()}
	}()
	return func() (int, string, string) {
		select {
		case r := <-ch:
			return r.code, r.stdout, r.stderr
		case <-time.After(2 * time.Minute):
			t.Fatalf("producer %v did not end", args)
			return 0, "", ""
		}
	}
}
