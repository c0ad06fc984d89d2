package scrapers

// Bounded retries of a state (docs/lessons.md): a source that never delivers one game, run
// through the consumer runtime (Pub/Sub emulator with the declared topology, the GCS ledger)
// with the real scraper against the source simulator.

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"

	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/infra/emulators"
	"github.com/nba-props/pipeline/infra/sourcesim"
	"github.com/nba-props/pipeline/infra/topology"
	"github.com/nba-props/pipeline/messages"
)

// TestLessonSourceNeverDeliversOneGame (bounded retries of a state): Ball Don't Lie leaves one game of the
// date out of its stats, every time. Each run is a transient ErrIncomplete; the runs are
// bounded by the attempt bound, the retries publish nothing downstream, write no object, and
// the ledger ends dead (max_attempts) with the last error, with one dead letter saying so.
func TestLessonSourceNeverDeliversOneGame(t *testing.T) {
	t.Parallel()
	const maxAttempts = 3
	e := newTestEnv(t, sourcesim.Config{Faults: []sourcesim.Fault{
		{Source: sourcesim.SourceBDL, Dataset: sourcesim.DatasetBDLStats, Date: gameDay, Kind: sourcesim.FaultDropGame},
	}}, nil)
	em := emulators.StartTest(t) // Pub/Sub; the ledger lives in the scrapers' bucket
	ctx := context.Background()
	cat := messages.DefaultCatalog()
	if _, err := topology.Apply(ctx, topology.Clients{PubSub: em.PubSub}, topology.Options{Catalog: cat, Names: em.Names}); err != nil {
		t.Fatal(err)
	}
	ref := messages.Ref(messages.PhaseScrapers, "bdl_player_boxscores")
	var runs atomic.Int32
	job := runner.JobFunc(func(ctx context.Context, req messages.Request) (runner.Result, error) {
		runs.Add(1)
		return e.jobs[ref.Job].Run(ctx, req)
	})
	var logs syncBuffer
	rt, err := runner.New(runner.Options{
		PubSub: em.PubSub, Storage: e.storage, Bucket: testBucket, Catalog: cat, Names: em.Names,
		Jobs: map[messages.JobRef]runner.Job{ref: job}, Lease: 3 * time.Second, MaxAttempts: maxAttempts,
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

	body, attrs, err := messages.Encode(messages.Request{Version: messages.Version, Phase: ref.Phase, Job: ref.Job, Date: gameDay,
		RunID: "never-delivers", Trigger: messages.Trigger{Kind: messages.TriggerProducer}, Lane: messages.LaneBackfill}, cat)
	if err != nil {
		t.Fatal(err)
	}
	pub := em.PubSub.Publisher(em.Names.Topic(ref.Phase))
	if _, err := pub.Publish(ctx, &pubsub.Message{Data: body, Attributes: attrs}).Get(ctx); err != nil {
		t.Fatal(err)
	}
	pub.Stop()

	led := ledger.New(e.storage, testBucket, ledger.Options{})
	var rec ledger.Record
	deadline := time.Now().Add(90 * time.Second)
	for {
		rec, _, err = led.Get(ctx, ref, gameDay)
		if err == nil && rec.State == ledger.StateDead {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the date never ended dead: %s attempts=%d err=%q (%v)", rec.State, rec.Attempts, rec.LastError, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if rec.Reason != runner.ReasonMaxAttempts || rec.Attempts != maxAttempts || !strings.Contains(rec.LastError, ErrIncomplete.Error()) {
		t.Errorf("dead record: reason %q, attempts %d, last error %q; want max_attempts after %d attempts naming %q",
			rec.Reason, rec.Attempts, rec.LastError, maxAttempts, ErrIncomplete)
	}
	topic := func(p string) string { return "projects/" + em.Project + "/topics/" + p }
	var dead []string
	waitUntil(t, "one dead letter", func() bool {
		dead = nil
		for _, m := range em.PubSubServer.Server.Messages() {
			if m.Topic == topic(em.Names.DeadLetterTopic()) {
				dead = append(dead, m.Attributes[runner.AttrReason])
			}
		}
		return len(dead) >= 1
	})
	// Let any straggling redelivery show itself before counting.
	time.Sleep(500 * time.Millisecond)
	if n := runs.Load(); n != maxAttempts {
		t.Errorf("the job ran %d times, want %d (the attempt bound)", n, maxAttempts)
	}
	perTopic := map[string]int{}
	for _, m := range em.PubSubServer.Server.Messages() {
		perTopic[strings.TrimPrefix(m.Topic, topic(em.Names.Prefix))]++
	}
	want := map[string]int{"nba-phase1-scrapers": 1, em.Names.DeadLetterTopic()[len(em.Names.Prefix):]: 1}
	if fmt.Sprint(perTopic) != fmt.Sprint(want) || dead[0] != runner.ReasonMaxAttempts {
		t.Errorf("messages per topic %v (dead-letter reasons %v); want only the request and one max_attempts dead letter %v", perTopic, dead, want)
	}
	if objs := e.list(t, messages.ScrapedBDLPlayerBoxscores.Prefix(gameDay)); len(objs) != 0 {
		t.Errorf("objects written by runs that never succeeded: %v", objs[:min(len(objs), 5)])
	}

	// Every run asked the source the same bounded number of times: the attempt bound times
	// one run's requests.
	stats := len(e.requests(sourcesim.SourceBDL, sourcesim.DatasetBDLStats))
	if _, err := e.run(t, ref.Job, gameDay); err == nil {
		t.Fatal("a direct run succeeded although the game is still missing")
	}
	if one := len(e.requests(sourcesim.SourceBDL, sourcesim.DatasetBDLStats)) - stats; one == 0 || stats != maxAttempts*one {
		t.Errorf("%d stats requests over %d runs; one run makes %d", stats, maxAttempts, one)
	}
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
