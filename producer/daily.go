package main

import (
	"context"
	"fmt"
	"time"

	"github.com/nba-props/pipeline/messages"
	"github.com/spf13/cobra"
)

type dailyFlags struct {
	date, stopAfter, runID string
	dryRun, force          bool
	allowOverBudget        bool
}

func dailyCmd(e *env) *cobra.Command {
	var f dailyFlags
	cmd := &cobra.Command{
		Use:   "daily [--date D]",
		Short: "Enqueue the daily lane: every first-phase job for yesterday's games (US Eastern)",
		Long: withEnv(`Enqueue the daily run, the command a scheduler calls once a day: every job of the first phase
for the previous game date in US Eastern time (--date to choose another), in the daily lane,
so it never queues behind a backfill and each job's daily subscription has its own
concurrency. The chain then flows through every phase as for a backfill.

A job whose source serves only the current day (bdl_injuries: Ball Don't Lie keeps no
history of its injury report) is enqueued for today's Eastern date instead, whatever --date
says: the report fetched this morning is today's, the one the day's props are set against.
Pairs finished in the ledger are skipped, so running daily twice for a date publishes only
what did not finish; the budgets of producer plan apply as for enqueue.`),
		Example: `  producer daily
  producer daily --date 2024-11-04 --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return daily(cmd.Context(), e, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.date, "date", "", "game date, YYYY-MM-DD (default: yesterday, US Eastern)")
	fl.StringVar(&f.stopAfter, "stop-after", "", "last phase the chain may reach (default: all phases)")
	fl.StringVar(&f.runID, "run-id", "", "run id to put on the messages (default: daily-<date>-<random>)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "print the plan and publish nothing")
	fl.BoolVar(&f.force, "force", false, "publish pairs the ledger shows finished, and run them again")
	fl.BoolVar(&f.allowOverBudget, "allow-over-budget", false, "publish a run that goes over a budget")
	return cmd
}

func daily(ctx context.Context, e *env, f dailyFlags) error {
	today := e.today()
	t, err := messages.ParseDate(today)
	if err != nil {
		return fmt.Errorf("today's date %q: %w", today, err)
	}
	date := f.date
	if date == "" {
		date = t.AddDate(0, 0, -1).Format(messages.DateLayout)
	} else if _, err := messages.ParseDate(date); err != nil {
		return usagef("--date: %w (dates are YYYY-MM-DD game dates)", err)
	}
	if date > today {
		return usagef("--date %s is after today (%s, US Eastern): its games have not been played", date, today)
	}
	jobs := e.catalog.Jobs()
	if len(jobs) == 0 {
		return usagef("the catalogue has no jobs")
	}
	phase := jobs[0].Phase // dependency order: the first job is of the first phase
	var stop messages.Phase
	if f.stopAfter != "" {
		if stop, err = messages.ParsePhase(f.stopAfter); err != nil {
			return usagef("--stop-after: %w", err)
		}
	}
	sel := selection{phase: phase, jobName: "all", specs: e.catalog.InPhase(phase), stop: stop, force: f.force}
	for _, current := range []bool{false, true} { // the game date's jobs, then today's
		for _, s := range sel.specs {
			if s.CurrentOnly != current {
				continue
			}
			d := date
			if s.CurrentOnly {
				d = today
			}
			it := item{ref: s.Ref(), date: d, run: true}
			if err := e.catalog.CheckDate(s.Ref(), d, today); err != nil {
				it.run, it.kind, it.reason = false, skipUnavailable, err.Error()
			}
			sel.items = append(sel.items, it)
		}
	}
	runID := f.runID
	if runID == "" {
		runID = "daily-" + date + "-" + randomSuffix()
	}
	fmt.Fprintf(e.stdout, "daily run for the games of %s (US Eastern); current-day sources for today, %s\n", date, today)
	return enqueueSelection(ctx, e, sel, publishOptions{dryRun: f.dryRun, runID: runID, lane: messages.LaneDaily,
		pollEvery: time.Second, allowOverBudget: f.allowOverBudget})
}
