package ledger

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/storage"
)

// DeadLetterPrefix is where dead-lettered messages are kept, one object each:
// _deadletters/<message id>.json. The dead-letter topic announces them; the bucket keeps
// them whatever the topic's subscriptions retain.
const DeadLetterPrefix = "_deadletters/"

// A DeadLetter is a message the pipeline could not process, kept with why.
type DeadLetter struct {
	// MessageID is the id of the message as it was delivered; it names the object, so
	// storing the same message twice keeps one.
	MessageID string `json:"message_id"`
	// Reason is the reason code ("malformed", "job_error", "max_attempts", ...); Error the
	// error text.
	Reason string `json:"reason"`
	Error  string `json:"error,omitempty"`
	// Subscription is the subscription that gave up on it; DeliveryAttempt how often it
	// was delivered there (0 if not counted).
	Subscription    string `json:"subscription,omitempty"`
	DeliveryAttempt int    `json:"delivery_attempt,omitempty"`
	// Phase, Job, Date and RunID are the message's routing attributes, if it had them.
	Phase string `json:"phase,omitempty"`
	Job   string `json:"job,omitempty"`
	Date  string `json:"date,omitempty"`
	RunID string `json:"run_id,omitempty"`
	// Attributes and Data are the message as it was published, unchanged.
	Attributes map[string]string `json:"attributes,omitempty"`
	Data       []byte            `json:"data"`
	Stored     time.Time         `json:"stored"`
	// Replays lists when the message was published again (producer dlq replay), oldest
	// first.
	Replays []Replay `json:"replays,omitempty"`
}

// Replay is one re-publication of a dead letter: when, to which topic, and the id the
// new message got.
type Replay struct {
	At        time.Time `json:"at"`
	Topic     string    `json:"topic"`
	MessageID string    `json:"message_id,omitempty"`
}

// Metadata keys of a stored dead letter besides those it shares with ledger records.
const (
	metaStored   = "stored"
	metaReplayed = "replayed" // time of the last replay
	metaReplays  = "replays"  // how many replays
)

// DeadLetterPath is the object name of a dead letter.
func DeadLetterPath(messageID string) string { return DeadLetterPrefix + messageID + ".json" }

// PutDeadLetter stores d unless a dead letter of the same message is already stored, and
// reports whether it wrote it.
func (l *Ledger) PutDeadLetter(ctx context.Context, d DeadLetter) (bool, error) {
	if d.MessageID == "" || strings.ContainsAny(d.MessageID, "/\\") || strings.Contains(d.MessageID, "..") {
		return false, fmt.Errorf("dead letter: message id %q cannot name an object", d.MessageID)
	}
	if d.Stored.IsZero() {
		d.Stored = l.now()
	}
	if _, err := l.writeJSON(ctx, DeadLetterPath(d.MessageID), storage.Conditions{DoesNotExist: true}, deadLetterMetadata(d), d); err != nil {
		if preconditionFailed(err) {
			return false, nil // already kept
		}
		return false, fmt.Errorf("dead letter %s: %w", d.MessageID, err)
	}
	return true, nil
}

func deadLetterMetadata(d DeadLetter) map[string]string {
	m := map[string]string{
		MetaReason: d.Reason, "phase": d.Phase, "job": d.Job, "date": d.Date, MetaRunID: d.RunID,
		metaStored: d.Stored.UTC().Format(time.RFC3339Nano), MetaLastError: truncate(d.Error, maxMetaError),
	}
	if n := len(d.Replays); n > 0 {
		m[metaReplayed] = d.Replays[n-1].At.UTC().Format(time.RFC3339Nano)
		m[metaReplays] = strconv.Itoa(n)
	}
	return m
}

// GetDeadLetter reads one dead letter by message id.
func (l *Ledger) GetDeadLetter(ctx context.Context, messageID string) (DeadLetter, error) {
	d, _, err := l.getDeadLetter(ctx, messageID)
	return d, err
}

func (l *Ledger) getDeadLetter(ctx context.Context, messageID string) (DeadLetter, int64, error) {
	var d DeadLetter
	gen, err := l.readJSON(ctx, DeadLetterPath(messageID), &d)
	if err != nil {
		return DeadLetter{}, 0, fmt.Errorf("dead letter %s: %w", messageID, err)
	}
	return d, gen, nil
}

// MarkReplayed records that the dead letter was published again, so that a listing
// shows it replayed and a second replay can leave it out. The object is rewritten with
// a generation precondition, like every ledger transition.
func (l *Ledger) MarkReplayed(ctx context.Context, messageID string, rep Replay) (DeadLetter, error) {
	if rep.At.IsZero() {
		rep.At = l.now()
	}
	for range 8 {
		d, gen, err := l.getDeadLetter(ctx, messageID)
		if err != nil {
			return DeadLetter{}, err
		}
		d.Replays = append(d.Replays, rep)
		_, err = l.writeJSON(ctx, DeadLetterPath(messageID), storage.Conditions{GenerationMatch: gen}, deadLetterMetadata(d), d)
		if preconditionFailed(err) {
			continue
		}
		if err != nil {
			return DeadLetter{}, fmt.Errorf("dead letter %s: %w", messageID, err)
		}
		return d, nil
	}
	return DeadLetter{}, fmt.Errorf("dead letter %s: %w", messageID, ErrConflict)
}

// DeadLetterSummary is a dead letter as a listing shows it, from object metadata.
type DeadLetterSummary struct {
	MessageID, Reason, Phase, Job, Date, RunID, Error string
	Stored                                            time.Time
	// Replayed is when it was last published again (zero: never), Replays how often.
	Replayed time.Time
	Replays  int
}

// ListDeadLetters lists every stored dead letter stored at or after since (zero: all), in
// message id order, reading metadata only.
func (l *Ledger) ListDeadLetters(ctx context.Context, since time.Time) ([]DeadLetterSummary, error) {
	var out []DeadLetterSummary
	err := l.eachJSON(ctx, DeadLetterPrefix, []string{"Metadata"}, func(id string, a *storage.ObjectAttrs) {
		m := a.Metadata
		s := DeadLetterSummary{MessageID: id, Reason: m[MetaReason], Phase: m["phase"], Job: m["job"], Date: m["date"],
			RunID: m[MetaRunID], Error: m[MetaLastError]}
		s.Stored, _ = time.Parse(time.RFC3339Nano, m[metaStored])
		s.Replayed, _ = time.Parse(time.RFC3339Nano, m[metaReplayed])
		s.Replays, _ = strconv.Atoi(m[metaReplays])
		if since.IsZero() || !s.Stored.Before(since) {
			out = append(out, s)
		}
	})
	return out, err
}
