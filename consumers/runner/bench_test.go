package runner_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/storage"

	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/infra/cloud"
	"github.com/nba-props/pipeline/infra/emulators"
	"github.com/nba-props/pipeline/messages"
)

// BenchmarkRuntime pushes the same number of messages (10,000; 1,000 with -short) through
// a bare receive-and-ack loop and through the runtime with a no-op job (decode, ledger
// claim and record, ack) on one emulator with the same streams and concurrency, and
// reports the time per message of each, the runtime's overhead and the ratio.
//
//	go test -run '^$' -bench Runtime -benchtime 1x ./consumers/runner/
//
// It is one long function on purpose: the two loops must run on one emulator set-up, one
// after the other, and print side by side; split, each half would build its own.
func BenchmarkRuntime(b *testing.B) {
	n := 10000
	if testing.Short() {
		n = 1000
	}
	const streams, concurrency = 16, 64
	ctx := context.Background()
	em := emulators.StartTest(b)
	psc, project, bucket := em.PubSub, em.Project, em.Bucket
	ps := em.PubSubServer.Server
	// fake-gcs-server's filesystem backend fsyncs every object (and its metadata) under
	// one lock: on a disk that caps the ledger at a few dozen writes per second, so the
	// benchmark keeps it on tmpfs when there is one, as the local stack should.
	gcs := em.Storage
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		root, err := os.MkdirTemp("/dev/shm", "runner-bench-")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(root) })
		g, err := emulators.StartGCS(emulators.GCSOptions{Addr: "127.0.0.1:0", Root: root, Buckets: []string{bucket}})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { g.Close() })
		if gcs, err = cloud.Storage(ctx, g.Host()); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { gcs.Close() })
	}

	cat, err := messages.NewCatalog(messages.JobSpec{Phase: messages.PhaseScrapers, Name: "n1",
		MaxConcurrency: concurrency, Timeout: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	names := messages.Names{Prefix: "bench-"}
	n1 := messages.Ref(messages.PhaseScrapers, "n1")
	mk := func(topic, sub, filter string) {
		if _, err := psc.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: "projects/" + project + "/topics/" + topic}); err != nil {
			b.Fatal(err)
		}
		if sub == "" {
			return
		}
		if _, err := psc.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
			Name: "projects/" + project + "/subscriptions/" + sub, Topic: "projects/" + project + "/topics/" + topic,
			Filter: filter, AckDeadlineSeconds: 60}); err != nil {
			b.Fatal(err)
		}
	}
	mk("bare", "bare.sub", "")
	for _, lane := range messages.Lanes() {
		mk(names.Topic(messages.PhaseScrapers), names.LaneSubscription(n1, lane), messages.Filter(n1, lane))
	}
	mk(names.DeadLetterTopic(), "", "")

	dates := make([]string, n)
	start := time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range dates {
		dates[i] = start.AddDate(0, 0, i).Format(messages.DateLayout)
	}
	publishAll := func(topic string, body func(i int) ([]byte, map[string]string)) {
		p := psc.Publisher(topic)
		defer p.Stop()
		rs := make([]*pubsub.PublishResult, n)
		for i := range n {
			data, attrs := body(i)
			rs[i] = p.Publish(ctx, &pubsub.Message{Data: data, Attributes: attrs})
		}
		for _, r := range rs {
			if _, err := r.Get(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}

	for range b.N {
		// Bare loop.
		publishAll("bare", func(i int) ([]byte, map[string]string) {
			body, attrs, err := messages.Encode(request(n1, dates[i]), cat)
			if err != nil {
				b.Fatal(err)
			}
			return body, attrs
		})
		var acked atomic.Int64
		sub := psc.Subscriber("bare.sub")
		sub.ReceiveSettings.NumGoroutines = streams
		sub.ReceiveSettings.MaxOutstandingMessages = concurrency
		rctx, cancel := context.WithCancel(ctx)
		t0 := time.Now()
		done := make(chan error, 1)
		go func() {
			done <- sub.Receive(rctx, func(_ context.Context, m *pubsub.Message) {
				m.Ack()
				if acked.Add(1) == int64(n) {
					cancel()
				}
			})
		}()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		bare := time.Since(t0)
		cancel()

		// The runtime, ledger included.
		publishAll(names.Topic(messages.PhaseScrapers), func(i int) ([]byte, map[string]string) {
			body, attrs, err := messages.Encode(request(n1, dates[i]), cat)
			if err != nil {
				b.Fatal(err)
			}
			return body, attrs
		})
		counter := &countHandler{target: int64(n)}
		counter.done = make(chan struct{})
		rt, err := runner.New(runner.Options{PubSub: psc, Storage: gcs, Bucket: bucket, Catalog: cat, Names: names,
			Jobs: map[messages.JobRef]runner.Job{n1: runner.JobFunc(func(context.Context, messages.Request) (runner.Result, error) {
				return runner.Result{Rows: map[string]int64{"x": 1}}, nil
			})},
			Unroutable: []messages.Phase{}, Streams: streams, Logger: slog.New(counter)})
		if err != nil {
			b.Fatal(err)
		}
		rctx, cancel = context.WithCancel(ctx)
		t0 = time.Now()
		go func() { done <- rt.Run(rctx) }()
		<-counter.done
		withRuntime := time.Since(t0)
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		if f := counter.failed.Load(); f != 0 {
			b.Fatalf("%d messages were not handled as succeeded; first error by outcome: %v", f, counter.other)
		}
		if err := checkLedgerCount(ctx, gcs, bucket, n); err != nil {
			b.Fatal(err)
		}

		perBare := bare.Seconds() * 1000 / float64(n)
		perRuntime := withRuntime.Seconds() * 1000 / float64(n)
		b.ReportMetric(perBare, "bare-ms/msg")
		b.ReportMetric(perRuntime, "runtime-ms/msg")
		b.ReportMetric(perRuntime-perBare, "overhead-ms/msg")
		b.ReportMetric(perRuntime/perBare, "ratio")
		b.ReportMetric(float64(counter.duplicates.Load()), "redeliveries")
		b.Logf("%d messages, %d streams, %d concurrent: bare %s (%.0f msg/s), runtime %s (%.0f msg/s)",
			n, streams, concurrency, bare.Round(time.Millisecond), float64(n)/bare.Seconds(),
			withRuntime.Round(time.Millisecond), float64(n)/withRuntime.Seconds())
		ps.ClearMessages()
	}
}

func checkLedgerCount(ctx context.Context, gcs *storage.Client, bucket string, want int) error {
	q := &storage.Query{Prefix: "_ledger/scrapers/n1/"}
	if err := q.SetAttrSelection([]string{"Name", "Metadata"}); err != nil {
		return err
	}
	it := gcs.Bucket(bucket).Objects(ctx, q)
	got := 0
	for {
		a, err := it.Next()
		if err != nil {
			break
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
	target int64
	n      atomic.Int64
	failed atomic.Int64
	// duplicates counts redeliveries acked as duplicates.
	duplicates atomic.Int64
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
	if outcome == string(runner.OutcomeDuplicate) {
		// A redelivery of a message already handled (the emulator redelivers what waited
		// past its ack deadline): correct, and counted apart.
		h.duplicates.Add(1)
		return nil
	}
	if outcome != string(runner.OutcomeSucceeded) {
		h.failed.Add(1)
		h.mu.Lock()
		if h.other == nil {
			h.other = map[string]string{}
		}
		if _, ok := h.other[outcome]; !ok {
			h.other[outcome] = errText
		}
		h.mu.Unlock()
		return nil
	}
	if h.n.Add(1) == h.target {
		close(h.done)
	}
	return nil
}
