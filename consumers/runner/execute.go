package runner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/messages"
)

// execute runs the job on a claimed record, keeping its lease alive, and records the
// result: succeeded (then emits downstream), failed, or dead.
func (rt *Runtime) execute(ctx context.Context, spec messages.JobSpec, d Delivery,
	req messages.Request, rec ledger.Record, gen int64) handling {
	h := handling{req: req, ref: spec.Ref(), date: req.Date, state: rec.State, attempt: rec.Attempts}

	jctx, cancel := context.WithTimeout(ctx, spec.Timeout)
	jctx = WithInfo(jctx, RunInfo{Attempt: rec.Attempts, Failures: rec.Failures, InputFingerprint: rec.InputFingerprint, Inputs: rec.Inputs, Lane: req.Lane})
	lease := &leaseKeeper{rt: rt, rec: rec, gen: gen, cancelJob: cancel}
	stopLease := lease.start(ctx)
	res, jerr := rt.runTraced(jctx, rt.opts.Jobs[spec.Ref()], req)
	stopLease()
	cancel()
	rec, gen, lost := lease.state()

	switch {
	case rt.abandoned():
		// The grace period is over and the transport has let go of the delivery. Hand the
		// date back at once (the run does not count as an attempt), so that the
		// redelivery need not wait for the lease to lapse.
		h.outcome, h.err = OutcomeAbandoned, jerr
		if lost == nil {
			rt.release(rec, gen)
		}
		return h
	case lost != nil:
		h.outcome, h.err = OutcomeNotHandled, lost
		return h
	case jerr == nil:
		return rt.succeed(ctx, h, spec, req, rec, gen, res)
	}
	return rt.fail(ctx, h, d, req, rec, gen, jerr)
}

// succeed records the run's output, then publishes the downstream messages and marks them
// emitted. The delivery is acknowledged only after all of it: a crash in between is a
// redelivery that finds the date done and emits whatever was not marked.
func (rt *Runtime) succeed(ctx context.Context, h handling, spec messages.JobSpec, req messages.Request, rec ledger.Record, gen int64, res Result) handling {
	out := toOutput(res)
	h.rows = out.TotalRows()
	next, err := rt.downstream(ctx, req)
	if err != nil {
		h.outcome, h.err = OutcomeNotHandled, err
		return h
	}
	now := rt.ledger.Now()
	done := rec.Succeed(out, OutputFingerprint(res, rec.InputFingerprint), res.Empty, now)
	if len(next) == 0 {
		// Nothing to emit: save the write that marks it.
		through := req.StopAfter
		if len(rt.opts.Catalog.Downstream(req.Ref())) == 0 {
			through = "" // nothing downstream at all, whatever the stop phase
		}
		done = done.MarkEmittedThrough(through, now)
	}
	gen, err = rt.ledger.Write(ctx, done, gen)
	if err != nil {
		h.outcome, h.err = OutcomeNotHandled, fmt.Errorf("record %s: %w", done.State, err)
		return h
	}
	h.state = done.State
	if err := rt.emit(ctx, req, done, gen, next); err != nil {
		h.outcome, h.err = OutcomeNotHandled, err
		return h
	}
	h.outcome = OutcomeSucceeded
	if err := rt.rerunIfInputChanged(ctx, spec, req, done); err != nil {
		h.outcome, h.err = OutcomeNotHandled, err
	}
	return h
}

// rerunIfInputChanged sends the request again when an upstream's output changed while the
// job ran: the message that announced the change found the date leased and was
// acknowledged, so this is the one place that knows the date must run again.
func (rt *Runtime) rerunIfInputChanged(ctx context.Context, spec messages.JobSpec, req messages.Request, done ledger.Record) error {
	if len(spec.Upstreams()) == 0 {
		return nil
	}
	inputs, missing, err := rt.upstreams(ctx, spec, &dateRecords{rt: rt, date: req.Date})
	if err != nil || len(missing) > 0 || InputFingerprint(inputs) == done.InputFingerprint {
		return err
	}
	again := req
	again.Force = false
	again.Trigger = messages.Trigger{Kind: messages.TriggerReconcile, From: "input changed during the run"}
	m, err := rt.message(ctx, again)
	if err != nil {
		return err
	}
	return rt.publish(ctx, m)
}

// releaseTimeout bounds the write that hands a lease back at shutdown: the platform stops
// the process soon after the grace period.
const releaseTimeout = 2 * time.Second

// release hands back the lease of a run abandoned at shutdown.
func (rt *Runtime) release(rec ledger.Record, gen int64) {
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	if _, err := rt.ledger.Write(ctx, rec.Release(rt.ledger.Now()), gen); err != nil {
		rt.log.Warn("lease not handed back; it lapses by itself", "phase", rec.Phase, "job", rec.Job, "date", rec.Date, "err", err)
	}
}

// fail records a run that returned an error: failed (handed back for a retry) while the
// error is transient and attempts remain, else dead and dead-lettered with the reason.
//
// The bound counts runs in the ledger (each claim counts one), not deliveries: waiting for
// a held lease is no attempt, and the emulator counts one delivery counter across every
// subscription of a topic. On the subscription's last delivery a transient error is
// recorded and the delivery acknowledged (deferred): the subscription's dead-letter
// policy, which would take it silently, never sees it, and the reconciler re-sends it.
func (rt *Runtime) fail(ctx context.Context, h handling, d Delivery, req messages.Request, rec ledger.Record, gen int64, jerr error) handling {
	rt.mu.Lock()
	maxDelivery := rt.maxDelivery[d.Subscription]
	rt.mu.Unlock()
	reason := ""
	switch {
	case IsPermanent(jerr):
		reason = ReasonJobError
	case rec.Attempts >= rt.opts.MaxAttempts:
		reason = ReasonMaxAttempts
		jerr = fmt.Errorf("attempt %d of %d: %w", rec.Attempts, rt.opts.MaxAttempts, jerr)
	}
	h.err = jerr
	now := rt.ledger.Now()
	if reason == "" {
		failed := rec.RunFailed(jerr, now)
		if _, err := rt.ledger.Write(ctx, failed, gen); err != nil {
			h.err = errors.Join(jerr, fmt.Errorf("record failed: %w", err))
		}
		h.outcome, h.state = OutcomeRetry, failed.State
		if maxDelivery > 0 && d.DeliveryAttempt >= maxDelivery {
			// The subscription's last delivery: a nack would let its dead-letter policy
			// take the message, though runs remain. The record says failed; the
			// reconciler re-sends it after RetryWithin, with a fresh delivery count.
			h.outcome = OutcomeDeferred
		}
		return h
	}
	// The dead letter first: once the record says dead, later deliveries of the date are
	// duplicates, and nothing would keep a dead letter that failed after it. Kept first, a
	// record write that fails hands the delivery back; its redelivery, with the same message
	// id, finds the dead letter already stored.
	if err := rt.deadLetter(ctx, d, reason, jerr); err != nil {
		h.outcome, h.err = OutcomeNotHandled, errors.Join(jerr, err)
		return h
	}
	dead := rec.Die(reason, jerr, now)
	if _, err := rt.ledger.Write(ctx, dead, gen); err != nil {
		// Not recorded: hand the delivery back, so that the date is decided again rather
		// than left running with a lapsing lease.
		h.outcome, h.err = OutcomeNotHandled, errors.Join(jerr, fmt.Errorf("record dead: %w", err))
		return h
	}
	h.state, h.reason = dead.State, reason
	if err := rt.notifySoftDependents(ctx, req); err != nil {
		h.err = errors.Join(h.err, err) // they still run when their soft wait ends
	}
	h.outcome = OutcomeDead
	return h
}

// runJob calls the job, turning a panic into a permanent error so that one bad input
// cannot take the consumer down. The job and date are the log line's and the ledger
// record's own fields, so the error is not wrapped with them again.
func runJob(ctx context.Context, job Job, req messages.Request) (res Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = Permanent(fmt.Errorf("job panicked: %v", p))
		}
	}()
	res, err = job.Run(ctx, req)
	if err != nil {
		return Result{}, err
	}
	return res, nil
}
