package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/infra/cloud"
	"github.com/nba-props/pipeline/infra/local"
	"github.com/nba-props/pipeline/infra/sourcesim"
	"github.com/nba-props/pipeline/messages"
	"github.com/sethvargo/go-envconfig"
)

// The lane test's dates: the 2024-25 regular season up to its last day is the backlog, and
// the last day, 2025-04-13, is the daily run's date, "yesterday" for a simulator whose
// clock is the morning after. A date of the backlog cannot be the daily date: a (job, date)
// has one ledger record, whichever lane sent it.
const (
	laneBacklogStart = "2024-10-22"
	laneBacklogEnd   = "2025-04-12"
	laneDailyDate    = "2025-04-13"
	laneSimNow       = "2025-04-14T16:00:00Z"
	// laneTarget is how much slower the daily date may be with the backlog queued.
	laneTarget = 1.5
)

// TestDailyDateBesideASeasonBacklog is the lanes' promise, end to end on the local stack:
// with a whole season queued on the backfill lane, one daily date finishes about as fast
// as it does alone. It runs the daily date alone on a fresh stack, then on another fresh
// stack after enqueueing the season, each time from `producer daily` to every pair of that
// date finished, and logs both times and their ratio against the 1.5× target (go test -v).
//
// Times are not asserted (they depend on the machine). What is asserted is what makes them
// close: no job picks backfill work ahead of daily work. For each pair of the daily date,
// from the moment its last upstream finished (for a scraper: the enqueue) to the moment
// the pair started, at most twice the job's backfill concurrency of backfill runs of that
// job may start: the backfill lane's own slots, each free to turn over once while the daily
// message is on its way (a scraper's message travels from the producer for 100 to 300 ms
// here, and a backfill run can be as short as 100 ms). A single queue would put the daily
// message behind the whole season (a thousand messages) instead. And the
// backlog must still be queued when the daily date finished, or the test showed nothing.
func TestDailyDateBesideASeasonBacklog(t *testing.T) {
	if testing.Short() {
		t.Skip("two local stacks and a season's backlog")
	}
	producer := buildProducer(t)
	cat := messages.DefaultCatalog()

	alone := runDailyDate(t, producer, cat, false)
	with := runDailyDate(t, producer, cat, true)

	ratio := with.elapsed.Seconds() / alone.elapsed.Seconds()
	t.Logf("daily date %s: %.2fs alone, %.2fs with the season queued (%d backlog pairs finished, %d scraper messages still queued): "+
		"ratio %.2f, target %.1f×", laneDailyDate, alone.elapsed.Seconds(), with.elapsed.Seconds(),
		with.backlogDone, with.backlogQueued, ratio, laneTarget)
	for i, o := range with.overtaken {
		a := alone.overtaken[min(i, len(alone.overtaken)-1)]
		t.Logf("  %-36s ready to start %5.0f ms (alone %5.0f), run %5.0f ms (alone %5.0f); backfill runs started meanwhile: %d (backfill slots: %d)",
			o.ref, ms(o.wait), ms(a.wait), ms(o.run), ms(a.run), o.backfill, o.slots)
		if o.backfill > 2*o.slots {
			t.Errorf("%s: %d backfill runs started between the daily date being ready (%s) and starting (%s); "+
				"want at most twice its %d backfill slots: daily work is queued behind the backlog",
				o.ref, o.backfill, o.ready.Format(time.StampMilli), o.started.Format(time.StampMilli), o.slots)
		}
	}
	if len(with.overtaken) != len(alone.overtaken) {
		t.Errorf("the daily date ran %d pairs beside the backlog and %d alone", len(with.overtaken), len(alone.overtaken))
	}
	// The backlog must still be there when the daily date has finished: the season's
	// scrapers alone send about a thousand messages, most of them still queued.
	if with.backlogQueued < 100 {
		t.Errorf("only %d backlog scraper messages were still queued when the daily date finished: the test measured no backlog", with.backlogQueued)
	}
}

// dailyResult is one daily date's run.
type dailyResult struct {
	elapsed time.Duration
	// overtaken is, per pair of the daily date, the backfill runs of its job that started
	// while it was ready to run.
	overtaken []overtaken
	// backlogDone and backlogQueued count, when the daily date had finished, the backlog's
	// pairs finished and its scraper pairs not started yet.
	backlogDone, backlogQueued int
}

type overtaken struct {
	ref            messages.JobRef
	ready, started time.Time
	wait, run      time.Duration
	backfill       int
	slots          int
}

// runDailyDate starts a fresh stack, enqueues the season backlog first when backlog, then
// runs `producer daily` for the daily date and waits until each of its pairs is finished.
func runDailyDate(t *testing.T, producer string, cat *messages.Catalog, backlog bool) dailyResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	now, _ := time.Parse(time.RFC3339, laneSimNow)
	logs, err := os.Create(filepath.Join(t.TempDir(), "consumers.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	ports := "127.0.0.1:0"
	s, err := local.Start(ctx, local.Options{PubSubAddr: ports, GCSAddr: ports, BigQueryAddr: ports, SimAddr: ports,
		DataDir: t.TempDir(), Project: cloud.LocalProject, Bucket: cloud.LocalProject, SimSeed: 1, SimNow: now,
		Env: envconfig.MapLookuper(nil), Logs: logs})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			t.Logf("stopping the stack: %v", err)
		}
	}()
	env := os.Environ()
	for _, kv := range s.Vars() {
		env = append(env, kv[0]+"="+kv[1])
	}
	for k, v := range sourcesim.ScraperRates() { // plan counts with the stack's rates
		env = append(env, k+"="+v)
	}
	runProducer := func(args ...string) {
		t.Helper()
		cmd := exec.CommandContext(ctx, producer, args...)
		cmd.Env = env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Fatalf("producer %s: %v\n%s", strings.Join(args, " "), err, out.String())
		}
	}
	led := ledger.New(s.Storage, cloud.LocalProject, ledger.Options{})
	today := messages.GameDate(time.Now())
	var pairs []messages.JobRef // the daily date's pairs
	for _, spec := range cat.Jobs() {
		if cat.CheckDate(spec.Ref(), laneDailyDate, today) == nil {
			pairs = append(pairs, spec.Ref())
		}
	}
	var scrapers []messages.JobRef
	for _, spec := range cat.InPhase(messages.PhaseScrapers) {
		if !spec.CurrentOnly {
			scrapers = append(scrapers, spec.Ref())
		}
	}

	if backlog {
		runProducer("enqueue", "--phase", "scrapers", "--job", "all", "--start-date", laneBacklogStart,
			"--end-date", laneBacklogEnd, "--run-id", "season")
		// The daily date arrives once the backlog is being worked on.
		waitUntil(t, ctx, "the backlog to start", func() bool {
			sums, err := led.List(ctx, scrapers[0], laneBacklogStart, laneBacklogEnd)
			return err == nil && len(sums) > 0
		})
	}

	began := time.Now()
	runProducer("daily", "--date", laneDailyDate, "--run-id", "daily-lane-test")
	recs := map[messages.JobRef]ledger.Record{}
	var lastChange time.Time
	var lastSig string
	waitUntil(t, ctx, "every pair of the daily date to finish", func() bool {
		var sig strings.Builder
		done := true
		for _, ref := range pairs {
			rec, gen, err := led.Get(ctx, ref, laneDailyDate)
			if err != nil || !(rec.State.Done() || rec.State == ledger.StateDead) {
				done = false
				continue
			}
			recs[ref] = rec
			fmt.Fprintf(&sig, "%s:%d;", ref, gen)
		}
		if sig.String() != lastSig {
			lastSig, lastChange = sig.String(), time.Now()
		}
		// A soft upstream finishing late runs its dependant again: wait for quiet.
		return done && time.Since(lastChange) > 2*time.Second
	})
	res := dailyResult{}
	var finished time.Time
	for _, ref := range pairs {
		rec := recs[ref]
		if rec.State == ledger.StateDead {
			t.Errorf("%s %s ended dead: %s", ref, laneDailyDate, rec.LastError)
		}
		if rec.Lane != messages.LaneDaily || rec.RunID != "daily-lane-test" {
			t.Errorf("%s %s was last run by %s in the %q lane; want the daily run", ref, laneDailyDate, rec.RunID, rec.Lane)
		}
		if rec.Finished.After(finished) {
			finished = rec.Finished
		}
	}
	res.elapsed = finished.Sub(began)

	if backlog {
		// Right away: how far the backlog had got when the daily date finished. A record
		// exists once its pair was first claimed.
		dates, _ := messages.DateRange(laneBacklogStart, laneBacklogEnd)
		for _, spec := range cat.Jobs() {
			sums, err := led.List(ctx, spec.Ref(), laneBacklogStart, laneBacklogEnd)
			if err != nil {
				t.Fatal(err)
			}
			for _, sum := range sums {
				if sum.State.Done() {
					res.backlogDone++
				}
			}
			if slices.Contains(scrapers, spec.Ref()) {
				for _, d := range dates {
					if cat.CheckDate(spec.Ref(), d, today) == nil {
						res.backlogQueued++
					}
				}
				res.backlogQueued -= len(sums)
			}
		}
	}

	for _, ref := range pairs {
		spec, _ := cat.Lookup(ref)
		rec := recs[ref]
		o := overtaken{ref: ref, ready: began, started: rec.LastStarted, slots: spec.MaxConcurrency}
		for _, u := range spec.Upstreams() {
			if up, ok := recs[u]; ok && up.Finished.After(o.ready) && up.Finished.Before(o.started) {
				o.ready = up.Finished
			}
		}
		o.wait, o.run = o.started.Sub(o.ready), rec.Finished.Sub(o.started)
		if backlog {
			sums, err := led.List(ctx, ref, laneBacklogStart, laneBacklogEnd)
			if err != nil {
				t.Fatal(err)
			}
			for _, sum := range sums {
				if sum.Updated.Before(o.ready) {
					continue // not touched since: not started in the window
				}
				r, _, err := led.Get(ctx, ref, sum.Date)
				if err != nil {
					t.Fatal(err)
				}
				if r.Lane == messages.LaneBackfill && r.LastStarted.After(o.ready) && r.LastStarted.Before(o.started) {
					o.backfill++
				}
			}
		}
		res.overtaken = append(res.overtaken, o)
	}
	slices.SortFunc(res.overtaken, func(a, b overtaken) int { return strings.Compare(a.ref.String(), b.ref.String()) })

	return res
}

func ms(d time.Duration) float64 { return d.Seconds() * 1000 }

// buildProducer builds the producer CLI once for the test.
func buildProducer(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "producer")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/nba-props/pipeline/producer").CombinedOutput(); err != nil {
		t.Fatalf("go build ./producer: %v\n%s", err, out)
	}
	return bin
}

// waitUntil polls cond every 200 ms until it holds, failing the test when ctx ends first.
func waitUntil(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
