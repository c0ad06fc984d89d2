package runner

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"cloud.google.com/go/pubsub/v2"
	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/messages"
)

// outgoing is a message the runtime publishes, with its topic.
type outgoing struct {
	topic string
	req   messages.Request
	msg   *pubsub.Message
}

// message encodes req for its phase topic. Every message the runtime publishes for a job
// is built here; publish gives it the trace context.
func (rt *Runtime) message(_ context.Context, req messages.Request) (outgoing, error) {
	body, attrs, err := messages.Encode(req, rt.opts.Catalog)
	if err != nil {
		return outgoing{}, err
	}
	return outgoing{topic: rt.opts.Names.Topic(req.Phase), req: req, msg: &pubsub.Message{Data: body, Attributes: attrs}}, nil
}

// downstream builds the messages for the downstream jobs req may reach (its StopAfter).
func (rt *Runtime) downstream(ctx context.Context, req messages.Request) ([]outgoing, error) {
	var out []outgoing
	for _, to := range rt.opts.Catalog.Downstream(req.Ref()) {
		if !req.Reaches(to.Phase) {
			continue
		}
		m, err := rt.message(ctx, req.Next(to))
		if err != nil {
			return nil, fmt.Errorf("emit to %s: %w", to, err)
		}
		out = append(out, m)
	}
	return out, nil
}

// emitIfNeeded publishes the downstream messages of a done record whose messages are not
// out yet (a run that crashed between recording and emitting), and marks them emitted.
func (rt *Runtime) emitIfNeeded(ctx context.Context, req messages.Request, rec ledger.Record, gen int64) error {
	if rec.EmittedFor(req.StopAfter) {
		return nil
	}
	next, err := rt.downstream(ctx, req)
	if err != nil {
		return err
	}
	return rt.emit(ctx, req, rec, gen, next)
}

// emit publishes next, waits for every result, then marks the record emitted. A record
// already emitted is left alone.
func (rt *Runtime) emit(ctx context.Context, req messages.Request, rec ledger.Record, gen int64, next []outgoing) error {
	if rec.EmittedFor(req.StopAfter) {
		return nil
	}
	if err := rt.publish(ctx, next...); err != nil {
		return fmt.Errorf("emit downstream: %w", err)
	}
	// The messages are out. If marking fails (a concurrent duplicate marked it first, or a
	// transient error), a redelivery emits again, which downstream ledgers absorb.
	_, err := rt.ledger.Write(ctx, rec.MarkEmittedThrough(req.StopAfter, rt.ledger.Now()), gen)
	if err != nil && !errors.Is(err, ledger.ErrConflict) {
		return fmt.Errorf("mark emitted: %w", err)
	}
	return nil
}

// notifySoftDependents tells the jobs that use req's job as a soft upstream that it died
// for the date: one of them waiting for it stops waiting and runs without it, instead of
// at the end of its SoftWait.
func (rt *Runtime) notifySoftDependents(ctx context.Context, req messages.Request) error {
	var out []outgoing
	for _, to := range rt.opts.Catalog.Downstream(req.Ref()) {
		spec, _ := rt.opts.Catalog.Lookup(to)
		if !req.Reaches(to.Phase) || !slices.Contains(spec.Soft, req.Ref()) {
			continue
		}
		m, err := rt.message(ctx, req.Next(to))
		if err != nil {
			return fmt.Errorf("notify %s that %s died: %w", to, req.Ref(), err)
		}
		out = append(out, m)
	}
	if err := rt.publish(ctx, out...); err != nil {
		return fmt.Errorf("notify soft dependents that %s died: %w", req.Ref(), err)
	}
	return nil
}

// publish sends every message and waits for all results. Each message carries the trace
// context of its publish span (the W3C traceparent the Pub/Sub client uses), a child of
// the delivery's, so that one date can be followed through every phase.
func (rt *Runtime) publish(ctx context.Context, msgs ...outgoing) error {
	ctx, cancel := context.WithTimeout(ctx, rt.opts.PublishTimeout)
	defer cancel()
	results := make([]*pubsub.PublishResult, len(msgs))
	ends := make([]func(error), len(msgs))
	for i, m := range msgs {
		ends[i] = rt.publishSpan(ctx, m)
		results[i] = rt.publisher(m.topic).Publish(ctx, m.msg)
	}
	var errs []error
	for i, r := range results {
		_, err := r.Get(ctx)
		ends[i](err)
		if err != nil {
			errs = append(errs, fmt.Errorf("publish to %s: %w", msgs[i].topic, err))
		}
	}
	return errors.Join(errs...)
}

func (rt *Runtime) publisher(topic string) *pubsub.Publisher {
	rt.pubMu.Lock()
	defer rt.pubMu.Unlock()
	p, ok := rt.publishers[topic]
	if !ok {
		p = rt.opts.PubSub.Publisher(topic)
		rt.publishers[topic] = p
	}
	return p
}

func (rt *Runtime) stopPublishers() {
	rt.pubMu.Lock()
	ps := slices.Collect(maps.Values(rt.publishers))
	rt.publishers = map[string]*pubsub.Publisher{}
	rt.pubMu.Unlock()
	for _, p := range ps {
		p.Stop()
	}
}
