package scrapers

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/messages"
)

// limiter paces one source's requests for every job and worker of the process: a token bucket
// at the plan's rate, separate from how many workers run, and a pause that a 429's
// Retry-After sets for everyone (one worker being told to slow down means all of them are).
type limiter struct {
	bucket *rate.Limiter
	// daily counts the daily-lane requests waiting for a token: while there is one, the
	// backfill lane's requests hold back, so a daily run is not paced behind a backlog.
	daily atomic.Int32

	mu          sync.Mutex
	pausedUntil time.Time
}

// yieldPoll is how often a backfill request looks again whether daily requests still wait.
const yieldPoll = 20 * time.Millisecond

func newLimiter(perMinute float64, burst int) *limiter {
	return &limiter{bucket: rate.NewLimiter(rate.Limit(perMinute/60), burst)}
}

// wait blocks until the source may be called: after any pause, and with a token. The
// daily lane goes first: a daily request queues for the next token, while a backfill
// request only takes a token that is free now and no daily request waits for, so a daily
// run is never paced behind a backfill's backlog.
func (l *limiter) wait(ctx context.Context) error {
	info, _ := runner.Info(ctx)
	daily := info.Lane == messages.LaneDaily
	if daily {
		l.daily.Add(1)
		defer l.daily.Add(-1)
	}
	for {
		if err := sleep(ctx, l.pauseLeft()); err != nil {
			return err
		}
		if daily {
			if err := l.bucket.Wait(ctx); err != nil {
				return err
			}
		} else if err := l.takeFree(ctx); err != nil {
			return err
		}
		// A 429 may have paused the source while this worker waited for its token.
		if l.pauseLeft() <= 0 {
			return nil
		}
	}
}

// takeFree waits for a token that is free now while no daily request waits, polling
// rather than queueing, so a daily request that arrives later still goes first.
func (l *limiter) takeFree(ctx context.Context) error {
	for {
		poll := yieldPoll
		if l.daily.Load() == 0 {
			r := l.bucket.Reserve()
			d := r.Delay()
			if d == 0 {
				return nil
			}
			r.Cancel()
			poll = min(d, yieldPoll)
		}
		if err := sleep(ctx, poll); err != nil {
			return err
		}
	}
}

// pause stops every caller of the source for d (a Retry-After), extending a shorter pause.
func (l *limiter) pause(d time.Duration) {
	until := time.Now().Add(d)
	l.mu.Lock()
	defer l.mu.Unlock()
	if until.After(l.pausedUntil) {
		l.pausedUntil = until
	}
}

func (l *limiter) pauseLeft() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return time.Until(l.pausedUntil)
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
