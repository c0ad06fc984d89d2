// Package verify compares what the pipeline wrote to BigQuery with the source simulator's
// ground truth, table by table. The truth comes from the simulator's own model
// (sourcesim.Truth, PropLines, Gamebooks, GamebookRegistry), never from pipeline code, so a
// match means something.
package verify

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/iterator"

	"github.com/nba-props/pipeline/infra/sourcesim"
)

// maxProblems bounds the mismatches a table report keeps; the count is always exact.
const maxProblems = 5

// TableReport is the comparison of one table over the checked dates.
type TableReport struct {
	Table    string
	Expected int // rows the truth says the table must hold
	Found    int // rows the table holds
	Matched  int // expected rows found with every checked column equal
	// Skipped explains why a table was not compared (a source that cannot be backfilled).
	Skipped  string
	Problems []string // the first few mismatches
	problems int
}

// OK reports whether the table holds exactly the expected rows.
func (t TableReport) OK() bool {
	return t.Skipped != "" || (t.Matched == t.Expected && t.Found == t.Expected && t.problems == 0)
}

func (t *TableReport) problem(format string, args ...any) {
	t.problems++
	if len(t.Problems) < maxProblems {
		t.Problems = append(t.Problems, fmt.Sprintf(format, args...))
	}
}

// Report is the comparison of every table.
type Report struct {
	From, To string
	Tables   []TableReport
}

// OK reports whether every table matched.
func (r Report) OK() bool {
	for _, t := range r.Tables {
		if !t.OK() {
			return false
		}
	}
	return true
}

// Print writes the report as a table: rows matched / expected per table, and the first
// problems of any table that does not match.
func (r Report) Print(w io.Writer) {
	fmt.Fprintf(w, "Ground truth comparison, %s to %s\n", r.From, r.To)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TABLE\tMATCHED/EXPECTED\tFOUND\tRESULT")
	for _, t := range r.Tables {
		result := "ok"
		switch {
		case t.Skipped != "":
			result = "skipped: " + t.Skipped
		case !t.OK():
			result = "MISMATCH"
		}
		fmt.Fprintf(tw, "%s\t%d/%d\t%d\t%s\n", t.Table, t.Matched, t.Expected, t.Found, result)
	}
	tw.Flush()
	for _, t := range r.Tables {
		for _, p := range t.Problems {
			fmt.Fprintf(w, "  %s: %s\n", t.Table, p)
		}
		if t.problems > len(t.Problems) {
			fmt.Fprintf(w, "  %s: ... and %d more\n", t.Table, t.problems-len(t.Problems))
		}
	}
}

// Compare checks every table for the dates against the simulator's truth, as a backfill
// of exactly those dates leaves them.
func Compare(ctx context.Context, bq *bigquery.Client, sim *sourcesim.Sim, dates []string) (Report, error) {
	if len(dates) == 0 {
		return Report{}, fmt.Errorf("verify: no dates")
	}
	return CompareIn(ctx, bq, sim, dates, slices.Min(dates), slices.Max(dates))
}

// CompareIn checks every table for some dates of a backfill of loadedFrom..loadedTo
// (YYYY-MM-DD, inclusive) against the simulator's truth. The game book registry's rows of
// a date depend on the other dates loaded (a name a book prints short is resolved by the
// season's other books), so its truth is the loaded range's.
func CompareIn(ctx context.Context, bq *bigquery.Client, sim *sourcesim.Sim, dates []string, loadedFrom, loadedTo string) (Report, error) {
	if len(dates) == 0 {
		return Report{}, fmt.Errorf("verify: no dates")
	}
	sorted := append([]string(nil), dates...)
	sort.Strings(sorted)
	if sorted[0] < loadedFrom || sorted[len(sorted)-1] > loadedTo {
		return Report{}, fmt.Errorf("verify: dates %s..%s outside the loaded range %s..%s", sorted[0], sorted[len(sorted)-1], loadedFrom, loadedTo)
	}
	rep := Report{From: sorted[0], To: sorted[len(sorted)-1]}
	var truth []sourcesim.DayTruth
	for _, d := range sorted {
		t, err := sim.Truth(d)
		if err != nil {
			return Report{}, fmt.Errorf("verify: truth of %s: %w", d, err)
		}
		truth = append(truth, t)
	}
	c := comparer{bq: bq, sim: sim, from: rep.From, to: rep.To, loadedFrom: loadedFrom, loadedTo: loadedTo, truth: truth}
	for _, check := range []func(context.Context) (TableReport, error){
		c.schedule, c.nbacBoxScores, c.bdlBoxScores, c.props, c.gamebooks, c.registry, c.gamebookRegistry,
		c.teamOffense, c.teamDefense, c.playerSummary,
	} {
		t, err := check(ctx)
		if err != nil {
			return Report{}, err
		}
		rep.Tables = append(rep.Tables, t)
	}
	rep.Tables = append(rep.Tables, TableReport{Table: "nba_raw.bdl_injuries",
		Skipped: "current-day source, not part of a backfill"})
	return rep, nil
}

// BrokenGamebooks returns the dates whose published game books include one the source holds
// broken, with why: such a date loads no book (its raw job ends dead, naming the object),
// and the comparison expects none of its rows.
func BrokenGamebooks(sim *sourcesim.Sim, dates []string) (map[string]string, error) {
	out := map[string]string{}
	for _, d := range dates {
		books, err := sim.Gamebooks(d)
		if err != nil {
			return nil, fmt.Errorf("verify: game books of %s: %w", d, err)
		}
		for _, b := range books {
			if b.Available && b.Corrupt != "" {
				out[d] = fmt.Sprintf("the source's game book of %s is broken (%s)", b.GameID, b.Corrupt)
			}
		}
	}
	return out, nil
}

type comparer struct {
	bq       *bigquery.Client
	sim      *sourcesim.Sim
	from, to string
	// loadedFrom and loadedTo are the backfilled range the dates are part of.
	loadedFrom, loadedTo string
	truth                []sourcesim.DayTruth
}

// query runs sql with @from and @to and decodes every row into a new T.
func query[T any](ctx context.Context, c comparer, sql string) ([]T, error) {
	q := c.bq.Query(sql)
	q.Parameters = []bigquery.QueryParameter{{Name: "from", Value: c.from}, {Name: "to", Value: c.to}}
	it, err := q.Read(ctx)
	if err != nil {
		return nil, fmt.Errorf("verify: %s: %w", firstLine(sql), err)
	}
	var out []T
	for {
		var row T
		err := it.Next(&row)
		if err == iterator.Done {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("verify: %s: %w", firstLine(sql), err)
		}
		out = append(out, row)
	}
}

// comparison is one table's rows for the checked dates, by key, and its report under way.
// Every table is checked the same way: each row the truth expects is looked up by its key,
// missing or differing rows are problems, and the rest count as matched.
type comparison[R any] struct {
	TableReport
	rows map[string]R
}

// load reads the columns of table's rows that pass where (usually dateFilter) and indexes
// them by key.
func load[R any](ctx context.Context, c comparer, table, columns, where string, key func(R) string) (*comparison[R], error) {
	rows, err := query[R](ctx, c, "SELECT "+columns+"\nFROM "+table+" WHERE "+where)
	if err != nil {
		return nil, err
	}
	return compareRows(table, rows, key), nil
}

// compareRows indexes the rows table holds by key; a key that stands twice is a problem
// ("duplicate row K"), and the later row is the one compared.
func compareRows[R any](table string, rows []R, key func(R) string) *comparison[R] {
	rep := &comparison[R]{TableReport: TableReport{Table: table, Found: len(rows)}, rows: make(map[string]R, len(rows))}
	for _, r := range rows {
		k := key(r)
		if _, dup := rep.rows[k]; dup {
			rep.problem("duplicate row %s", k)
		}
		rep.rows[k] = r
	}
	return rep
}

// expect checks the row the truth expects under key: "row K missing" when the table lacks
// it, "K: differences" when differ finds any, matched otherwise.
func (rep *comparison[R]) expect(key string, differ func(R) []string) {
	rep.check(key, "row "+key, key, differ)
}

// expectNamed is expect for a row a noun names in problems better than "row": "game K
// missing", "game K: differences".
func (rep *comparison[R]) expectNamed(noun, key string, differ func(R) []string) {
	rep.check(key, noun+" "+key, noun+" "+key, differ)
}

func (rep *comparison[R]) check(key, missing, label string, differ func(R) []string) {
	rep.Expected++
	r, ok := rep.rows[key]
	if !ok {
		rep.problem("%s missing", missing)
		return
	}
	if d := differ(r); len(d) > 0 {
		rep.problem("%s: %s", label, strings.Join(d, ", "))
		return
	}
	rep.Matched++
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i > 0 {
		s = s[:i]
	}
	return s
}

const dateFilter = "game_date BETWEEN CAST(@from AS DATE) AND CAST(@to AS DATE)"

func near(a, b float64) bool { return math.Abs(a-b) < 0.005 }

func diffs(fields ...any) []string {
	var out []string
	for i := 0; i+2 < len(fields); i += 3 {
		name, got, want := fields[i].(string), fields[i+1], fields[i+2]
		if g, ok := got.(float64); ok {
			if !near(g, want.(float64)) {
				out = append(out, fmt.Sprintf("%s=%v want %v", name, got, want))
			}
			continue
		}
		if got != want {
			out = append(out, fmt.Sprintf("%s=%v want %v", name, got, want))
		}
	}
	return out
}
