package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// abandonWait is how long Run waits for abandoned handlers to return.
const abandonWait = time.Second

// Run consumes the subscriptions by streaming pull until ctx is cancelled or a subscription
// fails. On cancellation it stops taking messages, lets in-flight work finish for up to
// ShutdownGrace, then abandons what is left (its leases lapse and the messages are
// redelivered) and returns nil. Run may be called once.
func (rt *Runtime) Run(ctx context.Context) error {
	if !rt.started.CompareAndSwap(false, true) {
		return errors.New("runner: Run called twice on one Runtime")
	}
	defer rt.stop()
	defer rt.stopPublishers()

	if err := rt.inspectSubscriptions(ctx); err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	for id, t := range rt.targets {
		maxOutstanding := 0
		if t.job != nil {
			maxOutstanding = t.job.MaxConcurrency
		}
		sub := rt.subscriber(id, maxOutstanding)
		g.Go(func() error {
			err := sub.Receive(gctx, func(mctx context.Context, m *pubsub.Message) {
				settle(m, rt.Deliver(mctx, fromPubSub(id, m)))
			})
			if err != nil {
				return fmt.Errorf("receive %s: %w", id, err)
			}
			return nil
		})
	}
	err := g.Wait()
	rt.soft.stop()
	// Receive returned: either every handler finished or the grace period is over and the
	// library let go of the rest. Whatever still runs is abandoned: its context ends, and
	// it records nothing. Give it a moment to return so that its log line is written.
	rt.stop()
	done := make(chan struct{})
	go func() { rt.inflight.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(abandonWait):
	}
	return err
}

// settle carries out the runtime's decision on a pulled message. It is the only place
// where the pull transport acks or nacks.
func settle(m *pubsub.Message, s Settlement) {
	if s == Ack {
		m.Ack()
		return
	}
	m.Nack()
}

// fromPubSub is the Delivery of a pulled message.
func fromPubSub(subscription string, m *pubsub.Message) Delivery {
	d := Delivery{ID: m.ID, Data: m.Data, Attributes: m.Attributes, PublishTime: m.PublishTime, Subscription: subscription}
	if m.DeliveryAttempt != nil {
		d.DeliveryAttempt = *m.DeliveryAttempt
	}
	return d
}

// inspectSubscriptions checks that every job subscription exists and reads its
// dead-letter policy (maxDelivery). A consumer allowed only to consume (no
// pubsub.subscriptions.get) goes on without it: the policy then acts unannounced.
func (rt *Runtime) inspectSubscriptions(ctx context.Context) error {
	rt.maxDelivery = map[string]int{}
	admin := rt.opts.PubSub.SubscriptionAdminClient
	for _, spec := range rt.jobs {
		id := rt.opts.Names.Subscription(spec.Ref())
		sub, err := admin.GetSubscription(ctx, &pubsubpb.GetSubscriptionRequest{
			Subscription: "projects/" + rt.project + "/subscriptions/" + id,
		})
		switch status.Code(err) {
		case codes.OK:
			rt.maxDelivery[id] = int(sub.GetDeadLetterPolicy().GetMaxDeliveryAttempts())
		case codes.NotFound:
			return fmt.Errorf("subscription %s of job %s does not exist: apply the topology (infra apply) for prefix %q", id, spec.Ref(), rt.opts.Names.Prefix)
		default:
			rt.log.LogAttrs(ctx, slog.LevelWarn, "cannot read subscription settings; relying on its dead-letter policy unannounced",
				slog.String("subscription", id), slog.String("err", err.Error()))
		}
	}
	return nil
}

func (rt *Runtime) subscriber(id string, maxOutstanding int) *pubsub.Subscriber {
	sub := rt.opts.PubSub.Subscriber(id)
	sub.ReceiveSettings.NumGoroutines = rt.opts.Streams
	if maxOutstanding > 0 {
		sub.ReceiveSettings.MaxOutstandingMessages = maxOutstanding
	}
	sub.ReceiveSettings.ShutdownOptions = &pubsub.ShutdownOptions{
		Behavior: pubsub.ShutdownBehaviorWaitForProcessing,
		Timeout:  rt.opts.ShutdownGrace,
	}
	return sub
}
