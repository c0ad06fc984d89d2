package emulators

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
)

// TestBacklogBehindFlowControlIsDeliveredOnce: a backlog of slow messages behind a client
// that takes one at a time over several streams is delivered once each, none lapsing while
// it waits. pstest alone pushes the whole backlog into the streams' transport buffers,
// where the client cannot extend what it has not read: after the stream's ack deadline
// every waiting message is delivered again, and a long enough backlog reaches
// the dead-letter policy's fifth attempt without a handler ever seeing it.
func TestBacklogBehindFlowControlIsDeliveredOnce(t *testing.T) {
	t.Parallel()
	ps := startPstest(t)
	s := newDLSetup(t, ps.Host())
	const n, each = 40, 350 * time.Millisecond // 14 s of work, beyond the 10 s deadline
	ctx := context.Background()
	pub := s.client.Publisher(s.topic)
	var results []*pubsub.PublishResult
	for i := range n {
		results = append(results, pub.Publish(ctx, &pubsub.Message{Data: []byte(fmt.Sprint(i))}))
	}
	for _, r := range results {
		if _, err := r.Get(ctx); err != nil {
			t.Fatal(err)
		}
	}
	pub.Stop()

	rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var mu sync.Mutex
	deliveries, acked := map[string]int{}, map[string]bool{}
	var redelivered []string
	sub := s.client.Subscriber(s.sub)
	sub.ReceiveSettings.NumGoroutines = 4
	sub.ReceiveSettings.MaxOutstandingMessages = 1
	// The stream's ack deadline is this cap (60 s without it): a short one makes the test short.
	sub.ReceiveSettings.MaxDurationPerAckExtension = 10 * time.Second
	done := make(chan error, 1)
	go func() {
		done <- sub.Receive(rctx, func(_ context.Context, m *pubsub.Message) {
			time.Sleep(each)
			mu.Lock()
			defer mu.Unlock()
			deliveries[string(m.Data)]++
			if m.DeliveryAttempt != nil && *m.DeliveryAttempt > 1 {
				redelivered = append(redelivered, fmt.Sprintf("%s (attempt %d)", m.Data, *m.DeliveryAttempt))
			}
			acked[string(m.Data)] = true
			m.Ack()
			if len(acked) == n {
				cancel()
			}
		})
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(acked) != n {
		t.Fatalf("%d of %d messages reached the handler in two minutes", len(acked), n)
	}
	if len(redelivered) > 0 {
		t.Errorf("%d deliveries were not the first: %v", len(redelivered), redelivered)
	}
	for m, k := range deliveries {
		if k != 1 {
			t.Errorf("message %s handled %d times", m, k)
		}
	}
	// The emulator's own count: a copy delivered again after a lapse may not reach the
	// handler before the run ends, but it was delivered.
	for _, m := range ps.Server.Messages() {
		if m.Topic == s.topic && m.Deliveries != 1 {
			t.Errorf("message %s delivered %d times", m.Data, m.Deliveries)
		}
	}
}
