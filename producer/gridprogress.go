package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/messages"
)

// throughputWindow is how far back the finishing rate is measured: long enough to smooth a
// phase that finishes in bursts, short enough to follow a run that slows down.
const throughputWindow = 5 * time.Minute

// gridProgress is how far the (job, date) pairs of a grid are: status --watch prints it
// and the status page shows it.
type gridProgress struct {
	// Total counts the pairs the catalogue lets run (a source that cannot serve a date is
	// left out, unless it has a record anyway); Finished those that need nothing more:
	// succeeded, empty, partial, dead or cancelled.
	Total    int             `json:"total"`
	Finished int             `json:"finished"`
	Phases   []phaseProgress `json:"phases"`
	// States counts the pairs by state ("none" without a record, "stalled" for a running
	// record whose lease lapsed).
	States map[string]int `json:"states"`
	// PerSecond is the pairs finished per second over Window, the stretch of the last
	// throughputWindow since the grid's first record was written.
	PerSecond float64       `json:"per_second"`
	Window    time.Duration `json:"window_ns"`
	// ETA is the time left at PerSecond; 0 when done or when nothing finished lately.
	ETA time.Duration `json:"eta_ns"`
}

// phaseProgress is the part of a grid in one phase.
type phaseProgress struct {
	Phase    string `json:"phase"`
	Total    int    `json:"total"`
	Finished int    `json:"finished"`
}

// cellState is the state a cell is drawn with: the record's, "stalled" for a running
// record whose lease lapsed, or "none".
func cellState(c cell) string {
	switch {
	case c.State == "":
		return "none"
	case c.StalledFor > 0:
		return "stalled"
	}
	return c.State
}

// cellFinished reports whether nothing more will happen to the pair without a new
// enqueue.
func cellFinished(c cell) bool {
	switch ledger.State(c.State) {
	case ledger.StateSucceeded, ledger.StateEmpty, ledger.StatePartial, ledger.StateDead, ledger.StateCancelled:
		return true
	}
	return false
}

// gridProgressOf counts the cells' progress at now; today is the game date the catalogue's
// current-only sources serve.
func gridProgressOf(cat *messages.Catalog, cells []cell, today string, now time.Time) gridProgress {
	p := gridProgress{States: map[string]int{}}
	byPhase := map[string]*phaseProgress{}
	var first time.Time
	for _, c := range cells {
		ref := messages.Ref(messages.Phase(c.Phase), c.Job)
		if c.State == "" && cat.CheckDate(ref, c.Date, today) != nil {
			continue
		}
		pp := byPhase[c.Phase]
		if pp == nil {
			pp = &phaseProgress{Phase: c.Phase}
			byPhase[c.Phase] = pp
		}
		p.Total++
		pp.Total++
		p.States[cellState(c)]++
		if cellFinished(c) {
			p.Finished++
			pp.Finished++
		}
		if !c.Updated.IsZero() && (first.IsZero() || c.Updated.Before(first)) {
			first = c.Updated
		}
	}
	for _, ph := range messages.Phases() {
		if pp := byPhase[string(ph)]; pp != nil {
			p.Phases = append(p.Phases, *pp)
		}
	}
	if first.IsZero() {
		return p
	}
	p.Window = min(throughputWindow, now.Sub(first))
	if p.Window < time.Second {
		p.Window = time.Second
	}
	recent := 0
	for _, c := range cells {
		if cellFinished(c) && !c.Updated.Before(now.Add(-p.Window)) {
			recent++
		}
	}
	p.PerSecond = float64(recent) / p.Window.Seconds()
	if left := p.Total - p.Finished; left > 0 && p.PerSecond > 0 {
		// Whole seconds, rounded up: the last pairs are never "ETA 0s".
		p.ETA = time.Duration(math.Ceil(float64(left)/p.PerSecond)) * time.Second
	}
	return p
}

// printProgress writes the progress lines of status --watch.
func printProgress(w io.Writer, p gridProgress) {
	if p.Total == 0 {
		fmt.Fprintln(w, "progress: no pairs the sources can serve in this range")
		return
	}
	var phases []string
	for _, ph := range p.Phases {
		phases = append(phases, fmt.Sprintf("%s %d/%d", ph.Phase, ph.Finished, ph.Total))
	}
	fmt.Fprintf(w, "progress: %d/%d pairs finished (%d%%): %s\n", p.Finished, p.Total, 100*p.Finished/p.Total, strings.Join(phases, ", "))
	fmt.Fprintf(w, "throughput: %s; %s\n", rate(p), eta(p))
}

// rate says how fast pairs finish.
func rate(p gridProgress) string {
	if p.Window == 0 {
		return "nothing recorded yet"
	}
	return fmt.Sprintf("%.2f pairs/s over the last %s", p.PerSecond, p.Window.Round(time.Second))
}

// eta says when the grid will be finished at that rate.
func eta(p gridProgress) string {
	switch {
	case p.Finished >= p.Total:
		return "finished"
	case p.ETA > 0:
		return "ETA " + p.ETA.String()
	case p.States["failed"]+p.States["running"]+p.States["waiting"] > 0:
		return "ETA unknown: nothing finished lately, work is still under way"
	default:
		return "ETA unknown: nothing finished lately and nothing runs; enqueue the rest"
	}
}
