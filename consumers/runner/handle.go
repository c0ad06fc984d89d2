package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/pubsub/v2"

	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/messages"
)

// Outcome says what the runtime did with one message; it is the "outcome" of the log line.
type Outcome string

// The outcomes, one per row of the contract table (package documentation).
const (
	OutcomeSucceeded  Outcome = "succeeded"   // ran, recorded, emitted, acked
	OutcomeDuplicate  Outcome = "duplicate"   // done with the same input: acked (emitted if needed)
	OutcomeWaiting    Outcome = "waiting"     // a hard upstream is not done: recorded, acked
	OutcomeDead       Outcome = "dead"        // permanent error: recorded, dead-lettered, acked
	OutcomeRetry      Outcome = "retry"       // transient error: recorded failed, nacked
	OutcomeLeaseHeld  Outcome = "lease_held"  // another consumer runs the date: nacked
	OutcomeAbandoned  Outcome = "abandoned"   // shutdown grace over: nothing recorded
	OutcomeRouted     Outcome = "routed"      // catch-all: a job subscription takes it, acked
	OutcomeUnroutable Outcome = "unroutable"  // catch-all: no job subscription takes it, dead-lettered
	OutcomeNotHandled Outcome = "not_handled" // infrastructure error before a decision: nacked
)

// casRetries bounds how often one message re-reads the ledger after losing a race.
const casRetries = 8

// handling is what the log line of one message says.
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

func (rt *Runtime) handle(mctx context.Context, spec messages.JobSpec, subID string, m *pubsub.Message) {
	rt.inflight.Add(1)
	defer rt.inflight.Done()
	start := time.Now()
	ctx, cancel := rt.workContext(mctx)
	defer cancel()
	ctx = context.WithValue(ctx, traceparentKey{}, m.Attributes[traceparentAttr])
	h := rt.process(ctx, mctx, spec, subID, m)
	rt.logHandled(ctx, subID, m, h, time.Since(start))
}

// process applies the contract to one message and acks or nacks it.
func (rt *Runtime) process(ctx, mctx context.Context, spec messages.JobSpec, subID string, m *pubsub.Message) handling {
	h := handling{ref: spec.Ref(), date: m.Attributes[messages.AttrDate]}
	req, err := messages.Decode(m.Data, m.Attributes, rt.opts.Catalog)
	if err == nil && req.Ref() != spec.Ref() {
		err = fmt.Errorf("%w: %s arrived on the subscription of %s", messages.ErrJobNotInPhase, req.Ref(), spec.Ref())
	}
	if err != nil {
		return rt.rejectMessage(ctx, spec, subID, m, err)
	}
	h.req, h.date = req, req.Date

	waitUntil := time.Now().Add(rt.opts.LeaseWait)
	for conflicts := 0; ; {
		if rt.abandoned() {
			m.Nack()
			h.outcome = OutcomeAbandoned
			return h
		}
		d, err := rt.decide(ctx, spec, req)
		if errors.Is(err, ledger.ErrConflict) {
			if conflicts++; conflicts < casRetries {
				continue
			}
			err = fmt.Errorf("ledger %s %s: lost %d compare-and-swap races in a row: %w", spec.Ref(), req.Date, casRetries, err)
		}
		if err != nil {
			m.Nack()
			h.outcome, h.err = OutcomeNotHandled, err
			return h
		}
		h.state, h.attempt = d.rec.State, d.rec.Attempts
		switch d.action {
		case actionLeaseHeld:
			// Another consumer runs the date. Wait a little for it to finish (then this
			// is a duplicate, or a run with new input) rather than nack at once: every
			// nack spends one of the subscription's delivery attempts.
			if rt.waitLease(mctx, d.rec, waitUntil) {
				continue
			}
			m.Nack()
			h.outcome = OutcomeLeaseHeld
			return h
		case actionSettle:
			// A soft upstream is on its way: its completion triggers this job again, and
			// so does the runtime's own message after SoftWait.
			rt.retriggerLater(spec, req)
			m.Ack()
			h.outcome = OutcomeWaiting
			return h
		case actionWaiting:
			m.Ack()
			h.outcome = OutcomeWaiting
			return h
		case actionDuplicate:
			h.rows = d.rec.Output.TotalRows()
			if err := rt.emitIfNeeded(ctx, req, d.rec, d.gen); err != nil {
				m.Nack()
				h.outcome, h.err = OutcomeNotHandled, err
				return h
			}
			m.Ack()
			h.outcome = OutcomeDuplicate
			return h
		default:
			return rt.run(ctx, spec, subID, m, req, d.rec, d.gen)
		}
	}
}

// waitLease sleeps one poll period if there is time left before until, and reports
// whether it did; it gives up at once when shutdown starts.
func (rt *Runtime) waitLease(mctx context.Context, held ledger.Record, until time.Time) bool {
	left := time.Until(until)
	if left <= 0 || mctx.Err() != nil {
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
	case <-mctx.Done():
		return false
	}
}

type action int

const (
	actionRun action = iota
	actionDuplicate
	actionWaiting
	actionLeaseHeld
	actionSettle
)

type decision struct {
	action action
	rec    ledger.Record // for actionRun: the claimed (running) record
	gen    int64
}

// decide reads the record and the upstream records and moves the record by one
// compare-and-swap: claim it (run), record waiting, or nothing (duplicate, lease held).
// ErrConflict means another consumer moved the record first: decide again.
//
// A job whose hard upstreams are done but a soft upstream of which is on its way for the
// date (see pendingSoft) gets actionSettle: a record not done is written waiting (with the
// pending soft upstreams as "soft:phase/job"), for at most SoftWait from then.
func (rt *Runtime) decide(ctx context.Context, spec messages.JobSpec, req messages.Request) (decision, error) {
	ref := spec.Ref()
	rec, gen, err := rt.ledger.Get(ctx, ref, req.Date)
	switch {
	case errors.Is(err, ledger.ErrNotFound):
		rec = ledger.Record{Phase: ref.Phase, Job: ref.Job, Date: req.Date}
	case err != nil:
		return decision{}, err
	}
	now := rt.ledger.Now()
	if rec.LeaseLive(now) {
		return decision{action: actionLeaseHeld, rec: rec, gen: gen}, nil
	}
	recs := &dateRecords{rt: rt, date: req.Date}
	inputs, missing, err := rt.upstreams(ctx, spec, recs)
	if err != nil {
		return decision{}, err
	}
	if len(missing) > 0 {
		// A done record stays as it is while an upstream runs again: that upstream's
		// completion triggers this job anyway.
		if !rec.State.Done() && !(rec.State == ledger.StateWaiting && slices.Equal(rec.Missing, missing)) {
			rec = rec.Wait(missing, now)
			if gen, err = rt.ledger.Write(ctx, rec, gen); err != nil {
				return decision{}, err
			}
		}
		return decision{action: actionWaiting, rec: rec, gen: gen}, nil
	}
	if since, waiting := softWaitingSince(rec); len(spec.Soft) > 0 && rt.opts.SoftWait > 0 &&
		(!waiting || now.Sub(since) < rt.opts.SoftWait) {
		pending, err := rt.pendingSoft(ctx, spec, req, recs)
		if err != nil {
			return decision{}, err
		}
		if len(pending) > 0 {
			if !rec.State.Done() && !waiting {
				rec = rec.Wait(pending, now)
				if gen, err = rt.ledger.Write(ctx, rec, gen); err != nil {
					return decision{}, err
				}
			}
			return decision{action: actionSettle, rec: rec, gen: gen}, nil
		}
	}
	fp := InputFingerprint(inputs)
	root := len(spec.Upstreams()) == 0
	if rec.State.Done() && rec.InputFingerprint == fp && !req.Force && !(root && rec.State == ledger.StateEmpty) {
		return decision{action: actionDuplicate, rec: rec, gen: gen}, nil
	}
	rec = rec.Start(rt.opts.Owner, req.RunID, rt.opts.Lease, now)
	rec.InputFingerprint, rec.Inputs = fp, inputs
	if gen, err = rt.ledger.Write(ctx, rec, gen); err != nil {
		return decision{}, err
	}
	return decision{action: actionRun, rec: rec, gen: gen}, nil
}

// upstreams reads the records of the job's upstreams for date: the output fingerprints of
// the hard and the present soft ones, and the hard ones not done.
func (rt *Runtime) upstreams(ctx context.Context, spec messages.JobSpec, recs *dateRecords) (inputs map[string]string, missing []string, err error) {
	for i, u := range spec.Upstreams() {
		hard := i < len(spec.Hard)
		rec, found, err := recs.get(ctx, u)
		if err != nil {
			return nil, nil, err
		}
		if found && rec.State.Done() {
			if inputs == nil {
				inputs = map[string]string{}
			}
			inputs[u.String()] = rec.OutputFingerprint
			continue
		}
		if hard {
			missing = append(missing, u.String())
		}
	}
	return inputs, missing, nil
}

// pendingSoft reports whether a soft upstream of spec is on its way for the request's
// date: it runs or waits to be retried, or it has not run yet although its own hard
// upstreams are done or on their way, or it is a first-phase job that the producer run of
// the request queued (its run plan says so). A soft upstream that is done, dead, or has
// nothing to start from is not waited for.
//
// It returns the pending ones as "soft:phase/job", the form a waiting record lists them in.
func (rt *Runtime) pendingSoft(ctx context.Context, spec messages.JobSpec, req messages.Request, recs *dateRecords) ([]string, error) {
	var out []string
	for _, u := range spec.Soft {
		p, err := rt.pending(ctx, u, req, recs, 0)
		if err != nil {
			return nil, err
		}
		if p {
			out = append(out, softPrefix+u.String())
		}
	}
	return out, nil
}

// softPrefix marks a soft upstream in a waiting record's Missing list.
const softPrefix = "soft:"

// softWaitingSince reports whether rec waits for soft upstreams only, and since when.
func softWaitingSince(rec ledger.Record) (time.Time, bool) {
	if rec.State != ledger.StateWaiting || len(rec.Missing) == 0 {
		return time.Time{}, false
	}
	for _, m := range rec.Missing {
		if !strings.HasPrefix(m, softPrefix) {
			return time.Time{}, false
		}
	}
	return rec.Updated, true
}

// retriggerLater publishes the request again for its own job after SoftWait (once per
// job and date in this process), so that a date waiting for a soft upstream that never
// comes still runs. If the process stops first, the date stays waiting, visible in
// producer status, until any message for it arrives.
func (rt *Runtime) retriggerLater(spec messages.JobSpec, req messages.Request) {
	key := spec.Ref().String() + " " + req.Date
	rt.retriggersMu.Lock()
	defer rt.retriggersMu.Unlock()
	if rt.stopping || rt.retriggers[key] != nil {
		return
	}
	if rt.retriggers == nil {
		rt.retriggers = map[string]*time.Timer{}
	}
	next := req
	next.Force = false
	next.Trigger = messages.Trigger{Kind: messages.TriggerReconcile, From: "soft-wait"}
	rt.retriggers[key] = time.AfterFunc(rt.opts.SoftWait+time.Second, func() {
		rt.retriggersMu.Lock()
		delete(rt.retriggers, key)
		stopping := rt.stopping
		rt.retriggersMu.Unlock()
		if stopping {
			return
		}
		body, attrs, err := messages.Encode(next, rt.opts.Catalog)
		if err == nil {
			err = rt.publish(context.Background(), rt.opts.Names.Topic(spec.Phase), &pubsub.Message{Data: body, Attributes: attrs})
		}
		if err != nil {
			rt.log.Warn("soft-wait re-trigger not published", "phase", spec.Phase, "job", spec.Name, "date", req.Date, "err", err)
		}
	})
}

// stopRetriggers cancels the pending soft-wait timers when the runtime stops.
func (rt *Runtime) stopRetriggers() {
	rt.retriggersMu.Lock()
	defer rt.retriggersMu.Unlock()
	rt.stopping = true
	for _, t := range rt.retriggers {
		t.Stop()
	}
	rt.retriggers = nil
}

func (rt *Runtime) pending(ctx context.Context, ref messages.JobRef, req messages.Request, recs *dateRecords, depth int) (bool, error) {
	rec, found, err := recs.get(ctx, ref)
	if err != nil {
		return false, err
	}
	if found {
		switch rec.State {
		case ledger.StateRunning, ledger.StateFailed:
			return true, nil
		case ledger.StateSucceeded, ledger.StateEmpty, ledger.StateDead:
			return false, nil
		}
	}
	// Not started, or waiting: it is on its way if each of its hard upstreams is done or
	// itself on its way.
	spec, ok := rt.opts.Catalog.Lookup(ref)
	if !ok || depth > len(rt.opts.Catalog.Jobs()) {
		return false, nil
	}
	if len(spec.Hard) == 0 {
		if found {
			return false, nil
		}
		plan, err := rt.plan(ctx, req.RunID)
		return err == nil && plan != nil && plan.Has(ref, req.Date), err
	}
	for _, h := range spec.Hard {
		hrec, hfound, err := recs.get(ctx, h)
		if err != nil {
			return false, err
		}
		if hfound && hrec.State.Done() {
			continue
		}
		p, err := rt.pending(ctx, h, req, recs, depth+1)
		if err != nil || !p {
			return false, err
		}
	}
	return true, nil
}

// plan returns the producer plan of a run, or nil if the run wrote none. Plans never
// change once their messages are out, so each is read once per process.
func (rt *Runtime) plan(ctx context.Context, runID string) (*ledger.Plan, error) {
	rt.plansMu.Lock()
	p, ok := rt.plans[runID]
	rt.plansMu.Unlock()
	if ok {
		return p, nil
	}
	got, err := rt.ledger.ReadPlan(ctx, runID)
	switch {
	case errors.Is(err, ledger.ErrNotFound):
		p = nil
	case err != nil:
		return nil, err
	default:
		p = &got
	}
	rt.plansMu.Lock()
	defer rt.plansMu.Unlock()
	if rt.plans == nil || len(rt.plans) >= maxCachedPlans {
		rt.plans = map[string]*ledger.Plan{}
	}
	rt.plans[runID] = p
	return p, nil
}

// maxCachedPlans bounds the plan cache; a long-lived consumer sees one run after another.
const maxCachedPlans = 64

// dateRecords reads the ledger records of one date at most once per decision: the
// upstream check and the soft-upstream check look at the same records.
type dateRecords struct {
	rt   *Runtime
	date string
	seen map[messages.JobRef]cachedRecord
}

type cachedRecord struct {
	rec   ledger.Record
	found bool
}

// get returns the record of ref for the date and whether it exists.
func (d *dateRecords) get(ctx context.Context, ref messages.JobRef) (ledger.Record, bool, error) {
	if c, ok := d.seen[ref]; ok {
		return c.rec, c.found, nil
	}
	rec, _, err := d.rt.ledger.Get(ctx, ref, d.date)
	if err != nil && !errors.Is(err, ledger.ErrNotFound) {
		return ledger.Record{}, false, err
	}
	if d.seen == nil {
		d.seen = map[messages.JobRef]cachedRecord{}
	}
	d.seen[ref] = cachedRecord{rec, err == nil}
	return rec, err == nil, nil
}

// run executes the job on a claimed record and records, emits and acks.
func (rt *Runtime) run(ctx context.Context, spec messages.JobSpec, subID string, m *pubsub.Message,
	req messages.Request, rec ledger.Record, gen int64) handling {
	h := handling{req: req, ref: spec.Ref(), date: req.Date, state: rec.State, attempt: rec.Attempts}
	job := rt.opts.Jobs[spec.Ref()]

	jctx, cancel := context.WithTimeout(ctx, spec.Timeout)
	jctx = WithInfo(jctx, RunInfo{Attempt: rec.Attempts, InputFingerprint: rec.InputFingerprint, Inputs: rec.Inputs})
	lease := &leaseKeeper{rt: rt, rec: rec, gen: gen, cancelJob: cancel}
	stopLease := lease.start(ctx)
	res, jerr := runJob(jctx, job, req)
	stopLease()
	cancel()
	rec, gen, lost := lease.state()

	switch {
	case rt.abandoned():
		// The grace period is over and the library has let go of the message. Record
		// nothing: the lease lapses and the redelivery takes the date over.
		h.outcome, h.err = OutcomeAbandoned, jerr
		return h
	case lost != nil:
		m.Nack()
		h.outcome, h.err = OutcomeNotHandled, lost
		return h
	}
	now := rt.ledger.Now()

	if jerr == nil {
		h.rows = res.TotalRows()
		done := rec.Succeed(toOutput(res), OutputFingerprint(res, rec.InputFingerprint), res.Empty, now)
		if next, err := rt.downstream(ctx, req); err == nil && len(next) == 0 {
			// Nothing to emit: save the write that marks it.
			through := req.StopAfter
			if len(rt.opts.Catalog.Downstream(req.Ref())) == 0 {
				through = "" // nothing downstream at all, whatever the stop phase
			}
			done = done.MarkEmittedThrough(through, now)
		}
		gen, err := rt.ledger.Write(ctx, done, gen)
		if err != nil {
			m.Nack()
			h.outcome, h.err = OutcomeNotHandled, fmt.Errorf("record %s: %w", done.State, err)
			return h
		}
		h.state = done.State
		if err := rt.emitIfNeeded(ctx, req, done, gen); err != nil {
			m.Nack()
			h.outcome, h.err = OutcomeNotHandled, err
			return h
		}
		m.Ack()
		h.outcome = OutcomeSucceeded
		return h
	}

	// The bound counts runs in the ledger (each claim counts one), not deliveries: a nack
	// for a held lease is no attempt, and the emulator counts one delivery counter across
	// every subscription of a topic. Pub/Sub's dead-letter policy remains the backstop.
	// Pub/Sub itself dead-letters after the subscription's last delivery attempt, without
	// saying why: on that delivery the runtime dead-letters first, with the reason.
	attempt := rec.Attempts
	lastDelivery := rt.maxDelivery[subID] > 0 && deliveryAttempt(m) >= rt.maxDelivery[subID]
	h.err = jerr
	reason := ""
	switch {
	case IsPermanent(jerr):
		reason = ReasonJobError
	case attempt >= rt.opts.MaxAttempts:
		reason = ReasonMaxAttempts
		jerr = fmt.Errorf("attempt %d of %d: %w", attempt, rt.opts.MaxAttempts, jerr)
		h.err = jerr
	case lastDelivery:
		reason = ReasonMaxAttempts
		jerr = fmt.Errorf("attempt %d, delivery %d of the subscription's %d: %w", attempt, deliveryAttempt(m), rt.maxDelivery[subID], jerr)
		h.err = jerr
	}
	if reason == "" {
		failed := rec.Fail(jerr, now)
		if _, err := rt.ledger.Write(ctx, failed, gen); err != nil {
			h.err = errors.Join(jerr, fmt.Errorf("record failed: %w", err))
		}
		m.Nack()
		h.outcome, h.state = OutcomeRetry, failed.State
		return h
	}
	dead := rec.Die(reason, jerr, now)
	if _, err := rt.ledger.Write(ctx, dead, gen); err != nil {
		h.err = errors.Join(jerr, fmt.Errorf("record dead: %w", err))
	}
	h.state, h.reason = dead.State, reason
	if err := rt.deadLetter(ctx, subID, m, reason, jerr); err != nil {
		m.Nack()
		h.outcome, h.err = OutcomeNotHandled, errors.Join(h.err, err)
		return h
	}
	if err := rt.notifySoftDependents(ctx, req); err != nil {
		h.err = errors.Join(h.err, err) // they still run when their soft wait ends
	}
	m.Ack()
	h.outcome = OutcomeDead
	return h
}

// notifySoftDependents tells the jobs that use req's job as a soft upstream that it died
// for the date: one of them waiting for it stops waiting and runs without it, instead of
// at the end of its SoftWait.
func (rt *Runtime) notifySoftDependents(ctx context.Context, req messages.Request) error {
	var errs []error
	for _, to := range rt.opts.Catalog.Downstream(req.Ref()) {
		spec, _ := rt.opts.Catalog.Lookup(to)
		if !req.Reaches(to.Phase) || !slices.Contains(spec.Soft, req.Ref()) {
			continue
		}
		body, attrs, err := messages.Encode(req.Next(to), rt.opts.Catalog)
		if err == nil {
			err = rt.publish(ctx, rt.opts.Names.Topic(to.Phase), &pubsub.Message{Data: body, Attributes: attrs})
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("notify %s that %s died: %w", to, req.Ref(), err))
		}
	}
	return errors.Join(errs...)
}

// runJob calls the job, turning a panic into a permanent error so that one bad input
// cannot take the consumer down.
func runJob(ctx context.Context, job Job, req messages.Request) (res Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = Permanent(fmt.Errorf("job %s panicked: %v", req.Ref(), p))
		}
	}()
	res, err = job.Run(ctx, req)
	if err != nil {
		return Result{}, fmt.Errorf("%s %s: %w", req.Ref(), req.Date, err)
	}
	return res, nil
}

// emitIfNeeded publishes one message per downstream job the chain may reach, waits for
// every result, then marks the record emitted. A record already emitted is left alone.
func (rt *Runtime) emitIfNeeded(ctx context.Context, req messages.Request, rec ledger.Record, gen int64) error {
	if rec.EmittedFor(req.StopAfter) {
		return nil
	}
	byTopic, err := rt.downstream(ctx, req)
	if err != nil {
		return err
	}
	var errs []error
	for topic, ms := range byTopic {
		if err := rt.publish(ctx, topic, ms...); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("emit downstream of %s %s: %w", req.Ref(), req.Date, err)
	}
	// The messages are out. If marking fails (a concurrent duplicate marked it first, or a
	// transient error), a redelivery emits again, which downstream ledgers absorb.
	_, err = rt.ledger.Write(ctx, rec.MarkEmittedThrough(req.StopAfter, rt.ledger.Now()), gen)
	if err != nil && !errors.Is(err, ledger.ErrConflict) {
		return fmt.Errorf("mark emitted: %w", err)
	}
	return nil
}

// downstream builds the messages for the downstream jobs req may reach, by topic.
func (rt *Runtime) downstream(ctx context.Context, req messages.Request) (map[string][]*pubsub.Message, error) {
	byTopic := map[string][]*pubsub.Message{}
	tp, hasTrace := traceparent(ctx)
	for _, to := range rt.opts.Catalog.Downstream(req.Ref()) {
		if !req.Reaches(to.Phase) {
			continue
		}
		body, attrs, err := messages.Encode(req.Next(to), rt.opts.Catalog)
		if err != nil {
			return nil, fmt.Errorf("emit to %s: %w", to, err)
		}
		if hasTrace {
			attrs[traceparentAttr] = tp
		}
		topic := rt.opts.Names.Topic(to.Phase)
		byTopic[topic] = append(byTopic[topic], &pubsub.Message{Data: body, Attributes: attrs})
	}
	return byTopic, nil
}

// rejectMessage handles a message that does not decode or does not belong on the
// subscription: dead-letter it with its reason, record the date dead when the attributes
// name a job and date of this subscription and the record is not done or running, and ack.
func (rt *Runtime) rejectMessage(ctx context.Context, spec messages.JobSpec, subID string, m *pubsub.Message, cause error) handling {
	reason := messages.Reason(cause)
	if reason == "" {
		reason = "malformed"
	}
	h := handling{ref: spec.Ref(), outcome: OutcomeDead, err: cause, reason: reason}
	date := m.Attributes[messages.AttrDate]
	if _, err := messages.ParseDate(date); err == nil && m.Attributes[messages.AttrJob] == spec.Name &&
		m.Attributes[messages.AttrPhase] == string(spec.Phase) {
		h.date = date
		rec, gen, err := rt.ledger.Get(ctx, spec.Ref(), date)
		switch {
		case errors.Is(err, ledger.ErrNotFound):
			rec, err = ledger.Record{Phase: spec.Phase, Job: spec.Name, Date: date}, nil
		}
		if err == nil && !rec.State.Done() && !rec.LeaseLive(rt.ledger.Now()) {
			dead := rec.Die(reason, cause, rt.ledger.Now())
			if _, werr := rt.ledger.Write(ctx, dead, gen); werr == nil {
				h.state = dead.State
			}
		}
	}
	if err := rt.deadLetter(ctx, subID, m, reason, cause); err != nil {
		m.Nack()
		h.outcome, h.err = OutcomeNotHandled, errors.Join(cause, err)
		return h
	}
	m.Ack()
	return h
}

// handleUnroutable acks what a job subscription of the phase takes and dead-letters what
// none would: Pub/Sub drops a message that matches no subscription filter.
func (rt *Runtime) handleUnroutable(mctx context.Context, phase messages.Phase, subID string, m *pubsub.Message) {
	rt.inflight.Add(1)
	defer rt.inflight.Done()
	start := time.Now()
	ctx, cancel := rt.workContext(mctx)
	defer cancel()
	job := m.Attributes[messages.AttrJob]
	h := handling{ref: messages.Ref(phase, job), date: m.Attributes[messages.AttrDate]}
	if _, ok := rt.opts.Catalog.Lookup(messages.Ref(phase, job)); ok {
		m.Ack()
		h.outcome = OutcomeRouted
		rt.logHandled(ctx, subID, m, h, time.Since(start))
		return
	}
	var cause error
	if job == "" {
		_, err := messages.Decode(m.Data, m.Attributes, rt.opts.Catalog)
		if err != nil {
			cause = fmt.Errorf("no job attribute, and the body does not decode: %w", err)
		} else {
			cause = fmt.Errorf("%w: no job attribute, so no job subscription of %s takes the message", messages.ErrMalformed, rt.opts.Names.Topic(phase))
		}
	} else {
		_, err := rt.opts.Catalog.Job(phase, job)
		cause = fmt.Errorf("no job subscription of %s takes job %q: %w", rt.opts.Names.Topic(phase), job, err)
	}
	h.reason = messages.Reason(cause)
	if h.reason == "" {
		h.reason = "malformed"
	}
	h.err = cause
	if err := rt.deadLetter(ctx, subID, m, h.reason, cause); err != nil {
		m.Nack()
		h.outcome, h.err = OutcomeNotHandled, errors.Join(cause, err)
	} else {
		m.Ack()
		h.outcome = OutcomeUnroutable
	}
	rt.logHandled(ctx, subID, m, h, time.Since(start))
}

// leaseKeeper extends the ledger lease of a running record while its job runs.
type leaseKeeper struct {
	rt        *Runtime
	cancelJob context.CancelFunc

	mu   sync.Mutex
	rec  ledger.Record
	gen  int64
	lost error
}

func (k *leaseKeeper) start(ctx context.Context) (stop func()) {
	period := k.rt.opts.Lease / 3
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			k.mu.Lock()
			rec, gen, err := k.rt.ledger.Extend(ctx, k.rec, k.gen, k.rt.opts.Lease)
			switch {
			case err == nil:
				k.rec, k.gen = rec, gen
			case errors.Is(err, ledger.ErrConflict):
				// Someone else moved the record: the lease is gone, stop the job.
				k.lost = fmt.Errorf("lease on %s %s lost: %w", k.rec.Ref(), k.rec.Date, err)
				k.cancelJob()
			default:
				// A transient error: keep the job running and try again next period,
				// unless the lease is about to lapse.
				if k.rec.Lease != nil && !k.rt.ledger.Now().Add(period).Before(k.rec.Lease.Expires) {
					k.lost = fmt.Errorf("lease on %s %s could not be extended: %w", k.rec.Ref(), k.rec.Date, err)
					k.cancelJob()
				}
			}
			lost := k.lost != nil
			k.mu.Unlock()
			if lost {
				return
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

func (k *leaseKeeper) state() (ledger.Record, int64, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.rec, k.gen, k.lost
}

type traceparentKey struct{}

func traceparent(ctx context.Context) (string, bool) {
	tp, ok := ctx.Value(traceparentKey{}).(string)
	return tp, ok && tp != ""
}

func (rt *Runtime) logHandled(ctx context.Context, subID string, m *pubsub.Message, h handling, elapsed time.Duration) {
	level := slog.LevelInfo
	switch h.outcome {
	case OutcomeRouted:
		level = slog.LevelDebug
	case OutcomeRetry, OutcomeLeaseHeld, OutcomeAbandoned, OutcomeNotHandled:
		level = slog.LevelWarn
	case OutcomeDead, OutcomeUnroutable:
		level = slog.LevelError
	}
	if !rt.log.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("outcome", string(h.outcome)),
		slog.String("phase", string(h.ref.Phase)),
		slog.String("job", h.ref.Job),
		slog.String("date", h.date),
		slog.String("run_id", firstNonEmpty(h.req.RunID, m.Attributes[messages.AttrRunID])),
		slog.Int("attempt", h.attempt),
		slog.Int("delivery_attempt", deliveryAttempt(m)),
		slog.String("state", string(h.state)),
		slog.Int64("rows", h.rows),
		slog.Duration("elapsed", elapsed),
		slog.String("subscription", subID),
		slog.String("message_id", m.ID),
	}
	if h.req.Trigger.From != "" {
		attrs = append(attrs, slog.String("from", h.req.Trigger.From))
	}
	if h.reason != "" {
		attrs = append(attrs, slog.String("reason", h.reason))
	}
	if h.err != nil {
		attrs = append(attrs, slog.String("err", h.err.Error()))
	}
	attrs = append(attrs, traceAttrs(rt.project, m.Attributes[traceparentAttr])...)
	rt.log.LogAttrs(ctx, level, "message "+string(h.outcome), attrs...)
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
