package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/messages"
)

// ReconcileLock names the lock in the bucket that lets one instance at a time run the
// reconciler.
const ReconcileLock = "reconciler"

// ReconcileReport says what one reconciler pass found and did.
type ReconcileReport struct {
	// Ran is false when another instance held the reconciler lock: this one did nothing.
	Ran bool `json:"ran"`
	// Records counts the ledger records looked at.
	Records int `json:"records"`
	// Redriven lists the requests sent again, as "phase/job date: why".
	Redriven []string      `json:"redriven,omitempty"`
	Elapsed  time.Duration `json:"elapsed"`
}

// Reconcile runs one reconciler pass, unless another instance holds the lock. It lists the
// ledger (object metadata only, one listing per job) and sends again the request of every
// record whose next step the pipeline promised but nobody is taking:
//   - running with a lease that lapsed (its consumer died or was stopped);
//   - failed for longer than RetryWithin (the redelivery never came: the subscription
//     dead-lettered it, or the emulator dropped it);
//   - waiting for hard upstreams that have all finished since;
//   - waiting for soft upstreams that have all finished or can no longer come (dead, or
//     stuck behind a dead upstream), or for longer than SoftWait;
//   - finished for longer than RetryWithin without its downstream messages marked sent
//     (its consumer died between recording and emitting, and the message that would
//     have emitted them on redelivery is gone: dead-lettered by the subscription's policy
//     or dropped); the re-sent request finds the date done and emits them;
//   - no record at all, though a run's plan or an upstream's emitted record promised the
//     pair (lost.go).
//
// Each re-drive is first written into the record (Redriven), so a record is sent again at
// most once per redrive spacing, whichever instance runs the next pass. The requests it
// sends are ordinary messages: the ledger decides what they do, exactly as for any other.
func (rt *Runtime) Reconcile(ctx context.Context) (ReconcileReport, error) {
	start := time.Now()
	var rep ReconcileReport
	ok, err := rt.ledger.TryLock(ctx, ReconcileLock, rt.opts.Owner, rt.reconcilePeriod()*9/10)
	if err != nil || !ok {
		return rep, err
	}
	rep.Ran = true
	idx := recordIndex{}
	for _, s := range rt.opts.Catalog.Jobs() {
		sums, err := rt.ledger.List(ctx, s.Ref(), "", "")
		if err != nil {
			return rep, err
		}
		for _, sum := range sums {
			idx[recordKey{s.Ref(), sum.Date}] = sum
		}
	}
	rep.Records = len(idx)
	now := rt.ledger.Now()
	var errs []error
	for _, s := range rt.opts.Catalog.Jobs() {
		for _, sum := range idx.dates(s.Ref()) {
			why := rt.redriveReason(sum, idx, now)
			if why == "" || (!sum.Redriven.IsZero() && now.Sub(sum.Redriven) < rt.redriveSpacing()) {
				continue
			}
			if sum.State.Done() {
				// A cancelled run's messages are dropped on purpose: its done dates emit
				// nothing more.
				if cancelled, err := rt.cancels.cancelled(ctx, rt.ledger, sum.RunID); err != nil || cancelled {
					errs = append(errs, err)
					continue
				}
			}
			sent, err := rt.redrive(ctx, sum, now)
			if err != nil {
				errs = append(errs, err)
			}
			if sent {
				rep.Redriven = append(rep.Redriven, fmt.Sprintf("%s %s: %s", s.Ref(), sum.Date, why))
			}
		}
	}
	lost, err := rt.reconcileLost(ctx, idx, now)
	rep.Redriven = append(rep.Redriven, lost...)
	errs = append(errs, err)
	rep.Elapsed = time.Since(start)
	return rep, errors.Join(errs...)
}

// reconcilePeriod is how often a pass is expected: ReconcileEvery, or the default when
// this process does not run its own loop (a scheduler calls it instead).
func (rt *Runtime) reconcilePeriod() time.Duration {
	if rt.opts.ReconcileEvery > 0 {
		return rt.opts.ReconcileEvery
	}
	return DefaultReconcileEvery
}

// redriveSpacing is the least time between two re-drives of one record.
func (rt *Runtime) redriveSpacing() time.Duration { return 5 * rt.reconcilePeriod() }

// redriveReason says why the record's request must be sent again, or "" if it need not.
func (rt *Runtime) redriveReason(s ledger.Summary, idx recordIndex, now time.Time) string {
	switch s.State {
	case ledger.StateRunning:
		if s.Stalled(now) {
			return fmt.Sprintf("lease lapsed %s ago", now.Sub(s.LeaseExpires).Round(time.Second))
		}
	case ledger.StateSucceeded, ledger.StateEmpty, ledger.StatePartial:
		if !s.Emitted && now.Sub(s.Updated) >= rt.opts.RetryWithin {
			return fmt.Sprintf("finished %s ago, its downstream messages not sent", now.Sub(s.Updated).Round(time.Second))
		}
	case ledger.StateFailed:
		if now.Sub(s.Updated) >= rt.opts.RetryWithin {
			return fmt.Sprintf("failed %s ago and not retried", now.Sub(s.Updated).Round(time.Second))
		}
	case ledger.StateWaiting:
		if len(s.Missing) > 0 {
			if idx.all(s.Missing, s.Date, func(_ messages.JobRef, sum ledger.Summary, found bool) bool { return found && sum.State.Done() }) {
				return "hard upstreams finished"
			}
			return ""
		}
		if len(s.Awaiting) == 0 {
			return ""
		}
		if rt.opts.SoftWait > 0 && now.Sub(s.AwaitingSince) >= rt.opts.SoftWait {
			return "soft wait over"
		}
		settled := func(ref messages.JobRef, sum ledger.Summary, found bool) bool {
			return found && sum.State.Done() || idx.blocked(rt.opts.Catalog, ref, s.Date, 0)
		}
		if idx.all(s.Awaiting, s.Date, settled) {
			return "soft upstreams finished or cannot come"
		}
	}
	return ""
}

// redrive records the re-drive in the record, then sends its request. It reports whether
// it sent it; a record that moved since the listing is left to its mover.
func (rt *Runtime) redrive(ctx context.Context, s ledger.Summary, now time.Time) (bool, error) {
	rec, gen, err := rt.ledger.Get(ctx, s.Ref(), s.Date)
	if err != nil {
		return false, err
	}
	if gen != s.Generation {
		return false, nil
	}
	rec.Redriven = now
	if _, err := rt.ledger.Write(ctx, rec, gen); err != nil {
		if errors.Is(err, ledger.ErrConflict) {
			return false, nil
		}
		return false, err
	}
	req := rec.Request()
	if req.RunID == "" {
		req.RunID = "reconciler"
	}
	m, err := rt.message(ctx, req)
	if err == nil {
		err = rt.publish(ctx, m)
	}
	if err != nil {
		return false, fmt.Errorf("re-drive %s %s: %w", s.Ref(), s.Date, err)
	}
	return true, nil
}

// reconcileEvery offers to run the reconciler every ReconcileEvery until ctx ends.
func (rt *Runtime) reconcileEvery(ctx context.Context) {
	t := time.NewTicker(rt.opts.ReconcileEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rep, err := rt.Reconcile(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			rt.log.LogAttrs(ctx, slog.LevelWarn, "reconciler pass failed", slog.String("err", err.Error()),
				slog.Int("redriven", len(rep.Redriven)))
		case rep.Ran:
			rt.log.LogAttrs(ctx, slog.LevelInfo, "reconciler pass", slog.Int("records", rep.Records),
				slog.Int("redriven", len(rep.Redriven)), slog.Any("redrives", rep.Redriven), slog.Duration("elapsed", rep.Elapsed))
		}
	}
}

type recordKey struct {
	ref  messages.JobRef
	date string
}

// recordIndex is one listing of the ledger, by job and date.
type recordIndex map[recordKey]ledger.Summary

// dates returns the summaries of ref.
func (idx recordIndex) dates(ref messages.JobRef) []ledger.Summary {
	var out []ledger.Summary
	for k, s := range idx {
		if k.ref == ref {
			out = append(out, s)
		}
	}
	return out
}

// all reports whether ok holds for the records of every "phase/job" in refs on date (found
// false: the job has no record for the date).
func (idx recordIndex) all(refs []string, date string, ok func(messages.JobRef, ledger.Summary, bool) bool) bool {
	for _, r := range refs {
		ref, err := messages.ParseJobRef(r)
		if err != nil {
			return false
		}
		s, found := idx[recordKey{ref, date}]
		if !ok(ref, s, found) {
			return false
		}
	}
	return true
}

// blocked reports whether ref cannot finish date: it is dead, or it has not finished and
// one of its hard upstreams is blocked.
func (idx recordIndex) blocked(cat *messages.Catalog, ref messages.JobRef, date string, depth int) bool {
	s, found := idx[recordKey{ref, date}]
	if found && (s.State == ledger.StateDead || s.State == ledger.StateCancelled) {
		return true
	}
	if found && s.State != ledger.StateWaiting {
		return false
	}
	spec, ok := cat.Lookup(ref)
	if !ok || depth > len(cat.Jobs()) {
		return false
	}
	for _, h := range spec.Hard {
		if idx.blocked(cat, h, date, depth+1) {
			return true
		}
	}
	return false
}
