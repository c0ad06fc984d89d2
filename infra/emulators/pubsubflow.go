package emulators

import (
	"context"
	"sync"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
)

// Flow control on the server's side, which pstest lacks.
//
// A streaming-pull client says in its first request how many messages it takes at once
// (max_outstanding_messages); Pub/Sub does not send it more that are neither settled nor
// lapsed. pstest ignores the setting and pushes every available message into whichever
// stream will take it. The Go client reads a stream only while its flow controller admits
// messages: once the handlers fill it, what pstest pushed waits in the stream's transport
// buffers, unknown to the client, so nothing extends its ack deadline (the stream's: 60 s
// from the Go client, unless it caps its extensions lower). It lapses there, pstest delivers it again (counting a
// delivery attempt), and a backlog of slow messages (a rate-limited scraper's) uses up
// its attempts without ever reaching a handler: the dead-letter policy then takes them,
// and the run stands still until the reconciler sends them again.
//
// So the streams of one client on one subscription (the client names itself in its first
// request; the Go client's streams share one flow controller) share one budget, the
// client's max_outstanding_messages: a message leaves it when the client acknowledges it,
// nacks it, or lets its deadline lapse. A send that finds the budget spent waits; pstest
// sends one message at a time per stream, so at most one waits per stream, and its ack
// deadline on pstest is moved on while it waits and once more when it goes out, so that
// the client's deadline starts when the client gets it.
type flowBudget struct {
	limit int // the client's max_outstanding_messages; 0: no limit
	mu    sync.Mutex
	out   map[string]time.Time // ack id → its ack deadline
	freed chan struct{}        // closed (and replaced) when a message leaves out
	refs  int                  // streams using the budget
}

// flowKey names a budget: a subscription and a client of it.
type flowKey struct{ sub, client string }

// budgetFor returns the budget of a client's streams on sub, made with limit if it is the
// first; the stream gives it back with dropBudget when it ends.
func (f *finalDeliveries) budgetFor(sub, client string, limit int64) *flowBudget {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := flowKey{sub, client}
	b := f.budgets[k]
	if b == nil {
		b = &flowBudget{limit: int(limit), out: map[string]time.Time{}}
		f.budgets[k] = b
	}
	b.refs++
	return b
}

// dropBudget ends a stream's use of its budget; the last stream's end forgets it.
func (f *finalDeliveries) dropBudget(sub, client string, b *flowBudget) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if b.refs--; b.refs > 0 {
		return
	}
	k := flowKey{sub, client}
	if f.budgets[k] == b {
		delete(f.budgets, k)
	}
	for id, o := range f.outIn {
		if o == b {
			delete(f.outIn, id)
		}
	}
}

// admit waits until b has room for rms (one message, as pstest sends them), counts them
// out with ackDeadline, and returns; ctx ending (the stream closing) stops the wait. While
// it waits, the messages' deadlines on pstest are moved on, and once more before they go.
func (f *finalDeliveries) admit(ctx context.Context, b *flowBudget, sub string, rms []*pb.ReceivedMessage, ackDeadline time.Duration) error {
	ids := make([]string, 0, len(rms))
	for _, rm := range rms {
		ids = append(ids, rm.AckId)
	}
	waited, moved := false, time.Now()
	for {
		now := time.Now()
		b.mu.Lock()
		var lapsed []string
		for id, dl := range b.out {
			if now.After(dl) {
				delete(b.out, id)
				lapsed = append(lapsed, id)
			}
		}
		if b.limit <= 0 || len(b.out) < b.limit {
			for _, id := range ids {
				b.out[id] = now.Add(ackDeadline)
			}
			b.mu.Unlock()
			f.track(sub, b, ids, lapsed)
			break
		}
		if b.freed == nil {
			b.freed = make(chan struct{})
		}
		freed, next := b.freed, ackDeadline
		for _, dl := range b.out {
			next = min(next, dl.Sub(now))
		}
		b.mu.Unlock()
		f.track(sub, b, nil, lapsed)
		waited = true
		if now.Sub(moved) >= ackDeadline/3 {
			f.extend(sub, ids, ackDeadline)
			moved = now
		}
		t := time.NewTimer(max(min(next, ackDeadline/3), 10*time.Millisecond))
		select {
		case <-freed:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		t.Stop()
	}
	if waited {
		f.extend(sub, ids, ackDeadline)
	}
	return nil
}

// extend moves the ack deadline of messages waiting to go out, on pstest.
func (f *finalDeliveries) extend(sub string, ids []string, d time.Duration) {
	_, _ = f.gs.ModifyAckDeadline(context.Background(), &pb.ModifyAckDeadlineRequest{
		Subscription: sub, AckIds: ids, AckDeadlineSeconds: int32(max(d/time.Second, 1))})
}

// track records which budget the ack ids sent are out of, and forgets those that lapsed.
func (f *finalDeliveries) track(sub string, b *flowBudget, sent, lapsed []string) {
	if len(sent) == 0 && len(lapsed) == 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range sent {
		f.outIn[heldKey{sub, id}] = b
	}
	for _, id := range lapsed {
		delete(f.outIn, heldKey{sub, id})
	}
}

// settled gives back to their budgets the messages among ackIDs that the client
// acknowledged or nacked (seconds 0), or moves their deadlines (seconds > 0).
func (f *finalDeliveries) settled(sub string, ackIDs []string, seconds int32) {
	for _, id := range ackIDs {
		k := heldKey{sub, id}
		f.mu.Lock()
		b := f.outIn[k]
		if b != nil && seconds <= 0 {
			delete(f.outIn, k)
		}
		f.mu.Unlock()
		if b == nil {
			continue
		}
		b.mu.Lock()
		if _, ok := b.out[id]; ok {
			if seconds <= 0 {
				delete(b.out, id)
				if b.freed != nil {
					close(b.freed)
					b.freed = nil
				}
			} else {
				b.out[id] = time.Now().Add(secs(seconds))
			}
		}
		b.mu.Unlock()
	}
}
