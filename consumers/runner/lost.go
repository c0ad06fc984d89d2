package runner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/messages"
)

// A message can be lost before any consumer wrote a record of its date: a subscription
// that dropped it (the official emulator keeps what a killed consumer held; a message
// outlives its retention), or a consumer killed between receiving it and claiming. The
// ledger still says it was promised, in two places, and the reconciler sends it again from
// there:
//   - a run's plan lists every pair the producer published (not a paced run's: its
//     producer releases dates over time, so a missing record may just be unpublished);
//   - a finished record marked emitted published its downstream pairs, within its stop
//     phase and the downstream job's source bounds.
//
// A pair without a record is taken for lost only once its run has been quiet for
// RetryWithin: no record of the run written since (nor the plan). While a run moves, its
// missing pairs are more likely queued behind its own backlog than lost, and sending them
// again would only double the queue.
//
// The lost pair's record is created first, failed with the reason, so that its re-drive is
// spaced and retried like any failed record's. A plan is read only while its run is quiet
// (a pass costs no read per moving run), and one whose pairs all have records is marked
// complete and not read again.

// errLost is the error a lost pair's record carries.
var errLost = errors.New("its message was lost: no consumer recorded the date, so the reconciler sent it again")

// reconcileLost re-sends the lost pairs it finds and returns what it sent, as
// "phase/job date: why".
func (rt *Runtime) reconcileLost(ctx context.Context, idx recordIndex, now time.Time) ([]string, error) {
	var sent []string
	var errs []error
	send := func(req messages.Request, why string) {
		ok, err := rt.redriveLost(ctx, req, now)
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			sent = append(sent, fmt.Sprintf("%s %s: %s", req.Ref(), req.Date, why))
		}
	}
	moved := map[string]time.Time{} // run id → its last record write
	for _, sum := range idx {
		if sum.Updated.After(moved[sum.RunID]) {
			moved[sum.RunID] = sum.Updated
		}
	}
	quiet := func(runID string, since time.Time) bool {
		if moved[runID].After(since) {
			since = moved[runID]
		}
		return now.Sub(since) >= rt.opts.RetryWithin
	}
	plans, err := rt.ledger.ListPlans(ctx)
	if err != nil {
		errs = append(errs, err) // the emitted records below are still looked at
	}
	for _, ps := range plans {
		if ps.Complete || !quiet(ps.RunID, ps.Created) {
			continue // a moving run's plan is read once the run is quiet
		}
		if cancelled, err := rt.cancels.cancelled(ctx, rt.ledger, ps.RunID); err != nil || cancelled {
			errs = append(errs, err) // a cancelled run's messages are dropped on purpose
			continue
		}
		p, gen, err := rt.ledger.ReadPlanGeneration(ctx, ps.RunID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		missing := 0
		for job, dates := range p.Pairs {
			ref, err := messages.ParseJobRef(job)
			if _, known := rt.opts.Catalog.Lookup(ref); err != nil || !known {
				continue
			}
			for _, date := range dates {
				if _, ok := idx[recordKey{ref, date}]; ok {
					continue
				}
				missing++
				if !p.Paced {
					send(messages.Request{Version: messages.Version, Phase: ref.Phase, Job: ref.Job, Date: date, RunID: p.RunID,
						Trigger: messages.Trigger{Kind: messages.TriggerReconcile, From: "run plan"}, StopAfter: p.StopAfter, Lane: p.Lane},
						"planned by run "+p.RunID+", no record")
				}
			}
		}
		if missing == 0 {
			if err := rt.ledger.MarkPlanComplete(ctx, p, gen); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for key, sum := range idx {
		if !sum.Emitted || !sum.State.Done() || !quiet(sum.RunID, sum.Updated) {
			continue
		}
		var from *ledger.Record
		for _, to := range rt.opts.Catalog.Downstream(key.ref) {
			if _, ok := idx[recordKey{to, key.date}]; ok || rt.opts.Catalog.CheckBounds(to, key.date) != nil {
				continue
			}
			if from == nil {
				rec, _, err := rt.ledger.Get(ctx, key.ref, key.date)
				if err != nil {
					errs = append(errs, err)
					break
				}
				from = &rec
			}
			req := from.Request()
			if !req.Reaches(to.Phase) {
				continue
			}
			send(req.Next(to), "emitted by "+key.ref.String()+", no record")
		}
	}
	return sent, errors.Join(errs...)
}

// redriveLost creates the lost pair's record, failed, then sends its request. It reports
// false when a record appeared meanwhile (its message was only late).
func (rt *Runtime) redriveLost(ctx context.Context, req messages.Request, now time.Time) (bool, error) {
	rec := ledger.Record{Phase: req.Phase, Job: req.Job, Date: req.Date}.For(req).Fail(errLost, now)
	rec.Redriven = now
	if _, err := rt.ledger.Write(ctx, rec, 0); err != nil {
		if errors.Is(err, ledger.ErrConflict) {
			return false, nil
		}
		return false, err
	}
	m, err := rt.message(ctx, req)
	if err == nil {
		err = rt.publish(ctx, m)
	}
	if err != nil {
		return false, fmt.Errorf("re-send lost %s %s: %w", req.Ref(), req.Date, err)
	}
	return true, nil
}
