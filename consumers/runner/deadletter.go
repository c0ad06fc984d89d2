package runner

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"

	"cloud.google.com/go/pubsub/v2"
	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/messages"
)

// Dead-letter attribute keys and the reason codes of the runtime itself (decode failures
// use messages.Reason codes).
const (
	AttrReason          = "reason"
	AttrError           = "error"
	AttrSubscription    = "subscription"
	AttrDeliveryAttempt = "delivery_attempt"
	AttrMessageID       = "message_id"

	ReasonJobError    = "job_error"    // the job returned a Permanent error
	ReasonMaxAttempts = "max_attempts" // transient errors until the attempt bound
)

// maxErrorAttr bounds the error text in a dead-letter attribute.
const maxErrorAttr = 1000

// deadLetter keeps the delivered message in the bucket's dead-letter store with why, then
// publishes it to the dead-letter topic, body and attributes unchanged, with why in added
// attributes. The store comes first: whatever the topic's subscriptions retain, the
// message and its reason are kept.
func (rt *Runtime) deadLetter(ctx context.Context, d Delivery, reason string, cause error) error {
	errText := ledger.ErrorText(cause, maxErrorAttr)
	if _, err := rt.ledger.PutDeadLetter(ctx, deadLetterOf(d, reason, errText)); err != nil {
		return err
	}
	attrs := maps.Clone(d.Attributes)
	if attrs == nil {
		attrs = map[string]string{}
	}
	attrs[AttrReason] = reason
	attrs[AttrError] = errText
	attrs[AttrSubscription] = d.Subscription
	attrs[AttrDeliveryAttempt] = strconv.Itoa(d.DeliveryAttempt)
	attrs[AttrMessageID] = d.ID
	return rt.publish(ctx, outgoing{topic: rt.opts.Names.DeadLetterTopic(), msg: &pubsub.Message{Data: d.Data, Attributes: attrs}})
}

// deadLetterOf is the stored form of a delivery dead-lettered for reason.
func deadLetterOf(d Delivery, reason, errText string) ledger.DeadLetter {
	a := d.Attributes
	return ledger.DeadLetter{MessageID: d.ID, Reason: reason, Error: errText, Subscription: d.Subscription,
		DeliveryAttempt: d.DeliveryAttempt, Phase: a[messages.AttrPhase], Job: a[messages.AttrJob],
		Date: a[messages.AttrDate], RunID: a[messages.AttrRunID], Attributes: a, Data: d.Data}
}

// ReasonDeliveryLimit is the reason of a message that a subscription's dead-letter policy
// forwarded by itself (its delivery attempts ran out without the runtime giving up on it).
const ReasonDeliveryLimit = "delivery_limit"

// keepDeadLetter handles a delivery of the dead-letter subscription. A message the runtime
// dead-lettered is in the store already (the put is a no-op). One that a subscription's
// policy forwarded on its own carries no reason: its deliveries ran out, not its runs (a
// consumer killed with the message in its buffer, a store that kept failing). A valid
// request whose date still has runs left is recorded failed and sent again; one whose
// runs are spent is recorded dead with ReasonDeliveryLimit and kept; junk is kept, and no
// ledger record is touched.
func (rt *Runtime) keepDeadLetter(ctx context.Context, d Delivery) handling {
	h := handling{ref: messages.Ref(messages.Phase(d.Attributes[messages.AttrPhase]), d.Attributes[messages.AttrJob]),
		date: d.Attributes[messages.AttrDate], outcome: OutcomeDead, reason: d.Attributes[AttrReason]}
	if h.reason != "" {
		stored := deadLetterOf(d, h.reason, d.Attributes[AttrError])
		stored.MessageID, stored.Subscription = firstNonEmpty(d.Attributes[AttrMessageID], d.ID), d.Attributes[AttrSubscription]
		if _, err := rt.ledger.PutDeadLetter(ctx, stored); err != nil {
			h.outcome, h.err = OutcomeNotHandled, err
		}
		return h
	}
	h.reason = ReasonDeliveryLimit
	h.err = errors.New("the subscription's dead-letter policy forwarded it after its last delivery attempt")
	req, err := messages.Decode(d.Data, d.Attributes, rt.opts.Catalog)
	if err != nil {
		if _, err := rt.ledger.PutDeadLetter(ctx, deadLetterOf(d, h.reason, h.err.Error())); err != nil {
			h.outcome, h.err = OutcomeNotHandled, err
		}
		return h
	}
	h.req, h.ref, h.date = req, req.Ref(), req.Date
	resend, err := rt.deliveryLimit(ctx, req, h.err)
	switch {
	case err != nil:
		h.outcome, h.err = OutcomeNotHandled, err
	case resend:
		h.outcome, h.reason = OutcomeDeferred, ""
	default:
		if _, err := rt.ledger.PutDeadLetter(ctx, deadLetterOf(d, h.reason, h.err.Error())); err != nil {
			h.outcome, h.err = OutcomeNotHandled, err
		}
	}
	return h
}

// deliveryLimit records what a policy-forwarded request means for its date: for a date
// that is done, its downstream messages are sent if they are not out yet; nothing for a
// date running or dead; failed and sent again while runs remain (unless it was re-sent
// within the redrive spacing: the reconciler then sends it later), dead with
// ReasonDeliveryLimit once they are spent. It reports whether the date goes on.
func (rt *Runtime) deliveryLimit(ctx context.Context, req messages.Request, cause error) (resend bool, err error) {
	for range casRetries {
		rec, gen, err := rt.ledger.Get(ctx, req.Ref(), req.Date)
		switch {
		case errors.Is(err, ledger.ErrNotFound):
			rec = ledger.Record{Phase: req.Phase, Job: req.Job, Date: req.Date}
		case err != nil:
			return false, err
		}
		now := rt.ledger.Now()
		if rec.State.Done() {
			// Its deliveries may have run out on emitting: emit what is not out yet.
			return true, rt.emitIfNeeded(ctx, req, rec, gen)
		}
		if rec.State == ledger.StateDead || rec.LeaseLive(now) {
			return true, nil
		}
		if rec.Attempts >= rt.opts.MaxAttempts {
			_, err = rt.ledger.Write(ctx, rec.For(req).Die(ReasonDeliveryLimit, cause, now), gen)
		} else {
			if !rec.Redriven.IsZero() && now.Sub(rec.Redriven) < rt.redriveSpacing() {
				return true, nil
			}
			next := rec.For(req)
			if next.State != ledger.StateWaiting {
				next = next.Fail(cause, now)
			}
			next.Redriven = now
			if _, err = rt.ledger.Write(ctx, next, gen); err == nil {
				m, merr := rt.message(ctx, next.Request())
				if merr == nil {
					merr = rt.publish(ctx, m)
				}
				return true, merr
			}
		}
		if !errors.Is(err, ledger.ErrConflict) {
			return false, err
		}
	}
	return false, fmt.Errorf("record %s %s: lost %d compare-and-swap races", req.Ref(), req.Date, casRetries)
}

// reject dead-letters a delivery that cannot be processed (it does not decode, or asks
// for what the job cannot do) with its reason. It changes no ledger record.
func (rt *Runtime) reject(ctx context.Context, d Delivery, h handling, cause error) handling {
	h.reason = reasonOf(cause)
	h.outcome, h.err = OutcomeDead, cause
	if err := rt.deadLetter(ctx, d, h.reason, cause); err != nil {
		h.outcome, h.err = OutcomeNotHandled, fmt.Errorf("%w; dead-lettering failed: %w", cause, err)
	}
	return h
}

// reasonOf is the dead-letter reason code of a decode or validation error.
func reasonOf(err error) string {
	if r := messages.Reason(err); r != "" {
		return r
	}
	return "malformed"
}

// handleUnroutable acks what a job subscription of the phase takes and dead-letters what
// none would: Pub/Sub drops a message that matches no subscription filter.
func (rt *Runtime) handleUnroutable(ctx context.Context, phase messages.Phase, d Delivery) handling {
	job := d.Attributes[messages.AttrJob]
	h := handling{ref: messages.Ref(phase, job), date: d.Attributes[messages.AttrDate]}
	if _, ok := rt.opts.Catalog.Lookup(h.ref); ok {
		h.outcome = OutcomeRouted
		return h
	}
	var cause error
	if job == "" {
		if _, err := messages.Decode(d.Data, d.Attributes, rt.opts.Catalog); err != nil {
			cause = fmt.Errorf("no job attribute, and the body does not decode: %w", err)
		} else {
			cause = fmt.Errorf("%w: no job attribute, so no job subscription of %s takes the message", messages.ErrMalformed, rt.opts.Names.Topic(phase))
		}
	} else {
		_, err := rt.opts.Catalog.Job(phase, job)
		cause = fmt.Errorf("no job subscription of %s takes job %q: %w", rt.opts.Names.Topic(phase), job, err)
	}
	h = rt.reject(ctx, d, h, cause)
	if h.outcome == OutcomeDead {
		h.outcome = OutcomeUnroutable
	}
	return h
}
