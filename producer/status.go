package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/messages"
	"github.com/spf13/cobra"
)

type statusFlags struct {
	job, phase, start, end, runID string
	json                          bool
	maxDates                      int
	watch                         time.Duration
}

func statusCmd(e *env) *cobra.Command {
	var f statusFlags
	cmd := &cobra.Command{
		Use:   "status --job J|all --start-date D --end-date D [--phase P] [--run ID] [--json]",
		Short: "Show the date × job grid from the ledger: state, attempts, rows, last error",
		Long: withEnv("Show the date × job grid from the ledger: each cell is the state with what the date wrote\n" +
			"(objects for a scraper, rows for later phases) or its attempts; failed, dead, waiting and\n" +
			"LOW dates are listed below the grid.\n\n" + lowRowsRule),
		Example: `  producer status --job all --start-date 2024-10-22 --end-date 2024-10-28
  producer status --phase raw --job bdl_player_boxscores --start-date 2024-10-22 --end-date 2024-10-22 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return status(cmd.Context(), e, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.job, "job", "", `job name, phase/job, or "all"`)
	fl.StringVar(&f.phase, "phase", "", "only jobs of this phase")
	rangeFlags(fl, &f.start, &f.end, &f.maxDates)
	fl.StringVar(&f.runID, "run", "", "only records last touched by this run id")
	fl.BoolVar(&f.json, "json", false, "print a JSON array, one object per (job, date)")
	fl.DurationVar(&f.watch, "watch", 0, "redraw the grid at this interval until interrupted (e.g. 2s)")
	return cmd
}

// cell is one (job, date) of the grid; State is "" when the ledger has no record.
type cell struct {
	Date      string    `json:"date"`
	Phase     string    `json:"phase"`
	Job       string    `json:"job"`
	State     string    `json:"state"`
	Attempts  int       `json:"attempts"`
	Rows      int64     `json:"rows"`
	Objects   int       `json:"objects,omitempty"`
	Emitted   bool      `json:"emitted"`
	RunID     string    `json:"run_id,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	LastError string    `json:"last_error,omitempty"`
	Updated   time.Time `json:"updated,omitzero"`
	// ExpectedRows is what the date's games lead to expect for a job that writes rows (see
	// flagLowRows); 0 when there is nothing to compare with.
	ExpectedRows int64 `json:"expected_rows,omitempty"`
	// RowsLow flags a finished date with at most half its ExpectedRows: a source that
	// answered, but with too little (a missing game, an empty page).
	RowsLow bool `json:"rows_low,omitempty"`
	// StalledFor is how long ago the lease of a running record lapsed: nobody runs it, and
	// the reconciler re-sends it.
	StalledFor time.Duration `json:"stalled_for,omitempty"`
	// WaitsFor lists the upstreams a waiting record waits for now: those it named that have
	// not finished the date since.
	WaitsFor []string `json:"waits_for,omitempty"`
	// Incomplete names what a partial date lacks (game ids).
	Incomplete []string `json:"incomplete,omitempty"`
	// TraceID is the trace of the record's last write, when traces were recorded.
	TraceID string `json:"trace_id,omitempty"`
}

// scheduleRef is the job whose rows on a date are that date's games: the raw NBA.com
// schedule loads one row per game, and an off day is empty.
var scheduleRef = messages.Ref(messages.PhaseRaw, "nbac_schedule")

// lowRowsRule explains flagLowRows to the user (status --help).
const lowRowsRule = `LOW marks a finished date whose rows are at most half of what its games lead to expect:
the games of the date (raw/nbac_schedule's rows that date, one per game) times the job's
rows per game (the median of rows / games over the dates of the range that have both, at
least three). So a night of two games is not low for having few rows, an off day is not
judged, and a date without a finished schedule record is not judged either. Scrapers write
objects and are not judged.`

// flagLowRows sets ExpectedRows and RowsLow on the finished cells of jobs that write rows,
// by lowRowsRule. games holds the number of games of each date whose schedule is known.
func flagLowRows(cells []cell, games map[string]int64) {
	byJob := map[string][]int{}
	for i, c := range cells {
		done := c.State == string(ledger.StateSucceeded) || c.State == string(ledger.StateEmpty)
		ref := messages.Ref(messages.Phase(c.Phase), c.Job)
		if done && ref.Phase != messages.PhaseScrapers && ref != scheduleRef {
			byJob[ref.String()] = append(byJob[ref.String()], i)
		}
	}
	for _, idx := range byJob {
		var perGame []float64
		for _, i := range idx {
			if g := games[cells[i].Date]; g > 0 && cells[i].Rows > 0 {
				perGame = append(perGame, float64(cells[i].Rows)/float64(g))
			}
		}
		if len(perGame) < 3 {
			continue
		}
		slices.Sort(perGame)
		median := perGame[len(perGame)/2]
		if len(perGame)%2 == 0 {
			median = (median + perGame[len(perGame)/2-1]) / 2
		}
		for _, i := range idx {
			g, known := games[cells[i].Date]
			if !known || g == 0 {
				continue
			}
			expected := float64(g) * median
			cells[i].ExpectedRows = int64(math.Round(expected))
			cells[i].RowsLow = float64(cells[i].Rows) <= expected/2
		}
	}
}

// gamesPerDate reads the number of games of each date from the schedule job's ledger
// records: one list call, whatever the selected jobs are.
func gamesPerDate(ctx context.Context, l *ledger.Ledger, dates []string) (map[string]int64, error) {
	sums, err := l.List(ctx, scheduleRef, dates[0], dates[len(dates)-1])
	if err != nil {
		return nil, fmt.Errorf("reading the ledger: %w", err)
	}
	games := map[string]int64{}
	for _, sum := range sums {
		switch sum.State {
		case ledger.StateSucceeded:
			games[sum.Date] = sum.Rows
		case ledger.StateEmpty:
			games[sum.Date] = 0
		}
	}
	return games, nil
}

func status(ctx context.Context, e *env, f statusFlags) error {
	if f.watch > 0 && f.json {
		return usagef("--watch draws the text grid; drop --json")
	}
	specs, err := statusJobs(e.catalog, f.phase, f.job)
	if err != nil {
		return err
	}
	dates, err := expandDates(f.start, f.end, nil, false, f.maxDates)
	if err != nil {
		return err
	}
	cl, err := open(ctx, e, false)
	if err != nil {
		return err
	}
	defer cl.Close()
	l := cl.ledger
	if f.watch <= 0 {
		return statusOnce(ctx, e, f, l, specs, dates)
	}
	t := time.NewTicker(f.watch)
	defer t.Stop()
	for {
		if isTerminal(e.stdout) {
			fmt.Fprint(e.stdout, "\033[H\033[2J") // home and clear
		}
		fmt.Fprintf(e.stdout, "%s  (every %s, Ctrl-C to stop)\n", time.Now().Format(time.TimeOnly), f.watch)
		if err := statusOnce(ctx, e, f, l, specs, dates); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func statusOnce(ctx context.Context, e *env, f statusFlags, l *ledger.Ledger, specs []messages.JobSpec, dates []string) error {
	cells, games, err := gridCells(ctx, l, specs, dates, f.runID, time.Now())
	if err != nil {
		return err
	}
	if f.json {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(cells); err != nil {
			return fmt.Errorf("writing json: %w", err)
		}
		return nil
	}
	printGrid(e.stdout, specs, dates, cells)
	if games != nil {
		unjudged := map[string]bool{}
		for _, c := range cells {
			_, known := games[c.Date]
			if !known && c.Rows > 0 && messages.Phase(c.Phase) != messages.PhaseScrapers {
				unjudged[c.Date] = true
			}
		}
		if len(unjudged) > 0 {
			fmt.Fprintf(e.stdout, "rows not judged on %s: %s has no finished record there to give the games\n",
				plural(len(unjudged), "date"), scheduleRef)
		}
	}
	if f.watch > 0 {
		printProgress(e.stdout, gridProgressOf(e.catalog, cells, e.today(), time.Now()))
	}
	return nil
}

// gridCells reads the date × job grid from the ledger, dates down and jobs across in
// specs' order, with the rows each date's games lead to expect (flagLowRows); runID, if
// set, keeps only records last touched by that run. games holds the games per date that
// judged the rows (nil when only scrapers are shown). status and serve both draw it.
func gridCells(ctx context.Context, l *ledger.Ledger, specs []messages.JobSpec, dates []string, runID string, now time.Time) (cells []cell, games map[string]int64, err error) {
	listed, err := listJobs(ctx, l, specs, dates[0], dates[len(dates)-1])
	if err != nil {
		return nil, nil, err
	}
	grid := map[messages.JobRef]map[string]ledger.Summary{}
	for ref, sums := range listed {
		m := map[string]ledger.Summary{}
		for _, sum := range sums {
			if runID == "" || sum.RunID == runID {
				m[sum.Date] = sum
			}
		}
		grid[ref] = m
	}
	upstream, err := upstreamRecords(ctx, l, grid, dates)
	if err != nil {
		return nil, nil, err
	}
	unpublished, err := cancelledUnpublished(ctx, l, runID)
	if err != nil {
		return nil, nil, err
	}
	for _, d := range dates {
		for _, s := range specs {
			c := cell{Date: d, Phase: string(s.Phase), Job: s.Name}
			sum, ok := grid[s.Ref()][d]
			if !ok && unpublished != nil {
				c.State, c.RunID, c.LastError = unpublished(s.Ref(), d)
			}
			if ok {
				c.State, c.Attempts, c.Rows, c.Objects, c.Emitted = string(sum.State), sum.Attempts, sum.Rows, sum.Objects, sum.Emitted
				c.RunID, c.Reason, c.LastError, c.Updated = sum.RunID, sum.Reason, sum.LastError, sum.Updated
				c.Incomplete, c.TraceID = sum.Incomplete, sum.TraceID
				if sum.Stalled(now) {
					c.StalledFor = now.Sub(sum.LeaseExpires).Round(time.Second)
				}
				for _, u := range append(slices.Clone(sum.Missing), sum.Awaiting...) {
					if !upstream[u+" "+d].State.Done() {
						c.WaitsFor = append(c.WaitsFor, u)
					}
				}
			}
			cells = append(cells, c)
		}
	}
	if slices.ContainsFunc(specs, func(s messages.JobSpec) bool { return s.Phase != messages.PhaseScrapers }) {
		if games, err = gamesPerDate(ctx, l, dates); err != nil {
			return nil, nil, err
		}
	}
	flagLowRows(cells, games)
	return cells, games, nil
}

// cancelledUnpublished, for a cancelled run, tells the pairs of its plan it never
// published (a run paced by --max-in-flight stops publishing when cancelled): they show
// as cancelled, as the pairs whose messages the consumers dropped do. It is nil for no
// run, or a run not cancelled or without a plan.
func cancelledUnpublished(ctx context.Context, l *ledger.Ledger, runID string) (func(messages.JobRef, string) (string, string, string), error) {
	if runID == "" {
		return nil, nil
	}
	c, err := l.Cancelled(ctx, runID)
	if errors.Is(err, ledger.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the ledger: %w", err)
	}
	plan, err := l.ReadPlan(ctx, runID)
	if errors.Is(err, ledger.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the ledger: %w", err)
	}
	why := fmt.Sprintf("not published: run %s cancelled at %s", runID, c.Cancelled.UTC().Format(time.RFC3339))
	if c.Reason != "" {
		why += " (" + c.Reason + ")"
	}
	return func(ref messages.JobRef, date string) (string, string, string) {
		if !plan.Has(ref, date) {
			return "", "", ""
		}
		return string(ledger.StateCancelled), runID, why
	}, nil
}

// upstreamRecords reads the records that waiting records of the grid wait for, by
// "phase/job date": those of jobs in the grid from it, others listed.
func upstreamRecords(ctx context.Context, l *ledger.Ledger, grid map[messages.JobRef]map[string]ledger.Summary, dates []string) (map[string]ledger.Summary, error) {
	out := map[string]ledger.Summary{}
	listed := map[messages.JobRef]bool{}
	for ref, m := range grid {
		listed[ref] = true
		for d, s := range m {
			out[ref.String()+" "+d] = s
		}
	}
	var others []messages.JobRef
	for _, m := range grid {
		for _, s := range m {
			for _, u := range append(slices.Clone(s.Missing), s.Awaiting...) {
				if ref, err := messages.ParseJobRef(u); err == nil && !listed[ref] {
					listed[ref] = true
					others = append(others, ref)
				}
			}
		}
	}
	sums, err := l.ListJobs(ctx, others, dates[0], dates[len(dates)-1])
	if err != nil {
		return nil, fmt.Errorf("reading the ledger: %w", err)
	}
	for ref, ss := range sums {
		for _, us := range ss {
			out[ref.String()+" "+us.Date] = us
		}
	}
	return out, nil
}

// statusJobs resolves --phase and --job; a job name alone may match one job in several
// phases (nbac_schedule is a scraper and a raw processor), and then shows both.
func statusJobs(c *messages.Catalog, phase, job string) ([]messages.JobSpec, error) {
	var p messages.Phase
	if phase != "" {
		var err error
		if p, err = messages.ParsePhase(phase); err != nil {
			return nil, usagef("--phase: %w", err)
		}
	}
	if job == "" {
		return nil, usagef(`--job is required: a job name, phase/job, or all (see producer jobs)`)
	}
	if strings.Contains(job, "/") {
		ref, err := messages.ParseJobRef(job)
		if err != nil {
			return nil, usagef("--job %q: %w", job, err)
		}
		p, job = ref.Phase, ref.Job
	}
	var out []messages.JobSpec
	for _, s := range c.Jobs() {
		if (p == "" || s.Phase == p) && (job == "all" || s.Name == job) {
			out = append(out, s)
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	if job == "all" {
		return nil, usagef("phase %s has no jobs yet (see producer jobs)", p)
	}
	if p != "" {
		_, err := c.Job(p, job)
		return nil, usageError{fmt.Errorf("--job %q: %w", job, err)}
	}
	return nil, usagef("--job %q: no such job in any phase (see producer jobs)", job)
}

// printGrid draws dates down and jobs across, then the problems with their errors.
func printGrid(w io.Writer, specs []messages.JobSpec, dates []string, cells []cell) {
	fmt.Fprintln(w, "jobs (a cell is the state and what the date wrote: objects for a scraper, rows otherwise):")
	for i, s := range specs {
		unit := "rows"
		if s.Phase == messages.PhaseScrapers {
			unit = "objects"
		}
		fmt.Fprintf(w, "  [%d] %s (%s)\n", i+1, s.Ref(), unit)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "date")
	for i := range specs {
		fmt.Fprintf(tw, "\t[%d]", i+1)
	}
	fmt.Fprintln(tw)
	counts := map[string]int{}
	var problems []cell
	for i, d := range dates {
		fmt.Fprint(tw, d)
		for j := range specs {
			c := cells[i*len(specs)+j]
			fmt.Fprintf(tw, "\t%s", short(c))
			st := c.State
			switch {
			case st == "":
				st = "none"
			case c.StalledFor > 0:
				st = "stalled"
			}
			counts[st]++
			switch {
			case c.StalledFor > 0, ledger.State(c.State) == ledger.StatePartial:
				problems = append(problems, c)
			case ledger.State(c.State) == ledger.StateFailed, ledger.State(c.State) == ledger.StateDead, ledger.State(c.State) == ledger.StateWaiting:
				problems = append(problems, c)
			default:
				if c.RowsLow {
					problems = append(problems, c)
				}
			}
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	var parts []string
	for _, st := range []string{"succeeded", "empty", "partial", "running", "stalled", "waiting", "failed", "dead", "cancelled", "none"} {
		if counts[st] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", st, counts[st]))
		}
	}
	fmt.Fprintf(w, "total: %s\n", strings.Join(parts, ", "))
	for _, c := range problems {
		switch {
		case c.StalledFor > 0:
			fmt.Fprintf(w, "%s %s/%s stalled: its lease lapsed %s ago and nobody runs it; the reconciler re-sends it\n",
				c.Date, c.Phase, c.Job, c.StalledFor)
			continue
		case ledger.State(c.State) == ledger.StatePartial:
			fmt.Fprintf(w, "%s %s/%s partial: the source left out %s (%s); the next enqueue fetches it again\n",
				c.Date, c.Phase, c.Job, plural(len(c.Incomplete), "game"), strings.Join(c.Incomplete, ", "))
			continue
		case ledger.State(c.State) == ledger.StateWaiting:
			fmt.Fprintf(w, "%s %s/%s waiting for %s\n", c.Date, c.Phase, c.Job, orNothing(c.WaitsFor))
			continue
		}
		if c.RowsLow {
			fmt.Fprintf(w, "%s %s/%s %s with %s, %s expected from the date's games: check the source for that date\n",
				c.Date, c.Phase, c.Job, c.State, plural(c.Rows, "row"), plural(c.ExpectedRows, "row"))
			continue
		}
		fmt.Fprintf(w, "%s %s/%s %s after %s", c.Date, c.Phase, c.Job, c.State, plural(c.Attempts, "attempt"))
		if c.Reason != "" {
			fmt.Fprintf(w, " (%s)", c.Reason)
		}
		if c.LastError != "" {
			fmt.Fprintf(w, ": %s", c.LastError)
		}
		fmt.Fprintln(w)
	}
}

// short is a grid cell: the state with its rows or attempts.
func short(c cell) string {
	switch ledger.State(c.State) {
	case "":
		return "-"
	case ledger.StateSucceeded:
		if c.RowsLow {
			return fmt.Sprintf("LOW %d", c.Rows)
		}
		if messages.Phase(c.Phase) == messages.PhaseScrapers {
			return fmt.Sprintf("ok %d obj", c.Objects) // a scraper writes objects, not rows
		}
		return fmt.Sprintf("ok %d", c.Rows)
	case ledger.StateEmpty:
		if c.RowsLow {
			return "LOW empty"
		}
		return "empty"
	case ledger.StateRunning:
		if c.StalledFor > 0 {
			return "STALLED " + c.StalledFor.String()
		}
		return fmt.Sprintf("%s x%d", c.State, c.Attempts)
	case ledger.StateFailed:
		return fmt.Sprintf("%s x%d", c.State, c.Attempts)
	case ledger.StatePartial:
		return fmt.Sprintf("partial %d", c.Rows)
	default:
		return c.State
	}
}

// orNothing lists refs, or says that nothing is missing any more (the reconciler re-sends
// such a date within a minute).
func orNothing(refs []string) string {
	if len(refs) == 0 {
		return "nothing any more: its upstreams have finished, and the reconciler re-sends it"
	}
	return strings.Join(refs, ", ")
}
