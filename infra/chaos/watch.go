package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/infra/backfill"
	"github.com/nba-props/pipeline/messages"
)

// key is one (job, date).
type key struct {
	ref  messages.JobRef
	date string
}

func (k key) String() string { return k.ref.String() + " " + k.date }

// expectation is how every (job, date) the chain reaches must end.
type expectation struct {
	cat *messages.Catalog
	// pairs are every (job, date) a scraper backfill of the range reaches
	// (backfill.ExpectedPairs), in catalogue order.
	pairs []key
	// dead are the pairs that must end dead (deadEnd), with the reasons their record may
	// carry.
	dead map[key][]string
	// blocked are the pairs behind a dead hard upstream: the chain cannot reach them, so
	// they have no record, or one waiting for that upstream.
	blocked map[key]bool
}

func newExpectation(cat *messages.Catalog, dates []string, today string, ends []deadEnd) expectation {
	e := expectation{cat: cat, dead: map[key][]string{}, blocked: map[key]bool{}}
	pairs := backfill.ExpectedPairs(cat, dates, today)
	for _, s := range cat.Jobs() {
		for _, d := range pairs[s.Ref()] {
			e.pairs = append(e.pairs, key{s.Ref(), d})
		}
	}
	for _, d := range ends {
		e.dead[d.key] = d.reasons
	}
	for _, k := range e.pairs {
		if e.behindDead(k.ref, k.date) {
			e.blocked[k] = true
		}
	}
	return e
}

// behindDead reports whether a hard upstream of ref, or one of theirs, must die on date.
func (e expectation) behindDead(ref messages.JobRef, date string) bool {
	spec, _ := e.cat.Lookup(ref)
	for _, u := range spec.Hard {
		if _, dead := e.dead[key{u, date}]; dead || e.behindDead(u, date) {
			return true
		}
	}
	return false
}

// settled reports whether a record will not move again without an operator: finished,
// partial, dead, or behind a dead hard upstream (waiting for it, or never started),
// whether that death was planned or not. got holds the records seen, by key.
func (e expectation) settled(k key, got map[key]ledger.Summary) bool {
	s, ok := got[k]
	if ok {
		switch s.State {
		case ledger.StateSucceeded, ledger.StateEmpty, ledger.StatePartial, ledger.StateDead:
			return true
		case ledger.StateWaiting:
		default:
			return false
		}
	}
	return e.blocked[k] || e.deadUpstream(k.ref, k.date, got)
}

// deadUpstream reports whether a hard upstream of ref, or one of theirs, is dead on date.
func (e expectation) deadUpstream(ref messages.JobRef, date string, got map[key]ledger.Summary) bool {
	spec, _ := e.cat.Lookup(ref)
	for _, u := range spec.Hard {
		if s, ok := got[key{u, date}]; ok && s.State == ledger.StateDead || e.deadUpstream(u, date, got) {
			return true
		}
	}
	return false
}

// check compares every pair's final record with what it must be, and returns what differs.
func (e expectation) check(got map[key]ledger.Summary) []string {
	var bad []string
	for _, k := range e.pairs {
		s, ok := got[k]
		reasons, mustDie := e.dead[k]
		switch {
		case mustDie:
			if !ok || s.State != ledger.StateDead || !slices.Contains(reasons, s.Reason) {
				bad = append(bad, fmt.Sprintf("%s: want dead (%s), got %s", k, strings.Join(reasons, " or "), describe(s, ok)))
			}
		case e.blocked[k]:
			if ok && s.State != ledger.StateWaiting {
				bad = append(bad, fmt.Sprintf("%s: behind a dead upstream, want no record or waiting, got %s", k, describe(s, ok)))
			}
		default:
			if !ok || !s.State.Finished() {
				bad = append(bad, fmt.Sprintf("%s: want succeeded or empty, got %s", k, describe(s, ok)))
			}
		}
	}
	return bad
}

func describe(s ledger.Summary, ok bool) string {
	if !ok {
		return "no record"
	}
	d := string(s.State)
	if s.Reason != "" {
		d += " (" + s.Reason + ")"
	}
	d += fmt.Sprintf(", attempts %d, run %s", s.Attempts, s.RunID)
	if len(s.Missing) > 0 {
		d += ", missing " + strings.Join(s.Missing, ",")
	}
	if len(s.Incomplete) > 0 {
		d += ", incomplete " + strings.Join(s.Incomplete, ",")
	}
	if s.LastError != "" {
		d += ", last error: " + s.LastError
	}
	return d
}

// watcher polls the ledger (object metadata only), measures how long a record sat under a
// lapsed lease without anything moving it (a re-drive writes the record, then a consumer
// takes it over), and hands every newly finished record to onDone once.
type watcher struct {
	led    *ledger.Ledger
	exp    expectation
	refs   []messages.JobRef
	from   string
	to     string
	onDone func(ledger.Summary)

	mu   sync.Mutex
	last map[key]ledger.Summary
	// seen is when the generation in last was first seen (within one poll of its write).
	seen map[key]time.Time
	done map[key]bool
	// worst is the longest time a record stayed running under a lapsed lease before its
	// next change, and which record.
	worst    time.Duration
	worstKey key
	stalls   int
}

func newWatcher(led *ledger.Ledger, exp expectation, from, to string, onDone func(ledger.Summary)) *watcher {
	w := &watcher{led: led, exp: exp, from: from, to: to, onDone: onDone,
		last: map[key]ledger.Summary{}, seen: map[key]time.Time{}, done: map[key]bool{}}
	for _, k := range exp.pairs {
		if !slices.Contains(w.refs, k.ref) {
			w.refs = append(w.refs, k.ref)
		}
	}
	return w
}

// poll reads the ledger once. It returns the records and whether any changed.
func (w *watcher) poll(ctx context.Context) (map[key]ledger.Summary, bool, error) {
	now := time.Now()
	got := map[key]ledger.Summary{}
	for _, ref := range w.refs {
		sums, err := w.led.List(ctx, ref, w.from, w.to)
		if err != nil {
			return nil, false, err
		}
		for _, s := range sums {
			got[key{ref, s.Date}] = s
		}
	}
	w.mu.Lock()
	changed := len(got) != len(w.last)
	var finished []ledger.Summary
	for k, s := range got {
		prev, had := w.last[k]
		if had && prev.Generation == s.Generation {
			continue
		}
		changed = true
		if had && prev.State == ledger.StateRunning && !prev.LeaseExpires.IsZero() && now.After(prev.LeaseExpires) {
			w.stalls++
			from := prev.LeaseExpires
			if t := w.seen[k]; t.After(from) {
				from = t // re-driven since the lease lapsed: the wait starts again
			}
			if d := now.Sub(from); d > w.worst {
				w.worst, w.worstKey = d, k
			}
		}
		w.seen[k] = now
		if s.State.Done() && s.Emitted && !w.done[k] {
			w.done[k] = true
			finished = append(finished, s)
		}
	}
	w.last = got
	w.mu.Unlock()
	for _, s := range finished {
		w.onDone(s)
	}
	return got, changed, nil
}

// stalled returns the records still running under a lapsed lease at now, longest first.
func (w *watcher) stalled(now time.Time) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	type st struct {
		k key
		d time.Duration
	}
	var out []st
	for k, s := range w.last {
		if s.Stalled(now) {
			from := s.LeaseExpires
			if t := w.seen[k]; t.After(from) {
				from = t
			}
			out = append(out, st{k, now.Sub(from)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].d > out[j].d })
	var lines []string
	for _, s := range out {
		lines = append(lines, fmt.Sprintf("%s: under a lapsed lease, not moved for %.0fs", s.k, s.d.Seconds()))
	}
	return lines
}

// unsettled lists the pairs that are not settled yet, for progress and a timeout.
func (w *watcher) unsettled(got map[key]ledger.Summary) []key {
	var out []key
	for _, k := range w.exp.pairs {
		if !w.exp.settled(k, got) {
			out = append(out, k)
		}
	}
	return out
}

// dupPicker decides, with a seeded generator, which finished records have their emitted
// messages published again, and after what delay.
type dupPicker struct {
	mu    sync.Mutex
	rng   *rand.Rand
	share float64
}

func (p *dupPicker) pick() (bool, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rng.Float64() >= p.share {
		return false, 0
	}
	return true, time.Duration(p.rng.Int64N(int64(3 * time.Second)))
}
