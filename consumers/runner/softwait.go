package runner

import (
	"context"
	"sync"
	"time"

	"github.com/nba-props/pipeline/messages"
)

// softWaits are this process's timers that publish a soft-waiting request again once
// SoftWait is over, so that a date waiting for a soft upstream that never comes still
// runs. If the process stops first, the date stays waiting, visible in producer status,
// until any message for it arrives.
type softWaits struct {
	mu       sync.Mutex
	timers   map[string]*time.Timer // by "phase/job date"
	stopping bool
}

// later schedules the re-trigger of req for its own job (once per job and date in this
// process), carrying the trace context of ctx.
func (s *softWaits) later(ctx context.Context, rt *Runtime, spec messages.JobSpec, req messages.Request) {
	key := spec.Ref().String() + " " + req.Date
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping || s.timers[key] != nil {
		return
	}
	if s.timers == nil {
		s.timers = map[string]*time.Timer{}
	}
	next := req
	next.Force = false
	next.Trigger = messages.Trigger{Kind: messages.TriggerReconcile, From: "soft-wait"}
	tp, _ := traceparent(ctx)
	tctx := withTraceparent(context.Background(), tp)
	s.timers[key] = time.AfterFunc(rt.opts.SoftWait+time.Second, func() {
		s.mu.Lock()
		delete(s.timers, key)
		stopping := s.stopping
		s.mu.Unlock()
		if stopping {
			return
		}
		m, err := rt.message(tctx, next)
		if err == nil {
			err = rt.publish(tctx, m)
		}
		if err != nil {
			rt.log.Warn("soft-wait re-trigger not published", "phase", spec.Phase, "job", spec.Name, "date", req.Date, "err", err)
		}
	})
}

// stop cancels the pending timers when the runtime stops.
func (s *softWaits) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopping = true
	for _, t := range s.timers {
		t.Stop()
	}
	s.timers = nil
}
