package emulators

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
)

// PubSub is a running Pub/Sub emulator.
type PubSub struct {
	// Server gives tests direct access to the fake (published messages, injected errors).
	Server *pstest.Server
	grpc   *grpc.Server
	lis    net.Listener
	final  *finalDeliveries
}

// StartPubSub serves the Pub/Sub emulator on addr ("host:port"; port 0 picks a free one).
//
// pstest's own server answers a StreamingPull keep-alive ping with a blocking send while
// it holds its one server-wide lock; when the client closes that stream at the same moment
// (it does so when pings go unanswered for a while under load), nothing ever receives, and
// every publish, ack and pull of every subscription waits forever. Seen here in a season
// backfill. So the fake is served by our own gRPC server, whose interceptor answers the
// pings itself and never passes them to pstest.
//
// The same interceptors take over each message's last delivery under a dead-letter policy
// (see finalDeliveries), because pstest forwards a dead-lettered message again on every
// delivery pass, a hundred times a second, for as long as it keeps it; and they hold each
// client to the messages it said it takes at once (pubsubflow.go), which pstest ignores.
func StartPubSub(addr string) (*PubSub, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("pubsub emulator on %s: %w", addr, err)
	}
	fake := pstest.NewServer() // its own listener on a spare port stays unused
	final := newFinalDeliveries(&fake.GServer)
	g := grpc.NewServer(grpc.StreamInterceptor(final.streamInterceptor), grpc.UnaryInterceptor(final.unaryInterceptor))
	pb.RegisterPublisherServer(g, &fake.GServer)
	pb.RegisterSubscriberServer(g, &fake.GServer)
	pb.RegisterSchemaServiceServer(g, &fake.GServer)
	go func() { _ = g.Serve(lis) }()
	fake.Addr = lis.Addr().String()
	return &PubSub{Server: fake, grpc: g, lis: lis, final: final}, nil
}

// Host is the "host:port" to put in PUBSUB_EMULATOR_HOST.
func (p *PubSub) Host() string { return p.lis.Addr().String() }

// Close stops the server; open streams are cut. It reports a dead letter that could not
// be forwarded (its topic was deleted).
func (p *PubSub) Close() error {
	p.grpc.Stop()
	ferr := p.final.close()
	if err := p.Server.Close(); err != nil {
		return fmt.Errorf("stop pubsub emulator: %w", err)
	}
	return ferr
}

const streamingPull = "/google.pubsub.v1.Subscriber/StreamingPull"

// pingAnswerer answers keep-alive pings (requests with nothing to ack or modify, after the
// first) on the stream itself. gRPC allows one sender at a time, and pstest sends from its
// own goroutine, so sends are serialised. It also tells final of every message the stream
// delivers and of every ack and deadline change sent on it, and sends the messages pstest
// gives it through its client's flow-control budget (pubsubflow.go).
type pingAnswerer struct {
	grpc.ServerStream
	final   *finalDeliveries
	sendMu  sync.Mutex
	started bool
	// sub and ackDeadline are the stream's subscription and ack deadline (which the client
	// may change on any request, a ping included).
	mu          sync.Mutex
	sub         string
	ackDeadline time.Duration
	// client and budget are the stream's client and the flow-control budget its streams
	// on the subscription share (pubsubflow.go), set by the first request.
	client string
	budget *flowBudget
	// drainCtx ends when the stream does; drained waits for the stream's sender of queued
	// messages (drain) to return.
	drainCtx context.Context
	drained  sync.WaitGroup
}

// SendMsg sends what pstest sends on the stream: pings at once, messages through the
// client's flow-control budget when it has one (pubsubflow.go).
func (p *pingAnswerer) SendMsg(m any) error {
	res, ok := m.(*pb.StreamingPullResponse)
	if !ok || len(res.ReceivedMessages) == 0 {
		return p.send(m, "", 0)
	}
	p.mu.Lock()
	sub, d, budget := p.sub, p.ackDeadline, p.budget
	p.mu.Unlock()
	if d <= 0 {
		d = pstestAckDeadline
	}
	if budget != nil && budget.limit > 0 {
		budget.enqueue(res, d)
		return nil
	}
	return p.send(res, sub, d)
}

// send sends m on the stream, telling final of the messages it delivers to sub with ack
// deadline d.
func (p *pingAnswerer) send(m any, sub string, d time.Duration) error {
	p.sendMu.Lock()
	defer p.sendMu.Unlock()
	if res, ok := m.(*pb.StreamingPullResponse); ok && len(res.ReceivedMessages) > 0 {
		p.final.delivered(sub, res.ReceivedMessages, d)
	}
	return p.ServerStream.SendMsg(m)
}

// drain sends the client's queued messages on this stream while its budget has room, until
// ctx ends; what it took and could not send goes back to the queue.
func (p *pingAnswerer) drain(ctx context.Context, sub string, b *flowBudget) {
	for {
		q, err := p.final.next(ctx, sub, b)
		if err != nil {
			return
		}
		if err := p.send(q.res, sub, q.ackDeadline); err != nil {
			p.final.requeue(sub, b, q)
			return
		}
	}
}

// pstestAckDeadline is pstest's ack deadline when neither the subscription nor the stream
// sets one.
const pstestAckDeadline = 10 * time.Second

func (p *pingAnswerer) RecvMsg(m any) error {
	for {
		if err := p.ServerStream.RecvMsg(m); err != nil {
			return err
		}
		req, ok := m.(*pb.StreamingPullRequest)
		if !ok {
			return nil
		}
		p.mu.Lock()
		if !p.started {
			p.sub, p.client = req.Subscription, req.ClientId
			if p.client == "" {
				p.client = fmt.Sprintf("stream %p", p) // a client that does not name itself: its own budget
			}
			p.budget = p.final.budgetFor(p.sub, p.client, req.MaxOutstandingMessages)
			if p.budget.limit > 0 {
				p.drained.Add(1)
				go func(sub string, b *flowBudget) {
					defer p.drained.Done()
					p.drain(p.drainCtx, sub, b)
				}(p.sub, p.budget)
			}
		}
		if req.StreamAckDeadlineSeconds > 0 {
			p.ackDeadline = secs(req.StreamAckDeadlineSeconds)
		}
		sub := p.sub
		p.mu.Unlock()
		if !p.started {
			p.started = true
			return nil
		}
		if len(req.AckIds) > 0 || len(req.ModifyDeadlineAckIds) > 0 {
			p.final.acked(sub, req.AckIds)
			var ids []string
			var seconds []int32
			for i, id := range req.ModifyDeadlineAckIds {
				if i < len(req.ModifyDeadlineSeconds) {
					if len(p.final.modified(sub, []string{id}, req.ModifyDeadlineSeconds[i])) > 0 {
						ids, seconds = append(ids, id), append(seconds, req.ModifyDeadlineSeconds[i])
					}
				}
			}
			req.ModifyDeadlineAckIds, req.ModifyDeadlineSeconds = ids, seconds
			if len(req.AckIds) == 0 && len(ids) == 0 {
				continue // nothing left for pstest, which would take it for a ping
			}
			return nil
		}
		if err := p.SendMsg(&pb.StreamingPullResponse{}); err != nil {
			return err
		}
	}
}

func secs(n int32) time.Duration { return time.Duration(n) * time.Second }

// finalDeliveries takes over, from pstest, each message's last delivery on a subscription
// with a dead-letter policy, so that a message is dead-lettered once, as Pub/Sub does.
//
// pstest forwards a message to the dead-letter topic when it finds it undelivered with
// its attempts used up, and then acknowledges it by its bare message id; but the message
// holds the ack id of its last delivery (or none after a nack), so that acknowledgement is
// ignored, the message stays, and the next delivery pass, 10 ms later, forwards it again.
// An acknowledgement with the message's real ack id works, but only while the message is
// out on its last delivery: once nacked it has no ack id at all, and once its deadline has
// lapsed pstest forwards it within 10 ms. So the last delivery is taken at the moment it
// goes out: acknowledged on pstest with its real ack id (pstest forgets the message), and
// held here until the client settles it: an ack ends it, a nack or a lapsed ack deadline
// forwards it to the dead-letter topic, and a deadline extension moves the deadline.
//
// The forwarded copy carries the message's data, attributes and ordering key, plus the
// CloudPubSubDeadLetterSource* attributes that Pub/Sub and the official emulator add; it is
// a new message on the dead-letter topic, so Server.Messages lists it there. pstest counts
// the held message acknowledged from the moment it goes out.
//
// Only the attempt that reaches MaxDeliveryAttempts is held, by pstest's own count (which
// it keeps per topic, not per subscription); everything else stays pstest's, including a
// message whose count another subscription of its topic used up: pstest dead-letters that
// one from a subscription that never delivered it, once, since its ack id is still the
// bare message id there.
type finalDeliveries struct {
	gs *pstest.GServer

	mu     sync.Mutex
	held   map[heldKey]*heldMessage
	errs   []error
	closed bool
	// budgets are the flow-control budgets of the clients' streams, and outIn the budget
	// each message out with a client counts against (pubsubflow.go).
	budgets map[flowKey]*flowBudget
	outIn   map[heldKey]*flowBudget
}

type heldKey struct{ sub, ackID string }

// heldMessage is a last delivery out with a client: what to forward where, and when its
// ack deadline lapses.
type heldMessage struct {
	msg        *pb.PubsubMessage
	attempt    int32
	deadLetter string
	timer      *time.Timer
}

func newFinalDeliveries(gs *pstest.GServer) *finalDeliveries {
	return &finalDeliveries{gs: gs, held: map[heldKey]*heldMessage{}, budgets: map[flowKey]*flowBudget{}, outIn: map[heldKey]*flowBudget{}}
}

// delivered is called with every batch of messages going out to a client of sub, before
// the client has them; ackDeadline is how long the client has to settle them.
func (f *finalDeliveries) delivered(sub string, rms []*pb.ReceivedMessage, ackDeadline time.Duration) {
	f.takeLast(sub, rms, ackDeadline)
}

// takeLast takes over those of rms that are their message's last delivery under sub's
// dead-letter policy: each is acknowledged on pstest with its own ack id and held here, to
// be forwarded to the dead-letter topic once after d unless the client settles it first (0:
// at once). It returns the ack ids it took.
func (f *finalDeliveries) takeLast(sub string, rms []*pb.ReceivedMessage, d time.Duration) map[string]bool {
	var policy *pb.DeadLetterPolicy
	taken := map[string]bool{}
	for _, rm := range rms {
		// pstest fills DeliveryAttempt only on subscriptions with a dead-letter policy.
		if rm.DeliveryAttempt <= 0 || rm.Message == nil {
			continue
		}
		if policy == nil {
			s, err := f.gs.GetSubscription(context.Background(), &pb.GetSubscriptionRequest{Subscription: sub})
			if err != nil || s.DeadLetterPolicy == nil {
				return taken
			}
			policy = proto.Clone(s.DeadLetterPolicy).(*pb.DeadLetterPolicy)
		}
		if policy.MaxDeliveryAttempts <= 0 || rm.DeliveryAttempt < policy.MaxDeliveryAttempts {
			continue
		}
		if _, err := f.gs.Acknowledge(context.Background(), &pb.AcknowledgeRequest{Subscription: sub, AckIds: []string{rm.AckId}}); err != nil {
			continue // the subscription is gone: nothing to forward from
		}
		taken[rm.AckId] = true
		k := heldKey{sub, rm.AckId}
		h := &heldMessage{msg: proto.Clone(rm.Message).(*pb.PubsubMessage), attempt: rm.DeliveryAttempt, deadLetter: policy.DeadLetterTopic}
		f.mu.Lock()
		if !f.closed {
			f.held[k] = h
			h.timer = time.AfterFunc(d, func() { f.forward(k, h) })
		}
		f.mu.Unlock()
	}
	return taken
}

// acked ends the last deliveries among ackIDs: the client has them.
func (f *finalDeliveries) acked(sub string, ackIDs []string) {
	f.settled(sub, ackIDs, 0)
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range ackIDs {
		k := heldKey{sub, id}
		if h := f.held[k]; h != nil {
			h.timer.Stop()
			delete(f.held, k)
		}
	}
}

// modified applies a deadline change to the messages among ackIDs, and returns those
// pstest must see it for. 0 is a nack: a last delivery is forwarded to its dead-letter
// topic now, and a message out with a client that has a flow-control budget is sent again
// by the budget (redeliver), not by pstest.
func (f *finalDeliveries) modified(sub string, ackIDs []string, seconds int32) []string {
	if seconds > 0 {
		f.settled(sub, ackIDs, seconds)
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, id := range ackIDs {
			if h := f.held[heldKey{sub, id}]; h != nil {
				h.timer.Reset(secs(seconds))
			}
		}
		return ackIDs
	}
	var pass []string
	for _, id := range ackIDs {
		k := heldKey{sub, id}
		f.mu.Lock()
		h := f.held[k]
		f.mu.Unlock()
		if h == nil && f.redeliver(sub, id) {
			continue
		}
		f.settled(sub, []string{id}, 0)
		if h != nil {
			f.forward(k, h)
		}
		pass = append(pass, id)
	}
	return pass
}

// forward publishes a held message to its dead-letter topic, once: whichever of a nack
// and a lapsed deadline comes first.
func (f *finalDeliveries) forward(k heldKey, h *heldMessage) {
	f.mu.Lock()
	if f.held[k] != h {
		f.mu.Unlock()
		return
	}
	delete(f.held, k)
	h.timer.Stop()
	f.mu.Unlock()
	m := &pb.PubsubMessage{Data: h.msg.Data, Attributes: deadLetterAttributes(h.msg, k.sub, h.attempt), OrderingKey: h.msg.OrderingKey}
	if _, err := f.gs.Publish(context.Background(), &pb.PublishRequest{Topic: h.deadLetter, Messages: []*pb.PubsubMessage{m}}); err != nil {
		f.mu.Lock()
		f.errs = append(f.errs, fmt.Errorf("dead-letter message %s of %s to %s: %w", h.msg.MessageId, k.sub, h.deadLetter, err))
		f.mu.Unlock()
	}
}

// deadLetterAttributes are a forwarded message's attributes: its own, plus the four that
// Pub/Sub (and the official emulator) add to say where it comes from.
func deadLetterAttributes(m *pb.PubsubMessage, sub string, attempt int32) map[string]string {
	a := make(map[string]string, len(m.Attributes)+4)
	for k, v := range m.Attributes {
		a[k] = v
	}
	// sub is "projects/<project>/subscriptions/<name>".
	parts := strings.Split(sub, "/")
	a["CloudPubSubDeadLetterSourceSubscription"] = parts[len(parts)-1]
	if len(parts) == 4 {
		a["CloudPubSubDeadLetterSourceSubscriptionProject"] = parts[1]
	}
	a["CloudPubSubDeadLetterSourceDeliveryCount"] = strconv.Itoa(int(attempt))
	if m.PublishTime != nil {
		a["CloudPubSubDeadLetterSourceTopicPublishTime"] = m.PublishTime.AsTime().UTC().Format("2006-01-02T15:04:05.000Z07:00")
	}
	return a
}

// close stops the deadline timers; messages still held are lost with the emulator, as
// everything else in it.
func (f *finalDeliveries) close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	for k, h := range f.held {
		h.timer.Stop()
		delete(f.held, k)
	}
	return errors.Join(f.errs...)
}

// streamInterceptor wraps every StreamingPull stream in a pingAnswerer.
func (f *finalDeliveries) streamInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if info.FullMethod != streamingPull {
		return handler(srv, ss)
	}
	ctx, cancel := context.WithCancel(ss.Context())
	p := &pingAnswerer{ServerStream: ss, final: f, drainCtx: ctx}
	err := handler(srv, p)
	// The stream's sender stops before its budget may be dropped, so that nothing it took
	// is left queued on a budget no stream uses.
	cancel()
	p.drained.Wait()
	p.mu.Lock()
	sub, client, budget := p.sub, p.client, p.budget
	p.mu.Unlock()
	if budget != nil {
		f.dropBudget(sub, client, budget)
	}
	return err
}

// unaryInterceptor sees the unary calls that deliver or settle messages: Pull, and the
// Acknowledge and ModifyAckDeadline calls by which the Go client settles what a stream
// delivered.
func (f *finalDeliveries) unaryInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	switch r := req.(type) {
	case *pb.AcknowledgeRequest:
		f.acked(r.Subscription, r.AckIds)
	case *pb.ModifyAckDeadlineRequest:
		pass := f.modified(r.Subscription, r.AckIds, r.AckDeadlineSeconds)
		if len(pass) == 0 && len(r.AckIds) > 0 {
			return &emptypb.Empty{}, nil
		}
		if len(pass) < len(r.AckIds) {
			r = proto.Clone(r).(*pb.ModifyAckDeadlineRequest)
			r.AckIds = pass
			req = r
		}
	}
	res, err := handler(ctx, req)
	if pr, ok := res.(*pb.PullResponse); ok && err == nil && len(pr.ReceivedMessages) > 0 {
		sub := req.(*pb.PullRequest).Subscription
		d := pstestAckDeadline
		if s, err := f.gs.GetSubscription(ctx, &pb.GetSubscriptionRequest{Subscription: sub}); err == nil && s.AckDeadlineSeconds > 0 {
			d = secs(s.AckDeadlineSeconds)
		}
		f.delivered(sub, pr.ReceivedMessages, d)
	}
	return res, err
}
