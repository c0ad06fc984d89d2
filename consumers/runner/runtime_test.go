package runner_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/messages"
)

var dates = []string{"2024-10-22", "2024-10-23", "2024-10-24"}

func TestChainRunsEachJobOncePerDateInDependencyOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testCatalog(t))
	tr := newTracker()
	e.start(e.options(tr.allJobs()))

	for _, d := range dates {
		e.publish(1, request(a1, d), request(b1, d))
	}
	for _, d := range dates {
		e.waitState(c3, d, ledger.StateSucceeded)
		e.waitState(ab2, d, ledger.StateSucceeded)
	}
	runs, _, _ := tr.snapshot()
	want := map[string]int{}
	for _, d := range dates {
		for _, r := range []messages.JobRef{a1, b1, a2, ab2, c3} {
			want[key(r, d)] = 1
		}
	}
	if diff := cmp.Diff(want, runs); diff != "" {
		t.Errorf("runs per (job, date) (-want +got):\n%s", diff)
	}
	for _, d := range dates {
		for _, edge := range [][2]messages.JobRef{{a1, a2}, {a2, c3}, {a1, ab2}, {b1, ab2}} {
			end, start := tr.index("end "+key(edge[0], d)), tr.index("start "+key(edge[1], d))
			if end < 0 || start < end {
				t.Errorf("%s: %s started (event %d) before %s ended (event %d)", d, edge[1], start, edge[0], end)
			}
		}
		rec := e.waitState(c3, d, ledger.StateSucceeded)
		if !rec.Emitted || rec.Output.TotalRows() != 10 || rec.InputFingerprint == "" || rec.Inputs[a2.String()] == "" {
			t.Errorf("c3 %s record: emitted=%v rows=%d input=%q inputs=%v", d, rec.Emitted, rec.Output.TotalRows(), rec.InputFingerprint, rec.Inputs)
		}
	}

	// The status grid comes from one listing per job.
	grid, err := e.led.List(context.Background(), a2, dates[0], dates[2])
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range grid {
		got = append(got, fmt.Sprintf("%s %s rows=%d attempts=%d", s.Date, s.State, s.Rows, s.Attempts))
	}
	wantGrid := []string{
		"2024-10-22 succeeded rows=10 attempts=1",
		"2024-10-23 succeeded rows=10 attempts=1",
		"2024-10-24 succeeded rows=10 attempts=1",
	}
	if diff := cmp.Diff(wantGrid, got); diff != "" {
		t.Errorf("status grid of a2 (-want +got):\n%s", diff)
	}

	// One Cloud Logging line per message handled (written after the ack, so after the
	// ledger shows the outcome).
	var line map[string]any
	waitFor(t, 30*time.Second, "c3's log line", func() (bool, string) {
		for l := range strings.SplitSeq(e.logs.String(), "\n") {
			if strings.Contains(l, `"job":"c3"`) && strings.Contains(l, `"outcome":"succeeded"`) {
				if err := json.Unmarshal([]byte(l), &line); err != nil {
					t.Fatalf("log line is not JSON: %v: %s", err, l)
				}
				return true, ""
			}
		}
		return false, ""
	})
	for _, k := range []string{"severity", "message", "time", "job", "date", "run_id", "phase", "attempt", "state", "rows", "elapsed"} {
		if _, ok := line[k]; !ok {
			t.Errorf("log line of a c3 success lacks %q: %v", k, line)
		}
	}
	if line["severity"] != "INFO" || line["state"] != "succeeded" || line["run_id"] != "run-test" || !strings.HasSuffix(fmt.Sprint(line["elapsed"]), "s") {
		t.Errorf("log line = %v", line)
	}
}

func TestStopAfterEndsTheChain(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testCatalog(t))
	tr := newTracker()
	e.start(e.options(tr.allJobs()))

	stopScrapers := request(a1, dates[0])
	stopScrapers.StopAfter = messages.PhaseScrapers
	stopRaw := request(a1, dates[1])
	stopRaw.StopAfter = messages.PhaseRaw
	e.publish(1, stopScrapers, stopRaw)

	e.waitState(a2, dates[1], ledger.StateSucceeded)
	rec := e.waitState(a1, dates[0], ledger.StateSucceeded)
	waitFor(t, 30*time.Second, "a1 emitted", func() (bool, string) {
		r, _, err := e.led.Get(context.Background(), a1, dates[0])
		return err == nil && r.Emitted, fmt.Sprint(rec.Emitted)
	})
	waitFor(t, 30*time.Second, "a2 "+dates[1]+" emitted", func() (bool, string) {
		r, _, err := e.led.Get(context.Background(), a2, dates[1])
		return err == nil && r.Emitted, ""
	})
	// Emitting happens before marking emitted, so everything that was going to be
	// published is on the emulator now.
	for _, m := range e.published(e.names.Topic(messages.PhaseRaw)) {
		if m.Attributes[messages.AttrDate] == dates[0] {
			t.Errorf("stop_after=scrapers, yet %s was sent to the raw topic for %s", m.Attributes[messages.AttrJob], dates[0])
		}
	}
	for _, m := range e.published(e.names.Topic(messages.PhaseAnalytics)) {
		t.Errorf("stop_after=raw, yet %s was sent to the analytics topic for %s", m.Attributes[messages.AttrJob], m.Attributes[messages.AttrDate])
	}
	if n := tr.count(c3, dates[1]); n != 0 {
		t.Errorf("c3 ran %d times past stop_after=raw", n)
	}
	if n := tr.count(a2, dates[0]); n != 0 {
		t.Errorf("a2 ran %d times past stop_after=scrapers", n)
	}

	// Asking again without the stop continues the chain from the finished scrape: a1 is a
	// duplicate, yet it emits what the earlier stop held back.
	e.publish(1, request(a1, dates[0]))
	e.waitState(c3, dates[0], ledger.StateSucceeded)
	if n := tr.count(a1, dates[0]); n != 1 {
		t.Errorf("a1 ran %d times, want 1", n)
	}
}

func TestFanInRunsOnceAfterBothUpstreams(t *testing.T) {
	t.Parallel()
	for _, last := range []messages.JobRef{a1, b1} {
		t.Run(last.Job+" last", func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, testCatalog(t))
			tr := newTracker()
			release := make(chan struct{})
			jobs := tr.allJobs()
			jobs[last] = tr.job(last, func(ctx context.Context, req messages.Request) (runner.Result, error) {
				select {
				case <-release:
				case <-ctx.Done():
					return runner.Result{}, ctx.Err()
				}
				return runner.Result{Rows: map[string]int64{req.Date: 10}}, nil
			})
			e.start(e.options(jobs))
			e.publish(1, request(a1, dates[0]), request(b1, dates[0]))

			first := a1
			if last == a1 {
				first = b1
			}
			e.waitState(first, dates[0], ledger.StateSucceeded)
			if first == a1 {
				// a1's emit reached ab2 before b1 finished: it waits for b1.
				rec := e.waitState(ab2, dates[0], ledger.StateWaiting)
				if diff := cmp.Diff([]string{b1.String()}, rec.Missing); diff != "" {
					t.Errorf("ab2 missing (-want +got):\n%s", diff)
				}
			}
			close(release)
			e.waitState(ab2, dates[0], ledger.StateSucceeded)
			e.waitState(c3, dates[0], ledger.StateSucceeded)
			// Both upstreams emitted to ab2; the later message must be a duplicate.
			waitFor(t, 30*time.Second, "both upstreams emitted", func() (bool, string) {
				ra, _, _ := e.led.Get(context.Background(), a1, dates[0])
				rb, _, _ := e.led.Get(context.Background(), b1, dates[0])
				return ra.Emitted && rb.Emitted, fmt.Sprint(ra.Emitted, rb.Emitted)
			})
			waitFor(t, 30*time.Second, "every message to ab2 acked", func() (bool, string) {
				n, acked := 0, 0
				for _, m := range e.published(e.names.Topic(messages.PhaseRaw)) {
					if m.Attributes[messages.AttrJob] == ab2.Job {
						n++
						if m.Acks > 0 {
							acked++
						}
					}
				}
				return n == 2 && acked == 2, fmt.Sprintf("%d messages, %d acked", n, acked)
			})
			if n := tr.count(ab2, dates[0]); n != 1 {
				t.Errorf("ab2 ran %d times, want 1", n)
			}
			if s, ea, eb := tr.index("start "+key(ab2, dates[0])), tr.index("end "+key(a1, dates[0])), tr.index("end "+key(b1, dates[0])); s < ea || s < eb {
				t.Errorf("ab2 started at event %d, before both upstreams ended (%d, %d)", s, ea, eb)
			}
		})
	}
}

func TestTripleDeliveryRunsEachDateOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testCatalog(t))
	tr := newTracker()
	e.start(e.options(tr.allJobs()))
	for _, d := range dates {
		e.publish(3, request(a1, d), request(b1, d))
	}
	for _, d := range dates {
		e.waitState(c3, d, ledger.StateSucceeded)
		e.waitState(ab2, d, ledger.StateSucceeded)
	}
	waitFor(t, 60*time.Second, "every message acked", func() (bool, string) {
		for _, m := range e.ps.Messages() {
			if m.Acks == 0 && !strings.HasSuffix(m.Topic, e.names.DeadLetterTopic()) {
				return false, fmt.Sprintf("%s %s not acked", m.Attributes[messages.AttrJob], m.Attributes[messages.AttrDate])
			}
		}
		return true, ""
	})
	runs, _, _ := tr.snapshot()
	for k, n := range runs {
		if n != 1 {
			t.Errorf("%s ran %d times, want 1", k, n)
		}
	}
	if len(runs) != 15 {
		t.Errorf("%d (job, date) pairs ran, want 15", len(runs))
	}
	if dl := e.published(e.names.DeadLetterTopic()); len(dl) != 0 {
		t.Errorf("%d messages dead-lettered, want none", len(dl))
	}
}

func TestChangedInputReprocessesAndSameInputDoesNot(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testCatalog(t))
	tr := newTracker()
	var rows atomic.Int64
	jobs := tr.allJobs()
	jobs[a1] = tr.job(a1, func(ctx context.Context, req messages.Request) (runner.Result, error) {
		n := rows.Load()
		return runner.Result{Rows: map[string]int64{req.Date: n}, Empty: n == 0}, nil
	})
	e.start(e.options(jobs))

	// An empty scrape, then a forced re-scrape with the same (empty) output, then one
	// with rows: a2 runs for the first and the last, never for the unchanged middle one.
	e.publish(1, request(a1, dates[0]))
	first := e.waitState(a2, dates[0], ledger.StateSucceeded)
	for _, n := range []int64{0, 12} {
		rows.Store(n)
		before := tr.count(a1, dates[0])
		e.publish(1, func() messages.Request { r := request(a1, dates[0]); r.Force = true; return r }())
		waitFor(t, 60*time.Second, "a1 re-run and emitted", func() (bool, string) {
			r, _, err := e.led.Get(context.Background(), a1, dates[0])
			return err == nil && tr.count(a1, dates[0]) > before && r.State.Done() && r.Emitted, ""
		})
	}
	last := e.waitState(a2, dates[0], ledger.StateSucceeded)
	waitFor(t, 60*time.Second, "a2 reprocessed with the new input", func() (bool, string) {
		r, _, _ := e.led.Get(context.Background(), a2, dates[0])
		last = r
		return r.State == ledger.StateSucceeded && r.InputFingerprint != first.InputFingerprint, string(r.State)
	})
	waitFor(t, 30*time.Second, "every message acked", func() (bool, string) {
		for _, m := range e.ps.Messages() {
			if m.Acks == 0 {
				return false, m.Attributes[messages.AttrJob]
			}
		}
		return true, ""
	})
	if n := tr.count(a2, dates[0]); n != 2 {
		t.Errorf("a2 ran %d times, want 2 (empty input, then new input; not for the unchanged re-scrape)", n)
	}
	if len(last.History) != 2 || last.History[0].InputFingerprint == last.History[1].InputFingerprint {
		t.Errorf("a2 history = %+v, want two runs with distinct inputs", last.History)
	}
}

func TestSoftUpstreamUsedWhenPresentAndRetriggersOnArrival(t *testing.T) {
	t.Parallel()
	s1, t1 := messages.Ref(messages.PhaseScrapers, "s1"), messages.Ref(messages.PhaseScrapers, "t1")
	u2 := messages.Ref(messages.PhaseRaw, "u2")
	cat, err := messages.NewCatalog(
		messages.JobSpec{Phase: messages.PhaseScrapers, Name: "s1", Timeout: 20 * time.Second},
		messages.JobSpec{Phase: messages.PhaseScrapers, Name: "t1", Timeout: 20 * time.Second},
		messages.JobSpec{Phase: messages.PhaseRaw, Name: "u2", Hard: []messages.JobRef{s1}, Soft: []messages.JobRef{t1}, Timeout: 20 * time.Second},
	)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, cat)
	tr := newTracker()
	e.start(e.options(map[messages.JobRef]runner.Job{s1: tr.job(s1, nil), t1: tr.job(t1, nil), u2: tr.job(u2, nil)}))

	e.publish(1, request(s1, dates[0]))
	first := e.waitState(u2, dates[0], ledger.StateSucceeded)
	if _, ok := first.Inputs[t1.String()]; ok || first.Inputs[s1.String()] == "" {
		t.Errorf("u2 inputs before t1 = %v, want s1 only", first.Inputs)
	}
	e.publish(1, request(t1, dates[0]))
	var second ledger.Record
	waitFor(t, 60*time.Second, "u2 re-run with t1", func() (bool, string) {
		r, _, _ := e.led.Get(context.Background(), u2, dates[0])
		second = r
		return r.State == ledger.StateSucceeded && r.Inputs[t1.String()] != "", fmt.Sprint(r.State, r.Inputs)
	})
	if second.Inputs[s1.String()] != first.Inputs[s1.String()] || second.InputFingerprint == first.InputFingerprint {
		t.Errorf("u2 inputs after t1 = %v (fingerprint %s), want s1 unchanged plus t1 and a new fingerprint", second.Inputs, second.InputFingerprint)
	}
	if n := tr.count(u2, dates[0]); n != 2 {
		t.Errorf("u2 ran %d times, want 2 (without t1, then with it)", n)
	}
}

func TestTraceContextIsLoggedAndPassedDownstream(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testCatalog(t))
	tr := newTracker()
	e.start(e.options(tr.allJobs()))
	const traceID, spanID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	body, attrs, err := messages.Encode(request(a1, dates[0]), e.cat)
	if err != nil {
		t.Fatal(err)
	}
	attrs["googclient_traceparent"] = "00-" + traceID + "-" + spanID + "-01"
	e.publishRaw(messages.PhaseScrapers, body, attrs)
	e.waitState(c3, dates[0], ledger.StateSucceeded)

	for _, m := range e.published(e.names.Topic(messages.PhaseAnalytics)) {
		if got := m.Attributes["googclient_traceparent"]; got != attrs["googclient_traceparent"] {
			t.Errorf("c3's message carries traceparent %q, want the scraper's %q", got, attrs["googclient_traceparent"])
		}
	}
	want := `"logging.googleapis.com/trace":"projects/` + e.project + `/traces/` + traceID + `"`
	var lines []string
	waitFor(t, 30*time.Second, "3 succeeded lines for a1 → a2 → c3", func() (bool, string) {
		lines = nil
		for l := range strings.SplitSeq(e.logs.String(), "\n") {
			if strings.Contains(l, `"outcome":"succeeded"`) {
				lines = append(lines, l)
			}
		}
		return len(lines) == 3, fmt.Sprintf("%d lines", len(lines))
	})
	for _, l := range lines {
		if !strings.Contains(l, want) {
			t.Errorf("log line without the trace: %s", l)
		}
	}
}
