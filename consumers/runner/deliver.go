package runner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/messages"
)

// Outcome says what the runtime did with one delivery; it is the "outcome" of the log line
// and decides the Settlement.
type Outcome string

// The outcomes, one per row of the contract table (package documentation).
const (
	OutcomeSucceeded  Outcome = "succeeded"   // ran, recorded, emitted
	OutcomeDuplicate  Outcome = "duplicate"   // done with the same input (emitted if needed)
	OutcomeWaiting    Outcome = "waiting"     // an upstream is not done: recorded waiting
	OutcomeDead       Outcome = "dead"        // permanent error: dead-lettered (and recorded, for a run)
	OutcomeRetry      Outcome = "retry"       // transient error: recorded failed
	OutcomeDeferred   Outcome = "deferred"    // transient error on the last delivery: recorded failed, re-sent by the reconciler
	OutcomeLeaseHeld  Outcome = "lease_held"  // another consumer runs the date: acked, the ledger has it
	OutcomeAbandoned  Outcome = "abandoned"   // shutdown: nothing recorded
	OutcomeRouted     Outcome = "routed"      // another subscription takes the message
	OutcomeCancelled  Outcome = "cancelled"   // the message's run was cancelled: dropped
	OutcomeUnroutable Outcome = "unroutable"  // catch-all: no job subscription takes it, dead-lettered
	OutcomeNotHandled Outcome = "not_handled" // infrastructure error before a decision
)

// settlements is the one table from an outcome to what the transport does with the
// delivery. Everything acked is either done or recorded in the ledger (or the dead-letter
// topic) for later; everything handed back is redelivered by Pub/Sub.
var settlements = map[Outcome]Settlement{
	OutcomeSucceeded:  Ack,
	OutcomeDuplicate:  Ack,
	OutcomeWaiting:    Ack,
	OutcomeDead:       Ack,
	OutcomeRouted:     Ack,
	OutcomeUnroutable: Ack,
	OutcomeLeaseHeld:  Ack,
	OutcomeCancelled:  Ack,
	OutcomeDeferred:   Ack,
	OutcomeRetry:      Nack,
	OutcomeNotHandled: Nack,
	OutcomeAbandoned:  Busy,
}

// Settlement is how a delivery that ended with the outcome is settled. An outcome missing
// from the table hands the delivery back: nothing is lost for a forgotten row.
func (o Outcome) Settlement() Settlement {
	if s, ok := settlements[o]; ok {
		return s
	}
	return Nack
}

// handling is what the runtime did with one delivery: the outcome and what its log line
// says.
type handling struct {
	req     messages.Request
	ref     messages.JobRef
	date    string
	outcome Outcome
	state   ledger.State
	attempt int
	rows    int64
	err     error
	reason  string
}

// Deliver handles one delivery of a subscription this runtime serves and returns how the
// transport settles it. It never acks or nacks itself: streaming pull and HTTP push carry
// out the Settlement. ctx is the delivery's context: its cancellation means the transport
// is shutting down (a held lease is then no longer waited for), but work already started
// goes on until the shutdown grace period ends.
func (rt *Runtime) Deliver(ctx context.Context, d Delivery) Settlement {
	rt.inflight.Add(1)
	defer rt.inflight.Done()
	start := time.Now()
	sctx, span := rt.startDelivery(ctx, d)
	wctx, cancel := rt.workContext(sctx)
	defer cancel()
	var h handling
	t, ok := rt.targets[d.Subscription]
	switch {
	case !ok:
		h = handling{outcome: OutcomeNotHandled, err: fmt.Errorf("subscription %q is not served by this consumer", d.Subscription)}
	case t.deadLetters:
		h = rt.keepDeadLetter(wctx, d)
	case t.job == nil:
		h = rt.handleUnroutable(wctx, t.phase, d)
	default:
		h = rt.handleJob(wctx, ctx, t, d)
	}
	elapsed := time.Since(start)
	rt.logHandled(wctx, d, h, elapsed)
	rt.endDelivery(wctx, span, d, h, elapsed)
	return h.outcome.Settlement()
}

// handleJob applies the contract to one delivery of a job subscription. dctx is the
// delivery's own context (see Deliver), ctx the work context.
func (rt *Runtime) handleJob(ctx, dctx context.Context, t target, d Delivery) handling {
	spec := *t.job
	if rt.abandoned() {
		return handling{ref: spec.Ref(), date: d.Attributes[messages.AttrDate], outcome: OutcomeAbandoned}
	}
	req, h, ok := rt.accept(ctx, t, d)
	if !ok {
		return h
	}
	if cancelled, err := rt.cancels.cancelled(ctx, rt.ledger, req.RunID); err != nil || cancelled {
		h.outcome, h.err = OutcomeNotHandled, err
		if cancelled {
			h.outcome = OutcomeCancelled
			h.state, h.err = rt.dropCancelled(ctx, req)
			if h.err != nil {
				h.outcome = OutcomeNotHandled
			}
		}
		return h
	}
	if t.lane == messages.LaneDaily {
		defer rt.lanes.daily()()
	} else if !rt.lanes.yield(dctx) {
		h.outcome = OutcomeAbandoned // shutting down while daily work went first
		return h
	}
	defer rt.markRunning(spec.Ref(), req.Date)()
	slot := &runSlot{runs: t.runs}
	if t.lane != messages.LaneDaily {
		// A backfill delivery that waited for a slot yields again before it claims:
		// daily work that came meanwhile goes first (lanes.go).
		slot.ready = func() bool { return rt.lanes.yield(dctx) }
	}
	defer slot.release()
	cctx, endDecide := rt.span(ctx, "decide")
	dec, err := rt.claim(cctx, dctx, spec, req, slot)
	endDecide(err)
	h.state, h.attempt = dec.rec.State, dec.rec.Attempts
	switch {
	case err != nil:
		h.outcome, h.err = OutcomeNotHandled, err
	case dec.action == actionAbandoned:
		h.outcome = OutcomeAbandoned
	case dec.action == actionLeaseHeld:
		h.outcome = OutcomeLeaseHeld
	case dec.action == actionSoftWait, dec.action == actionWaiting:
		h.outcome = OutcomeWaiting
	case dec.action == actionDuplicate:
		h.rows = dec.rec.Output.TotalRows()
		h.outcome = OutcomeDuplicate
		if err := rt.emitIfNeeded(ctx, req, dec.rec, dec.gen); err != nil {
			h.outcome, h.err = OutcomeNotHandled, err
		}
	default:
		return rt.execute(ctx, spec, d, req, dec.rec, dec.gen)
	}
	return h
}

// accept routes, decodes and checks one delivery of a job subscription. It returns the
// request, or ok false and what was done instead: a message for another job of the phase,
// or of the other lane, is acknowledged as routed (a subscription that ignores filters sees every message of
// the topic; the job's own subscription has its copy), and one that does not decode, or
// asks for a date the job's source cannot serve, is dead-lettered with its reason. A
// rejected message never changes a ledger record: its routing attributes are not to be
// trusted.
func (rt *Runtime) accept(ctx context.Context, t target, d Delivery) (messages.Request, handling, bool) {
	spec := *t.job
	h := handling{ref: spec.Ref(), date: d.Attributes[messages.AttrDate]}
	job, daily := d.Attributes[messages.AttrJob], d.Attributes[messages.AttrLane] == messages.LaneDaily
	if job != spec.Name || daily != (t.lane == messages.LaneDaily) {
		h.ref = messages.Ref(spec.Phase, job)
		h.outcome = OutcomeRouted
		return messages.Request{}, h, false
	}
	req, err := messages.Decode(d.Data, d.Attributes, rt.opts.Catalog)
	if err == nil && req.Ref() != spec.Ref() {
		err = fmt.Errorf("%w: %s arrived on the subscription of %s", messages.ErrJobNotInPhase, req.Ref(), spec.Ref())
	}
	if err == nil {
		h.req = req
		err = rt.opts.Catalog.CheckBounds(spec.Ref(), req.Date)
	}
	if err != nil {
		return messages.Request{}, rt.reject(ctx, d, h, err), false
	}
	return req, h, true
}

// casRetries bounds how often one delivery re-reads the ledger after losing a race.
const casRetries = 8

// claim decides on the request until the decision holds: it re-reads after a lost
// compare-and-swap race, and waits up to LeaseWait for a lease another consumer holds. A
// run is claimed only while slot is held (decide takes it).
func (rt *Runtime) claim(ctx, dctx context.Context, spec messages.JobSpec, req messages.Request, slot *runSlot) (decision, error) {
	waitUntil := time.Now().Add(rt.opts.LeaseWait)
	for conflicts := 0; ; {
		if rt.abandoned() {
			return decision{action: actionAbandoned}, nil
		}
		d, err := rt.decide(ctx, spec, req, slot)
		if errors.Is(err, ledger.ErrConflict) {
			if conflicts++; conflicts < casRetries {
				continue
			}
			return d, fmt.Errorf("ledger: lost %d compare-and-swap races in a row: %w", casRetries, err)
		}
		if err != nil {
			return d, err
		}
		// Another consumer runs the date. Wait a little for it to finish (then this is a
		// duplicate, or a run with new input); after that the delivery is acknowledged,
		// never handed back, since every redelivery spends a delivery attempt.
		if d.action == actionLeaseHeld && rt.waitLease(dctx, d.rec, waitUntil) {
			continue
		}
		return d, nil
	}
}

// waitLease sleeps one poll period if there is time left before until, and reports
// whether it did; it gives up at once when the delivery's context ends (shutdown).
func (rt *Runtime) waitLease(dctx context.Context, held ledger.Record, until time.Time) bool {
	left := time.Until(until)
	if left <= 0 || dctx.Err() != nil {
		return false
	}
	poll := min(max(rt.opts.Lease/10, 100*time.Millisecond), time.Second, left)
	if held.Lease != nil {
		// No need to look again before the lease would lapse, if that is sooner.
		poll = min(poll, max(time.Until(held.Lease.Expires), 10*time.Millisecond))
	}
	t := time.NewTimer(poll)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-dctx.Done():
		return false
	}
}

// runSlot is one delivery's hold on a slot of its subscription's runs (target.runs, as
// many as the job's MaxConcurrency): decide takes it right before it claims the record
// for a run, and the delivery gives it back when it is handled. Deliveries that end
// without a run never wait for one.
type runSlot struct {
	runs chan struct{}
	held bool
	// ready, if set, is asked once the slot is taken whether the run may start; false
	// (shutting down) gives the slot back.
	ready func() bool
}

// take waits for a slot unless the delivery holds one already.
func (s *runSlot) take(ctx context.Context) error {
	if s.held {
		return nil
	}
	select {
	case s.runs <- struct{}{}:
		s.held = true
	case <-ctx.Done():
		return fmt.Errorf("waiting for a run slot: %w", ctx.Err())
	}
	if s.ready != nil && !s.ready() {
		s.release()
		return errors.New("shutting down while daily work went first")
	}
	return nil
}

// release gives the slot back if the delivery holds one.
func (s *runSlot) release() {
	if s.held {
		<-s.runs
		s.held = false
	}
}
