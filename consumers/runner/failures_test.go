package runner_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/messages"
)

// poison is a message that must end on the dead-letter topic with reason.
type poison struct {
	name   string
	phase  messages.Phase
	body   string
	attrs  map[string]string
	reason string
}

func TestPoisonMessagesAreDeadLetteredWithAReason(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testCatalog(t))
	tr := newTracker()
	e.start(e.options(tr.allJobs()))

	good := request(a1, dates[0])
	body := func(mut func(m map[string]any)) string {
		b, _, err := messages.Encode(good, e.cat)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		mut(m)
		out, _ := json.Marshal(m)
		return string(out)
	}
	attrs := func(job, date string) map[string]string {
		a := good.Attributes()
		a[messages.AttrJob], a[messages.AttrDate] = job, date
		return a
	}
	cases := []poison{
		{"malformed JSON", messages.PhaseScrapers, `{"version":1,"phase":"scrapers",`, attrs("a1", dates[0]), "malformed"},
		{"unknown version", messages.PhaseScrapers, body(func(m map[string]any) { m["version"] = 2 }), attrs("a1", dates[0]), "unknown_version"},
		{"unknown job", messages.PhaseScrapers, body(func(m map[string]any) { m["job"] = "zz" }), attrs("zz", dates[0]), "unknown_job"},
		{"job of another phase", messages.PhaseScrapers, body(func(m map[string]any) { m["job"] = "a2" }), attrs("a2", dates[0]), "job_not_in_phase"},
		{"body names another phase", messages.PhaseRaw, body(func(m map[string]any) { m["job"] = "a2" }), attrs("a2", dates[0]), "job_not_in_phase"},
		{"date TODAY", messages.PhaseScrapers, body(func(m map[string]any) { m["date"] = "TODAY" }), attrs("a1", "TODAY"), "invalid_date"},
		{"date 2024-02-30", messages.PhaseScrapers, body(func(m map[string]any) { m["date"] = "2024-02-30" }), attrs("a1", "2024-02-30"), "invalid_date"},
		{"job ../a1 in attributes", messages.PhaseScrapers, body(func(m map[string]any) { m["job"] = "../a1" }), attrs("../a1", dates[0]), "unknown_job"},
		{"job ../a1 in the body", messages.PhaseScrapers, body(func(m map[string]any) { m["job"] = "../a1" }), attrs("a1", dates[1]), "unknown_job"},
		{"no job attribute", messages.PhaseScrapers, body(func(m map[string]any) {}), map[string]string{"date": dates[0]}, "malformed"},
	}
	for i, c := range cases {
		c.attrs["case"] = fmt.Sprint(i)
		e.publishRaw(c.phase, []byte(c.body), c.attrs)
	}
	e.publish(1, good)
	e.waitState(c3, dates[0], ledger.StateSucceeded)

	waitFor(t, 60*time.Second, "every poison message dead-lettered", func() (bool, string) {
		n := len(e.published(e.names.DeadLetterTopic()))
		return n >= len(cases), fmt.Sprintf("%d of %d", n, len(cases))
	})
	checkPoisonDeadLetters(t, e, cases)
	waitFor(t, 30*time.Second, "every poison message acked", func() (bool, string) {
		for _, m := range e.ps.Messages() {
			if m.Attributes["case"] != "" && !strings.HasSuffix(m.Topic, e.names.DeadLetterTopic()) && m.Acks == 0 {
				return false, "case " + m.Attributes["case"] + " unacked"
			}
		}
		return true, ""
	})
	checkPoisonKept(t, e, cases)
	// A malformed message naming a (job, date) in its attributes never touches its record.
	if rec, _, err := e.led.Get(context.Background(), a1, dates[0]); err != nil || rec.State != ledger.StateSucceeded {
		t.Errorf("a1 %s = %s, %v; want succeeded despite the poison naming it", dates[0], rec.State, err)
	}
}

func TestTransientErrorsRetriedThenDeadLettered(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testCatalog(t))
	tr := newTracker()
	var calls atomic.Int32
	jobs := map[messages.JobRef]runner.Job{
		a1: tr.job(a1, func(ctx context.Context, req messages.Request) (runner.Result, error) {
			calls.Add(1)
			return runner.Result{}, fmt.Errorf("fetch page 1: %w", errFlaky)
		}),
		// b1 fails twice, then works.
		b1: tr.job(b1, func(ctx context.Context, req messages.Request) (runner.Result, error) {
			if tr.count(b1, req.Date) <= 2 {
				return runner.Result{}, errFlaky
			}
			return runner.Result{Rows: map[string]int64{req.Date: 7}}, nil
		}),
	}
	opts := e.options(jobs)
	opts.MaxAttempts = 3
	e.start(opts)
	e.publish(1, request(a1, dates[0]), request(b1, dates[0]))

	rec := e.waitState(a1, dates[0], ledger.StateDead)
	if rec.Attempts != 3 || rec.Reason != runner.ReasonMaxAttempts || !strings.Contains(rec.LastError, errFlaky.Error()) {
		t.Errorf("a1 record: attempts=%d reason=%q last error=%q; want 3, max_attempts, the job's error", rec.Attempts, rec.Reason, rec.LastError)
	}
	waitFor(t, 30*time.Second, "a1 dead-lettered", func() (bool, string) {
		return len(e.published(e.names.DeadLetterTopic())) == 1, ""
	})
	dl := e.published(e.names.DeadLetterTopic())[0]
	if dl.Attributes[runner.AttrReason] != runner.ReasonMaxAttempts || dl.Attributes[messages.AttrJob] != "a1" || dl.Attributes[runner.AttrDeliveryAttempt] == "" {
		t.Errorf("dead letter attributes = %v", dl.Attributes)
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("a1 ran %d times, want 3 (the attempt bound)", n)
	}

	ok := e.waitState(b1, dates[0], ledger.StateSucceeded)
	if ok.Attempts != 3 || ok.LastError != "" || ok.Output.TotalRows() != 7 {
		t.Errorf("b1 record: attempts=%d last error=%q rows=%d; want 3 attempts, no error, 7 rows", ok.Attempts, ok.LastError, ok.Output.TotalRows())
	}
}

func TestPermanentErrorRecordedDead(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testCatalog(t))
	tr := newTracker()
	jobs := tr.allJobs()
	jobs[a1] = tr.job(a1, func(ctx context.Context, req messages.Request) (runner.Result, error) {
		return runner.Result{}, runner.Permanent(errors.New("source record 17 has no game id"))
	})
	jobs[b1] = tr.job(b1, func(ctx context.Context, req messages.Request) (runner.Result, error) {
		panic("nil map")
	})
	e.start(e.options(jobs))
	e.publish(1, request(a1, dates[0]), request(b1, dates[0]))

	for _, r := range []messages.JobRef{a1, b1} {
		rec := e.waitState(r, dates[0], ledger.StateDead)
		if rec.Reason != runner.ReasonJobError || rec.Attempts != 1 || rec.LastError == "" {
			t.Errorf("%s record: reason=%q attempts=%d error=%q", r, rec.Reason, rec.Attempts, rec.LastError)
		}
		if n := tr.count(r, dates[0]); n != 1 {
			t.Errorf("%s ran %d times, want 1", r, n)
		}
	}
	waitFor(t, 30*time.Second, "both dead-lettered", func() (bool, string) {
		var reasons []string
		for _, m := range e.published(e.names.DeadLetterTopic()) {
			reasons = append(reasons, m.Attributes[messages.AttrJob]+":"+m.Attributes[runner.AttrReason])
		}
		slices.Sort(reasons)
		return slices.Equal(reasons, []string{"a1:job_error", "b1:job_error"}), fmt.Sprint(reasons)
	})
	if rec, _, err := e.led.Get(context.Background(), a2, dates[0]); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("a2 has a record (%s) although a1 died", rec.State)
	}
}

func TestDuplicateEmitsWhenNotYetEmitted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testCatalog(t))
	// a1 succeeded earlier but its consumer crashed before emitting.
	now := time.Now()
	rec := ledger.Record{Phase: a1.Phase, Job: a1.Job, Date: dates[0]}.Start("gone", "run-0", time.Minute, now)
	rec = rec.Succeed(ledger.Output{Rows: map[string]int64{dates[0]: 3}}, "out-a1", false, now)
	if _, err := e.led.Write(context.Background(), rec, 0); err != nil {
		t.Fatal(err)
	}
	tr := newTracker()
	e.start(e.options(tr.allJobs()))
	e.publish(1, request(a1, dates[0]))
	a2rec := e.waitState(a2, dates[0], ledger.StateSucceeded)
	if n := tr.count(a1, dates[0]); n != 0 {
		t.Errorf("a1 ran %d times; a duplicate of a success must not run", n)
	}
	if a2rec.Inputs[a1.String()] != "out-a1" {
		t.Errorf("a2 inputs = %v, want a1's output fingerprint", a2rec.Inputs)
	}
	waitFor(t, 30*time.Second, "a1 marked emitted", func() (bool, string) {
		r, _, err := e.led.Get(context.Background(), a1, dates[0])
		return err == nil && r.Emitted, ""
	})
}

// On the subscription's last delivery a transient failure is recorded and acknowledged,
// not handed to the subscription's dead-letter policy (which would dead-letter it without
// a reason while runs remain): the reconciler re-sends it, and the date runs on until the
// ledger's attempt bound, then is dead-lettered with the runtime's reason.
func TestLastDeliveryIsDeferredToTheReconciler(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testCatalog(t)) // the declared topology: 5 delivery attempts
	tr := newTracker()
	jobs := map[messages.JobRef]runner.Job{
		a1: tr.job(a1, func(ctx context.Context, req messages.Request) (runner.Result, error) {
			return runner.Result{}, errFlaky
		}),
	}
	opts := e.options(jobs)
	opts.MaxAttempts = 8 // beyond the subscription's 5 deliveries of one message
	opts.ReconcileEvery, opts.RetryWithin = 100*time.Millisecond, 200*time.Millisecond
	e.start(opts)
	e.publish(1, request(a1, dates[0]))

	rec := e.waitState(a1, dates[0], ledger.StateDead)
	if rec.Reason != runner.ReasonMaxAttempts || rec.Attempts != 8 {
		t.Errorf("a1 record: reason=%q attempts=%d; want max_attempts after 8 runs", rec.Reason, rec.Attempts)
	}
	waitFor(t, 30*time.Second, "a1 dead-lettered", func() (bool, string) {
		return len(e.published(e.names.DeadLetterTopic())) >= 1, ""
	})
	for _, m := range e.published(e.names.DeadLetterTopic()) {
		if m.Attributes[runner.AttrReason] != runner.ReasonMaxAttempts {
			t.Errorf("dead letter without the runtime's reason (the subscription's policy acted): %v", m.Attributes)
		}
	}
}

func TestRunFailsOnAMissingSubscription(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testCatalog(t))
	tr := newTracker()
	opts := e.options(map[messages.JobRef]runner.Job{a1: tr.job(a1, nil)})
	opts.Names = messages.Names{Prefix: "never-applied-"}
	rt, err := runner.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = rt.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "never-applied-nba-phase1-scrapers.a1") {
		t.Errorf("Run without the topology: err = %v, want one naming the subscription", err)
	}
}

// checkPoisonDeadLetters checks that each poison case was dead-lettered once, with its
// reason, the error, subscription and delivery attempt, and its original body.
func checkPoisonDeadLetters(t *testing.T, e *env, cases []poison) {
	t.Helper()
	got := map[string]string{}
	for _, m := range e.published(e.names.DeadLetterTopic()) {
		i := m.Attributes["case"]
		if prev, dup := got[i]; dup {
			t.Errorf("case %s dead-lettered twice (%s, %s)", i, prev, m.Attributes[runner.AttrReason])
		}
		got[i] = m.Attributes[runner.AttrReason]
		if m.Attributes[runner.AttrError] == "" || m.Attributes[runner.AttrSubscription] == "" || m.Attributes[runner.AttrDeliveryAttempt] == "" {
			t.Errorf("case %s: dead letter lacks error/subscription/delivery_attempt: %v", i, m.Attributes)
		}
		if idx, err := strconv.Atoi(i); err == nil && idx < len(cases) && string(m.Data) != cases[idx].body {
			t.Errorf("case %q: dead letter body = %q, want the original %q", cases[idx].name, m.Data, cases[idx].body)
		}
	}
	want := map[string]string{}
	for i, c := range cases {
		want[fmt.Sprint(i)] = c.reason
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("dead-letter reasons by case (-want +got):\n%s", diff)
	}
}

// checkPoisonKept checks that the bucket holds nothing outside the ledger's layout and the
// dead-letter store, and that the store keeps each poison case with its reason.
func checkPoisonKept(t *testing.T, e *env, cases []poison) {
	t.Helper()
	// Nothing escaped the ledger's layout.
	it := e.gcs.Bucket(e.bucket).Objects(context.Background(), nil)
	for {
		a, err := it.Next()
		if err != nil {
			break
		}
		if strings.Contains(a.Name, "..") || !strings.HasPrefix(a.Name, ledger.Prefix) && !strings.HasPrefix(a.Name, ledger.DeadLetterPrefix) {
			t.Errorf("unexpected object %q", a.Name)
		}
	}
	// Each poison message is kept in the bucket's dead-letter store with its reason.
	stored, err := e.led.ListDeadLetters(context.Background(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	byReason := map[string]int{}
	for _, d := range stored {
		byReason[d.Reason]++
	}
	wantByReason := map[string]int{}
	for _, c := range cases {
		wantByReason[c.reason]++
	}
	if diff := cmp.Diff(wantByReason, byReason); diff != "" {
		t.Errorf("dead letters kept in the bucket by reason (-want +got):\n%s", diff)
	}
}
