package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/messages"
)

func TestGridProgressCountsFinishedPairsRateAndETA(t *testing.T) {
	t.Parallel()
	now := time.Date(2024, 11, 1, 12, 0, 0, 0, time.UTC)
	d := "2024-10-22"
	cells := []cell{
		{Date: d, Phase: "scrapers", Job: "bdl_games", State: "succeeded", Updated: now.Add(-60 * time.Second)},
		{Date: d, Phase: "scrapers", Job: "nbac_schedule", State: "dead", Updated: now.Add(-30 * time.Second)},
		{Date: d, Phase: "raw", Job: "nbac_schedule", State: "failed", Updated: now.Add(-10 * time.Second)},
		{Date: d, Phase: "raw", Job: "bdl_player_boxscores"},
		{Date: d, Phase: "scrapers", Job: "bdl_injuries"}, // the source has no history: not counted
	}
	p := gridProgressOf(messages.DefaultCatalog(), cells, "2024-11-01", now)
	if p.Total != 4 || p.Finished != 2 {
		t.Errorf("finished %d of %d, want 2 of 4", p.Finished, p.Total)
	}
	if len(p.Phases) != 2 || p.Phases[0] != (phaseProgress{"scrapers", 2, 2}) || p.Phases[1] != (phaseProgress{"raw", 2, 0}) {
		t.Errorf("phases %+v, want scrapers 2/2, raw 0/2", p.Phases)
	}
	// Two pairs finished in the 60 s since the first record: 1 every 30 s, 2 left.
	if p.Window != time.Minute || p.ETA != time.Minute {
		t.Errorf("window %s, ETA %s; want 1m0s and 1m0s", p.Window, p.ETA)
	}
	var b bytes.Buffer
	printProgress(&b, p)
	want := "progress: 2/4 pairs finished (50%): scrapers 2/2, raw 0/2\nthroughput: 0.03 pairs/s over the last 1m0s; ETA 1m0s\n"
	if b.String() != want {
		t.Errorf("printed\n%s\nwant\n%s", b.String(), want)
	}
}

// watchBuffer is a writer that status --watch draws into while the test reads it.
type watchBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *watchBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *watchBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

func TestStatusWatchShowsProgressAndETA(t *testing.T) {
	t.Parallel()
	env, vars := stack(t)
	l := ledger.New(env.Storage, env.Bucket, ledger.Options{})
	now := time.Now()
	for i, job := range []string{"nbac_schedule", "bdl_games"} {
		rec := ledger.Record{Phase: messages.PhaseScrapers, Job: job, Date: "2024-10-22"}.
			Start("c", "run-1", time.Minute, now.Add(-time.Minute)).
			Succeed(ledger.Output{Objects: []ledger.Object{{Name: job, Generation: 1}}}, "fp", false, now.Add(-time.Duration(40-20*i)*time.Second))
		if _, err := l.Write(context.Background(), rec, 0); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb watchBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"status", "--phase", "scrapers", "--job", "all", "--start-date", "2024-10-22", "--end-date", "2024-10-22", "--watch", "1h"},
			&out, &errb, envconfig.MapLookuper(vars))
	}()
	waitUntil := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "throughput:") && time.Now().Before(waitUntil) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	// 6 scrapers serve the date (bdl_injuries only the current day); 2 finished.
	for _, want := range []string{"progress: 2/6 pairs finished (33%): scrapers 2/6", "pairs/s over the last", "ETA "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status --watch lacks %q:\n%s", want, out.String())
		}
	}
}
