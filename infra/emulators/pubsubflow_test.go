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
	s.publishN(t, 40)
	s.receiveEachOnce(t, ps, 40, 350*time.Millisecond) // 14 s of work, beyond the 10 s deadline
}

// TestBacklogOlderThanPstestRetentionIsDelivered: pstest forgets a message that waits
// undelivered ten minutes after its publication (Pub/Sub keeps it seven days by default).
// A backlog waiting for a client's flow control must still reach it: a rate-limited
// scraper's backlog in a season's backfill waits longer than that. The messages are
// published on a pstest clock that runs 9 min 55 s behind, so that the ten minutes are over
// a few seconds into the backlog.
func TestBacklogOlderThanPstestRetentionIsDelivered(t *testing.T) {
	t.Parallel()
	ps := startPstest(t)
	s := newDLSetup(t, ps.Host())
	ps.Server.SetTimeNowFunc(func() time.Time { return time.Now().Add(-(10*time.Minute - 5*time.Second)) })
	s.publishN(t, 20)
	ps.Server.SetTimeNowFunc(time.Now)
	s.receiveEachOnce(t, ps, 20, 500*time.Millisecond) // 10 s of work
}

// publishN publishes the messages "0" to "<n-1>" on the work topic.
func (s dlSetup) publishN(t *testing.T, n int) {
	t.Helper()
	ctx := context.Background()
	pub := s.client.Publisher(s.topic)
	defer pub.Stop()
	var results []*pubsub.PublishResult
	for i := range n {
		results = append(results, pub.Publish(ctx, &pubsub.Message{Data: []byte(fmt.Sprint(i))}))
	}
	for _, r := range results {
		if _, err := r.Get(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// receiveEachOnce receives the work subscription's n messages with a client that takes one
// at a time over four streams, each taking each, and checks that every message reached the
// handler once, on its first delivery, by the handler's count and the emulator's.
func (s dlSetup) receiveEachOnce(t *testing.T, ps *PubSub, n int, each time.Duration) {
	t.Helper()
	rctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
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

// TestNackedMessageOlderThanPstestRetentionIsDeliveredAgain: a message nacked more than
// ten minutes after its publication comes back, counted as its second attempt. pstest
// alone makes it available and forgets it in the same breath (its retention, above), so a
// scraper's transient failure late in a long backlog lost the message until the
// reconciler sent it again.
func TestNackedMessageOlderThanPstestRetentionIsDeliveredAgain(t *testing.T) {
	t.Parallel()
	ps := startPstest(t)
	s := newDLSetup(t, ps.Host())
	const n = 10
	ps.Server.SetTimeNowFunc(func() time.Time { return time.Now().Add(-(10*time.Minute - 3*time.Second)) })
	s.publishN(t, n)
	ps.Server.SetTimeNowFunc(time.Now)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var mu sync.Mutex
	attempts := map[string][]int{}
	acked := 0
	sub := s.client.Subscriber(s.sub)
	sub.ReceiveSettings.MaxOutstandingMessages = n
	err := sub.Receive(ctx, func(_ context.Context, m *pubsub.Message) {
		mu.Lock()
		defer mu.Unlock()
		a := 0
		if m.DeliveryAttempt != nil {
			a = *m.DeliveryAttempt
		}
		attempts[string(m.Data)] = append(attempts[string(m.Data)], a)
		if len(attempts[string(m.Data)]) == 1 {
			mu.Unlock()
			time.Sleep(5 * time.Second) // past the ten minutes
			mu.Lock()
			m.Nack()
			return
		}
		m.Ack()
		if acked++; acked == n {
			cancel()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if acked != n {
		t.Fatalf("%d of %d nacked messages came back within a minute; attempts seen: %v", acked, n, attempts)
	}
	for m, a := range attempts {
		if len(a) != 2 || a[0] != 1 || a[1] != 2 {
			t.Errorf("message %s: delivery attempts %v, want [1 2]", m, a)
		}
	}
}
