package bqemu

import (
	"context"
	"strings"
	"testing"
	"time"
	"unsafe"

	bq "google.golang.org/api/bigquery/v2"
)

// TestResultsOfTheSameColumnsShareTheirSchema checks that results read with the same
// column names and types share one schema, and that a result whose columns differ in a
// name, a type or their order gets its own.
func TestResultsOfTheSameColumnsShareTheirSchema(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	read := func(q string) []*bq.TableFieldSchema {
		t.Helper()
		res, err := readResult(context.Background(), s.db, q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return res.schema
	}
	describe := func(schema []*bq.TableFieldSchema) string {
		out := ""
		for _, f := range schema {
			out += f.Name + " " + f.Type + " " + f.Mode + "; "
		}
		return out
	}
	first := read("SELECT 1::BIGINT AS a, 'x' AS b, [1.5::DOUBLE] AS c")
	again := read("SELECT 2::BIGINT AS a, 'y' AS b, [2.5::DOUBLE, 3.5] AS c")
	if len(first) != 3 || &first[0] != &again[0] {
		t.Errorf("the same columns read twice: schemas %s and %s not shared", describe(first), describe(again))
	}
	for _, c := range []struct{ query, want string }{
		{"SELECT 'x' AS a, 'x' AS b, [1.5::DOUBLE] AS c", "a STRING NULLABLE; b STRING NULLABLE; c FLOAT REPEATED; "},
		{"SELECT 1::BIGINT AS a, 'x' AS d, [1.5::DOUBLE] AS c", "a INTEGER NULLABLE; d STRING NULLABLE; c FLOAT REPEATED; "},
		{"SELECT 'x' AS b, 1::BIGINT AS a, [1.5::DOUBLE] AS c", "b STRING NULLABLE; a INTEGER NULLABLE; c FLOAT REPEATED; "},
		{"SELECT 1::BIGINT AS a, 'x' AS b, [1.5::DOUBLE] AS c", "a INTEGER NULLABLE; b STRING NULLABLE; c FLOAT REPEATED; "},
	} {
		if got := describe(read(c.query)); got != c.want {
			t.Errorf("%s: schema %s, want %s", c.query, got, c.want)
		}
	}
}

// TestKeptJobsShareTheirQueryText checks that two jobs kept with the same query text, each
// decoded from its own request, hold one copy of it, and that another text stays its own.
func TestKeptJobsShareTheirQueryText(t *testing.T) {
	text := "SELECT @n AS n -- TestKeptJobsShareTheirQueryText"
	job := func(q string) *bq.Job {
		return &bq.Job{JobReference: &bq.JobReference{JobId: "j"}, Statistics: &bq.JobStatistics{}, Configuration: &bq.JobConfiguration{Query: &bq.JobConfigurationQuery{Query: q,
			QueryParameters: []*bq.QueryParameter{{Name: "n", ParameterType: &bq.QueryParameterType{Type: "INT64"}, ParameterValue: &bq.QueryParameterValue{Value: "1"}}}}}}
	}
	first := compactJob(job(strings.Clone(text)), nil, time.Now()).job.Configuration.Query.Query
	second := compactJob(job(strings.Clone(text)), nil, time.Now()).job.Configuration.Query.Query
	if first != text || unsafe.StringData(first) != unsafe.StringData(second) {
		t.Errorf("two jobs of the same text hold %q at %p and %q at %p, want one copy", first, unsafe.StringData(first), second, unsafe.StringData(second))
	}
	other := compactJob(job(text+" "), nil, time.Now()).job.Configuration.Query.Query
	if other != text+" " {
		t.Errorf("a job of another text holds %q, want %q", other, text+" ")
	}
}
