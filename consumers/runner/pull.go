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

// decideAhead is how many deliveries of a job subscription the pull client hands the
// runtime beyond the job's MaxConcurrency. MaxConcurrency bounds the job's runs (runSlot),
// not its deliveries: most deliveries of a job with several upstreams end without a run
// (an upstream still on its way, or the date already done), and they are decided while
// the runs hold every slot instead of queueing behind them. What one consumer holds stays
// bounded by the catalogue.
const decideAhead = 4

// Run consumes the subscriptions by streaming pull until ctx is cancelled or a subscription
// fails. On cancellation it stops taking messages, lets in-flight work finish for up to
// ShutdownGrace, then abandons what is left (its leases lapse and the messages are
// redelivered) and returns nil. Run may be called once.
func (rt *Runtime) Run(ctx context.Context) error {
	if !rt.started.CompareAndSwap(false, true) {
		return errors.New("runner: Run called twice on one Runtime")
	}
	defer rt.Close()
	if err := rt.Prepare(ctx); err != nil {
		return err
	}
	rt.lanes.on.Store(true) // backfill deliveries wait for daily ones (lanes.go)
	g, gctx := errgroup.WithContext(ctx)
	for id, t := range rt.targets {
		maxOutstanding := 0
		if t.job != nil {
			maxOutstanding = t.job.MaxConcurrency + decideAhead
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
	if rt.opts.ReconcileEvery > 0 {
		g.Go(func() error { rt.reconcileEvery(gctx); return nil })
	}
	// Receive returns when every handler finished or the grace period is over and the
	// library let go of the rest; Close abandons whatever still runs.
	return g.Wait()
}

// Close ends the runtime's work once its transport has stopped delivering: work still in
// flight is abandoned (its context ends and its lease is handed back), and the publishers
// flush. Run calls it on return; a push server
// calls it when its grace period is over. Close waits a moment for abandoned work to
// return, so that its log lines are written.
func (rt *Runtime) Close() {
	rt.closeOnce.Do(func() {
		rt.stop()
		done := make(chan struct{})
		go func() { rt.inflight.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(abandonWait):
		}
		rt.stopPublishers()
	})
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

// Prepare checks that every job subscription exists and reads its dead-letter policy, so
// that the runtime dead-letters a message with its reason on the last delivery attempt
// instead of leaving it to the policy, which gives none. Run calls it; a push server calls
// it before it serves. A consumer allowed only to consume (no pubsub.subscriptions.get)
// goes on without it: the policy then acts unannounced.
func (rt *Runtime) Prepare(ctx context.Context) error {
	maxDelivery := map[string]int{}
	defer func() {
		rt.mu.Lock()
		rt.maxDelivery = maxDelivery
		rt.mu.Unlock()
	}()
	admin := rt.opts.PubSub.SubscriptionAdminClient
	for id, t := range rt.targets {
		if t.job == nil {
			continue
		}
		sub, err := admin.GetSubscription(ctx, &pubsubpb.GetSubscriptionRequest{
			Subscription: "projects/" + rt.project + "/subscriptions/" + id,
		})
		switch status.Code(err) {
		case codes.OK:
			maxDelivery[id] = int(sub.GetDeadLetterPolicy().GetMaxDeliveryAttempts())
		case codes.NotFound:
			return fmt.Errorf("subscription %s of job %s does not exist: apply the topology (infra apply) for prefix %q", id, t.job.Ref(), rt.opts.Names.Prefix)
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
