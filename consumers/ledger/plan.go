package ledger

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/storage"

	"github.com/nba-props/pipeline/messages"
)

// PlanPrefix is where run plans are kept: _runs/<run_id>.json.
const PlanPrefix = "_runs/"

var runIDRE = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// A Plan is what one producer run published: its (job, date) pairs. It lets a consumer
// tell a job that has not started yet but is queued by the same run (worth waiting for,
// when it is a soft upstream) from one that nobody asked for.
type Plan struct {
	RunID   string              `json:"run_id"`
	Created time.Time           `json:"created"`
	Pairs   map[string][]string `json:"pairs"` // "phase/job" → dates
	// Lane and StopAfter are the run's messages' (the reconciler sends a lost one again
	// with them); Paced says the producer releases the dates over time (--max-in-flight),
	// so a pair without a record may simply not be published yet.
	Lane      string         `json:"lane,omitempty"`
	StopAfter messages.Phase `json:"stop_after,omitempty"`
	Paced     bool           `json:"paced,omitempty"`
}

// metaComplete marks a plan every pair of which has a ledger record: the reconciler no
// longer reads it.
const metaComplete = "complete"

// PlanSummary is a plan as a listing shows it, from object metadata.
type PlanSummary struct {
	RunID    string
	Created  time.Time
	Complete bool
}

// ListPlans lists every run plan (not the cancellations beside them), reading metadata only.
func (l *Ledger) ListPlans(ctx context.Context) ([]PlanSummary, error) {
	var out []PlanSummary
	err := l.eachJSON(ctx, PlanPrefix, []string{"Created", "Metadata"}, func(id string, a *storage.ObjectAttrs) {
		if runIDRE.MatchString(id) && !strings.HasSuffix(id, ".cancelled") {
			out = append(out, PlanSummary{RunID: id, Created: a.Created, Complete: a.Metadata[metaComplete] == "true"})
		}
	})
	return out, err
}

// MarkPlanComplete marks the run's plan complete (every pair has a record), unless it
// changed since it was read at generation gen (the run was enqueued again meanwhile).
func (l *Ledger) MarkPlanComplete(ctx context.Context, p Plan, gen int64) error {
	_, err := l.writeJSON(ctx, PlanPath(p.RunID), storage.Conditions{GenerationMatch: gen}, map[string]string{metaComplete: "true"}, p)
	if err != nil && !preconditionFailed(err) {
		return fmt.Errorf("run plan %s: %w", p.RunID, err)
	}
	return nil
}

// Has reports whether the plan published (ref, date).
func (p Plan) Has(ref messages.JobRef, date string) bool {
	return slices.Contains(p.Pairs[ref.String()], date)
}

// CheckRunID reports whether id can name a run (and its objects under PlanPrefix): 1 to
// 128 letters, digits, '.', '_', ':' or '-'.
func CheckRunID(id string) error {
	if !runIDRE.MatchString(id) {
		return fmt.Errorf("run id %q: want 1 to 128 letters, digits, '.', '_', ':' or '-'", id)
	}
	return nil
}

// PlanPath is the object name of a run's plan.
func PlanPath(runID string) string { return PlanPrefix + runID + ".json" }

// WritePlan stores the plan of a run before its messages are published. A run id names
// one plan; writing it again replaces it.
func (l *Ledger) WritePlan(ctx context.Context, p Plan) error {
	if !runIDRE.MatchString(p.RunID) {
		return fmt.Errorf("run plan: run id %q: want 1 to 128 letters, digits, '.', '_', ':' or '-'", p.RunID)
	}
	if p.Created.IsZero() {
		p.Created = l.now()
	}
	if _, err := l.writeJSON(ctx, PlanPath(p.RunID), storage.Conditions{}, nil, p); err != nil {
		return fmt.Errorf("run plan %s: %w", p.RunID, err)
	}
	return nil
}

// ReadPlan reads the plan of a run; ErrNotFound when the run wrote none (a message
// published by hand, or by an upstream job).
func (l *Ledger) ReadPlan(ctx context.Context, runID string) (Plan, error) {
	p, _, err := l.ReadPlanGeneration(ctx, runID)
	return p, err
}

// ReadPlanGeneration is ReadPlan with the plan's generation, the precondition of
// MarkPlanComplete.
func (l *Ledger) ReadPlanGeneration(ctx context.Context, runID string) (Plan, int64, error) {
	if !runIDRE.MatchString(runID) {
		return Plan{}, 0, fmt.Errorf("run plan %q: %w", runID, ErrNotFound)
	}
	var p Plan
	gen, err := l.readJSON(ctx, PlanPath(runID), &p)
	if err != nil {
		return Plan{}, 0, fmt.Errorf("run plan %s: %w", runID, err)
	}
	return p, gen, nil
}

// Cancellation says a run was cancelled: no new work of it starts anywhere. Re-enqueueing
// its dates (a new run) resumes it.
type Cancellation struct {
	RunID     string    `json:"run_id"`
	Cancelled time.Time `json:"cancelled"`
	Reason    string    `json:"reason,omitempty"`
}

// CancelPath is the object name of a run's cancellation.
func CancelPath(runID string) string { return PlanPrefix + runID + ".cancelled.json" }

// CancelRun records that the run is cancelled. Cancelling twice keeps the first record.
func (l *Ledger) CancelRun(ctx context.Context, runID, reason string) (Cancellation, error) {
	if !runIDRE.MatchString(runID) {
		return Cancellation{}, fmt.Errorf("cancel run: run id %q: want 1 to 128 letters, digits, '.', '_', ':' or '-'", runID)
	}
	c := Cancellation{RunID: runID, Cancelled: l.now(), Reason: reason}
	if _, err := l.writeJSON(ctx, CancelPath(runID), storage.Conditions{DoesNotExist: true}, nil, c); err != nil {
		if preconditionFailed(err) {
			return l.Cancelled(ctx, runID) // cancelled before: the first record stays
		}
		return Cancellation{}, fmt.Errorf("cancel run %s: %w", runID, err)
	}
	return c, nil
}

// Cancelled returns the run's cancellation, or ErrNotFound when it was not cancelled.
func (l *Ledger) Cancelled(ctx context.Context, runID string) (Cancellation, error) {
	if !runIDRE.MatchString(runID) {
		return Cancellation{}, fmt.Errorf("run %q: %w", runID, ErrNotFound)
	}
	var c Cancellation
	if _, err := l.readJSON(ctx, CancelPath(runID), &c); err != nil {
		if errors.Is(err, ErrNotFound) {
			return Cancellation{}, fmt.Errorf("run %s not cancelled: %w", runID, err)
		}
		return Cancellation{}, fmt.Errorf("run %s cancellation: %w", runID, err)
	}
	return c, nil
}
