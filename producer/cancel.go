package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/spf13/cobra"
)

// cancelPropagation is how long a cancellation takes to reach every consumer: each reads
// a run's status at most this often.
const cancelPropagation = 10 * time.Second

type cancelFlags struct {
	runID, reason string
}

func cancelCmd(e *env) *cobra.Command {
	var f cancelFlags
	cmd := &cobra.Command{
		Use:   "cancel --run ID [--reason R]",
		Short: "Cancel a run: no new work of it starts anywhere; work in flight finishes",
		Long: withEnv(`Cancel a run (_runs/<run id>.cancelled.json in the bucket). Within 10 seconds no consumer starts
new work of the run, in any phase: its messages, and those its running work sends downstream,
are acknowledged and dropped, and the dates they were for are recorded cancelled (the status
grid shows them so). Work already running finishes and is recorded as usual. A producer
pacing the run (--max-in-flight) publishes nothing more. Cancelling twice keeps the first
cancellation.

To resume, enqueue the same dates again: that is a new run, and cancelled dates are not
finished, so they run (producer retry --state cancelled does the same for exactly the
cancelled pairs).`),
		Example: `  producer cancel --run 20241101T120000Z-3fa2c1 --reason "wrong date range"`,
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return cancelRun(cmd.Context(), e, f) },
	}
	cmd.Flags().StringVar(&f.runID, "run", "", "the run id enqueue printed")
	cmd.Flags().StringVar(&f.reason, "reason", "", "why, kept with the cancellation")
	return cmd
}

func cancelRun(ctx context.Context, e *env, f cancelFlags) error {
	if f.runID == "" {
		return usagef("--run is required: the run id producer enqueue printed (status --json shows run_id too)")
	}
	if err := ledger.CheckRunID(f.runID); err != nil {
		return usagef("--run: %w", err)
	}
	cl, err := open(ctx, e, false)
	if err != nil {
		return err
	}
	defer cl.Close()
	l := cl.ledger
	plan, err := l.ReadPlan(ctx, f.runID)
	known := err == nil
	if err != nil && !errors.Is(err, ledger.ErrNotFound) {
		return err
	}
	before := time.Now()
	c, err := l.CancelRun(ctx, f.runID, f.reason)
	if err != nil {
		return err
	}
	w := e.stdout
	when := c.Cancelled.UTC().Format(time.RFC3339)
	if c.Cancelled.Before(before) {
		fmt.Fprintf(w, "run %s was already cancelled at %s (%s)\n", c.RunID, when, orNone(c.Reason))
		return nil
	}
	fmt.Fprintf(w, "run %s cancelled at %s (%s)\n", c.RunID, when, orNone(c.Reason))
	if !known {
		fmt.Fprintf(w, "  note: the bucket has no plan of this run (it was not started by producer enqueue here); its messages are dropped all the same\n")
	}
	fmt.Fprintf(w, "  - within %s no consumer starts new work of the run, in any phase: its messages are acknowledged and dropped\n", cancelPropagation)
	fmt.Fprintf(w, "  - work already running finishes and is recorded; what it sends downstream is dropped the same way\n")
	status := "producer status --job all --start-date D --end-date D --run " + c.RunID
	if known {
		var dates []string
		for _, ds := range plan.Pairs {
			dates = append(dates, ds...)
		}
		if len(dates) > 0 {
			status = fmt.Sprintf("producer status --job all --start-date %s --end-date %s --run %s", slices.Min(dates), slices.Max(dates), c.RunID)
		}
	}
	fmt.Fprintf(w, "  - the dates it had not run show as cancelled: %s\n", status)
	fmt.Fprintf(w, "  - to resume, enqueue the same dates again (a new run; cancelled dates are not finished, so they run),\n")
	fmt.Fprintf(w, "    or producer retry --run %s --state cancelled for exactly the cancelled pairs\n", c.RunID)
	return nil
}
