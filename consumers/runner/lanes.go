package runner

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Daily work goes first. A job's two lanes have their own subscriptions and slots, so a
// backlog never queues ahead of today's messages; but both lanes' runs share this
// process's CPU, its connections and the services behind them, and a backlog that keeps
// its slots full slows the daily run it does not block. So while a daily-lane delivery is
// being handled here, and for dailyHold after the last one ends, backfill deliveries wait
// before they claim anything; runs already started finish. The wait holds the delivery
// (the pull client extends its deadline) and is bounded by maxYield, so a backfill is
// delayed, never starved.
//
// Only streaming pull yields (Run turns it on). A push delivery that waited would keep
// its lane's slot on the instance, and the pushes queued behind it would be refused with
// 429 after the slot wait, each spending one of the subscription's delivery attempts;
// on push the daily lane relies on its own subscription, slots and the instances the
// platform adds.
const (
	// dailyHold bridges the hop from one phase's daily run to the next phase's: the
	// downstream message arrives within it, and the backfill does not slip in between.
	dailyHold = 2 * time.Second
	// maxYield is the longest a backfill delivery waits for daily work: well inside a
	// subscription's ack deadline (a minute at least).
	maxYield = 30 * time.Second
)

// laneGate counts the daily deliveries in flight and lets backfill deliveries wait for
// them. The zero value is ready to use.
type laneGate struct {
	on      atomic.Bool // backfill yields: set by Run
	mu      sync.Mutex
	active  int
	last    time.Time     // when the last daily delivery ended
	changed chan struct{} // closed (and replaced) when active drops to 0
}

// daily marks a daily-lane delivery in flight until the returned func.
func (g *laneGate) daily() func() {
	g.mu.Lock()
	g.active++
	g.mu.Unlock()
	return func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		g.active--
		g.last = time.Now()
		if g.active == 0 && g.changed != nil {
			close(g.changed)
			g.changed = nil
		}
	}
}

// yield waits until no daily delivery is in flight and dailyHold has passed since the
// last one, at most maxYield. It reports false when ctx ended first (the transport is
// shutting down: the delivery is handed back untouched).
func (g *laneGate) yield(ctx context.Context) bool {
	if !g.on.Load() {
		return true
	}
	deadline := time.Now().Add(maxYield)
	for {
		g.mu.Lock()
		now := time.Now()
		wait, changed := time.Duration(0), (<-chan struct{})(nil)
		switch {
		case g.active > 0:
			if g.changed == nil {
				g.changed = make(chan struct{})
			}
			changed, wait = g.changed, deadline.Sub(now)
		case now.Before(g.last.Add(dailyHold)):
			wait = min(g.last.Add(dailyHold).Sub(now), deadline.Sub(now))
		}
		g.mu.Unlock()
		if wait <= 0 {
			return ctx.Err() == nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-changed:
		case <-t.C:
		}
		t.Stop()
	}
}
