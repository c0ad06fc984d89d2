package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
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
			"(objects for a scraper, rows for later phases) or its attempts; failed, dead and waiting\n" +
			"dates are listed below with their last error."),
		Example: `  producer status --job all --start-date 2024-10-22 --end-date 2024-10-28
  producer status --phase raw --job bdl_player_boxscores --start-date 2024-10-22 --end-date 2024-10-22 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return status(cmd.Context(), e, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.job, "job", "", `job name, phase/job, or "all"`)
	fl.StringVar(&f.phase, "phase", "", "only jobs of this phase")
	fl.StringVar(&f.start, "start-date", "", "first game date, YYYY-MM-DD")
	fl.StringVar(&f.end, "end-date", "", "last game date, inclusive")
	fl.StringVar(&f.runID, "run", "", "only records last touched by this run id")
	fl.BoolVar(&f.json, "json", false, "print JSON, one object per (job, date)")
	fl.IntVar(&f.maxDates, "max-dates", defaultMaxDates, "refuse a range of more dates than this")
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
	// RowsLow flags a finished date with fewer than half the median rows of the job over
	// the range: a source that answered, but with too little (lessons #1 and #11).
	RowsLow bool `json:"rows_low,omitempty"`
}

// flagLowRows marks the cells of each job whose rows are below half the job's median over
// the dates that wrote rows. Jobs that write no rows (scrapers) and ranges of fewer than
// three such dates are left alone: there is no expectation to compare with.
func flagLowRows(cells []cell) {
	byJob := map[string][]int{}
	for i, c := range cells {
		if c.State == string(ledger.StateSucceeded) || c.State == string(ledger.StateEmpty) {
			byJob[c.Phase+"/"+c.Job] = append(byJob[c.Phase+"/"+c.Job], i)
		}
	}
	for _, idx := range byJob {
		var rows []int64
		for _, i := range idx {
			if cells[i].Rows > 0 {
				rows = append(rows, cells[i].Rows)
			}
		}
		if len(rows) < 3 {
			continue
		}
		slices.Sort(rows)
		median := rows[len(rows)/2]
		for _, i := range idx {
			if cells[i].Rows*2 < median {
				cells[i].RowsLow = true
			}
		}
	}
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
	cfg, err := loadConfig(ctx, e.lookuper)
	if err != nil {
		return err
	}
	cl, err := connect(ctx, cfg, false)
	if err != nil {
		return err
	}
	defer cl.Close()
	l := ledger.New(cl.storage, cfg.Bucket, ledger.Options{})
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
	grid := map[messages.JobRef]map[string]ledger.Summary{}
	for _, s := range specs {
		sums, err := l.List(ctx, s.Ref(), dates[0], dates[len(dates)-1])
		if err != nil {
			return fmt.Errorf("reading the ledger: %w", err)
		}
		m := map[string]ledger.Summary{}
		for _, sum := range sums {
			if f.runID == "" || sum.RunID == f.runID {
				m[sum.Date] = sum
			}
		}
		grid[s.Ref()] = m
	}
	var cells []cell
	for _, d := range dates {
		for _, s := range specs {
			c := cell{Date: d, Phase: string(s.Phase), Job: s.Name}
			if sum, ok := grid[s.Ref()][d]; ok {
				c.State, c.Attempts, c.Rows, c.Objects, c.Emitted = string(sum.State), sum.Attempts, sum.Rows, sum.Objects, sum.Emitted
				c.RunID, c.Reason, c.LastError, c.Updated = sum.RunID, sum.Reason, sum.LastError, sum.Updated
			}
			cells = append(cells, c)
		}
	}
	flagLowRows(cells)
	if f.json {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(cells); err != nil {
			return fmt.Errorf("writing json: %w", err)
		}
		return nil
	}
	printGrid(e.stdout, specs, dates, cells)
	return nil
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
			if st == "" {
				st = "none"
			}
			counts[st]++
			switch ledger.State(c.State) {
			case ledger.StateFailed, ledger.StateDead, ledger.StateWaiting:
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
	for _, st := range []string{"succeeded", "empty", "running", "waiting", "failed", "dead", "none"} {
		if counts[st] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", st, counts[st]))
		}
	}
	fmt.Fprintf(w, "total: %s\n", strings.Join(parts, ", "))
	for _, c := range problems {
		if c.RowsLow {
			fmt.Fprintf(w, "%s %s/%s %s with only %d rows: under half the usual for this job in the range; check the source for that date\n",
				c.Date, c.Phase, c.Job, c.State, c.Rows)
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
	case ledger.StateFailed, ledger.StateRunning:
		return fmt.Sprintf("%s x%d", c.State, c.Attempts)
	default:
		return c.State
	}
}
