package runner

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/messages"
)

type action int

const (
	actionRun       action = iota // the record is claimed: run the job
	actionDuplicate               // done with the same input
	actionWaiting                 // a hard upstream is not done: recorded waiting
	actionSoftWait                // a soft upstream is on its way: recorded waiting
	actionLeaseHeld               // another consumer holds a live lease
	actionAbandoned               // the shutdown grace period is over
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
// date (see pendingSoft) gets actionSoftWait: a record not done is written waiting with
// the pending soft upstreams in Awaiting, for at most SoftWait from the start of the wait;
// the reconciler re-sends the request when they land or the wait is over.
//
// Before it claims a run, decide takes slot, waiting while the job's runs fill every slot;
// the record it read may have moved meanwhile, which the claim's compare-and-swap finds.
func (rt *Runtime) decide(ctx context.Context, spec messages.JobSpec, req messages.Request, slot *runSlot) (decision, error) {
	ref := spec.Ref()
	rec, gen, err := rt.ledger.Get(ctx, ref, req.Date)
	switch {
	case errors.Is(err, ledger.ErrNotFound):
		rec = ledger.Record{Phase: ref.Phase, Job: ref.Job, Date: req.Date}
	case err != nil:
		return decision{}, err
	}
	now := rt.ledger.Now()
	// A live lease of this very process on a date it does not run is its own claim whose
	// answer was lost (the write committed, the response did not arrive): take it again,
	// as the same attempt (ledger.Record.Start), rather than wait a whole lease for nobody.
	if rec.LeaseLive(now) && !(rec.Lease.Owner == rt.opts.Owner && !rt.runningElsewhereHere(ref, req.Date)) {
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
		if !rec.State.Done() && !(rec.State == ledger.StateWaiting && waitsAlready(rec, req, rec.Missing, missing)) {
			rec = rec.For(req).Wait(missing, nil, now)
			if gen, err = rt.ledger.Write(ctx, rec, gen); err != nil {
				return decision{}, err
			}
		}
		return decision{action: actionWaiting, rec: rec, gen: gen}, nil
	}
	// A record this run already finished has had its soft wait: it ran once every soft
	// upstream had come or the wait was over. A soft upstream that comes later runs it again
	// at once, whatever other soft upstream is still on its way. Waiting again would leave
	// nothing in the ledger to end the wait (the record says done, not waiting): if the one
	// still on its way never finished (stuck behind a dead upstream), the date would keep
	// the run that lacked both.
	again := rec.State.Done() && rec.RunID == req.RunID
	if since, waiting := rec.SoftWait(); len(spec.Soft) > 0 && rt.opts.SoftWait > 0 && !again &&
		(!waiting || now.Sub(since) < rt.opts.SoftWait) {
		pending, err := rt.pendingSoft(ctx, spec, req, recs)
		if err != nil {
			return decision{}, err
		}
		if len(pending) > 0 {
			if !rec.State.Done() && !(waiting && waitsAlready(rec, req, rec.Awaiting, pending)) {
				rec = rec.For(req).Wait(nil, pending, now)
				if gen, err = rt.ledger.Write(ctx, rec, gen); err != nil {
					return decision{}, err
				}
			}
			return decision{action: actionSoftWait, rec: rec, gen: gen}, nil
		}
	}
	fp := InputFingerprint(inputs)
	root := len(spec.Upstreams()) == 0
	// A job with no upstreams that found nothing, or not everything, fetches again.
	refetch := root && (rec.State == ledger.StateEmpty || rec.State == ledger.StatePartial)
	if rec.State.Done() && rec.InputFingerprint == fp && !req.Force && !refetch {
		return decision{action: actionDuplicate, rec: rec, gen: gen}, nil
	}
	if err := slot.take(ctx); err != nil {
		return decision{}, err
	}
	now = rt.ledger.Now() // the lease starts when the run does, after any wait for a slot
	rec = rec.For(req).Start(rt.opts.Owner, req.RunID, rt.opts.Lease, now)
	rec.InputFingerprint, rec.Inputs = fp, inputs
	if gen, err = rt.ledger.Write(ctx, rec, gen); err != nil {
		return decision{}, err
	}
	return decision{action: actionRun, rec: rec, gen: gen}, nil
}

// waitsAlready reports whether a waiting record says all that writing it again would: it is
// of the same request (run, stop phase, lane) and the upstreams it lists (listed) include
// every one still on its way (pending). An upstream that finished since stays listed until
// the record is next written; whoever reads the list (the reconciler, producer status)
// looks up which of its upstreams are done, so a list that holds more says the same, and
// the write is saved: a job with several upstreams gets one delivery per upstream, most of
// them while others still run.
func waitsAlready(rec ledger.Record, req messages.Request, listed, pending []string) bool {
	if rec.RunID != req.RunID || rec.StopAfter != req.StopAfter || rec.Lane != req.Lane {
		return false
	}
	for _, p := range pending {
		if !slices.Contains(listed, p) {
			return false
		}
	}
	return true
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

// pendingSoft returns the soft upstreams of spec ("phase/job") that are on their way for
// the request's date: running or waiting to be retried, or not run yet although their own
// hard upstreams are done or on their way, or a first-phase job that the producer run of
// the request queued (its run plan says so). A soft upstream that is done, dead, or has
// nothing to start from is not waited for.
func (rt *Runtime) pendingSoft(ctx context.Context, spec messages.JobSpec, req messages.Request, recs *dateRecords) ([]string, error) {
	var out []string
	for _, u := range spec.Soft {
		p, err := rt.pending(ctx, u, req, recs, 0)
		if err != nil {
			return nil, err
		}
		if p {
			out = append(out, u.String())
		}
	}
	return out, nil
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
		case ledger.StateSucceeded, ledger.StateEmpty, ledger.StatePartial, ledger.StateDead, ledger.StateCancelled:
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
		plan, err := rt.plans.get(ctx, rt.ledger, req.RunID)
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

// planCache keeps producer run plans by run id (nil: the run wrote none). Plans never
// change once their messages are out, so each is read once per process.
type planCache struct {
	mu    sync.Mutex
	plans map[string]*ledger.Plan
}

// maxCachedPlans bounds the plan cache; a long-lived consumer sees one run after another.
const maxCachedPlans = 64

// get returns the plan of a run, or nil if the run wrote none.
func (c *planCache) get(ctx context.Context, l *ledger.Ledger, runID string) (*ledger.Plan, error) {
	c.mu.Lock()
	p, ok := c.plans[runID]
	c.mu.Unlock()
	if ok {
		return p, nil
	}
	got, err := l.ReadPlan(ctx, runID)
	switch {
	case errors.Is(err, ledger.ErrNotFound):
		p = nil
	case err != nil:
		return nil, err
	default:
		p = &got
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.plans == nil || len(c.plans) >= maxCachedPlans {
		c.plans = map[string]*ledger.Plan{}
	}
	c.plans[runID] = p
	return p, nil
}

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
