package ledger

import (
	"time"

	"github.com/nba-props/pipeline/messages"
)

// State is where one (phase, job, date) stands.
type State string

// The states of a record. Only running carries a lease; succeeded and empty are done.
const (
	StateRunning   State = "running"   // a consumer holds the lease and runs the job
	StateSucceeded State = "succeeded" // output written and recorded
	StateEmpty     State = "empty"     // the source had nothing; new input reprocesses the date
	StatePartial   State = "partial"   // output written, but the source left out part of the date
	StateWaiting   State = "waiting"   // a hard upstream has not finished the date yet
	StateFailed    State = "failed"    // the last attempt hit a transient error; redelivery retries it
	StateDead      State = "dead"      // a permanent error or too many attempts; dead-lettered
	StateCancelled State = "cancelled" // its run was cancelled before it ran; an enqueue runs it again
)

// Done reports whether the state is an output that downstream jobs can read: succeeded,
// empty, or partial (they run with what there is, and again when the rest arrives).
func (s State) Done() bool { return s == StateSucceeded || s == StateEmpty || s == StatePartial }

// Finished reports whether the date needs no more work unless its input changes: a
// partial date is done for its dependents but not finished, so an enqueue runs it again.
func (s State) Finished() bool { return s == StateSucceeded || s == StateEmpty }

// Valid reports whether s is one of the known states.
func (s State) Valid() bool {
	switch s {
	case StateRunning, StateSucceeded, StateEmpty, StatePartial, StateWaiting, StateFailed, StateDead, StateCancelled:
		return true
	}
	return false
}

// Lease says which consumer runs a date and until when. A lease that is not extended
// before Expires lapses, and any consumer may take the date over: that is how the work of
// a crashed consumer is resumed.
type Lease struct {
	Owner   string    `json:"owner"`
	Expires time.Time `json:"expires"`
}

// Object is a GCS object an output consists of: a scraper's raw file, with the generation
// that fingerprints its bytes (rewriting identical bytes keeps the generation).
type Object struct {
	Bucket     string `json:"bucket,omitempty"`
	Name       string `json:"name"`
	Generation int64  `json:"generation"`
	Size       int64  `json:"size,omitempty"`
}

// Output is what a run produced.
type Output struct {
	Objects []Object `json:"objects,omitempty"`
	// Missing names what the source should have had for the date but did not deliver
	// (game ids): the record is partial.
	Missing []string         `json:"missing,omitempty"`
	Rows    map[string]int64 `json:"rows,omitempty"`
	Metrics map[string]int64 `json:"metrics,omitempty"`
}

// TotalRows sums Rows.
func (o Output) TotalRows() int64 {
	var n int64
	for _, v := range o.Rows {
		n += v
	}
	return n
}

// Run is a finished run kept in a record's history, so that a status reader can see that a
// date was processed again with a different input (an empty scrape, then a full one).
type Run struct {
	RunID             string    `json:"run_id,omitempty"`
	State             State     `json:"state"`
	Attempts          int       `json:"attempts"`
	InputFingerprint  string    `json:"input_fingerprint,omitempty"`
	OutputFingerprint string    `json:"output_fingerprint,omitempty"`
	Rows              int64     `json:"rows"`
	Finished          time.Time `json:"finished"`
}

// HistoryLimit bounds Record.History.
const HistoryLimit = 10

// MaxErrorLen bounds Record.LastError (and the metadata copy is shorter still).
const MaxErrorLen = 2000

// Record is the ledger entry of one (phase, job, date): the body of
// _ledger/<phase>/<job>/<date>.json. Every transition is written with a generation
// precondition (see Ledger.Write), so two consumers never both move the same record.
type Record struct {
	Phase messages.Phase `json:"phase"`
	Job   string         `json:"job"`
	Date  string         `json:"date"`
	State State          `json:"state"`
	// Attempts counts the runs started since the date was last finished (succeeded, empty,
	// dead) or waiting: the runtime bounds it. A new effort starts again at 1.
	Attempts int `json:"attempts"`
	// Failures counts the runs of the current effort that ended in a recorded transient
	// failure (RunFailed). Unlike Attempts it leaves out a run whose consumer died before
	// recording its end (the lease lapsed), which may never have reached its source: a job
	// that judges a source by its answers (the scrapers' missing games) reads it.
	Failures int    `json:"failures,omitempty"`
	RunID    string `json:"run_id,omitempty"`
	// StopAfter and Lane are those of the request that last moved the record, so that a
	// re-drive (see Redriven) sends the same request again.
	StopAfter messages.Phase `json:"stop_after,omitempty"`
	Lane      string         `json:"lane,omitempty"`

	FirstStarted time.Time `json:"first_started,omitzero"` // first run of the current effort
	LastStarted  time.Time `json:"last_started,omitzero"`
	Finished     time.Time `json:"finished,omitzero"` // last time a run ended (any outcome)
	Updated      time.Time `json:"updated"`

	// Lease is set while State is running.
	Lease *Lease `json:"lease,omitempty"`

	// InputFingerprint hashes the output fingerprints of the upstream records the run read
	// (Inputs); a done record with the same input fingerprint is not run again.
	InputFingerprint string `json:"input_fingerprint,omitempty"`
	// Inputs maps each upstream read ("phase/job") to its output fingerprint.
	Inputs map[string]string `json:"inputs,omitempty"`
	// OutputFingerprint identifies the output; downstream jobs hash it into their input.
	OutputFingerprint string `json:"output_fingerprint,omitempty"`
	Output            Output `json:"output,omitzero"`
	// Emitted says the downstream messages of the current output were published, as far
	// as EmittedThrough: the stop_after phase of the request that emitted them ("" for
	// the whole chain). A later request that reaches further emits again.
	Emitted        bool           `json:"emitted"`
	EmittedThrough messages.Phase `json:"emitted_through,omitempty"`

	LastError string `json:"last_error,omitempty"`
	// Reason is the dead-letter reason code of a dead record ("job_error", "max_attempts", ...).
	Reason string `json:"reason,omitempty"`
	// Missing lists the hard upstreams ("phase/job") not yet done, for a waiting record.
	Missing []string `json:"missing,omitempty"`
	// Awaiting lists the soft upstreams ("phase/job") on their way, for a record waiting
	// only for them (Missing empty): the job runs once they land, or when the wait that
	// began at AwaitingSince ends.
	Awaiting      []string  `json:"awaiting,omitempty"`
	AwaitingSince time.Time `json:"awaiting_since,omitzero"`
	// Redriven is when the reconciler last re-sent the record's request (its lease had
	// lapsed, its upstreams had landed, its wait was over, or its retry never came).
	Redriven time.Time `json:"redriven,omitzero"`

	History []Run `json:"history,omitempty"`
}

// Ref is the job of the record.
func (r Record) Ref() messages.JobRef { return messages.Ref(r.Phase, r.Job) }

// LeaseLive reports whether a consumer holds the record's lease at now.
func (r Record) LeaseLive(now time.Time) bool {
	return r.State == StateRunning && r.Lease != nil && now.Before(r.Lease.Expires)
}

// Start returns the record as claimed by owner for runID: running, leased until now+ttl,
// with the attempt counted. A record that was finished, waiting or new starts a new effort
// (attempt 1); a failed or abandoned running record counts one more attempt. A record
// under a live lease of owner itself is owner's own, a write of which committed with its
// answer lost (the retried write found the record moved): taken again, it is the same
// attempt, so that lost answers cannot use up a date's attempts before its job has run.
// A run whose end was not recorded so is not counted, as one handed back (Release).
func (r Record) Start(owner, runID string, ttl time.Duration, now time.Time) Record {
	switch {
	case r.LeaseLive(now) && r.Lease.Owner == owner:
	case r.State == StateFailed || r.State == StateRunning:
		r.Attempts++
	default:
		r.Attempts, r.Failures = 1, 0
		r.FirstStarted = now
	}
	if r.FirstStarted.IsZero() {
		r.FirstStarted = now
	}
	r.State = StateRunning
	r.RunID = runID
	r.LastStarted = now
	r.Updated = now
	r.Lease = &Lease{Owner: owner, Expires: now.Add(ttl)}
	r.Missing, r.Awaiting, r.AwaitingSince = nil, nil, time.Time{}
	r.Reason = ""
	return r
}

// For returns the record as moved by req: its run id, stop phase and lane, so that a
// re-drive can send the same request again.
func (r Record) For(req messages.Request) Record {
	r.RunID, r.StopAfter, r.Lane = req.RunID, req.StopAfter, req.Lane
	return r
}

// Request is the request a re-drive of the record sends: the record's job, date, run,
// stop phase and lane, triggered by the reconciler.
func (r Record) Request() messages.Request {
	return messages.Request{Version: messages.Version, Phase: r.Phase, Job: r.Job, Date: r.Date, RunID: r.RunID,
		Trigger:   messages.Trigger{Kind: messages.TriggerReconcile, From: "reconciler"},
		StopAfter: r.StopAfter, Lane: r.Lane}
}

// Release returns a running record handed back unfinished (its consumer is shutting down):
// the lease is given up at once, so that a redelivery need not wait for it to lapse, and
// the run does not count as an attempt.
func (r Record) Release(now time.Time) Record {
	r.State = StateFailed
	r.Lease = nil
	r.LastError = "handed back unfinished: the consumer shut down"
	r.Attempts = max(r.Attempts-1, 0)
	r.Updated = now
	return r
}

// Cancel returns the record of a date whose run was cancelled before it ran (a record
// that waited, failed or never started): cancelled, not done, so an enqueue runs it again.
func (r Record) Cancel(runID string, now time.Time) Record {
	r.State = StateCancelled
	r.RunID = runID
	r.Lease = nil
	r.Missing, r.Awaiting, r.AwaitingSince = nil, nil, time.Time{}
	r.Updated = now
	return r
}

// Extend returns the running record with its lease pushed to now+ttl.
func (r Record) Extend(ttl time.Duration, now time.Time) Record {
	if r.Lease != nil {
		l := *r.Lease
		l.Expires = now.Add(ttl)
		r.Lease = &l
	}
	r.Updated = now
	return r
}

// Succeed returns the record finished with out: succeeded, empty when empty is set, or
// partial when out names something missing.
// Emitted is cleared: the downstream messages of this output are still to be sent.
func (r Record) Succeed(out Output, outputFingerprint string, empty bool, now time.Time) Record {
	switch {
	case empty:
		r.State = StateEmpty
	case len(out.Missing) > 0:
		r.State = StatePartial
	default:
		r.State = StateSucceeded
	}
	r.Output = out
	r.OutputFingerprint = outputFingerprint
	r.Emitted = false
	r.EmittedThrough = ""
	r.LastError = ""
	r.Reason = ""
	return r.finish(now)
}

// RunFailed is Fail for a run that ended in a transient error: it counts in Failures.
func (r Record) RunFailed(err error, now time.Time) Record {
	r = r.Fail(err, now)
	r.Failures++
	return r
}

// Fail returns the record after a transient error: failed, lease released, error kept.
func (r Record) Fail(err error, now time.Time) Record {
	r.State = StateFailed
	r.LastError = ErrorText(err, MaxErrorLen)
	r.Lease = nil
	r.Finished = now
	r.Updated = now
	return r
}

// Die returns the record after a permanent error: dead, with the dead-letter reason.
func (r Record) Die(reason string, err error, now time.Time) Record {
	r.State = StateDead
	r.Reason = reason
	r.LastError = ErrorText(err, MaxErrorLen)
	return r.finish(now)
}

// Wait returns the record waiting for the hard upstreams in missing, or, when missing is
// empty, for the soft upstreams in awaiting (since now, unless it already waited for them).
func (r Record) Wait(missing, awaiting []string, now time.Time) Record {
	_, already := r.SoftWait()
	r.State = StateWaiting
	r.Missing, r.Awaiting = missing, awaiting
	switch {
	case len(missing) > 0 || len(awaiting) == 0:
		r.Awaiting, r.AwaitingSince = nil, time.Time{}
	case !already:
		r.AwaitingSince = now
	}
	r.Lease = nil
	r.Updated = now
	return r
}

// SoftWait reports whether the record waits for soft upstreams only, and since when.
func (r Record) SoftWait() (since time.Time, waiting bool) {
	if r.State != StateWaiting || len(r.Missing) > 0 || len(r.Awaiting) == 0 {
		return time.Time{}, false
	}
	return r.AwaitingSince, true
}

// MarkEmittedThrough returns the record with its downstream messages recorded as published
// for a request that stops after stopAfter ("" for the whole chain).
func (r Record) MarkEmittedThrough(stopAfter messages.Phase, now time.Time) Record {
	r.Emitted = true
	r.EmittedThrough = stopAfter
	r.Updated = now
	return r
}

// EmittedFor reports whether the downstream messages of a request that stops after
// stopAfter ("" for the whole chain) are already out.
func (r Record) EmittedFor(stopAfter messages.Phase) bool {
	switch {
	case !r.Emitted:
		return false
	case r.EmittedThrough == "":
		return true
	case stopAfter == "":
		return false
	}
	return stopAfter.Order() <= r.EmittedThrough.Order()
}

func (r Record) finish(now time.Time) Record {
	r.Lease = nil
	r.Missing, r.Awaiting, r.AwaitingSince = nil, nil, time.Time{}
	r.Finished = now
	r.Updated = now
	h := Run{
		RunID: r.RunID, State: r.State, Attempts: r.Attempts,
		InputFingerprint: r.InputFingerprint, OutputFingerprint: r.OutputFingerprint,
		Rows: r.Output.TotalRows(), Finished: now,
	}
	r.History = append(append([]Run(nil), r.History...), h)
	if n := len(r.History); n > HistoryLimit {
		r.History = r.History[n-HistoryLimit:]
	}
	return r
}

// ErrorText is err's text as a record, its metadata or a dead-letter attribute keeps it:
// "" for nil, and at most n bytes cut on a rune boundary, with an ellipsis when cut.
func ErrorText(err error, n int) string {
	if err == nil {
		return ""
	}
	return truncate(err.Error(), n)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
