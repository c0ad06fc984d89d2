package scrapers

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiter paces one source's requests for every job and worker of the process: a token bucket
// at the plan's rate, separate from how many workers run, and a pause that a 429's
// Retry-After sets for everyone (one worker being told to slow down means all of them are).
type limiter struct {
	bucket *rate.Limiter

	mu          sync.Mutex
	pausedUntil time.Time
}

func newLimiter(perMinute float64, burst int) *limiter {
	return &limiter{bucket: rate.NewLimiter(rate.Limit(perMinute/60), burst)}
}

// wait blocks until the source may be called: after any pause, and with a token.
func (l *limiter) wait(ctx context.Context) error {
	for {
		if err := sleep(ctx, l.pauseLeft()); err != nil {
			return err
		}
		if err := l.bucket.Wait(ctx); err != nil {
			return err
		}
		// A 429 may have paused the source while this worker waited for its token.
		if l.pauseLeft() <= 0 {
			return nil
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
