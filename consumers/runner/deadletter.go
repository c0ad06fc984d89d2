package runner

import (
	"context"
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

// deadLetter publishes the delivered message to the dead-letter topic, body and attributes
// unchanged, with why in added attributes.
func (rt *Runtime) deadLetter(ctx context.Context, d Delivery, reason string, cause error) error {
	attrs := maps.Clone(d.Attributes)
	if attrs == nil {
		attrs = map[string]string{}
	}
	attrs[AttrReason] = reason
	attrs[AttrError] = ledger.ErrorText(cause, maxErrorAttr)
	attrs[AttrSubscription] = d.Subscription
	attrs[AttrDeliveryAttempt] = strconv.Itoa(d.DeliveryAttempt)
	attrs[AttrMessageID] = d.ID
	return rt.publish(ctx, outgoing{topic: rt.opts.Names.DeadLetterTopic(), msg: &pubsub.Message{Data: d.Data, Attributes: attrs}})
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
