// Package runtimebench measures what the consumer runtime costs per message: the same
// messages through a bare receive-and-ack loop and through the runtime with a no-op job
// (decode, ledger claim and record, ack), on one Pub/Sub and one GCS emulator with the
// same streams and concurrency. BenchmarkRuntime (consumers/runner) and make bench
// (infra/bench) both run it, so the two report the same measurement.
package runtimebench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/storage"
	"google.golang.org/api/iterator"

	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/infra/cloud"
	"github.com/nba-props/pipeline/infra/emulators"
	"github.com/nba-props/pipeline/messages"
)

// Streams and Concurrency are the streaming-pull streams and the messages in flight of
// both loops.
const Streams, Concurrency = 16, 256

// Result is one measurement: both loops' times over the same N messages, and what they
// come to per message.
type Result struct {
	N             int
	Bare, Runtime time.Duration
	// PerBare, PerRuntime and Overhead are milliseconds per message.
	PerBare, PerRuntime, Overhead float64
	Redeliveries                  int // messages the emulator delivered again, acked as duplicates
}

// Measure pushes n messages through both loops on emulators of its own (GCS on tmpfs where
// there is one, see emulators.ScratchDir) and checks that the runtime recorded every one
// succeeded in the ledger.
func Measure(ctx context.Context, n int) (Result, error) {
	out := Result{N: n}
	ps, err := emulators.StartPubSub("127.0.0.1:0")
	if err != nil {
		return out, err
	}
	defer ps.Close()
	dir, err := emulators.ScratchDir("nba-props-runtimebench-")
	if err != nil {
		return out, err
	}
	defer os.RemoveAll(dir)
	project, bucket := cloud.LocalProject, cloud.LocalProject
	g, err := emulators.StartGCS(emulators.GCSOptions{Addr: "127.0.0.1:0", Root: dir, Buckets: []string{bucket}})
	if err != nil {
		return out, err
	}
	defer g.Close()
	psc, err := cloud.PubSubAt(ctx, project, ps.Host())
	if err != nil {
		return out, err
	}
	defer psc.Close()
	gcs, err := cloud.Storage(ctx, g.Host())
	if err != nil {
		return out, err
	}
	defer gcs.Close()

	cat, err := messages.NewCatalog(messages.JobSpec{Phase: messages.PhaseScrapers, Name: "n1",
		MaxConcurrency: Concurrency, Timeout: time.Minute})
	if err != nil {
		return out, err
	}
	names := messages.Names{Prefix: "bench-"}
	n1 := messages.Ref(messages.PhaseScrapers, "n1")
	topic := func(name string) error {
		_, err := psc.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: "projects/" + project + "/topics/" + name})
		return err
	}
	sub := func(topic, name, filter string) error {
		_, err := psc.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
			Name: "projects/" + project + "/subscriptions/" + name, Topic: "projects/" + project + "/topics/" + topic,
			Filter: filter, AckDeadlineSeconds: 60})
		return err
	}
	for _, err := range []error{topic("bare"), sub("bare", "bare.sub", ""), topic(names.Topic(messages.PhaseScrapers)), topic(names.DeadLetterTopic())} {
		if err != nil {
			return out, err
		}
	}
	for _, lane := range messages.Lanes() {
		if err := sub(names.Topic(messages.PhaseScrapers), names.LaneSubscription(n1, lane), messages.Filter(n1, lane)); err != nil {
			return out, err
		}
	}
	start := time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)
	publishAll := func(topic string) error {
		p := psc.Publisher(topic)
		defer p.Stop()
		rs := make([]*pubsub.PublishResult, n)
		for i := range n {
			req := messages.Request{Version: messages.Version, Phase: n1.Phase, Job: n1.Job, Date: start.AddDate(0, 0, i).Format(messages.DateLayout),
				RunID: "bench-runtime", Trigger: messages.Trigger{Kind: messages.TriggerProducer}, Lane: messages.LaneBackfill}
			body, attrs, err := messages.Encode(req, cat)
			if err != nil {
				return err
			}
			rs[i] = p.Publish(ctx, &pubsub.Message{Data: body, Attributes: attrs})
		}
		for _, r := range rs {
			if _, err := r.Get(ctx); err != nil {
				return err
			}
		}
		return nil
	}

	// Bare loop.
	if err := publishAll("bare"); err != nil {
		return out, err
	}
	var acked atomic.Int64
	s := psc.Subscriber("bare.sub")
	s.ReceiveSettings.NumGoroutines = Streams
	s.ReceiveSettings.MaxOutstandingMessages = Concurrency
	rctx, cancel := context.WithCancel(ctx)
	t0 := time.Now()
	err = s.Receive(rctx, func(_ context.Context, m *pubsub.Message) {
		m.Ack()
		if acked.Add(1) == int64(n) {
			cancel()
		}
	})
	cancel()
	if err != nil {
		return out, err
	}
	out.Bare = time.Since(t0)

	// The runtime, ledger included.
	if err := publishAll(names.Topic(messages.PhaseScrapers)); err != nil {
		return out, err
	}
	counter := &countHandler{target: int64(n), done: make(chan struct{})}
	rt, err := runner.New(runner.Options{PubSub: psc, Storage: gcs, Bucket: bucket, Catalog: cat, Names: names,
		Jobs: map[messages.JobRef]runner.Job{n1: runner.JobFunc(func(context.Context, messages.Request) (runner.Result, error) {
			return runner.Result{Rows: map[string]int64{"x": 1}}, nil
		})},
		Unroutable: []messages.Phase{}, Streams: Streams, Logger: slog.New(counter)})
	if err != nil {
		return out, err
	}
	rctx, cancel = context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	t0 = time.Now()
	go func() { done <- rt.Run(rctx) }()
	select {
	case <-counter.done:
	case err := <-done:
		return out, fmt.Errorf("runtime stopped early: %v", err)
	}
	out.Runtime = time.Since(t0)
	cancel()
	if err := <-done; err != nil {
		return out, err
	}
	if f := counter.failed.Load(); f != 0 {
		return out, fmt.Errorf("%d messages were not handled as succeeded; first error by outcome: %v", f, counter.other)
	}
	if err := checkLedger(ctx, gcs, bucket, n); err != nil {
		return out, err
	}
	out.PerBare = out.Bare.Seconds() * 1000 / float64(n)
	out.PerRuntime = out.Runtime.Seconds() * 1000 / float64(n)
	out.Overhead = out.PerRuntime - out.PerBare
	out.Redeliveries = int(counter.duplicates.Load())
	return out, nil
}

// checkLedger counts the succeeded records of the no-op job.
func checkLedger(ctx context.Context, gcs *storage.Client, bucket string, want int) error {
	q := &storage.Query{Prefix: "_ledger/scrapers/n1/"}
	if err := q.SetAttrSelection([]string{"Name", "Metadata"}); err != nil {
		return err
	}
	it := gcs.Bucket(bucket).Objects(ctx, q)
	got := 0
	for {
		a, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return fmt.Errorf("listing the ledger: %w", err)
		}
		if a.Metadata["state"] == "succeeded" {
			got++
		}
	}
	if got < want {
		return fmt.Errorf("%d of %d ledger records succeeded", got, want)
	}
	return nil
}

// countHandler counts the runtime's per-message log lines and closes done when target
// messages succeeded; it keeps the first error of each other outcome.
type countHandler struct {
	target     int64
	n          atomic.Int64
	failed     atomic.Int64
	duplicates atomic.Int64 // redeliveries acked as duplicates
	done       chan struct{}
	mu         sync.Mutex
	other      map[string]string
}

func (h *countHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *countHandler) WithGroup(string) slog.Handler            { return h }
func (h *countHandler) Handle(_ context.Context, r slog.Record) error {
	outcome, errText := "", ""
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "outcome":
			outcome = a.Value.String()
		case "err":
			errText = a.Value.String()
		}
		return true
	})
	switch outcome {
	case "":
		return nil // not a per-message line
	case string(runner.OutcomeDuplicate):
		// A redelivery of a message already handled (the emulator redelivers what waited
		// past its ack deadline): correct, and counted apart.
		h.duplicates.Add(1)
		return nil
	case string(runner.OutcomeSucceeded):
		if h.n.Add(1) == h.target {
			close(h.done)
		}
		return nil
	}
	h.failed.Add(1)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.other == nil {
		h.other = map[string]string{}
	}
	if _, ok := h.other[outcome]; !ok {
		h.other[outcome] = errText
	}
	return nil
}
