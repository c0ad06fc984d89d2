package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/consumers/telemetry"
	"github.com/nba-props/pipeline/messages"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
)

// defaultMaxDates bounds one enqueue: about five seasons of calendar days.
const defaultMaxDates = 2000

type enqueueFlags struct {
	phase, job      string
	start, end      string
	dates           []string
	dryRun, force   bool
	limit, maxDates int
	stopAfter, lane string
	runID           string
	newestFirst     bool
	maxInFlight     int
	pollEvery       time.Duration
	allowOverBudget bool
}

func enqueueCmd(e *env) *cobra.Command {
	var f enqueueFlags
	cmd := &cobra.Command{
		Use:   "enqueue --phase P --job J|all (--start-date D --end-date D | --dates D,D,...)",
		Short: "Publish one message per (job, date), skipping pairs the ledger shows finished",
		Long: withEnv(`Publish one message per (job, date) to the phase's topic, skipping pairs the ledger shows
finished (succeeded or empty) unless --force. Dates a source cannot serve are refused when
the job is named and skipped with the reason under --job all.

Before publishing, the run is planned as producer plan shows it; a run over a budget (The
Odds API credits left above ODDS_API_CREDIT_FLOOR, BigQuery's 1,500 jobs per table and day)
is refused with exit code 2, naming the budget and by how much, unless --allow-over-budget.

--max-in-flight N publishes N dates, then the next date each time one finishes: a date is
finished when every (job, date) of the run's chain for it is succeeded, empty, partial,
dead or cancelled in the ledger (or can no longer run: an upstream of it died). The
producer stays up for the run, polling the ledger every --poll-every and printing each date
published and finished; on Cloud Run give the producer job a task timeout that covers the
run (producer plan estimates it). Interrupted, the same command resumes the run: finished
pairs are skipped. --newest-first publishes the latest dates first.`),
		Example: `  producer enqueue --phase scrapers --job all --start-date 2024-10-22 --end-date 2024-10-28 --dry-run
  producer enqueue --phase raw --job bdl_player_boxscores --dates 2024-10-22,2024-10-24 --force
  producer enqueue --phase scrapers --job all --start-date 2023-10-24 --end-date 2024-04-14 --newest-first --max-in-flight 10`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return enqueue(cmd.Context(), e, f) },
	}
	selectionFlags(cmd, &f)
	fl := cmd.Flags()
	fl.BoolVar(&f.dryRun, "dry-run", false, "print the plan and publish nothing")
	fl.StringVar(&f.lane, "lane", messages.LaneBackfill, "lane of the messages: backfill or daily (each job has a subscription per lane)")
	fl.StringVar(&f.runID, "run-id", "", "run id to put on the messages (default: a new one)")
	fl.IntVar(&f.maxInFlight, "max-in-flight", 0, "publish at most N dates at once, the next as one finishes (0: every date at once)")
	fl.DurationVar(&f.pollEvery, "poll-every", 5*time.Second, "with --max-in-flight: how often to read the ledger")
	fl.BoolVar(&f.allowOverBudget, "allow-over-budget", false, "publish a run that goes over a budget (credits, BigQuery jobs per table and day)")
	return cmd
}

// selectionFlags are the flags that say what a run is, shared by enqueue and plan.
func selectionFlags(cmd *cobra.Command, f *enqueueFlags) {
	fl := cmd.Flags()
	fl.StringVar(&f.phase, "phase", "", "phase of the jobs: "+phaseList())
	fl.StringVar(&f.job, "job", "", `job name within the phase, or "all"`)
	rangeFlags(fl, &f.start, &f.end, &f.maxDates)
	fl.StringSliceVar(&f.dates, "dates", nil, "explicit game dates instead of a range, comma-separated")
	fl.BoolVar(&f.force, "force", false, "publish pairs the ledger shows finished, and run them again")
	fl.IntVar(&f.limit, "limit", 0, "publish at most N messages (0: no limit)")
	fl.StringVar(&f.stopAfter, "stop-after", "", "last phase the chain may reach (default: all phases)")
	fl.BoolVar(&f.newestFirst, "newest-first", false, "publish the dates in descending order (--limit then keeps the newest)")
}

func phaseList() string {
	var s []string
	for _, p := range messages.Phases() {
		s = append(s, string(p))
	}
	return strings.Join(s, ", ")
}

// skip kinds, for the totals.
const (
	skipDone        = "done"
	skipUnavailable = "unavailable"
	skipLimit       = "over limit"
)

// item is one (job, date) of a plan.
type item struct {
	ref    messages.JobRef
	date   string
	run    bool
	kind   string // skip kind
	reason string
}

// selection is what a run asks for: the first-phase pairs in publish order (date by date,
// every job of a date together) and how far the chain goes.
type selection struct {
	phase   messages.Phase
	jobName string // --job: a job name or "all"
	specs   []messages.JobSpec
	items   []item
	stop    messages.Phase
	force   bool
	limit   int
}

// dates returns the distinct dates of the items, in publish order.
func (s selection) dates() []string {
	var out []string
	seen := map[string]bool{}
	for _, it := range s.items {
		if !seen[it.date] {
			seen[it.date] = true
			out = append(out, it.date)
		}
	}
	return out
}

// selectWork checks the flags that say what the run is and lists its first-phase pairs.
// It does no I/O.
func selectWork(e *env, f enqueueFlags) (selection, error) {
	if f.phase == "" {
		return selection{}, usagef("--phase is required: one of %s", phaseList())
	}
	phase, err := messages.ParsePhase(f.phase)
	if err != nil {
		return selection{}, usagef("--phase: %w", err)
	}
	specs, err := selectJobs(e.catalog, phase, f.job)
	if err != nil {
		return selection{}, err
	}
	dates, err := expandDates(f.start, f.end, f.dates, true, f.maxDates)
	if err != nil {
		return selection{}, err
	}
	if f.newestFirst {
		slices.Reverse(dates)
	}
	var stop messages.Phase
	if f.stopAfter != "" {
		if stop, err = messages.ParsePhase(f.stopAfter); err != nil {
			return selection{}, usagef("--stop-after: %w", err)
		}
		if stop.Order() < phase.Order() {
			return selection{}, usagef("--stop-after %s is before --phase %s: nothing would run", stop, phase)
		}
	}
	if f.limit < 0 {
		return selection{}, usagef("--limit %d: must be 0 (no limit) or more", f.limit)
	}
	sel := selection{phase: phase, jobName: f.job, specs: specs, stop: stop, force: f.force, limit: f.limit}
	// Availability: a job named explicitly for a date it cannot serve is a mistake; under
	// --job all it is skipped with the reason.
	today := e.today()
	sel.items = make([]item, 0, len(dates)*len(specs))
	for _, d := range dates {
		for _, s := range specs {
			it := item{ref: s.Ref(), date: d, run: true}
			if err := e.catalog.CheckDate(s.Ref(), d, today); err != nil {
				if f.job != "all" {
					return selection{}, usagef("%s cannot run for %s: %w; choose dates the source serves, or use --job all to skip such dates", s.Ref(), d, err)
				}
				it.run, it.kind, it.reason = false, skipUnavailable, err.Error()
			}
			sel.items = append(sel.items, it)
		}
	}
	return sel, nil
}

// chainLedger lists every record of each job of the selection's chain (the selected jobs
// and what they lead to up to its stop): what resolve skips and what makePlan plans from,
// read once.
func chainLedger(ctx context.Context, e *env, l *ledger.Ledger, s selection) (map[messages.JobRef][]ledger.Summary, error) {
	return listJobs(ctx, l, chainJobs(e.catalog, s.specs, s.stop), "", "")
}

// resolve skips the pairs the ledger (chainLedger's records) shows finished (unless force)
// and those over the limit.
func (s *selection) resolve(records map[messages.JobRef][]ledger.Summary) {
	if !s.force {
		skipFinished(records, s.items)
	}
	n := 0
	for i := range s.items {
		if !s.items[i].run {
			continue
		}
		if s.limit > 0 && n >= s.limit {
			s.items[i].run, s.items[i].kind, s.items[i].reason = false, skipLimit, fmt.Sprintf("over --limit %d", s.limit)
			continue
		}
		n++
	}
}

// publishOptions say how a selection is published.
type publishOptions struct {
	dryRun          bool
	runID           string
	lane            string
	maxInFlight     int
	pollEvery       time.Duration
	allowOverBudget bool
}

func enqueue(ctx context.Context, e *env, f enqueueFlags) error {
	sel, err := selectWork(e, f)
	if err != nil {
		return err
	}
	o := publishOptions{dryRun: f.dryRun, runID: f.runID, lane: f.lane, maxInFlight: f.maxInFlight,
		pollEvery: f.pollEvery, allowOverBudget: f.allowOverBudget}
	if err := o.check(); err != nil {
		return err
	}
	return enqueueSelection(ctx, e, sel, o)
}

func (o publishOptions) check() error {
	if o.lane != messages.LaneBackfill && o.lane != messages.LaneDaily {
		return usagef("--lane %q: use %s or %s", o.lane, messages.LaneBackfill, messages.LaneDaily)
	}
	if o.maxInFlight < 0 {
		return usagef("--max-in-flight %d: must be 0 (every date at once) or more", o.maxInFlight)
	}
	if o.pollEvery <= 0 {
		return usagef("--poll-every %s: must be positive, e.g. 5s", o.pollEvery)
	}
	return nil
}

// enqueueSelection plans the selection, refuses it over a budget, and publishes it (or
// prints it, for a dry run).
func enqueueSelection(ctx context.Context, e *env, sel selection, o publishOptions) error {
	cl, err := open(ctx, e, !o.dryRun)
	if err != nil {
		return err
	}
	defer cl.Close()
	cfg, l := cl.cfg, cl.ledger
	if o.runID != "" {
		// Consumers drop every message of a cancelled run: publishing under its id would
		// queue work that never runs.
		switch c, err := l.Cancelled(ctx, o.runID); {
		case err == nil:
			return usagef("run %s was cancelled at %s: consumers drop its messages; enqueue without --run-id (a new run) to resume its dates, or producer retry --run %s --state cancelled",
				o.runID, c.Cancelled.UTC().Format(time.RFC3339), o.runID)
		case !errors.Is(err, ledger.ErrNotFound):
			return err
		}
	}
	records, err := chainLedger(ctx, e, l, sel)
	if err != nil {
		return err
	}
	sel.resolve(records)
	p, err := makePlan(ctx, e, l, records, cl.storage.Bucket(cfg.Bucket), sel)
	if err != nil {
		return err
	}
	over := p.overBudget()
	items := sel.items
	if o.dryRun {
		printPlan(e.stdout, items)
		fmt.Fprintln(e.stdout, p.summary())
		for _, b := range over {
			fmt.Fprintf(e.stdout, "over budget: %s (enqueue refuses this run without --allow-over-budget)\n", b)
		}
		fmt.Fprintf(e.stdout, "dry run: %s; nothing published\n", totals(items))
		return nil
	}
	if len(over) > 0 && !o.allowOverBudget {
		return usagef("refusing the run, over budget:\n  %s\nproducer plan shows the detail; --allow-over-budget publishes it anyway", strings.Join(over, "\n  "))
	}

	runID := o.runID
	if runID == "" {
		runID = newRunID(time.Now())
	}
	n := 0
	for _, it := range items {
		if it.run {
			n++
		}
	}
	topic := messages.Names{Prefix: cfg.Prefix}.Topic(sel.phase)
	// The plan tells consumers which jobs this run queued, so a job can wait for a soft
	// upstream that is queued but not started instead of running twice. It lists every
	// pair of the run, also those --max-in-flight publishes later.
	runPlan := ledger.Plan{RunID: runID, Pairs: map[string][]string{}, Lane: o.lane, StopAfter: sel.stop, Paced: o.maxInFlight > 0}
	for _, it := range items {
		if it.run {
			runPlan.Pairs[it.ref.String()] = append(runPlan.Pairs[it.ref.String()], it.date)
		}
	}
	if err := l.WritePlan(ctx, runPlan); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, p.summary())
	base := messages.Request{
		Version:   messages.Version,
		Phase:     sel.phase,
		RunID:     runID,
		Trigger:   messages.Trigger{Kind: messages.TriggerProducer},
		Force:     sel.force,
		StopAfter: sel.stop,
		Lane:      o.lane,
	}
	pub := newPublisher(cl.pubsub, topic)
	defer pub.Stop()
	var published int
	if o.maxInFlight > 0 && n > 0 {
		fmt.Fprintf(e.stdout, "run %s: publishing %s to %s, at most %s in flight\n", runID, plural(n, "message"), topic, plural(o.maxInFlight, "date"))
		published, err = pace(ctx, e, l, pub, p, base, o)
	} else {
		fmt.Fprintf(e.stdout, "run %s: publishing %s to %s\n", runID, plural(n, "message"), topic)
		published, err = publish(ctx, e, pub, requestsOf(items, base), true)
	}
	printSkips(e.stdout, items)
	fmt.Fprintf(e.stdout, "run %s: published %d of %d; %s\n", runID, published, n, totals(items))
	if grpcstatus.Code(err) == codes.NotFound {
		return fmt.Errorf("run %s: topic %s does not exist in project %s: apply the topology first "+
			"(go run ./infra/cmd/infra apply, or make up locally): %w", runID, topic, cfg.Project, err)
	}
	if errors.Is(err, errRunCancelled) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("run %s: %d of %s not published: %w", runID, n-published, plural(n, "message"), err)
	}
	return nil
}

// requestsOf turns the items that run into requests like base.
func requestsOf(items []item, base messages.Request) []messages.Request {
	var out []messages.Request
	for _, it := range items {
		if it.run {
			req := base
			req.Job, req.Date = it.ref.Job, it.date
			out = append(out, req)
		}
	}
	return out
}

// selectJobs resolves --job within the phase.
func selectJobs(c *messages.Catalog, phase messages.Phase, job string) ([]messages.JobSpec, error) {
	switch job {
	case "":
		return nil, usagef("--job is required: a job of phase %s, or all (see producer jobs)", phase)
	case "all":
		specs := c.InPhase(phase)
		if len(specs) == 0 {
			return nil, usagef("phase %s has no jobs yet (see producer jobs)", phase)
		}
		return specs, nil
	}
	s, err := c.Job(phase, job)
	if err != nil {
		return nil, usageError{fmt.Errorf("--job %q: %w", job, err)}
	}
	return []messages.JobSpec{s}, nil
}

// rangeFlags are the flags of a command over a range of game dates, which expandDates
// reads: --start-date, --end-date and --max-dates, the same in every command.
func rangeFlags(fl *pflag.FlagSet, start, end *string, maxDates *int) {
	fl.StringVar(start, "start-date", "", "first game date, YYYY-MM-DD (US Eastern)")
	fl.StringVar(end, "end-date", "", "last game date, inclusive")
	fl.IntVar(maxDates, "max-dates", defaultMaxDates, "refuse a range of more dates than this")
}

// dateList reads --dates: game dates, sorted, without duplicates.
func dateList(list []string) ([]string, error) {
	var out []string
	for _, d := range list {
		d = strings.TrimSpace(d)
		if _, err := messages.ParseDate(d); err != nil {
			return nil, usagef("--dates: %w (dates are YYYY-MM-DD game dates)", err)
		}
		out = append(out, d)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// expandDates turns the date flags into a sorted list without duplicates. withList says the
// command has --dates, so that the hints name only flags it has.
func expandDates(start, end string, list []string, withList bool, maxDates int) ([]string, error) {
	switch {
	case len(list) > 0 && (start != "" || end != ""):
		return nil, usagef("give either --dates or --start-date and --end-date, not both")
	case len(list) > 0:
		out, err := dateList(list)
		if err != nil {
			return nil, err
		}
		if len(out) > maxDates {
			return nil, usagef("--dates lists %s, more than --max-dates %d: split the run or raise --max-dates", plural(len(out), "date"), maxDates)
		}
		return out, nil
	case (start == "" || end == "") && withList:
		return nil, usagef("give --start-date and --end-date (YYYY-MM-DD, inclusive), or --dates")
	case start == "" || end == "":
		return nil, usagef("give --start-date and --end-date (YYYY-MM-DD, inclusive; the same date twice for one day)")
	}
	s, err := messages.ParseDate(start)
	if err != nil {
		return nil, usagef("--start-date: %w (dates are YYYY-MM-DD game dates)", err)
	}
	t, err := messages.ParseDate(end)
	if err != nil {
		return nil, usagef("--end-date: %w (dates are YYYY-MM-DD game dates)", err)
	}
	if t.Before(s) {
		return nil, usagef("--end-date %s is before --start-date %s", end, start)
	}
	// Count before expanding, so an absurd range fails fast.
	if n := int(t.Sub(s).Hours()/24+0.5) + 1; n > maxDates {
		return nil, usagef("%s..%s is %s, more than --max-dates %d: split the run or raise --max-dates", start, end, plural(n, "date"), maxDates)
	}
	dates, err := messages.DateRange(start, end)
	if err != nil {
		return nil, usageError{err}
	}
	return dates, nil
}

// listJobs lists the ledger records of each job of specs over [from, to] ("" unbounded),
// the jobs side by side.
func listJobs(ctx context.Context, l *ledger.Ledger, specs []messages.JobSpec, from, to string) (map[messages.JobRef][]ledger.Summary, error) {
	refs := make([]messages.JobRef, len(specs))
	for i, s := range specs {
		refs[i] = s.Ref()
	}
	listed, err := l.ListJobs(ctx, refs, from, to)
	if err != nil {
		return nil, fmt.Errorf("reading the ledger: %w", err)
	}
	return listed, nil
}

// skipFinished marks the pairs whose ledger record is done (succeeded or empty).
func skipFinished(records map[messages.JobRef][]ledger.Summary, items []item) {
	byRef := map[messages.JobRef]map[string]ledger.Summary{}
	for ref, sums := range records {
		m := map[string]ledger.Summary{}
		for _, sum := range sums {
			if sum.State.Finished() {
				m[sum.Date] = sum
			}
		}
		byRef[ref] = m
	}
	for i := range items {
		it := &items[i]
		if !it.run {
			continue
		}
		if sum, ok := byRef[it.ref][it.date]; ok {
			it.run, it.kind = false, skipDone
			it.reason = fmt.Sprintf("already %s (run %s, %s); --force to run again", sum.State, sum.RunID, output(sum.Phase, sum.Rows, sum.Objects))
		}
	}
}

func printPlan(w io.Writer, items []item) {
	for _, it := range items {
		if it.run {
			fmt.Fprintf(w, "RUN   %s  %s\n", it.date, it.ref)
		} else {
			fmt.Fprintf(w, "SKIP  %s  %s  %s: %s\n", it.date, it.ref, it.kind, it.reason)
		}
	}
}

// printSkips summarises the skipped pairs per job and kind, with the first reason.
func printSkips(w io.Writer, items []item) {
	type key struct {
		ref  messages.JobRef
		kind string
	}
	var order []key
	count := map[key]int{}
	first := map[key]item{}
	for _, it := range items {
		if it.run {
			continue
		}
		k := key{it.ref, it.kind}
		if count[k] == 0 {
			order = append(order, k)
			first[k] = it
		}
		count[k]++
	}
	for _, k := range order {
		fmt.Fprintf(w, "skipped %s for %s (%s), e.g. %s: %s\n", k.ref, plural(count[k], "date"), k.kind, first[k].date, first[k].reason)
	}
}

func totals(items []item) string {
	run := 0
	skips := map[string]int{}
	for _, it := range items {
		if it.run {
			run++
		} else {
			skips[it.kind]++
		}
	}
	s := fmt.Sprintf("%d to run, %d skipped", run, len(items)-run)
	var parts []string
	for _, k := range []string{skipDone, skipUnavailable, skipLimit} {
		if skips[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s: %d", k, skips[k]))
		}
	}
	if len(parts) > 0 {
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	return s
}

// newPublisher is a publisher of topic that sends in batches and blocks on flow control,
// so memory stays bounded however many messages a run has. Stop it when done.
//
// A batch is up to 1,000 messages, the most one Publish request takes, and ten batches may
// be in flight, so a run of 100,000 messages is 100 requests rather than 1,000, ten at a
// time. (On the local stack the emulator's own delivery passes bound the rate instead:
// README, make bench.)
func newPublisher(c *pubsub.Client, topic string) *pubsub.Publisher {
	pub := c.Publisher(topic)
	pub.PublishSettings.CountThreshold = 1000
	pub.PublishSettings.DelayThreshold = 10 * time.Millisecond
	pub.PublishSettings.FlowControlSettings = pubsub.FlowControlSettings{
		MaxOutstandingMessages: 10_000,
		MaxOutstandingBytes:    16 << 20,
		LimitExceededBehavior:  pubsub.FlowControlBlock,
	}
	return pub
}

// publish sends the requests and waits for every result, drawing a progress bar on a
// terminal when bar is set. It returns how many the server accepted and the first error.
func publish(ctx context.Context, e *env, pub *pubsub.Publisher, reqs []messages.Request, bar bool) (int, error) {
	var msgs []*pubsub.Message
	// One trace per date of the run: every message of a date is published under its span.
	var runID string
	if len(reqs) > 0 {
		runID = reqs[0].RunID
	}
	traces := telemetry.NewRunTraces(nil, runID)
	defer traces.End()
	for _, req := range reqs {
		body, attrs, err := messages.Encode(req, e.catalog)
		if err != nil {
			return 0, fmt.Errorf("encode %s %s: %w", req.Ref(), req.Date, err)
		}
		traces.Message(ctx, pub.ID(), req, attrs)
		msgs = append(msgs, &pubsub.Message{Data: body, Attributes: attrs})
	}
	return publishMessages(ctx, e, pub, msgs, bar)
}

// publishMessages sends messages as they are and waits for every result.
func publishMessages(ctx context.Context, e *env, pub *pubsub.Publisher, msgs []*pubsub.Message, bar bool) (int, error) {
	total := len(msgs)
	if !bar {
		total = 0
	}
	pb := newProgress(e.stderr, total)
	results := make(chan *pubsub.PublishResult, 1000)
	type outcome struct {
		ok  int
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		var o outcome
		for r := range results {
			if _, err := r.Get(ctx); err != nil {
				if o.err == nil {
					o.err = err
				}
			} else {
				o.ok++
			}
			pb.add(1)
		}
		done <- o
	}()
	var ctxErr error
	for _, m := range msgs {
		if ctx.Err() != nil {
			ctxErr = ctx.Err()
			break
		}
		results <- pub.Publish(ctx, m)
	}
	close(results)
	o := <-done
	pb.finish()
	return o.ok, errors.Join(ctxErr, o.err)
}

func newRunID(now time.Time) string {
	return now.UTC().Format("20060102T150405Z") + "-" + randomSuffix()
}

// randomSuffix tells apart run ids made in the same second.
func randomSuffix() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// progress draws a bar on stderr when it is a terminal, and nothing otherwise (logs, CI).
type progress struct {
	w      io.Writer
	total  int
	done   int
	active bool
	last   time.Time
}

func newProgress(w io.Writer, total int) *progress {
	return &progress{w: w, total: total, active: isTerminal(w) && total > 0}
}

// isTerminal reports whether w is a terminal (not a pipe, file or test buffer).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func (p *progress) add(n int) {
	p.done += n
	if !p.active || (time.Since(p.last) < 100*time.Millisecond && p.done < p.total) {
		return
	}
	p.last = time.Now()
	const width = 40
	filled := width * p.done / p.total
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d", strings.Repeat("#", filled), strings.Repeat(".", width-filled), p.done, p.total)
}

func (p *progress) finish() {
	if p.active {
		fmt.Fprintln(p.w)
	}
}

// errRunCancelled stops a paced run whose run was cancelled (producer cancel): nothing
// more is published, and the command ends without an error.
var errRunCancelled = errors.New("run cancelled")

// heartbeatEvery is how often a paced run says what it waits for while nothing changes.
const heartbeatEvery = time.Minute

// pacedDate is one date of a paced run: its first-phase messages and the pairs of the
// chain that decide when it is finished.
type pacedDate struct {
	date  string
	reqs  []messages.Request
	pairs []chainPair
}

// pace publishes the run date by date with at most o.maxInFlight dates in flight: it
// publishes the first dates, then reads the ledger every o.pollEvery and publishes the
// next date when one finishes (dateFinished). It stops early when the run is cancelled.
func pace(ctx context.Context, e *env, l *ledger.Ledger, pub *pubsub.Publisher, p *plan, base messages.Request, o publishOptions) (int, error) {
	var days []*pacedDate
	byDate := map[string]*pacedDate{}
	for _, req := range requestsOf(p.sel.items, base) {
		d := byDate[req.Date]
		if d == nil {
			d = &pacedDate{date: req.Date}
			byDate[req.Date] = d
			days = append(days, d)
		}
		d.reqs = append(d.reqs, req)
	}
	watch := map[messages.JobRef]bool{}
	for _, c := range p.chain {
		if d := byDate[c.date]; d != nil && c.run {
			d.pairs = append(d.pairs, c)
			watch[c.ref] = true
			if s, ok := e.catalog.Lookup(c.ref); ok {
				for _, h := range s.Hard {
					watch[h] = true
				}
			}
		}
	}
	runID := base.RunID
	var inflight []*pacedDate
	next, finished, published := 0, 0, 0
	quiet := time.Now()
	for {
		for len(inflight) < o.maxInFlight && next < len(days) {
			d := days[next]
			next++
			n, err := publish(ctx, e, pub, d.reqs, false)
			published += n
			if err != nil {
				return published, err
			}
			inflight = append(inflight, d)
			fmt.Fprintf(e.stdout, "run %s: published %s (%s); %d in flight, %s to publish\n",
				runID, d.date, plural(n, "message"), len(inflight), plural(len(days)-next, "date"))
			quiet = time.Now()
		}
		if len(inflight) == 0 {
			return published, nil
		}
		select {
		case <-ctx.Done():
			return published, fmt.Errorf("interrupted with %s in flight and %s not published; run the same command again to resume (finished pairs are skipped): %w",
				plural(len(inflight), "date"), plural(len(days)-next, "date"), ctx.Err())
		case <-time.After(o.pollEvery):
		}
		switch c, err := l.Cancelled(ctx, runID); {
		case err == nil:
			fmt.Fprintf(e.stdout, "run %s: cancelled at %s (%s); stopping with %s not published\n",
				runID, c.Cancelled.UTC().Format(time.RFC3339), orNone(c.Reason), plural(len(days)-next, "date"))
			return published, errRunCancelled
		case !errors.Is(err, ledger.ErrNotFound):
			return published, err
		}
		from, to := inflight[0].date, inflight[0].date
		for _, d := range inflight {
			from, to = min(from, d.date), max(to, d.date)
		}
		listed, err := l.ListJobs(ctx, slices.Collect(maps.Keys(watch)), from, to)
		if err != nil {
			return published, fmt.Errorf("reading the ledger: %w", err)
		}
		states := map[messages.JobRef]map[string]ledger.Summary{}
		for ref, sums := range listed {
			m := map[string]ledger.Summary{}
			for _, s := range sums {
				m[s.Date] = s
			}
			states[ref] = m
		}
		kept := inflight[:0]
		for _, d := range inflight {
			done, tally, _ := dateFinished(e.catalog, d.pairs, states)
			if !done {
				kept = append(kept, d)
				continue
			}
			finished++
			fmt.Fprintf(e.stdout, "run %s: %s finished: %s (%d of %s)\n", runID, d.date, tally, finished, plural(len(days), "date"))
			quiet = time.Now()
		}
		inflight = kept
		if len(inflight) > 0 && time.Since(quiet) >= heartbeatEvery {
			_, _, pending := dateFinished(e.catalog, inflight[0].pairs, states)
			fmt.Fprintf(e.stdout, "run %s: waiting for %s in flight; %s still has %s\n",
				runID, plural(len(inflight), "date"), inflight[0].date, strings.Join(pending, ", "))
			quiet = time.Now()
		}
	}
}

func orNone(reason string) string {
	if reason == "" {
		return "no reason given"
	}
	return reason
}

// dateFinished reports whether every pair of a date's chain is settled: succeeded, empty,
// partial, dead or cancelled, or unable to run any more (a hard upstream of it settled
// without output or is neither in the run nor done; or nothing will send it its message:
// every upstream of it in the run settled without output). pairs are in dependency order.
// It also tallies the states and lists what is still pending ("raw/x failed x2").
func dateFinished(c *messages.Catalog, pairs []chainPair, states map[messages.JobRef]map[string]ledger.Summary) (bool, string, []string) {
	inRun := map[messages.JobRef]bool{}
	for _, p := range pairs {
		inRun[p.ref] = true
	}
	settled, done := map[messages.JobRef]bool{}, map[messages.JobRef]bool{}
	count := map[string]int{}
	var pending []string
	for _, p := range pairs {
		sum := states[p.ref][p.date]
		switch sum.State {
		case ledger.StateSucceeded, ledger.StateEmpty, ledger.StatePartial:
			settled[p.ref], done[p.ref] = true, true
			count[string(sum.State)]++
			continue
		case ledger.StateDead, ledger.StateCancelled:
			settled[p.ref] = true
			count[string(sum.State)]++
			continue
		}
		spec, _ := c.Lookup(p.ref)
		blocked := false
		for _, h := range spec.Hard {
			if inRun[h] {
				blocked = blocked || (settled[h] && !done[h])
			} else {
				blocked = blocked || !states[h][p.date].State.Done()
			}
		}
		if sum.State == "" && !blocked {
			// Only an upstream in the run sends it; a first-phase pair is sent by the run.
			senders, silent := 0, 0
			for _, u := range spec.Upstreams() {
				if inRun[u] {
					senders++
					if settled[u] && !done[u] {
						silent++
					}
				}
			}
			blocked = senders > 0 && silent == senders
		}
		if blocked {
			settled[p.ref] = true
			count["blocked"]++
			continue
		}
		st := string(sum.State)
		if st == "" {
			st = "not started"
		} else if sum.Attempts > 0 && (sum.State == ledger.StateFailed || sum.State == ledger.StateRunning) {
			st = fmt.Sprintf("%s x%d", st, sum.Attempts)
		}
		pending = append(pending, p.ref.String()+" "+st)
	}
	var parts []string
	for _, st := range []string{"succeeded", "empty", "partial", "dead", "cancelled", "blocked"} {
		if count[st] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", count[st], st))
		}
	}
	return len(pending) == 0, strings.Join(parts, ", "), pending
}
