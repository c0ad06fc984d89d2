package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/google/go-cmp/cmp"

	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/infra/cloud"
	"github.com/nba-props/pipeline/messages"
)

const bucket = "ledger-test"

// newStorage starts fake-gcs-server over HTTP with its filesystem backend, as the local
// stack runs it, and returns a real client pointed at it.
func newStorage(t testing.TB) *storage.Client {
	t.Helper()
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		Scheme: "http", Host: "127.0.0.1", StorageRoot: t.TempDir(),
	})
	if err != nil {
		t.Fatalf("fake-gcs-server: %v", err)
	}
	t.Cleanup(srv.Stop)
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: bucket})
	c, err := cloud.Storage(context.Background(), strings.TrimPrefix(srv.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// clock is a settable clock for lease expiry.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var ref = messages.Ref(messages.PhaseRaw, "bdl_player_boxscores")

// errLeaseHeld: another consumer holds a live lease on the date.
var errLeaseHeld = errors.New("lease held")

// claim takes the lease on (ref, date) for owner the way the runtime does: read, refuse a
// live lease held by another, start the record, and write it at the generation read.
func claim(ctx context.Context, l *ledger.Ledger, ref messages.JobRef, date, owner, runID string, ttl time.Duration) (ledger.Record, int64, error) {
	rec, gen, err := l.Get(ctx, ref, date)
	switch {
	case errors.Is(err, ledger.ErrNotFound):
		rec = ledger.Record{Phase: ref.Phase, Job: ref.Job, Date: date}
	case err != nil:
		return ledger.Record{}, 0, err
	}
	if rec.LeaseLive(l.Now()) {
		return rec, gen, errLeaseHeld
	}
	rec = rec.Start(owner, runID, ttl, l.Now())
	gen, err = l.Write(ctx, rec, gen)
	return rec, gen, err
}

func TestClaimRaceHasOneWinner(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := ledger.New(newStorage(t), bucket, ledger.Options{})

	const n = 32
	var wins, held, conflicts, other atomic.Int32
	var winner atomic.Value
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			owner := fmt.Sprintf("consumer-%02d", i)
			_, _, err := claim(ctx, l, ref, "2024-10-22", owner, "run-1", time.Minute)
			switch {
			case err == nil:
				wins.Add(1)
				winner.Store(owner)
			case errors.Is(err, ledger.ErrConflict):
				conflicts.Add(1)
			case errors.Is(err, errLeaseHeld):
				held.Add(1)
			default:
				other.Add(1)
				t.Errorf("claim by %s: %v", owner, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if wins.Load() != 1 || other.Load() != 0 {
		t.Fatalf("wins=%d conflicts=%d held=%d other=%d, want exactly 1 win", wins.Load(), conflicts.Load(), held.Load(), other.Load())
	}
	rec, _, err := l.Get(ctx, ref, "2024-10-22")
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != ledger.StateRunning || rec.Lease == nil || rec.Lease.Owner != winner.Load() || rec.Attempts != 1 {
		t.Errorf("record after race = %+v, want running, 1 attempt, leased to %v", rec, winner.Load())
	}
}

func TestLeaseExpiryTakeover(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := &clock{now: time.Date(2024, 10, 23, 12, 0, 0, 0, time.UTC)}
	l := ledger.New(newStorage(t), bucket, ledger.Options{Now: clk.Now})

	if _, _, err := claim(ctx, l, ref, "2024-10-22", "a", "run-1", time.Minute); err != nil {
		t.Fatalf("first claim: %v", err)
	}
	clk.Advance(59 * time.Second)
	if _, _, err := claim(ctx, l, ref, "2024-10-22", "b", "run-1", time.Minute); !errors.Is(err, errLeaseHeld) {
		t.Fatalf("claim of a live lease: err = %v, want ErrLeaseHeld", err)
	}
	clk.Advance(2 * time.Second)
	rec, _, err := claim(ctx, l, ref, "2024-10-22", "b", "run-2", time.Minute)
	if err != nil {
		t.Fatalf("claim after expiry: %v", err)
	}
	want := ledger.Lease{Owner: "b", Expires: clk.Now().Add(time.Minute)}
	if diff := cmp.Diff(want, *rec.Lease); diff != "" {
		t.Errorf("lease after takeover (-want +got):\n%s", diff)
	}
	if rec.Attempts != 2 || rec.RunID != "run-2" {
		t.Errorf("takeover record: attempts=%d run=%s, want 2 attempts, run-2", rec.Attempts, rec.RunID)
	}
}

func TestExtendKeepsLease(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := &clock{now: time.Date(2024, 10, 23, 12, 0, 0, 0, time.UTC)}
	l := ledger.New(newStorage(t), bucket, ledger.Options{Now: clk.Now})

	rec, gen, err := claim(ctx, l, ref, "2024-10-22", "a", "run-1", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		clk.Advance(40 * time.Second)
		if rec, gen, err = l.Extend(ctx, rec, gen, time.Minute); err != nil {
			t.Fatalf("extend: %v", err)
		}
	}
	if _, _, err := claim(ctx, l, ref, "2024-10-22", "b", "run-1", time.Minute); !errors.Is(err, errLeaseHeld) {
		t.Fatalf("claim of an extended lease after 120 s: err = %v, want ErrLeaseHeld", err)
	}
}

func TestStaleGenerationRejected(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := ledger.New(newStorage(t), bucket, ledger.Options{})

	rec, gen, err := claim(ctx, l, ref, "2024-10-22", "a", "run-1", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	done := rec.Succeed(ledger.Output{Rows: map[string]int64{"2024-10-22": 240}}, "out-1", false, time.Now())
	gen2, err := l.Write(ctx, done, gen)
	if err != nil {
		t.Fatalf("write at current generation: %v", err)
	}
	if gen2 == gen {
		t.Fatalf("generation unchanged after a write: %d", gen)
	}
	stale := rec.Fail(errors.New("late writer"), time.Now())
	if _, err := l.Write(ctx, stale, gen); !errors.Is(err, ledger.ErrConflict) {
		t.Fatalf("write at stale generation: err = %v, want ErrConflict", err)
	}
	if _, err := l.Write(ctx, stale, 0); !errors.Is(err, ledger.ErrConflict) {
		t.Fatalf("create over an existing record: err = %v, want ErrConflict", err)
	}
	got, gotGen, err := l.Get(ctx, ref, "2024-10-22")
	if err != nil {
		t.Fatal(err)
	}
	if got.State != ledger.StateSucceeded || gotGen != gen2 || got.Output.TotalRows() != 240 {
		t.Errorf("record = %s gen %d rows %d, want succeeded gen %d rows 240", got.State, gotGen, got.Output.TotalRows(), gen2)
	}
}

func TestGetMissing(t *testing.T) {
	t.Parallel()
	l := ledger.New(newStorage(t), bucket, ledger.Options{})
	_, gen, err := l.Get(context.Background(), ref, "2024-10-22")
	if !errors.Is(err, ledger.ErrNotFound) || gen != 0 {
		t.Fatalf("Get of a date that never ran: gen=%d err=%v, want ErrNotFound", gen, err)
	}
}

func TestRejectsUnsafeKeys(t *testing.T) {
	t.Parallel()
	l := ledger.New(newStorage(t), bucket, ledger.Options{})
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		ref  messages.JobRef
		date string
	}{
		{"job with ../", messages.Ref(messages.PhaseRaw, "../x"), "2024-10-22"},
		{"unknown phase", messages.Ref("nope", "x"), "2024-10-22"},
		{"TODAY", ref, "TODAY"},
		{"2024-02-30", ref, "2024-02-30"},
	} {
		if _, _, err := l.Get(ctx, tc.ref, tc.date); err == nil || errors.Is(err, ledger.ErrNotFound) {
			t.Errorf("%s: Get err = %v, want a validation error", tc.name, err)
		}
		rec := ledger.Record{Phase: tc.ref.Phase, Job: tc.ref.Job, Date: tc.date, State: ledger.StateWaiting}
		if _, err := l.Write(ctx, rec, 0); err == nil {
			t.Errorf("%s: Write succeeded, want a validation error", tc.name)
		}
	}
}

// ListJobs lists each job named once, over the same dates as List, with a job that has no
// records present and empty; a job that cannot be listed fails the call, naming it.
func TestListJobs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := ledger.New(newStorage(t), bucket, ledger.Options{})
	games := messages.Ref(messages.PhaseScrapers, "bdl_games")
	none := messages.Ref(messages.PhaseRaw, "bdl_games")
	for _, w := range []struct {
		ref  messages.JobRef
		date string
	}{{ref, "2024-01-01"}, {ref, "2024-01-02"}, {ref, "2024-01-03"}, {games, "2024-01-02"}, {games, "2024-02-01"}} {
		if _, err := l.Write(ctx, ledger.Record{Phase: w.ref.Phase, Job: w.ref.Job, Date: w.date, State: ledger.StateWaiting}, 0); err != nil {
			t.Fatal(err)
		}
	}
	got, err := l.ListJobs(ctx, []messages.JobRef{ref, games, ref, none}, "2024-01-02", "2024-01-31")
	if err != nil {
		t.Fatal(err)
	}
	dates := map[messages.JobRef][]string{}
	for r, sums := range got {
		dates[r] = []string{}
		for _, s := range sums {
			if s.Ref() != r {
				t.Errorf("%s listed under %s", s.Ref(), r)
			}
			dates[r] = append(dates[r], s.Date)
		}
	}
	want := map[messages.JobRef][]string{ref: {"2024-01-02", "2024-01-03"}, games: {"2024-01-02"}, none: {}}
	if diff := cmp.Diff(want, dates); diff != "" {
		t.Errorf("ListJobs dates (-want +got):\n%s", diff)
	}
	bad := messages.Ref("nophase", "x")
	if _, err := l.ListJobs(ctx, []messages.JobRef{ref, bad}, "", ""); err == nil || !strings.Contains(err.Error(), bad.String()) {
		t.Errorf("listing an unknown phase: %v, want an error naming %s", err, bad)
	}
}

func TestListRange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := ledger.New(newStorage(t), bucket, ledger.Options{})
	dates, err := messages.DateRange("2024-01-01", "2024-07-18") // 200 dates
	if err != nil {
		t.Fatal(err)
	}
	if len(dates) != 200 {
		t.Fatalf("range has %d dates, want 200", len(dates))
	}
	other := messages.Ref(messages.PhaseRaw, "bdl_player") // a job whose name prefixes ref's
	states := []ledger.State{ledger.StateSucceeded, ledger.StateEmpty, ledger.StateWaiting, ledger.StateFailed, ledger.StateDead}
	want := make([]ledger.Summary, 0, len(dates))
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, d := range dates {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			now := time.Now()
			rec := ledger.Record{Phase: ref.Phase, Job: ref.Job, Date: d}.Start("a", "run-1", time.Minute, now)
			switch st := states[i%len(states)]; st {
			case ledger.StateSucceeded, ledger.StateEmpty:
				rec = rec.Succeed(ledger.Output{Rows: map[string]int64{d: int64(i)}}, "fp", st == ledger.StateEmpty, now).MarkEmittedThrough("", now)
			case ledger.StateWaiting:
				rec = rec.Wait([]string{"scrapers/bdl_games"}, nil, now)
			case ledger.StateFailed:
				rec = rec.Fail(errors.New(strings.Repeat("x", 1000)), now)
			case ledger.StateDead:
				rec = rec.Die("job_error", errors.New("bad"), now)
			}
			gen, err := l.Write(ctx, rec, 0)
			if err != nil {
				t.Error(err)
				return
			}
			o := ledger.Record{Phase: other.Phase, Job: other.Job, Date: d, State: ledger.StateWaiting}
			if _, err := l.Write(ctx, o, 0); err != nil {
				t.Error(err)
			}
			s := ledger.Summary{Phase: ref.Phase, Job: ref.Job, Date: d, State: rec.State, Attempts: 1,
				Rows: rec.Output.TotalRows(), Emitted: rec.Emitted, RunID: "run-1", Reason: rec.Reason,
				Updated: rec.Updated.UTC(), Missing: rec.Missing, Generation: gen}
			if rec.LastError != "" {
				s.LastError = rec.LastError[:min(len(rec.LastError), 256)]
				if len(rec.LastError) > 256 {
					s.LastError += "…"
				}
			}
			mu.Lock()
			want = append(want, s)
			mu.Unlock()
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	byDate := func(s []ledger.Summary) map[string]ledger.Summary {
		m := map[string]ledger.Summary{}
		for _, x := range s {
			m[x.Date] = x
		}
		return m
	}
	got, err := l.List(ctx, ref, "2024-01-01", "2024-07-18")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(byDate(want), byDate(got)); diff != "" {
		t.Errorf("List over 200 dates (-want +got):\n%s", diff)
	}
	for i := 1; i < len(got); i++ {
		if got[i-1].Date >= got[i].Date {
			t.Fatalf("List not in date order at %d: %s then %s", i, got[i-1].Date, got[i].Date)
		}
	}

	for _, tc := range []struct {
		from, to    string
		first, last string
		n           int
	}{
		{"2024-03-01", "2024-03-31", "2024-03-01", "2024-03-31", 31},
		{"", "2024-01-05", "2024-01-01", "2024-01-05", 5},
		{"2024-07-10", "", "2024-07-10", "2024-07-18", 9},
		{"2024-07-18", "2024-07-18", "2024-07-18", "2024-07-18", 1},
	} {
		got, err := l.List(ctx, ref, tc.from, tc.to)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != tc.n || got[0].Date != tc.first || got[len(got)-1].Date != tc.last {
			t.Errorf("List %q..%q: %d summaries, want %d from %s to %s", tc.from, tc.to, len(got), tc.n, tc.first, tc.last)
		}
	}
	if _, err := l.List(ctx, ref, "2024-13-01", ""); !errors.Is(err, messages.ErrBadDate) {
		t.Errorf("List with a bad date: err = %v, want ErrBadDate", err)
	}
}

func TestHistoryKeepsDistinctInputs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := ledger.New(newStorage(t), bucket, ledger.Options{})
	var gen int64
	rec := ledger.Record{Phase: ref.Phase, Job: ref.Job, Date: "2024-10-22"}
	for i, in := range []string{"in-empty", "in-full"} {
		rec = rec.Start("a", fmt.Sprintf("run-%d", i), time.Minute, time.Now())
		rec.InputFingerprint = in
		var err error
		if gen, err = l.Write(ctx, rec, gen); err != nil {
			t.Fatal(err)
		}
		rec = rec.Succeed(ledger.Output{Rows: map[string]int64{"2024-10-22": int64(i * 100)}}, "out-"+in, i == 0, time.Now())
		if gen, err = l.Write(ctx, rec, gen); err != nil {
			t.Fatal(err)
		}
	}
	got, _, err := l.Get(ctx, ref, "2024-10-22")
	if err != nil {
		t.Fatal(err)
	}
	var hist []string
	for _, h := range got.History {
		hist = append(hist, fmt.Sprintf("%s %s %d", h.State, h.InputFingerprint, h.Rows))
	}
	want := []string{"empty in-empty 0", "succeeded in-full 100"}
	if diff := cmp.Diff(want, hist); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	if got.Attempts != 1 {
		t.Errorf("attempts = %d after a new effort, want 1", got.Attempts)
	}
}

func TestEmittedFor(t *testing.T) {
	t.Parallel()
	now := time.Now()
	base := ledger.Record{Phase: ref.Phase, Job: ref.Job, Date: "2024-10-22"}.Start("a", "r", time.Minute, now).
		Succeed(ledger.Output{}, "fp", false, now)
	for _, tc := range []struct {
		name    string
		rec     ledger.Record
		request messages.Phase
		want    bool
	}{
		{"not emitted", base, "", false},
		{"whole chain emitted, whole chain asked", base.MarkEmittedThrough("", now), "", true},
		{"whole chain emitted, stop asked", base.MarkEmittedThrough("", now), messages.PhaseRaw, true},
		{"stopped at scrapers, whole chain asked", base.MarkEmittedThrough(messages.PhaseScrapers, now), "", false},
		{"stopped at scrapers, raw asked", base.MarkEmittedThrough(messages.PhaseScrapers, now), messages.PhaseRaw, false},
		{"stopped at analytics, raw asked", base.MarkEmittedThrough(messages.PhaseAnalytics, now), messages.PhaseRaw, true},
		{"a new output clears it", base.MarkEmittedThrough("", now).Succeed(ledger.Output{}, "fp2", false, now), "", false},
	} {
		if got := tc.rec.EmittedFor(tc.request); got != tc.want {
			t.Errorf("%s: EmittedFor(%q) = %v, want %v", tc.name, tc.request, got, tc.want)
		}
	}
}

func TestPartialOutputIsDoneButNotFinished(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := ledger.New(newStorage(t), bucket, ledger.Options{})
	now := time.Now()
	rec := ledger.Record{Phase: ref.Phase, Job: ref.Job, Date: "2024-10-22"}.Start("a", "run-1", time.Minute, now).
		Succeed(ledger.Output{Rows: map[string]int64{"2024-10-22": 20}, Missing: []string{"0022400061"}}, "fp", false, now)
	if rec.State != ledger.StatePartial || !rec.State.Done() || rec.State.Finished() {
		t.Fatalf("state %s done=%v finished=%v, want partial, done, not finished", rec.State, rec.State.Done(), rec.State.Finished())
	}
	if _, err := l.Write(ctx, rec, 0); err != nil {
		t.Fatal(err)
	}
	sums, err := l.List(ctx, ref, "2024-10-22", "2024-10-22")
	if err != nil || len(sums) != 1 {
		t.Fatal(sums, err)
	}
	if got := sums[0]; got.State != ledger.StatePartial || !cmp.Equal(got.Incomplete, []string{"0022400061"}) {
		t.Errorf("summary %s incomplete %v, want partial naming 0022400061", got.State, got.Incomplete)
	}
}

// Failures counts the runs of an effort that ended failed; a run whose lease lapsed (its
// consumer died) counts in Attempts only, and a new effort starts both again.
func TestFailuresCountOnlyRunsThatEnded(t *testing.T) {
	t.Parallel()
	now := time.Now()
	boom := errors.New("503 from the source")
	rec := ledger.Record{Phase: ref.Phase, Job: ref.Job, Date: "2024-10-22"}.Start("a", "run-1", time.Minute, now).RunFailed(boom, now)
	rec = rec.Start("b", "run-1", time.Minute, now)                                         // b dies: its lease lapses
	rec = rec.Start("c", "run-1", time.Minute, now.Add(2*time.Minute)).RunFailed(boom, now) // c takes over and fails
	if rec.Attempts != 3 || rec.Failures != 2 {
		t.Errorf("attempts %d, failures %d; want 3 runs, 2 that ended", rec.Attempts, rec.Failures)
	}
	rec = rec.Start("c", "run-1", time.Minute, now).Succeed(ledger.Output{Rows: map[string]int64{"2024-10-22": 1}}, "fp", false, now)
	rec = rec.Start("c", "run-2", time.Minute, now)
	if rec.Attempts != 1 || rec.Failures != 0 {
		t.Errorf("a new effort: attempts %d, failures %d; want 1 and 0", rec.Attempts, rec.Failures)
	}
}
