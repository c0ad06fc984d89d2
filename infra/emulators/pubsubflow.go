package emulators

import (
	"context"
	"sync"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/protobuf/proto"
)

// Flow control on the server's side, which pstest lacks.
//
// A streaming-pull client says in its first request how many messages it takes at once
// (max_outstanding_messages); Pub/Sub does not send it more that are neither settled nor
// lapsed. pstest ignores the setting and pushes every available message into whichever
// stream will take it. The Go client reads a stream only while its flow controller admits
// messages: once the handlers fill it, what pstest pushed waits in the stream's transport
// buffers, unknown to the client, so nothing extends its ack deadline (the stream's: 60 s
// from the Go client, unless it caps its extensions lower). It lapses there, pstest
// delivers it again (counting a delivery attempt), and a backlog of slow messages (a
// rate-limited scraper's) uses up its attempts without ever reaching a handler: the
// dead-letter policy then takes them, and the run stands still until the reconciler sends
// them again.
//
// Nor can the backlog simply wait in pstest: pstest forgets a message that is undelivered
// ten minutes after its publication (Pub/Sub keeps it for the subscription's retention,
// seven days by default), and a season's scraper backlog waits longer than that.
//
// So the streams of one client on one subscription (the client names itself in its first
// request; the Go client's streams share one flow controller) share one budget, the
// client's max_outstanding_messages: a message leaves it when the client acknowledges it,
// nacks it, or lets its deadline lapse. What pstest sends to those streams goes into the
// budget's queue instead of the stream, and stays outstanding on pstest, its ack deadline
// moved on while it waits; each stream takes from the queue and sends while the budget has
// room, and the deadline is moved once more as a message goes, so that the client's
// deadline starts when the client gets it. When the client's last stream on the
// subscription ends, what is still queued is handed back to pstest (nacked) for other
// clients.
type flowBudget struct {
	limit int // the client's max_outstanding_messages; 0: no limit
	mu    sync.Mutex
	out   map[string]outMessage // ack id → the message out with the client
	queue []queuedSend          // what pstest sent to the client's streams, in order
	// wake holds a token when a message left out or joined the queue: one waiting stream
	// takes it, and passes it on if more can go.
	wake chan struct{}
	// extendAt is when the queued messages' deadlines on pstest are next moved on.
	extendAt time.Time
	refs     int // streams using the budget
}

// queuedSend is a response pstest sent to a client's stream, waiting for room.
type queuedSend struct {
	res         *pb.StreamingPullResponse
	ids         []string      // its messages' ack ids
	ackDeadline time.Duration // the stream's when pstest sent it
	since       time.Time
}

// outMessage is a message out with the client: when its ack deadline lapses, and the
// response it went in, for its redelivery after a nack.
type outMessage struct {
	deadline time.Time
	sent     queuedSend
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
		b = &flowBudget{limit: int(limit), out: map[string]outMessage{}, wake: make(chan struct{}, 1)}
		f.budgets[k] = b
	}
	b.refs++
	return b
}

// dropBudget ends a stream's use of its budget; the last stream's end forgets it and
// hands what is still queued back to pstest, except the messages pstest sent on their last
// attempt: those are forwarded to the dead-letter topic, once, as if the client had let
// them lapse. Handed back, such a message has no ack id on pstest that its own
// dead-lettering could acknowledge, and pstest would forward it again on every delivery
// pass (finalDeliveries). Pub/Sub, whose flow control does not send what the client cannot
// take, would not have counted that attempt; the dead-letter subscription's consumer sends
// a request whose date has runs left again.
func (f *finalDeliveries) dropBudget(sub, client string, b *flowBudget) {
	f.mu.Lock()
	if b.refs--; b.refs > 0 {
		f.mu.Unlock()
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
	f.mu.Unlock()
	b.mu.Lock()
	queue := b.queue
	b.queue = nil
	b.mu.Unlock()
	var ids []string
	for _, q := range queue {
		taken := f.takeLast(sub, q.res.ReceivedMessages, 0)
		for _, id := range q.ids {
			if !taken[id] {
				ids = append(ids, id)
			}
		}
	}
	if len(ids) > 0 {
		f.extend(sub, ids, 0)
	}
}

// enqueue takes a response pstest sends on a stream of b's client: its messages wait in b's
// queue for room.
func (b *flowBudget) enqueue(res *pb.StreamingPullResponse, ackDeadline time.Duration) {
	q := queuedSend{res: proto.Clone(res).(*pb.StreamingPullResponse), ackDeadline: ackDeadline, since: time.Now()}
	for _, rm := range q.res.ReceivedMessages {
		q.ids = append(q.ids, rm.AckId)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.put(q, false)
}

// put adds q to the queue, last or first, and wakes a stream; a queue that was empty
// starts its deadline extensions from q's. Called with b.mu held.
func (b *flowBudget) put(q queuedSend, first bool) {
	if len(b.queue) == 0 {
		b.extendAt = time.Now().Add(q.ackDeadline / 3)
	}
	if first {
		b.queue = append([]queuedSend{q}, b.queue...)
	} else {
		b.queue = append(b.queue, q)
	}
	b.signal()
}

// signal wakes one of the streams waiting on b.
func (b *flowBudget) signal() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// next waits until b has room and a queued response, counts its messages out, and returns
// it; ctx ending (the stream closing) stops the wait. Meanwhile it forgets messages whose
// deadline lapsed and moves the queued messages' deadlines on pstest on.
func (f *finalDeliveries) next(ctx context.Context, sub string, b *flowBudget) (queuedSend, error) {
	for {
		now := time.Now()
		b.mu.Lock()
		var lapsed []string
		for id, o := range b.out {
			if now.After(o.deadline) {
				delete(b.out, id)
				lapsed = append(lapsed, id)
			}
		}
		if len(b.queue) > 0 && len(b.out) < b.limit {
			q := b.queue[0]
			b.queue = b.queue[1:]
			for _, id := range q.ids {
				b.out[id] = outMessage{now.Add(q.ackDeadline), q}
			}
			if len(b.queue) > 0 && len(b.out) < b.limit {
				b.signal() // another stream may send the next one meanwhile
			}
			b.mu.Unlock()
			f.track(sub, b, q.ids, lapsed)
			if now.Sub(q.since) > time.Second {
				f.extend(sub, q.ids, q.ackDeadline)
			}
			return q, nil
		}
		wait := time.Minute
		extend := map[time.Duration][]string{}
		if len(b.queue) > 0 {
			if !now.Before(b.extendAt) {
				d := b.queue[0].ackDeadline
				for _, q := range b.queue {
					extend[q.ackDeadline] = append(extend[q.ackDeadline], q.ids...)
					d = min(d, q.ackDeadline)
				}
				b.extendAt = now.Add(d / 3)
			}
			wait = b.extendAt.Sub(now)
		}
		for _, o := range b.out {
			wait = min(wait, o.deadline.Sub(now))
		}
		b.mu.Unlock()
		f.track(sub, b, nil, lapsed)
		for d, ids := range extend {
			f.extend(sub, ids, d)
		}
		t := time.NewTimer(max(wait, 10*time.Millisecond))
		select {
		case <-b.wake:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return queuedSend{}, ctx.Err()
		}
		t.Stop()
	}
}

// requeue puts back, first in line, a response a stream took but could not send.
func (f *finalDeliveries) requeue(sub string, b *flowBudget, q queuedSend) {
	b.mu.Lock()
	for _, id := range q.ids {
		delete(b.out, id)
	}
	b.put(q, true)
	b.mu.Unlock()
	f.track(sub, b, nil, q.ids)
}

// redeliver takes over the nack of a message out with a client that has a budget: the
// message goes back to the front of the client's queue, with its delivery attempt counted
// one more, and stays out on pstest's books, where a nacked message more than ten minutes
// old would be forgotten at once. It says whether it took the message; pstest must then
// not see the nack. Like pstest, it sends the message again at once, whatever the
// subscription's retry policy says.
func (f *finalDeliveries) redeliver(sub, id string) bool {
	k := heldKey{sub, id}
	f.mu.Lock()
	b := f.outIn[k]
	delete(f.outIn, k)
	f.mu.Unlock()
	if b == nil {
		return false
	}
	b.mu.Lock()
	o, ok := b.out[id]
	if !ok {
		b.mu.Unlock()
		return false
	}
	delete(b.out, id)
	q := queuedSend{res: proto.Clone(o.sent.res).(*pb.StreamingPullResponse), ids: []string{id}, ackDeadline: o.sent.ackDeadline, since: time.Now()}
	rms := q.res.ReceivedMessages[:0]
	for _, rm := range q.res.ReceivedMessages {
		if rm.AckId == id {
			if rm.DeliveryAttempt > 0 { // pstest counts attempts only under a dead-letter policy
				rm.DeliveryAttempt++
			}
			rms = append(rms, rm)
		}
	}
	q.res.ReceivedMessages = rms
	b.put(q, true)
	b.mu.Unlock()
	f.extend(sub, q.ids, q.ackDeadline)
	return true
}

// extend sets the ack deadline of messages on pstest to d from now (0: hands them back).
// It fails only for a subscription deleted meanwhile (pstest passes over messages it no
// longer holds): there is nothing left to deliver, so the error is not kept.
func (f *finalDeliveries) extend(sub string, ids []string, d time.Duration) {
	seconds := int32(0)
	if d > 0 {
		seconds = int32(max(d/time.Second, 1))
	}
	_, _ = f.gs.ModifyAckDeadline(context.Background(), &pb.ModifyAckDeadlineRequest{
		Subscription: sub, AckIds: ids, AckDeadlineSeconds: seconds})
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
				b.signal()
			} else {
				o := b.out[id]
				o.deadline = time.Now().Add(secs(seconds))
				b.out[id] = o
			}
		}
		b.mu.Unlock()
	}
}
