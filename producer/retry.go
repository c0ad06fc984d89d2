package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/messages"
	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
)

// retryStates are the states a retry may select, and those it selects by default.
var (
	retryStates        = []ledger.State{ledger.StateFailed, ledger.StateDead, ledger.StateCancelled, ledger.StatePartial}
	defaultRetryStates = []string{string(ledger.StateFailed), string(ledger.StateDead)}
)

type retryFlags struct {
	runID, reason, newRunID string
	states                  []string
	dryRun                  bool
}

func retryCmd(e *env) *cobra.Command {
	var f retryFlags
	cmd := &cobra.Command{
		Use:   "retry --run ID [--state failed,dead,cancelled,partial] [--reason R]",
		Short: "Publish again exactly the (job, date) pairs of a run that failed, died, were cancelled or are partial",
		Long: withEnv(`Publish again exactly the (job, date) pairs of a run whose ledger record was last moved by that
run and is in one of --state (default failed,dead), with dead-letter reason --reason if given:
each to its own phase's topic, with the lane and --stop-after of its record, so a retried
date flows on downstream as the run would have. Nothing else is published: not the pairs
that finished, not the rest of the chain.

The messages keep the run id, so status --run shows the retried pairs as part of the same
run. A cancelled run's messages are dropped by every consumer, so pairs of a cancelled run
go out under a new run id (printed; --run-id chooses it). A partial pair is sent with force,
so it runs again even where its input is unchanged. Fix the cause of a dead pair before
retrying it: a dead pair runs again from its first attempt.`),
		Example: `  producer retry --run 20241101T120000Z-3fa2c1
  producer retry --run 20241101T120000Z-3fa2c1 --state dead --reason max_attempts --dry-run
  producer retry --run 20241101T120000Z-3fa2c1 --state cancelled`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return retry(cmd.Context(), e, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.runID, "run", "", "the run whose pairs to retry")
	fl.StringSliceVar(&f.states, "state", defaultRetryStates, "states to retry: failed, dead, cancelled, partial")
	fl.StringVar(&f.reason, "reason", "", "only records with this dead-letter reason (job_error, max_attempts, delivery_limit, ...)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "list the pairs and publish nothing")
	fl.StringVar(&f.newRunID, "run-id", "", "run id of the messages (default: the run's own, or a new one for a cancelled run)")
	return cmd
}

func retry(ctx context.Context, e *env, f retryFlags) error {
	if f.runID == "" {
		return usagef("--run is required: the run id producer enqueue printed (status --json shows run_id too)")
	}
	if err := ledger.CheckRunID(f.runID); err != nil {
		return usagef("--run: %w", err)
	}
	if f.newRunID != "" {
		if err := ledger.CheckRunID(f.newRunID); err != nil {
			return usagef("--run-id: %w", err)
		}
	}
	states := map[ledger.State]bool{}
	for _, s := range f.states {
		st := ledger.State(strings.TrimSpace(s))
		if !slices.Contains(retryStates, st) {
			return usagef("--state %q: retry takes failed, dead, cancelled or partial (a succeeded or empty pair is finished: enqueue --force runs it again; a running or waiting one is still on its way)", s)
		}
		states[st] = true
	}
	cl, err := open(ctx, e, !f.dryRun)
	if err != nil {
		return err
	}
	defer cl.Close()
	cfg, l := cl.cfg, cl.ledger

	// The run's plan bounds the dates to read; without one, the whole ledger is read.
	plan, err := l.ReadPlan(ctx, f.runID)
	hasPlan := err == nil
	if err != nil && !errors.Is(err, ledger.ErrNotFound) {
		return err
	}
	from, to := "", ""
	if hasPlan {
		for _, ds := range plan.Pairs {
			for _, d := range ds {
				if from == "" || d < from {
					from = d
				}
				to = max(to, d)
			}
		}
	}
	var reqs []messages.Request
	count := map[ledger.State]int{}
	touched := map[string]bool{} // "phase/job date" the run moved
	var last *ledger.Record      // a record the run moved: its lane and stop-after are the run's
	listed, err := listJobs(ctx, l, e.catalog.Jobs(), from, to)
	if err != nil {
		return err
	}
	for _, s := range e.catalog.Jobs() {
		for _, sum := range listed[s.Ref()] {
			if sum.RunID == f.runID {
				touched[sum.Ref().String()+" "+sum.Date] = true
			}
			if sum.RunID != f.runID || !states[sum.State] || (f.reason != "" && sum.Reason != f.reason) {
				continue
			}
			rec, _, err := l.Get(ctx, sum.Ref(), sum.Date)
			if err != nil {
				return err
			}
			last = &rec
			req := messages.Request{Version: messages.Version, Phase: rec.Phase, Job: rec.Job, Date: rec.Date, RunID: f.runID,
				Trigger: messages.Trigger{Kind: messages.TriggerProducer}, StopAfter: rec.StopAfter, Lane: rec.Lane,
				Force: sum.State == ledger.StatePartial}
			reqs = append(reqs, req)
			count[sum.State]++
		}
	}
	// A cancelled run paced by --max-in-flight left pairs of its plan unpublished: status
	// shows them cancelled, and --state cancelled retries them too.
	if states[ledger.StateCancelled] && hasPlan && f.reason == "" {
		if _, err := l.Cancelled(ctx, f.runID); err == nil {
			unpublished, err := planUnpublished(ctx, l, e.catalog, plan, touched, last)
			if err != nil {
				return err
			}
			reqs = append(reqs, unpublished...)
			count[ledger.StateCancelled] += len(unpublished)
		} else if !errors.Is(err, ledger.ErrNotFound) {
			return err
		}
	}
	what := strings.Join(f.states, " or ")
	if f.reason != "" {
		what += " with reason " + f.reason
	}
	if len(reqs) == 0 {
		if !hasPlan && len(touched) == 0 {
			return usagef("run %s: no plan and no ledger record name it; check the id (producer status --run ID, or the run ids enqueue printed)", f.runID)
		}
		fmt.Fprintf(e.stdout, "run %s: no pairs in state %s to retry\n", f.runID, what)
		return nil
	}

	runID := f.runID
	if c, err := l.Cancelled(ctx, f.runID); err == nil {
		runID = f.newRunID
		if runID == "" {
			runID = newRunID(time.Now())
		}
		fmt.Fprintf(e.stdout, "run %s was cancelled at %s: its messages would be dropped, so the retry is run %s\n",
			f.runID, c.Cancelled.UTC().Format(time.RFC3339), runID)
	} else if !errors.Is(err, ledger.ErrNotFound) {
		return err
	} else if f.newRunID != "" {
		runID = f.newRunID
	}
	for i := range reqs {
		reqs[i].RunID = runID
	}
	var parts []string
	for _, st := range retryStates {
		if count[st] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", count[st], st))
		}
	}
	verb := "retrying"
	if f.dryRun {
		verb = "would retry"
	}
	fmt.Fprintf(e.stdout, "run %s: %s %s (%s)\n", f.runID, verb, plural(len(reqs), "pair"), strings.Join(parts, ", "))
	for _, r := range reqs {
		fmt.Fprintf(e.stdout, "  %s  %s\n", r.Date, r.Ref())
	}
	if f.dryRun {
		fmt.Fprintln(e.stdout, "dry run: nothing published")
		return nil
	}

	// The plan gains the retried pairs of jobs without upstreams, so a job can wait for
	// a soft upstream the retry queued (the rule of enqueue's plan).
	if !hasPlan || runID != f.runID {
		plan = ledger.Plan{RunID: runID, Lane: reqs[0].Lane, StopAfter: reqs[0].StopAfter}
	}
	if plan.Pairs == nil {
		plan.Pairs = map[string][]string{}
	}
	for _, r := range reqs {
		if s, ok := e.catalog.Lookup(r.Ref()); ok && len(s.Hard) == 0 && !plan.Has(r.Ref(), r.Date) {
			plan.Pairs[r.Ref().String()] = append(plan.Pairs[r.Ref().String()], r.Date)
		}
	}
	if err := l.WritePlan(ctx, plan); err != nil {
		return err
	}
	names := messages.Names{Prefix: cfg.Prefix}
	published := 0
	for _, p := range messages.Phases() {
		var batch []messages.Request
		for _, r := range reqs {
			if r.Phase == p {
				batch = append(batch, r)
			}
		}
		if len(batch) == 0 {
			continue
		}
		pub := newPublisher(cl.pubsub, names.Topic(p))
		n, err := publish(ctx, e, pub, batch, false)
		pub.Stop()
		published += n
		if grpcstatus.Code(err) == codes.NotFound {
			return fmt.Errorf("run %s: topic %s does not exist: apply the topology first (go run ./infra/cmd/infra apply, or make up locally): %w", runID, names.Topic(p), err)
		}
		if err != nil {
			return fmt.Errorf("run %s: %d of %s not published: %w", runID, len(reqs)-published, plural(len(reqs), "message"), err)
		}
	}
	fmt.Fprintf(e.stdout, "run %s: published %d of %d; follow it with producer status --run %s\n", runID, published, len(reqs), runID)
	return nil
}

// planUnpublished are the requests of the plan's pairs the run never moved, with the lane
// and stop-after of a record it did move (the whole run has the same), else of any record
// of the run, else the backfill lane through every phase.
func planUnpublished(ctx context.Context, l *ledger.Ledger, c *messages.Catalog, plan ledger.Plan, touched map[string]bool, like *ledger.Record) ([]messages.Request, error) {
	var out []messages.Request
	for _, s := range c.Jobs() {
		for _, d := range plan.Pairs[s.Ref().String()] {
			if touched[s.Ref().String()+" "+d] {
				continue
			}
			out = append(out, messages.Request{Version: messages.Version, Phase: s.Phase, Job: s.Name, Date: d, RunID: plan.RunID,
				Trigger: messages.Trigger{Kind: messages.TriggerProducer}, Lane: messages.LaneBackfill})
		}
	}
	if like == nil && len(out) > 0 {
		for key := range touched {
			ref, date, _ := strings.Cut(key, " ")
			r, err := messages.ParseJobRef(ref)
			if err != nil {
				continue
			}
			rec, _, err := l.Get(ctx, r, date)
			if err != nil {
				return nil, err
			}
			like = &rec
			break
		}
	}
	if like != nil {
		for i := range out {
			out[i].Lane, out[i].StopAfter = like.Lane, like.StopAfter
		}
	}
	return out, nil
}
