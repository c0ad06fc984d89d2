package scrapers

// Bounded retries of a state (docs/lessons.md): a source that never delivers one game, run
// through the consumer runtime (Pub/Sub emulator with the declared topology, the GCS ledger)
// with the real scraper against the source simulator.

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"github.com/google/go-cmp/cmp"

	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/infra/emulators"
	"github.com/nba-props/pipeline/infra/sourcesim"
	"github.com/nba-props/pipeline/infra/testlog"
	"github.com/nba-props/pipeline/infra/topology"
	"github.com/nba-props/pipeline/messages"
)

// TestLessonSourceNeverDeliversOneGame (bounded retries of a state): Ball Don't Lie leaves one game of the
// date out of its stats, every time. The runs before PartialFromAttempt are a transient
// ErrIncomplete naming the game that publish nothing downstream and write no object; the
// run at PartialFromAttempt records the date partial naming the game, with the other games'
// objects, and publishes downstream once: no dead letter, no operator. When the source has
// the game again, the next request for the date fetches it and the date is succeeded.
func TestLessonSourceNeverDeliversOneGame(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, sourcesim.Config{}, nil)
	dropped := lastGame(t, e.sim, gameDay)
	if err := e.sim.SetFaults([]sourcesim.Fault{
		{Source: sourcesim.SourceBDL, Dataset: sourcesim.DatasetBDLStats, Date: gameDay, Kind: sourcesim.FaultDropGame, GameID: dropped},
	}); err != nil {
		t.Fatal(err)
	}
	prefix := messages.ScrapedBDLPlayerBoxscores.Prefix(gameDay)
	var mu sync.Mutex
	var leaks []string
	h := startRuntime(t, e, "bdl_player_boxscores", func(h *runtimeHarness, run int, err error) {
		if err == nil {
			return
		}
		// What a failed run left behind, before the runtime settles it.
		mu.Lock()
		defer mu.Unlock()
		if objs := e.list(t, prefix); len(objs) > 0 {
			leaks = append(leaks, fmt.Sprintf("run %d wrote %v", run, objs))
		}
		if n := h.published(messages.PhaseRaw); n > 0 {
			leaks = append(leaks, fmt.Sprintf("run %d: %d raw messages", run, n))
		}
	})

	h.request(t, "never-delivers")
	rec := h.waitRecord(t, "partial", func(r ledger.Record) bool { return r.State == ledger.StatePartial })
	if diff := cmp.Diff([]string{dropped}, rec.Output.Missing); diff != "" || rec.Attempts != PartialFromAttempt || rec.LastError != "" {
		t.Errorf("partial record: attempts %d, last error %q, missing (-want +got):\n%s; want %d attempts", rec.Attempts, rec.LastError, diff, PartialFromAttempt)
	}
	mu.Lock()
	if len(leaks) > 0 {
		t.Errorf("the retries left output behind: %v", leaks)
	}
	mu.Unlock()
	if n := h.runs.Load(); n != PartialFromAttempt {
		t.Errorf("the job ran %d times, want %d", n, PartialFromAttempt)
	}
	objs := e.list(t, prefix)
	if len(objs) == 0 || !slices.Equal(objs, names(rec.Output.Objects)) {
		t.Errorf("objects in the bucket %v, in the record %v; want the partial run's pages", objs, names(rec.Output.Objects))
	}
	waitUntil(t, "the partial output's raw message", func() bool { return h.published(messages.PhaseRaw) == 1 })
	// Let any straggling redelivery show itself before counting.
	time.Sleep(300 * time.Millisecond)
	if n, d := h.published(messages.PhaseRaw), h.deadLetters(); n != 1 || d != 0 {
		t.Errorf("%d raw messages and %d dead letters; want one raw message and none", n, d)
	}

	// The source has the game again: the next request (an enqueue needs no --force for a
	// partial date) fetches the date and completes it.
	if err := e.sim.SetFaults(nil); err != nil {
		t.Fatal(err)
	}
	h.request(t, "next-enqueue")
	rec = h.waitRecord(t, "succeeded", func(r ledger.Record) bool { return r.State == ledger.StateSucceeded })
	if len(rec.Output.Missing) != 0 || rec.Attempts != 1 {
		t.Errorf("after the source recovered: missing %v, attempts %d; want nothing missing at the first attempt", rec.Output.Missing, rec.Attempts)
	}
	waitUntil(t, "the complete output's raw message", func() bool { return h.published(messages.PhaseRaw) == 2 })
}

// lastGame is the canonical id of the last game (by tip-off) of a simulator date.
func lastGame(t testing.TB, sim *sourcesim.Sim, date string) string {
	t.Helper()
	games, err := sim.GamesOn(date)
	if err != nil || len(games) < 2 {
		t.Fatalf("simulator date %s: %d games (%v); want several", date, len(games), err)
	}
	return games[len(games)-1].GameID
}

// runtimeHarness is the consumer runtime serving one scraper of a testEnv on a Pub/Sub
// emulator with the declared topology, its ledger in the scrapers' bucket.
type runtimeHarness struct {
	em   *emulators.Env
	ref  messages.JobRef
	led  *ledger.Ledger
	runs atomic.Int32
}

// startRuntime runs the runtime with the default attempt bound until the test ends; after
// each run of the job, ran (if set) sees the run's number and error.
func startRuntime(t *testing.T, e *testEnv, job string, ran func(h *runtimeHarness, run int, err error)) *runtimeHarness {
	t.Helper()
	em := emulators.StartTest(t)
	ctx := context.Background()
	cat := messages.DefaultCatalog()
	if _, err := topology.Apply(ctx, topology.Clients{PubSub: em.PubSub}, topology.Options{Catalog: cat, Names: em.Names}); err != nil {
		t.Fatal(err)
	}
	h := &runtimeHarness{em: em, ref: messages.Ref(messages.PhaseScrapers, job), led: ledger.New(e.storage, testBucket, ledger.Options{})}
	wrapped := runner.JobFunc(func(ctx context.Context, req messages.Request) (runner.Result, error) {
		n := int(h.runs.Add(1))
		res, err := e.jobs[job].Run(ctx, req)
		if ran != nil {
			ran(h, n, err)
		}
		return res, err
	})
	var logs testlog.Buffer
	rt, err := runner.New(runner.Options{
		PubSub: em.PubSub, Storage: e.storage, Bucket: testBucket, Catalog: cat, Names: em.Names,
		Jobs: map[messages.JobRef]runner.Job{h.ref: wrapped}, Lease: 3 * time.Second,
		Streams: 2, ShutdownGrace: 2 * time.Second, PublishTimeout: 20 * time.Second, Unroutable: []messages.Phase{},
		Logger: slog.New(runner.NewLogHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- rt.Run(runCtx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if t.Failed() {
			t.Logf("runtime log:\n%s", logs.String())
		}
	})
	return h
}

// request publishes the job's request for gameDay, as the producer does.
func (h *runtimeHarness) request(t *testing.T, runID string) {
	t.Helper()
	ctx := context.Background()
	body, attrs, err := messages.Encode(messages.Request{Version: messages.Version, Phase: h.ref.Phase, Job: h.ref.Job, Date: gameDay,
		RunID: runID, Trigger: messages.Trigger{Kind: messages.TriggerProducer}, Lane: messages.LaneBackfill}, messages.DefaultCatalog())
	if err != nil {
		t.Fatal(err)
	}
	pub := h.em.PubSub.Publisher(h.em.Names.Topic(h.ref.Phase))
	defer pub.Stop()
	if _, err := pub.Publish(ctx, &pubsub.Message{Data: body, Attributes: attrs}).Get(ctx); err != nil {
		t.Fatal(err)
	}
}

// waitRecord waits until the date's ledger record satisfies ok.
func (h *runtimeHarness) waitRecord(t *testing.T, what string, ok func(ledger.Record) bool) ledger.Record {
	t.Helper()
	var rec ledger.Record
	var err error
	deadline := time.Now().Add(60 * time.Second)
	for {
		rec, _, err = h.led.Get(context.Background(), h.ref, gameDay)
		if err == nil && ok(rec) {
			return rec
		}
		if err == nil && rec.State == ledger.StateDead {
			t.Fatalf("the date is dead, never %s: attempts=%d err=%q", what, rec.Attempts, rec.LastError)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the date never ended %s: %s attempts=%d missing=%v err=%q (%v)", what, rec.State, rec.Attempts, rec.Output.Missing, rec.LastError, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// published counts the messages published to a phase's topic.
func (h *runtimeHarness) published(p messages.Phase) int {
	return h.onTopic(h.em.Names.Topic(p))
}

// deadLetters counts the messages published to the dead-letter topic.
func (h *runtimeHarness) deadLetters() int { return h.onTopic(h.em.Names.DeadLetterTopic()) }

func (h *runtimeHarness) onTopic(topic string) int {
	n := 0
	for _, m := range h.em.PubSubServer.Server.Messages() {
		if strings.HasSuffix(m.Topic, "/topics/"+topic) {
			n++
		}
	}
	return n
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
