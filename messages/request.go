package messages

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// Version is the message version this package writes and the only one it reads.
const Version = 1

// Trigger kinds: who caused a message.
const (
	TriggerProducer  = "producer"  // a user or scheduler ran producer enqueue
	TriggerUpstream  = "upstream"  // an upstream job finished the date
	TriggerReconcile = "reconcile" // a sweep re-sent work that looked stuck
)

// Lanes separate a backfill from daily work in logs and dashboards.
const (
	LaneBackfill = "backfill"
	LaneDaily    = "daily"
)

// Attribute keys that duplicate the routing fields of a Request.
const (
	AttrVersion = "version"
	AttrPhase   = "phase"
	AttrJob     = "job"
	AttrDate    = "date"
	AttrRunID   = "run_id"
	AttrLane    = "lane"
)

// Trigger says what caused a message: the producer, an upstream job ("from" is its
// phase/job) or a reconciliation sweep.
type Trigger struct {
	Kind string `json:"kind"`
	From string `json:"from,omitempty"`
}

// Request asks for one job to process one date. It is the body of every phase message.
type Request struct {
	Version int     `json:"version"`
	Phase   Phase   `json:"phase"`
	Job     string  `json:"job"`
	Date    string  `json:"date"`
	RunID   string  `json:"run_id"`
	Trigger Trigger `json:"trigger"`
	// Force runs the job even if the ledger says the date is finished with the same input.
	// It applies to this job only: downstream jobs decide by their input fingerprint.
	Force bool `json:"force"`
	// StopAfter, when set, is the last phase the chain may reach: a job does not emit
	// messages for jobs of later phases.
	StopAfter Phase  `json:"stop_after"`
	Lane      string `json:"lane"`
}

// Ref is the job the request is for.
func (r Request) Ref() JobRef { return JobRef{Phase: r.Phase, Job: r.Job} }

// Attributes are the Pub/Sub attributes that go with the encoded body.
func (r Request) Attributes() map[string]string {
	return map[string]string{
		AttrVersion: strconv.Itoa(r.Version),
		AttrPhase:   string(r.Phase),
		AttrJob:     r.Job,
		AttrDate:    r.Date,
		AttrRunID:   r.RunID,
		AttrLane:    r.Lane,
	}
}

// Next builds the message that asks downstream job to to process the same date, caused by
// the job of r. It keeps the run, lane and stop phase; it does not carry Force.
func (r Request) Next(to JobRef) Request {
	return Request{
		Version:   Version,
		Phase:     to.Phase,
		Job:       to.Job,
		Date:      r.Date,
		RunID:     r.RunID,
		Trigger:   Trigger{Kind: TriggerUpstream, From: r.Ref().String()},
		StopAfter: r.StopAfter,
		Lane:      r.Lane,
	}
}

// Reaches reports whether the chain of this request may go on to phase p (StopAfter).
func (r Request) Reaches(p Phase) bool {
	return r.StopAfter == "" || p.Order() <= r.StopAfter.Order()
}

// Encode validates r against the catalogue and returns the body and the attributes.
func Encode(r Request, c *Catalog) ([]byte, map[string]string, error) {
	if err := r.Validate(c); err != nil {
		return nil, nil, err
	}
	body, err := json.Marshal(r)
	if err != nil {
		return nil, nil, fmt.Errorf("encode %s %s: %w", r.Ref(), r.Date, err)
	}
	return body, r.Attributes(), nil
}

// Decode parses a message body strictly (unknown fields are rejected), validates it
// against the catalogue and checks that any routing attributes agree with the body. Every
// error wraps one of the sentinel errors of this package.
func Decode(body []byte, attrs map[string]string, c *Catalog) (Request, error) {
	var r Request
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Request{}, fmt.Errorf("%w: body is not a version %d request: %v", ErrMalformed, Version, err)
	}
	if dec.More() {
		return Request{}, fmt.Errorf("%w: trailing data after the JSON object", ErrMalformed)
	}
	if err := r.Validate(c); err != nil {
		return Request{}, err
	}
	for k, want := range r.Attributes() {
		if got, ok := attrs[k]; ok && got != want {
			return Request{}, fmt.Errorf("%w: attribute %s=%q disagrees with the body's %q", ErrMalformed, k, got, want)
		}
	}
	return r, nil
}

// Validate checks every field; the error wraps the sentinel of the first problem found.
func (r Request) Validate(c *Catalog) error {
	if r.Version != Version {
		return fmt.Errorf("%w %d: this build reads version %d; upgrade the consumer or republish", ErrUnknownVersion, r.Version, Version)
	}
	if _, err := ParsePhase(string(r.Phase)); err != nil {
		return err
	}
	if _, err := c.Job(r.Phase, r.Job); err != nil {
		return err
	}
	if _, err := ParseDate(r.Date); err != nil {
		return err
	}
	if r.RunID == "" {
		return fmt.Errorf("%w: run_id is empty", ErrMalformed)
	}
	switch r.Trigger.Kind {
	case TriggerProducer, TriggerUpstream, TriggerReconcile:
	default:
		return fmt.Errorf("%w: trigger.kind %q is not producer, upstream or reconcile", ErrMalformed, r.Trigger.Kind)
	}
	if r.StopAfter != "" && !r.StopAfter.Valid() {
		return fmt.Errorf("stop_after: %w %q", ErrUnknownPhase, r.StopAfter)
	}
	switch r.Lane {
	case "", LaneBackfill, LaneDaily:
	default:
		return fmt.Errorf("%w: lane %q is not %s or %s", ErrMalformed, r.Lane, LaneBackfill, LaneDaily)
	}
	return nil
}
