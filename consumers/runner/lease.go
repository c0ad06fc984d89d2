package runner

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nba-props/pipeline/consumers/ledger"
)

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
