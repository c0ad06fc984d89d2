package bqemu_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/iterator"

	"github.com/nba-props/pipeline/infra/bqemu"
)

// clientOnTinyBudget is a client of an emulator on clock that keeps a byte of query results:
// every result is over the budget as soon as it is stored.
func clientOnTinyBudget(t *testing.T, clock func() time.Time) *bigquery.Client {
	t.Helper()
	s, err := bqemu.New(bqemu.Options{Projects: []string{testProject}, ResultMemory: 1, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return newClient(t, strings.TrimPrefix(srv.URL, "http://"))
}

// runToEnd runs sql as a query job and waits for it to succeed.
func runToEnd(ctx context.Context, t *testing.T, c *bigquery.Client, sql string) *bigquery.Job {
	t.Helper()
	j, err := c.Query(sql).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := j.Wait(ctx); err != nil || st.Err() != nil {
		t.Fatalf("%s: %v %v", sql, err, st.Err())
	}
	return j
}

// Query results are kept within Options.ResultMemory: past it, the oldest results read to
// the end or out of their grace are dropped, and reading them says why; the newest stay
// readable, and the job itself is still there and can still be waited for.
func TestResultMemoryDropsTheOldestResults(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	c := clientOnTinyBudget(t, clock)
	ctx := ctx5(t)

	run := func(sql string) *bigquery.Job { t.Helper(); return runToEnd(ctx, t, c, sql) }
	read := func(j *bigquery.Job) (string, error) {
		it, err := j.Read(ctx)
		if err != nil {
			return "", err
		}
		var row []bigquery.Value
		if err := it.Next(&row); err != nil && err != iterator.Done {
			return "", err
		}
		return row[0].(string), nil
	}

	first := run("SELECT 'first' AS x")
	second := run("SELECT 'second' AS x") // within the first's grace: both kept
	if got, err := read(first); err != nil || got != "first" {
		t.Fatalf("first results within their grace: %q, %v", got, err)
	}
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	third := run("SELECT 'third' AS x")
	_, err := read(first)
	if err == nil || !strings.Contains(err.Error(), "expired") || !strings.Contains(err.Error(), "ResultMemory") {
		t.Errorf("reading dropped results: %v, want an error saying they expired and why", err)
	}
	if _, err := read(second); err == nil {
		t.Errorf("the second results outlived the budget")
	}
	if got, err := read(third); err != nil || got != "third" {
		t.Errorf("newest results: %q, %v", got, err)
	}
	// Read to the end, results go at the next job over the budget, grace or not.
	run("SELECT 'fourth' AS x")
	if _, err := read(third); err == nil {
		t.Errorf("results read to the end outlived the budget")
	}
	if st, err := first.Status(ctx); err != nil || st.State != bigquery.Done {
		t.Errorf("the job whose results were dropped: %v, %v; want it still listed as done", st, err)
	}
	// A redelivered message attaches to its job by id and waits for it (getQueryResults
	// with maxResults=0): that works however long ago the rows went.
	attached, err := c.JobFromID(ctx, first.ID())
	if err != nil {
		t.Fatal(err)
	}
	if st, err := attached.Wait(ctx); err != nil || st.Err() != nil {
		t.Errorf("waiting for a job whose results were dropped: %v, %v; want it done", err, st)
	}
}

// A finished job's configuration keeps its query parameters, an array of structs
// included, in jobs.get and jobs.list (the emulator stores them compactly).
func TestJobKeepsItsQueryParameters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := ctx5(t)
	type row struct {
		Name string `bigquery:"name"`
		N    int64  `bigquery:"n"`
	}
	q := e.bq.Query("SELECT COUNT(*) AS c FROM UNNEST(@rows)")
	q.Parameters = []bigquery.QueryParameter{{Name: "rows", Value: []row{{"a", 1}, {"b", 2}}}}
	j, err := q.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	again, err := e.bq.JobFromID(ctx, j.ID())
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := again.Config()
	if err != nil {
		t.Fatal(err)
	}
	params := cfg.(*bigquery.QueryConfig).Parameters
	if len(params) != 1 || params[0].Name != "rows" {
		t.Fatalf("jobs.get parameters: %+v, want @rows", params)
	}
	got, ok := params[0].Value.([]any)
	if !ok || len(got) != 2 || !strings.Contains(fmt.Sprint(got), "name:b") {
		t.Fatalf("jobs.get @rows = %#v, want two structs", params[0].Value)
	}
	it := e.bq.Jobs(ctx)
	for {
		lj, err := it.Next()
		if err != nil {
			t.Fatalf("jobs.list never listed %s: %v", j.ID(), err)
		}
		if lj.ID() != j.ID() {
			continue
		}
		cfg, err := lj.Config()
		if err != nil {
			t.Fatal(err)
		}
		if p := cfg.(*bigquery.QueryConfig).Parameters; len(p) != 1 || p[0].Name != "rows" {
			t.Errorf("jobs.list parameters: %+v, want @rows", p)
		}
		break
	}
}

// jobs.query answers with the rows its job produced even when the budget drops them as the
// job is stored (here every result is out of its grace at once): the response comes
// from the result as it ran, not from the store.
func TestQueryAnswersRowsTheBudgetDropped(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { // two minutes pass between any two readings
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(2 * time.Minute)
		return now
	}
	c := clientOnTinyBudget(t, clock)
	ctx := ctx5(t)
	for _, want := range []string{"first", "second"} {
		it, err := c.Query("SELECT '" + want + "' AS x").Read(ctx) // jobs.query
		if err != nil {
			t.Fatalf("%s: %v", want, err)
		}
		var row []bigquery.Value
		if err := it.Next(&row); err != nil {
			t.Fatalf("%s: %v", want, err)
		}
		if len(row) != 1 || row[0] != want {
			t.Errorf("row %v, want [%s]", row, want)
		}
	}
}

// The grace counts from the last page served, not from the job: results read page by page
// stay past the budget for as long as the pages keep coming (here one every 8 s, for over
// a minute), while results nobody has read since their job go once their grace is over.
func TestResultsBeingReadOutliveTheirJob(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	wait := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	c := clientOnTinyBudget(t, clock)
	ctx := ctx5(t)
	run := func(sql string) *bigquery.Job { t.Helper(); return runToEnd(ctx, t, c, sql) }

	paged := run("SELECT x FROM UNNEST(GENERATE_ARRAY(1, 10)) AS x ORDER BY x")
	unread := run("SELECT 'unread' AS y")
	it, err := paged.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	it.PageInfo().MaxSize = 1
	for want := int64(1); want <= 10; want++ {
		var row []bigquery.Value
		if err := it.Next(&row); err != nil {
			t.Fatalf("row %d, %s after the job: %v", want, time.Duration(want-1)*8*time.Second, err)
		}
		if row[0] != want {
			t.Fatalf("row %v, want [%d]", row, want)
		}
		wait(8 * time.Second)
		run("SELECT 'another' AS z") // stores a job: the budget is enforced
		if want == 2 {
			ui, err := unread.Read(ctx)
			if err == nil {
				var row []bigquery.Value
				err = ui.Next(&row)
			}
			if err == nil || !strings.Contains(err.Error(), "expired") {
				t.Errorf("results unread for 16 s, past the budget: %v, want them expired", err)
			}
		}
	}
}
