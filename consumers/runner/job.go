package runner

import (
	"context"
	"errors"

	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/messages"
)

// A Job does the work of one (job, date). It must be idempotent: messages arrive at least
// once, and the runtime may run a date again when its input changed. A job never touches
// Pub/Sub or the ledger; it returns what it wrote and an error that says whether a retry
// can help (see Permanent).
type Job interface {
	Run(ctx context.Context, req messages.Request) (Result, error)
}

// JobFunc adapts a function to the Job interface.
type JobFunc func(ctx context.Context, req messages.Request) (Result, error)

// Run calls f.
func (f JobFunc) Run(ctx context.Context, req messages.Request) (Result, error) { return f(ctx, req) }

// Object is a GCS object a job wrote or found already written with the same bytes: the
// ledger's own record of an output object, so that a result is recorded without a copy.
type Object = ledger.Object

// Result says what one run produced. The runtime records it in the ledger and derives the
// output fingerprint that downstream jobs use as their input fingerprint.
type Result struct {
	// Objects lists the GCS objects that hold the output (a scraper's raw files). With their
	// generations, they fingerprint the output: rewriting identical bytes keeps the
	// generation, so an unchanged scrape is an unchanged input downstream.
	Objects []Object
	// Rows counts rows written per partition, keyed by partition date ("2024-10-22").
	Rows map[string]int64
	// Missing names what the source should have had for the date (by the schedule) but did
	// not deliver, once it is no longer expected to (game ids). The ledger records the date
	// partial: dependents run with what there is, and the next enqueue runs it again.
	Missing []string
	// Empty says the source legitimately had nothing for the date (a day without games).
	// The ledger records it as `empty`, which never locks the date: new input reprocesses it.
	Empty bool
	// Fingerprint, if set, replaces the output fingerprint the runtime would derive from
	// Objects, Rows and the input fingerprint.
	Fingerprint string
	// Metrics are counters worth keeping in the ledger (API credits used, pages fetched).
	Metrics map[string]int64
}

type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks an error that redelivery cannot fix (a malformed message, a source record
// that will never parse, a rejected API key). The runtime records the date `dead`, publishes
// the message to the dead-letter topic with the reason and acks it. Every other error is
// transient: recorded as `failed` and retried by the subscription's retry policy.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err, or an error it wraps, was marked with Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}
