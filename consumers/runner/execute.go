package runner

import (
	"context"
	"errors"
	"fmt"

	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/messages"
)

// execute runs the job on a claimed record, keeping its lease alive, and records the
// result: succeeded (then emits downstream), failed, or dead.
func (rt *Runtime) execute(ctx context.Context, spec messages.JobSpec, d Delivery,
	req messages.Request, rec ledger.Record, gen int64) handling {
	h := handling{req: req, ref: spec.Ref(), date: req.Date, state: rec.State, attempt: rec.Attempts}

	jctx, cancel := context.WithTimeout(ctx, spec.Timeout)
	jctx = WithInfo(jctx, RunInfo{Attempt: rec.Attempts, InputFingerprint: rec.InputFingerprint, Inputs: rec.Inputs})
	lease := &leaseKeeper{rt: rt, rec: rec, gen: gen, cancelJob: cancel}
	stopLease := lease.start(ctx)
	res, jerr := runJob(jctx, rt.opts.Jobs[spec.Ref()], req)
	stopLease()
	cancel()
	rec, gen, lost := lease.state()

	switch {
	case rt.abandoned():
		// The grace period is over and the transport has let go of the delivery. Record
		// nothing: the lease lapses and the redelivery takes the date over.
		h.outcome, h.err = OutcomeAbandoned, jerr
		return h
	case lost != nil:
		h.outcome, h.err = OutcomeNotHandled, lost
		return h
	case jerr == nil:
		return rt.succeed(ctx, h, req, rec, gen, res)
	}
	return rt.fail(ctx, h, d, req, rec, gen, jerr)
}

// succeed records the run's output, then publishes the downstream messages and marks them
// emitted. The delivery is acknowledged only after all of it: a crash in between is a
// redelivery that finds the date done and emits whatever was not marked.
func (rt *Runtime) succeed(ctx context.Context, h handling, req messages.Request, rec ledger.Record, gen int64, res Result) handling {
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
	return h
}

// fail records a run that returned an error: failed (handed back for a retry) while the
// error is transient and attempts remain, else dead and dead-lettered with the reason.
//
// The bound counts runs in the ledger (each claim counts one), not deliveries: waiting for
// a held lease is no attempt, and the emulator counts one delivery counter across every
// subscription of a topic. Pub/Sub's dead-letter policy remains the backstop; it acts
// after the subscription's last delivery attempt without saying why, so on that delivery
// the runtime dead-letters first, with the reason.
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
	case maxDelivery > 0 && d.DeliveryAttempt >= maxDelivery:
		reason = ReasonMaxAttempts
		jerr = fmt.Errorf("attempt %d, delivery %d of the subscription's %d: %w", rec.Attempts, d.DeliveryAttempt, maxDelivery, jerr)
	}
	h.err = jerr
	now := rt.ledger.Now()
	if reason == "" {
		failed := rec.Fail(jerr, now)
		if _, err := rt.ledger.Write(ctx, failed, gen); err != nil {
			h.err = errors.Join(jerr, fmt.Errorf("record failed: %w", err))
		}
		h.outcome, h.state = OutcomeRetry, failed.State
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
	if err := rt.deadLetter(ctx, d, reason, jerr); err != nil {
		h.outcome, h.err = OutcomeNotHandled, errors.Join(jerr, err)
		return h
	}
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
