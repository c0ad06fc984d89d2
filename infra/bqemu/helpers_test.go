package bqemu_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"

	"github.com/nba-props/pipeline/infra/bqemu"
)

const testProject = "test-proj"

// env is one emulator with a fake GCS and a BigQuery client pointed at it.
type env struct {
	// host is the emulator's "127.0.0.1:PORT", for raw REST requests (see rest).
	host string
	gcs  *fakestorage.Server
	bq   *bigquery.Client
	ds   *bigquery.Dataset
}

func newEnv(t *testing.T) *env {
	t.Helper()
	gcs, err := fakestorage.NewServerWithOptions(fakestorage.Options{NoListener: true})
	if err != nil {
		t.Fatalf("fake gcs: %v", err)
	}
	t.Cleanup(gcs.Stop)
	gcs.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "bucket"})
	host := bqemu.StartTest(t, gcs.Client())
	return &env{host: host, gcs: gcs, bq: newClient(t, host)}
}

func newClient(t testing.TB, host string) *bigquery.Client {
	t.Helper()
	c, err := bigquery.NewClient(context.Background(), testProject,
		option.WithEndpoint("http://"+host+"/bigquery/v2/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatalf("bigquery client: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// ctx5 is the 5 s context every call runs under, so a client retry loop fails the test.
func ctx5(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// dataset creates dataset "ds" and returns it.
func (e *env) dataset(t testing.TB) *bigquery.Dataset {
	t.Helper()
	if e.ds != nil {
		return e.ds
	}
	e.ds = e.bq.Dataset("ds")
	if err := e.ds.Create(ctx5(t), nil); err != nil {
		t.Fatalf("create dataset: %v", err)
	}
	return e.ds
}

// gamesSchema is a day-partitioned table like the pipeline's box scores.
var gamesSchema = bigquery.Schema{
	{Name: "game_date", Type: bigquery.DateFieldType, Required: true},
	{Name: "player", Type: bigquery.StringFieldType},
	{Name: "pts", Type: bigquery.IntegerFieldType},
}

func (e *env) gamesTable(t testing.TB, name string) *bigquery.Table {
	t.Helper()
	tbl := e.dataset(t).Table(name)
	err := tbl.Create(ctx5(t), &bigquery.TableMetadata{
		Schema:           gamesSchema,
		TimePartitioning: &bigquery.TimePartitioning{Type: bigquery.DayPartitioningType, Field: "game_date"},
	})
	if err != nil {
		t.Fatalf("create table %s: %v", name, err)
	}
	return tbl
}

func (e *env) putObject(name, content string) {
	e.gcs.CreateObject(fakestorage.Object{
		ObjectAttrs: fakestorage.ObjectAttrs{BucketName: "bucket", Name: name},
		Content:     []byte(content),
	})
}

// ndjson renders n box-score rows for a date.
func ndjson(date string, n int, player string) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"game_date":%q,"player":"%s%d","pts":%d}`+"\n", date, player, i, i)
	}
	return b.String()
}

// load runs a GCS load job into dst and waits for it.
func (e *env) load(t testing.TB, uri string, dst *bigquery.Table, write bigquery.TableWriteDisposition, tweak func(*bigquery.GCSReference, *bigquery.Loader)) *bigquery.JobStatus {
	t.Helper()
	ctx := ctx5(t)
	ref := bigquery.NewGCSReference(uri)
	ref.SourceFormat = bigquery.JSON
	l := dst.LoaderFrom(ref)
	l.WriteDisposition = write
	l.CreateDisposition = bigquery.CreateNever
	if tweak != nil {
		tweak(ref, l)
	}
	job, err := l.Run(ctx)
	if err != nil {
		t.Fatalf("load %s: run: %v", uri, err)
	}
	st, err := job.Wait(ctx)
	if err != nil {
		t.Fatalf("load %s: wait: %v", uri, err)
	}
	return st
}

// upload loads newline-delimited JSON into tbl through the upload endpoint (a reader
// source), with the table's default write disposition, and fails the test unless the job
// succeeds.
func upload(t testing.TB, ctx context.Context, tbl *bigquery.Table, body string) {
	t.Helper()
	src := bigquery.NewReaderSource(strings.NewReader(body))
	src.SourceFormat = bigquery.JSON
	job, err := tbl.LoaderFrom(src).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := job.Wait(ctx); err != nil || st.Err() != nil {
		t.Fatalf("upload: %v %v", err, st.Err())
	}
}

// countRows counts rows with a query, optionally for one date.
func (e *env) countRows(t testing.TB, table, date string) int64 {
	t.Helper()
	q := "SELECT COUNT(*) AS n FROM `" + testProject + ".ds." + table + "`"
	var params []bigquery.QueryParameter
	if date != "" {
		q += " WHERE game_date = @d"
		d, err := time.Parse("2006-01-02", date)
		if err != nil {
			t.Fatal(err)
		}
		params = []bigquery.QueryParameter{{Name: "d", Value: civil.DateOf(d)}}
	}
	rows := e.query(t, q, params...)
	if len(rows) != 1 {
		t.Fatalf("count query returned %d rows", len(rows))
	}
	return rows[0][0].(int64)
}

func (e *env) query(t testing.TB, q string, params ...bigquery.QueryParameter) [][]bigquery.Value {
	t.Helper()
	ctx := ctx5(t)
	qq := e.bq.Query(q)
	qq.Parameters = params
	it, err := qq.Read(ctx)
	if err != nil {
		t.Fatalf("query %q: %v", q, err)
	}
	var out [][]bigquery.Value
	for {
		var r []bigquery.Value
		err := it.Next(&r)
		if errors.Is(err, iterator.Done) {
			return out
		}
		if err != nil {
			t.Fatalf("query %q: next: %v", q, err)
		}
		out = append(out, r)
	}
}

// apiErr asserts err is a googleapi.Error with the code and reason.
func apiErr(t testing.TB, err error, code int, reason string) {
	t.Helper()
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		t.Fatalf("error %v (%T) is not a googleapi.Error; want %d %s", err, err, code, reason)
	}
	if ge.Code != code || len(ge.Errors) == 0 || ge.Errors[0].Reason != reason {
		t.Fatalf("error = %d %+v, want %d %s", ge.Code, ge.Errors, code, reason)
	}
}

// rest sends body (JSON, or nothing if empty) to the emulator's REST path, e.g.
// "POST", "/projects/test-proj/queries", and returns the status and the decoded JSON answer.
func (e *env) rest(t testing.TB, method, path, body string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx5(t), method, "http://"+e.host+"/bigquery/v2"+path, rd)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read: %v", method, path, err)
	}
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: answer is not JSON: %v\n%s", method, path, err, raw)
		}
	}
	return resp.StatusCode, out
}

// errorOf returns the reason and message of a REST error answer ("" if there is none).
func errorOf(body map[string]any) (reason, message string) {
	e, _ := body["error"].(map[string]any)
	if e == nil {
		return "", ""
	}
	message, _ = e["message"].(string)
	if items, _ := e["errors"].([]any); len(items) > 0 {
		if it, _ := items[0].(map[string]any); it != nil {
			reason, _ = it["reason"].(string)
		}
	}
	return reason, message
}

// cells returns the v of every cell of every row of a REST query answer.
func cells(body map[string]any) [][]any {
	var out [][]any
	rows, _ := body["rows"].([]any)
	for _, r := range rows {
		var vals []any
		fs, _ := r.(map[string]any)["f"].([]any)
		for _, f := range fs {
			vals = append(vals, f.(map[string]any)["v"])
		}
		out = append(out, vals)
	}
	return out
}
