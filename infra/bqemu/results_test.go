package bqemu_test

import (
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/iterator"

	"github.com/nba-props/pipeline/infra/bqemu"
)

// Query results are kept within Options.ResultMemory: past it, the oldest results read to
// the end or out of their grace minute are dropped, and reading them says why; the newest
// stay readable, and the job itself is still there.
func TestResultMemoryDropsTheOldestResults(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s, err := bqemu.New(bqemu.Options{Projects: []string{testProject}, ResultMemory: 1, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	c := newClient(t, strings.TrimPrefix(srv.URL, "http://"))
	ctx := ctx5(t)

	run := func(sql string) *bigquery.Job {
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
	second := run("SELECT 'second' AS x") // within the first's grace minute: both kept
	if got, err := read(first); err != nil || got != "first" {
		t.Fatalf("first results within the grace minute: %q, %v", got, err)
	}
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	third := run("SELECT 'third' AS x")
	_, err = read(first)
	if err == nil || !strings.Contains(err.Error(), "expired") || !strings.Contains(err.Error(), "ResultMemory") {
		t.Errorf("reading dropped results: %v, want an error saying they expired and why", err)
	}
	if _, err := read(second); err == nil {
		t.Errorf("the second results outlived the budget")
	}
	if got, err := read(third); err != nil || got != "third" {
		t.Errorf("newest results: %q, %v", got, err)
	}
	// Read to the end, results go at the next job over the budget, grace minute or not.
	run("SELECT 'fourth' AS x")
	if _, err := read(third); err == nil {
		t.Errorf("results read to the end outlived the budget")
	}
	if st, err := first.Status(ctx); err != nil || st.State != bigquery.Done {
		t.Errorf("the job whose results were dropped: %v, %v; want it still listed as done", st, err)
	}
}
