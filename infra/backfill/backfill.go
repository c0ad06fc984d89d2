// Package backfill drives a real backfill through a running local stack, the way a user
// would: it runs the producer CLI to enqueue every scraper for a range, waits until every
// (job, date) the chain reaches is finished, prints the status grid, how long each phase
// took and a sample of player_game_summary, counts the BigQuery jobs per table, and
// compares every table with the source simulator's ground truth. `make run` is this.
package backfill

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/storage"
	"google.golang.org/api/iterator"

	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/infra/sourcesim"
	"github.com/nba-props/pipeline/infra/topology"
	"github.com/nba-props/pipeline/infra/verify"
	"github.com/nba-props/pipeline/messages"
)

// Stack is what a backfill needs of a running local stack.
type Stack struct {
	// Env is the environment that points the producer CLI at the stack
	// (GOOGLE_CLOUD_PROJECT, PUBSUB_EMULATOR_HOST, STORAGE_EMULATOR_HOST, GCS_BUCKET, ...).
	Env      map[string]string
	Storage  *storage.Client
	Bucket   string
	BigQuery *bigquery.Client
	Sim      *sourcesim.Sim
	Catalog  *messages.Catalog
	// Producer is the command that runs the producer CLI, e.g. a built binary.
	Producer []string
}

// Options choose the range and the limits of a backfill.
type Options struct {
	Start, End string
	// Force re-runs the scrapers for dates the ledger shows finished; downstream jobs still
	// skip an unchanged input by fingerprint.
	Force bool
	// Timeout bounds the wait for the chain to finish.
	Timeout time.Duration
	// Quiet is how long the ledger must stay unchanged, with every pair finished, before
	// the run counts as over (a soft upstream may still re-trigger a job).
	Quiet time.Duration
	Out   io.Writer
	// Finished, if set, is called once the chain has finished, before the status, the job
	// count and the ground-truth comparison: what a caller measures of the pipeline itself
	// (a process's peak memory) it reads there.
	Finished func()
}

// Result is what a backfill did.
type Result struct {
	Pairs   int                              // (job, date) pairs the chain had to finish
	States  map[ledger.State]int             // final state counts over those pairs
	Phases  map[messages.Phase]time.Duration // when each phase had finished, from the start
	Elapsed time.Duration
	BQJobs  map[string]int // BigQuery jobs per destination table created by this run
	Verify  verify.Report
	// ExpectedDead counts the pairs dead because their source holds a broken file, as the
	// simulator's truth says: not a problem of the pipeline.
	ExpectedDead int
	Problems     []string
}

// pair is one (job, date).
type pair struct {
	ref  messages.JobRef
	date string
}

// OK reports whether the backfill finished every pair, kept within one BigQuery job per
// (table, date) and matched the ground truth.
func (r Result) OK() bool { return len(r.Problems) == 0 && r.Verify.OK() }

// Run performs the backfill and prints its report to o.Out.
func Run(ctx context.Context, st Stack, o Options) (Result, error) {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Minute
	}
	if o.Quiet == 0 {
		o.Quiet = 3 * time.Second
	}
	dates, err := messages.DateRange(o.Start, o.End)
	if err != nil {
		return Result{}, err
	}
	start := time.Now()
	runID := "backfill-" + start.UTC().Format("20060102T150405.000")
	args := []string{"enqueue", "--phase", "scrapers", "--job", "all", "--start-date", o.Start, "--end-date", o.End, "--run-id", runID}
	if o.Force {
		args = append(args, "--force")
	}
	if err := st.producer(ctx, o.Out, args...); err != nil {
		return Result{}, err
	}
	pairs := ExpectedPairs(st.Catalog, dates, messages.GameDate(time.Now()))
	res := Result{}
	for _, ds := range pairs {
		res.Pairs += len(ds)
	}
	var dead []pair
	res.States, res.Phases, dead, err = st.wait(ctx, pairs, runID, o, start)
	res.Elapsed = time.Since(start)
	if err != nil {
		return res, err
	}
	if o.Finished != nil {
		o.Finished()
	}
	fmt.Fprintf(o.Out, "\nStatus grid\n")
	if err := st.producer(ctx, o.Out, "status", "--job", "all", "--start-date", o.Start, "--end-date", o.End); err != nil {
		return res, err
	}
	printPhases(o.Out, res.Phases, res.Elapsed)
	// A date whose source holds a broken file is dead by design: the truth says so, and the
	// comparison expects nothing of it.
	broken, err := verify.BrokenGamebooks(st.Sim, dates)
	if err != nil {
		return res, err
	}
	for _, p := range dead {
		if why, ok := broken[p.date]; ok && p.ref == messages.Ref(messages.PhaseRaw, "nbac_gamebook_player_stats") {
			fmt.Fprintf(o.Out, "expected: %s %s is dead: %s\n", p.ref, p.date, why)
			res.States[ledger.StateDead]--
			res.ExpectedDead++
		}
	}
	for _, s := range []ledger.State{ledger.StateDead, ledger.StateFailed, ledger.StateWaiting, ledger.StateRunning} {
		if n := res.States[s]; n > 0 {
			res.Problems = append(res.Problems, fmt.Sprintf("%d (job, date) pairs ended %s", n, s))
		}
	}
	if err := st.sample(ctx, o.Out, dates[len(dates)-1]); err != nil {
		return res, err
	}
	if res.BQJobs, err = CountJobs(ctx, st.BigQuery, start); err != nil {
		return res, err
	}
	printJobs(o.Out, res.BQJobs, len(dates))
	for table, n := range res.BQJobs {
		if n > len(dates) {
			res.Problems = append(res.Problems, fmt.Sprintf("%s: %d BigQuery jobs for %d dates (want at most one per date per run)", table, n, len(dates)))
		}
	}
	if res.Verify, err = verify.Compare(ctx, st.BigQuery, st.Sim, dates); err != nil {
		return res, err
	}
	fmt.Fprintln(o.Out)
	res.Verify.Print(o.Out)
	for _, p := range res.Problems {
		fmt.Fprintf(o.Out, "PROBLEM: %s\n", p)
	}
	return res, nil
}

func (st Stack) producer(ctx context.Context, out io.Writer, args ...string) error {
	if len(st.Producer) == 0 {
		return errors.New("backfill: no producer command configured")
	}
	cmd := exec.CommandContext(ctx, st.Producer[0], append(slices.Clone(st.Producer[1:]), args...)...)
	cmd.Env = os.Environ()
	for k, v := range st.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = out, out
	fmt.Fprintf(out, "\n$ producer %s\n", strings.Join(args, " "))
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("backfill: producer %s: %w", args[0], err)
	}
	return nil
}

// ExpectedPairs lists every (job, date) a scraper backfill of dates reaches on day today:
// every job of the catalogue for every date it can serve (Catalog.CheckDate). A backfill
// and a chaos run wait for exactly these, so that neither waits for a pair the producer
// refuses nor stops before one it sends.
func ExpectedPairs(c *messages.Catalog, dates []string, today string) map[messages.JobRef][]string {
	out := map[messages.JobRef][]string{}
	for _, s := range c.Jobs() {
		for _, d := range dates {
			if c.CheckDate(s.Ref(), d, today) == nil {
				out[s.Ref()] = append(out[s.Ref()], d)
			}
		}
	}
	return out
}

// pollEvery is how often wait lists the ledger. Listing costs the stack it measures CPU (a
// season's 2,784 records listed at every poll took about 8 s of it at one poll a second);
// the times it reports come from the records' own timestamps, so a slower poll only delays
// noticing the end.
const pollEvery = time.Second

// wait polls the ledger until every expected pair is finished (done or dead, or waiting
// on an upstream that died), every scraper pair was run by this run (so a forced rerun is
// not mistaken for the previous one), and nothing has changed for o.Quiet.
//
// A poll lists the jobs that had a pair still open at the poll before, and keeps what it
// read last of the others; once no job has one, every poll lists every job, so the end is
// decided on whole listings, and a finished record that changed meanwhile (a rerun) is
// seen then and opens its job again.
func (st Stack) wait(ctx context.Context, pairs map[messages.JobRef][]string, runID string, o Options, start time.Time) (map[ledger.State]int, map[messages.Phase]time.Duration, []pair, error) {
	led := ledger.New(st.Storage, st.Bucket, ledger.Options{})
	deadline := time.Now().Add(o.Timeout)
	phases := map[messages.Phase]time.Duration{}
	var lastChange time.Time
	var lastSig string
	refs := make([]messages.JobRef, 0, len(pairs))
	for ref := range pairs {
		refs = append(refs, ref)
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].String() < refs[j].String() })
	var from, to string
	for _, dates := range pairs {
		if from == "" || dates[0] < from {
			from = dates[0]
		}
		to = max(to, dates[len(dates)-1])
	}
	byRef := map[messages.JobRef]map[string]ledger.Summary{}
	open := map[messages.JobRef]bool{}
	for _, ref := range refs {
		open[ref] = true
	}
	for {
		states := map[ledger.State]int{}
		whole := len(open) == 0
		var sig strings.Builder
		// The jobs' dates differ (a date without games has no work for some), so the
		// listings span every job's dates.
		var list []messages.JobRef
		for _, ref := range refs {
			if whole || open[ref] {
				list = append(list, ref)
			}
		}
		listed, err := led.ListJobs(ctx, list, from, to)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("backfill: %w", err)
		}
		for ref, sums := range listed {
			byRef[ref] = map[string]ledger.Summary{}
			for _, s := range sums {
				byRef[ref][s.Date] = s
			}
		}
		for _, ref := range refs {
			for _, d := range pairs[ref] {
				if s, ok := byRef[ref][d]; ok {
					fmt.Fprintf(&sig, "%s/%s:%d;", ref, s.Date, s.Generation)
				}
			}
		}
		phaseOpen := map[messages.Phase]bool{}
		clear(open)
		var dead []pair
		for ref, dates := range pairs {
			for _, d := range dates {
				s, ok := byRef[ref][d]
				finished := ok && (s.State.Done() || s.State == ledger.StateDead ||
					(s.State == ledger.StateWaiting && upstreamDead(st.Catalog, ref, d, byRef))) &&
					(ref.Phase != messages.PhaseScrapers || s.RunID == runID)
				if !finished {
					phaseOpen[ref.Phase] = true
					open[ref] = true
				}
				if ok {
					states[s.State]++
					if s.State == ledger.StateDead {
						dead = append(dead, pair{ref, d})
					}
				} else {
					states["missing"]++
				}
			}
		}
		for _, p := range messages.Phases() {
			if _, seen := phases[p]; !seen && !phaseOpen[p] && hasPhase(pairs, p) {
				phases[p] = time.Since(start)
			}
		}
		if sig.String() != lastSig {
			lastSig, lastChange = sig.String(), time.Now()
		}
		if len(phaseOpen) == 0 && time.Since(lastChange) >= o.Quiet {
			return states, phases, dead, nil
		}
		if time.Now().After(deadline) {
			return states, phases, dead, fmt.Errorf("backfill: not finished after %v; states so far: %v (see producer status)", o.Timeout, states)
		}
		select {
		case <-ctx.Done():
			return states, phases, dead, ctx.Err()
		case <-time.After(pollEvery):
		}
	}
}

func hasPhase(pairs map[messages.JobRef][]string, p messages.Phase) bool {
	for ref := range pairs {
		if ref.Phase == p {
			return true
		}
	}
	return false
}

func upstreamDead(c *messages.Catalog, ref messages.JobRef, date string, byRef map[messages.JobRef]map[string]ledger.Summary) bool {
	spec, _ := c.Lookup(ref)
	for _, u := range spec.Hard {
		if s, ok := byRef[u][date]; ok && s.State == ledger.StateDead {
			return true
		}
		if upstreamDead(c, u, date, byRef) {
			return true
		}
	}
	return false
}

func printPhases(w io.Writer, phases map[messages.Phase]time.Duration, total time.Duration) {
	fmt.Fprintf(w, "\nPhase timings (from the first message; phases overlap as dates flow through)\n")
	for _, p := range messages.Phases() {
		if d, ok := phases[p]; ok {
			fmt.Fprintf(w, "  %-10s finished after %6.1fs\n", p, d.Seconds())
		}
	}
	fmt.Fprintf(w, "  %-10s %6.1fs in all\n", "backfill", total.Seconds())
}

// sample prints the top scorers of a date from player_game_summary.
func (st Stack) sample(ctx context.Context, w io.Writer, date string) error {
	q := st.BigQuery.Query(`SELECT player_full_name, team_abbr, opponent_abbr, points, points_line, over_under_result, line_margin
FROM nba_analytics.player_game_summary
WHERE game_date = CAST(@d AS DATE)
ORDER BY points DESC, player_lookup
LIMIT 10`)
	q.Parameters = []bigquery.QueryParameter{{Name: "d", Value: date}}
	it, err := q.Read(ctx)
	if err != nil {
		return fmt.Errorf("backfill: sample of player_game_summary: %w", err)
	}
	fmt.Fprintf(w, "\nnba_analytics.player_game_summary, top scorers of %s\n", date)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PLAYER\tTEAM\tOPP\tPTS\tLINE\tRESULT\tMARGIN")
	for {
		var row []bigquery.Value
		err := it.Next(&row)
		if err == iterator.Done {
			break
		}
		if err != nil {
			return fmt.Errorf("backfill: sample of player_game_summary: %w", err)
		}
		cells := make([]string, len(row))
		for i, v := range row {
			switch v := v.(type) {
			case nil:
				cells[i] = "-"
			case float64:
				cells[i] = fmt.Sprintf("%.1f", v)
			default:
				cells[i] = fmt.Sprint(v)
			}
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// CountJobs counts the BigQuery load and query jobs created since since (a second of
// clock skew allowed), by the table they write, partition decorators stripped: a load's or
// query's destination, or for a MERGE the table its pipeline labels name. Ad-hoc queries
// and anonymous results are left out.
func CountJobs(ctx context.Context, bq *bigquery.Client, since time.Time) (map[string]int, error) {
	out := map[string]int{}
	it := bq.Jobs(ctx)
	it.MinCreationTime = since.Add(-time.Second)
	for {
		j, err := it.Next()
		if err == iterator.Done {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("backfill: list BigQuery jobs: %w", err)
		}
		if s := j.LastStatus(); s != nil && s.Statistics != nil && s.Statistics.CreationTime.Before(since.Add(-time.Second)) {
			continue
		}
		cfg, err := j.Config()
		if err != nil {
			return nil, fmt.Errorf("backfill: BigQuery job %s: %w", j.ID(), err)
		}
		var dst *bigquery.Table
		switch c := cfg.(type) {
		case *bigquery.LoadConfig:
			dst = c.Dst
		case *bigquery.QueryConfig:
			dst = c.Dst
			if dst == nil {
				dst = dmlTarget(c.Labels) // a MERGE names no destination; its labels say which table it writes
			}
		}
		if dst == nil || strings.HasPrefix(dst.DatasetID, "_") {
			continue // ad-hoc queries (this report's own) and anonymous results
		}
		name, _, _ := strings.Cut(dst.TableID, "$")
		out[dst.DatasetID+"."+name]++
	}
}

// dmlTarget is the table a pipeline job without a destination (a MERGE statement) writes,
// from the labels every job of the pipeline carries (phase, table, partition); nil for
// any other query.
func dmlTarget(labels map[string]string) *bigquery.Table {
	if labels["phase"] == "" {
		return nil
	}
	for _, t := range topology.Tables() {
		if t.Name == labels["table"] {
			return &bigquery.Table{DatasetID: t.Dataset, TableID: t.Name}
		}
	}
	return nil
}

func printJobs(w io.Writer, jobs map[string]int, dates int) {
	fmt.Fprintf(w, "\nBigQuery jobs written by this run (at most one per table and date)\n")
	var names []string
	for n := range jobs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-45s %4d jobs for %d dates\n", n, jobs[n], dates)
	}
	if len(names) == 0 {
		fmt.Fprintf(w, "  none: every (job, date) was already done with the same input\n")
	}
}
