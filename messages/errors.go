package messages

import (
	"errors"
)

// Sentinel errors of validation. Decode wraps exactly one of them, so a consumer can put a
// stable reason on a dead-lettered message (see Reason) without reading error text.
var (
	ErrMalformed       = errors.New("malformed message")
	ErrUnknownVersion  = errors.New("unknown message version")
	ErrUnknownPhase    = errors.New("unknown phase")
	ErrUnknownJob      = errors.New("unknown job")
	ErrJobNotInPhase   = errors.New("job not in phase")
	ErrBadDate         = errors.New("invalid date")
	ErrNotBackfillable = errors.New("date not available from the source")
)

var reasons = []struct {
	err    error
	reason string
}{
	{ErrMalformed, "malformed"},
	{ErrUnknownVersion, "unknown_version"},
	{ErrUnknownPhase, "unknown_phase"},
	{ErrUnknownJob, "unknown_job"},
	{ErrJobNotInPhase, "job_not_in_phase"},
	{ErrBadDate, "invalid_date"},
	{ErrNotBackfillable, "not_backfillable"},
}

// Reason maps a validation error to the short code carried in the dead-letter message's
// "reason" attribute, or "" if err is not a validation error.
func Reason(err error) string {
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return r.reason
		}
	}
	return ""
}
