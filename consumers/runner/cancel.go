package runner

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/messages"
)

// cancelCheckEvery is how long a run's cancellation status is trusted before it is read
// again: a cancel takes effect everywhere within this, and a busy consumer reads each
// run's status at most this often.
const cancelCheckEvery = 10 * time.Second

// cancelCache remembers which runs are cancelled.
type cancelCache struct {
	mu   sync.Mutex
	runs map[string]cancelState
}

type cancelState struct {
	cancelled bool
	checked   time.Time
}

// cancelled reports whether the run of req was cancelled (producer cancel).
func (c *cancelCache) cancelled(ctx context.Context, l *ledger.Ledger, runID string) (bool, error) {
	c.mu.Lock()
	st, ok := c.runs[runID]
	c.mu.Unlock()
	if ok && (st.cancelled || time.Since(st.checked) < cancelCheckEvery) {
		return st.cancelled, nil
	}
	_, err := l.Cancelled(ctx, runID)
	switch {
	case errors.Is(err, ledger.ErrNotFound):
		st = cancelState{cancelled: false, checked: time.Now()}
	case err != nil:
		return false, err
	default:
		st = cancelState{cancelled: true, checked: time.Now()}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.runs == nil || len(c.runs) >= maxCachedPlans {
		c.runs = map[string]cancelState{}
	}
	c.runs[runID] = st
	return st.cancelled, nil
}

// dropCancelled records a date of a cancelled run as cancelled, unless it is done or
// running (in-flight work finishes), so that status shows what the cancel stopped.
func (rt *Runtime) dropCancelled(ctx context.Context, req messages.Request) (ledger.State, error) {
	for range casRetries {
		rec, gen, err := rt.ledger.Get(ctx, req.Ref(), req.Date)
		switch {
		case errors.Is(err, ledger.ErrNotFound):
			rec = ledger.Record{Phase: req.Phase, Job: req.Job, Date: req.Date}
		case err != nil:
			return "", err
		}
		now := rt.ledger.Now()
		if rec.State.Done() || rec.State == ledger.StateCancelled || rec.LeaseLive(now) {
			return rec.State, nil
		}
		rec = rec.For(req).Cancel(req.RunID, now)
		if _, err = rt.ledger.Write(ctx, rec, gen); !errors.Is(err, ledger.ErrConflict) {
			return rec.State, err
		}
	}
	return "", errors.New("record cancelled: lost the compare-and-swap race too often")
}
