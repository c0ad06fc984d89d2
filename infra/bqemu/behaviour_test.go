package bqemu_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/iterator"

	"github.com/nba-props/pipeline/infra/bqemu"
)

var typesSchema = bigquery.Schema{
	{Name: "d", Type: bigquery.DateFieldType},
	{Name: "ts", Type: bigquery.TimestampFieldType},
	{Name: "dt", Type: bigquery.DateTimeFieldType},
	{Name: "tm", Type: bigquery.TimeFieldType},
	{Name: "num", Type: bigquery.NumericFieldType},
	{Name: "ok", Type: bigquery.BooleanFieldType},
	{Name: "f", Type: bigquery.FloatFieldType},
	{Name: "b", Type: bigquery.BytesFieldType},
	{Name: "tags", Type: bigquery.StringFieldType, Repeated: true},
	{Name: "rec", Type: bigquery.RecordFieldType, Schema: bigquery.Schema{
		{Name: "at", Type: bigquery.TimestampFieldType},
		{Name: "scores", Type: bigquery.IntegerFieldType, Repeated: true},
	}},
	{Name: "recs", Type: bigquery.RecordFieldType, Repeated: true, Schema: bigquery.Schema{
		{Name: "name", Type: bigquery.StringFieldType},
	}},
	{Name: "nothing", Type: bigquery.StringFieldType},
}

func TestValuesRoundTripExactly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := ctx5(t)
	tbl := e.dataset(t).Table("types")
	if err := tbl.Create(ctx, &bigquery.TableMetadata{Schema: typesSchema}); err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2024, 10, 22, 23, 59, 58, 123456000, time.UTC)
	want := []bigquery.Value{
		civil.Date{Year: 2024, Month: 10, Day: 22},
		ts,
		civil.DateTime{Date: civil.Date{Year: 2024, Month: 10, Day: 22}, Time: civil.Time{Hour: 10, Minute: 1, Second: 2, Nanosecond: 345000}},
		civil.Time{Hour: 7, Minute: 30, Second: 5, Nanosecond: 500000000},
		big.NewRat(-123456789123, 1000),
		true,
		2.5,
		[]byte{0, 1, 2, 255},
		[]bigquery.Value{"x", "y"},
		[]bigquery.Value{ts.Add(-time.Hour), []bigquery.Value{int64(1), int64(2)}},
		[]bigquery.Value{[]bigquery.Value{"p"}, []bigquery.Value{"q"}},
		nil,
	}
	// One row through insertAll, the same row through an NDJSON upload.
	if err := tbl.Inserter().Put(ctx, &bigquery.ValuesSaver{Schema: typesSchema, Row: want}); err != nil {
		t.Fatalf("put: %v", err)
	}
	line := `{"d":"2024-10-22","ts":"2024-10-22 23:59:58.123456 UTC","dt":"2024-10-22T10:01:02.000345","tm":"07:30:05.5",` +
		`"num":"-123456789.123","ok":true,"f":2.5,"b":"AAEC/w==","tags":["x","y"],` +
		`"rec":{"at":"2024-10-22T22:59:58.123456Z","scores":[1,2]},"recs":[{"name":"p"},{"name":"q"}],"nothing":null}`
	upload(t, ctx, tbl, line+"\n")
	ratEq := cmp.Comparer(func(a, b *big.Rat) bool { return a.Cmp(b) == 0 })
	check := func(name string, it *bigquery.RowIterator) {
		t.Helper()
		n := 0
		for {
			var got []bigquery.Value
			err := it.Next(&got)
			if errors.Is(err, iterator.Done) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			n++
			if diff := cmp.Diff(want, got, ratEq); diff != "" {
				t.Errorf("%s row %d (-want +got):\n%s", name, n, diff)
			}
		}
		if n != 2 {
			t.Errorf("%s: %d rows, want 2", name, n)
		}
	}
	check("tabledata.list", tbl.Read(ctx))
	it, err := e.bq.Query("SELECT * FROM `test-proj.ds.types`").Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	check("query", it)
	// A query job (getQueryResults path) decodes the same.
	job, err := e.bq.Query("SELECT * FROM `test-proj.ds.types`").Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	it, err = job.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	check("job.Read", it)
}

func TestPagingThrough25000Rows(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	e.gamesTable(t, "games")
	const n = 25000
	upload(t, ctx, e.dataset(t).Table("games"), ndjson("2024-10-22", n, "p"))
	sumAll := func(it *bigquery.RowIterator, col int) (rows, sum int64) {
		for {
			var r []bigquery.Value
			err := it.Next(&r)
			if errors.Is(err, iterator.Done) {
				return rows, sum
			}
			if err != nil {
				t.Fatal(err)
			}
			rows++
			sum += r[col].(int64)
		}
	}
	want := int64(n * (n - 1) / 2)
	it, err := e.bq.Query("SELECT player, pts FROM `test-proj.ds.games` ORDER BY pts").Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rows, sum := sumAll(it, 1); rows != n || sum != want {
		t.Errorf("query: %d rows summing %d, want %d summing %d", rows, sum, n, want)
	}
	tit := e.dataset(t).Table("games").Read(ctx)
	tit.PageInfo().MaxSize = 7000
	if rows, sum := sumAll(tit, 2); rows != n || sum != want {
		t.Errorf("table read: %d rows summing %d, want %d summing %d", rows, sum, n, want)
	}
}

func TestConcurrentLoadsAndQueries(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.gamesTable(t, "games")
	const workers, perDay, rounds = 8, 50, 3
	for w := range workers {
		day := fmt.Sprintf("2024-11-%02d", w+1)
		e.putObject(fmt.Sprintf("w%d/a.json", w), ndjson(day, perDay, "a"))
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds*3)
	for w := range workers {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			dst := e.dataset(t).Table(fmt.Sprintf("games$202411%02d", w+1))
			for range rounds {
				ref := bigquery.NewGCSReference(fmt.Sprintf("gs://bucket/w%d/*.json", w))
				ref.SourceFormat = bigquery.JSON
				l := dst.LoaderFrom(ref)
				l.WriteDisposition = bigquery.WriteTruncate
				job, err := l.Run(ctx)
				if err == nil {
					var st *bigquery.JobStatus
					st, err = job.Wait(ctx)
					if err == nil {
						err = st.Err()
					}
				}
				if err != nil {
					errs <- fmt.Errorf("worker %d load: %w", w, err)
					return
				}
				q := e.bq.Query("SELECT COUNT(*) FROM `test-proj.ds.games` WHERE game_date = @d")
				q.Parameters = []bigquery.QueryParameter{{Name: "d", Value: civil.Date{Year: 2024, Month: 11, Day: w + 1}}}
				it, err := q.Read(ctx)
				if err != nil {
					errs <- fmt.Errorf("worker %d query: %w", w, err)
					return
				}
				var r []bigquery.Value
				if err := it.Next(&r); err != nil {
					errs <- fmt.Errorf("worker %d next: %w", w, err)
					return
				}
				if r[0] != int64(perDay) {
					errs <- fmt.Errorf("worker %d saw %v rows in its partition, want %d", w, r[0], perDay)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := e.countRows(t, "games", ""); got != workers*perDay {
		t.Errorf("total rows = %d, want %d", got, workers*perDay)
	}
}

func TestRestartOnDatabaseDirectoryKeepsTables(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clk := &clock{t: time.Date(2024, 10, 22, 12, 0, 0, 0, time.UTC)}
	start := func() (*bigquery.Client, func()) {
		s, err := bqemu.New(bqemu.Options{DuckDBPath: dir, Now: clk.Now})
		if err != nil {
			t.Fatalf("new: %v", err)
		}
		ts := httptest.NewServer(s.Handler())
		return newClient(t, strings.TrimPrefix(ts.URL, "http://")), func() {
			ts.Close()
			if err := s.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		}
	}
	c, stop := start()
	ctx := ctx5(t)
	ds := c.Dataset("ds")
	if err := ds.Create(ctx, nil); err != nil {
		t.Fatal(err)
	}
	tbl := ds.Table("games")
	err := tbl.Create(ctx, &bigquery.TableMetadata{Schema: gamesSchema,
		TimePartitioning: &bigquery.TimePartitioning{Field: "game_date"}})
	if err != nil {
		t.Fatal(err)
	}
	load := func(tbl *bigquery.Table, rows int) { t.Helper(); upload(t, ctx, tbl, ndjson("2024-10-22", rows, "r")) }
	// Each write saves the metadata again, every table in it: the last save must carry the
	// games table as its last load left it, after saves that changed other tables.
	load(tbl, 2)
	clk.Set(time.Date(2024, 10, 22, 12, 5, 0, 0, time.UTC))
	if err := ds.Table("other").Create(ctx, &bigquery.TableMetadata{Schema: gamesSchema}); err != nil {
		t.Fatal(err)
	}
	load(ds.Table("other"), 1)
	lastLoad := time.Date(2024, 10, 22, 12, 10, 0, 0, time.UTC)
	clk.Set(lastLoad)
	load(tbl, 2)
	clk.Set(time.Date(2024, 10, 22, 12, 15, 0, 0, time.UTC))
	load(ds.Table("other"), 1)
	stop()

	c, stop = start()
	defer stop()
	md, err := c.Dataset("ds").Table("games").Metadata(ctx)
	if err != nil {
		t.Fatalf("metadata after restart: %v", err)
	}
	if md.NumRows != 4 || md.TimePartitioning == nil || md.TimePartitioning.Field != "game_date" || !md.LastModifiedTime.Equal(lastLoad) {
		t.Errorf("after restart: %d rows, partitioning %+v, last modified %v; want 4 rows, by game_date, %v",
			md.NumRows, md.TimePartitioning, md.LastModifiedTime.UTC(), lastLoad)
	}
	it, err := c.Query("SELECT SUM(pts) FROM `test-proj.ds.games` WHERE game_date = '2024-10-22'").Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var r []bigquery.Value
	if err := it.Next(&r); err != nil || r[0] != int64(0+1+0+1) {
		t.Errorf("sum after restart = %v, %v", r, err)
	}
}

func TestMergeReplacesAPartition(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.gamesTable(t, "games")
	e.putObject("d.json", ndjson("2024-10-22", 3, "old")+ndjson("2024-10-21", 2, "keep"))
	e.load(t, "gs://bucket/d.json", e.dataset(t).Table("games"), bigquery.WriteAppend, nil)
	ctx := ctx5(t)
	q := e.bq.Query(`
		MERGE ds.games T
		USING (SELECT DATE '2024-10-22' AS game_date, 'new' AS player, 42 AS pts) S
		ON FALSE
		WHEN NOT MATCHED BY SOURCE AND T.game_date = @d THEN DELETE
		WHEN NOT MATCHED THEN INSERT ROW`)
	q.DefaultDatasetID = "ds"
	q.Parameters = []bigquery.QueryParameter{{Name: "d", Value: civil.Date{Year: 2024, Month: 10, Day: 22}}}
	job, err := q.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st, err := job.Wait(ctx)
	if err != nil || st.Err() != nil {
		t.Fatalf("merge: %v %v", err, st.Err())
	}
	qs := st.Statistics.Details.(*bigquery.QueryStatistics)
	if qs.StatementType != "MERGE" || qs.NumDMLAffectedRows != 4 {
		t.Errorf("merge statistics: type %s, affected %d; want MERGE, 4", qs.StatementType, qs.NumDMLAffectedRows)
	}
	rows := e.query(t, "SELECT game_date, player FROM `test-proj.ds.games` ORDER BY game_date, player")
	want := [][]bigquery.Value{
		{civil.Date{Year: 2024, Month: 10, Day: 21}, "keep0"},
		{civil.Date{Year: 2024, Month: 10, Day: 21}, "keep1"},
		{civil.Date{Year: 2024, Month: 10, Day: 22}, "new"},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("rows after merge (-want +got):\n%s", diff)
	}
}

func TestErrorsAsTheClientSurfacesThem(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := ctx5(t)
	e.gamesTable(t, "games")
	_, err := e.dataset(t).Table("nope").Metadata(ctx)
	apiErr(t, err, http.StatusNotFound, "notFound")
	err = e.dataset(t).Table("nope").Inserter().Put(ctx, &bigquery.ValuesSaver{Schema: gamesSchema, Row: []bigquery.Value{civil.Date{Year: 2024, Month: 1, Day: 1}, "a", 1}})
	apiErr(t, err, http.StatusNotFound, "notFound")
	_, err = e.bq.Dataset("nods").Table("t").Metadata(ctx)
	apiErr(t, err, http.StatusNotFound, "notFound")

	q := e.bq.Query("SELECT 1")
	q.JobID = "fixed-job-id"
	if _, err := q.Run(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = q.Run(ctx)
	apiErr(t, err, http.StatusConflict, "duplicate")

	_, err = e.bq.Query("SELECT nosuchcolumn FROM `test-proj.ds.games`").Read(ctx)
	apiErr(t, err, http.StatusBadRequest, "invalidQuery")
	_, err = e.bq.Query("SELECT FARM_FINGERPRINT('x')").Read(ctx)
	apiErr(t, err, http.StatusBadRequest, "invalidQuery")
	q = e.bq.Query("SELECT @missing")
	_, err = q.Read(ctx)
	apiErr(t, err, http.StatusBadRequest, "invalidQuery")

	// A load into a missing dataset is a request error.
	ref := bigquery.NewGCSReference("gs://bucket/x.json")
	ref.SourceFormat = bigquery.JSON
	_, err = e.bq.Dataset("nods").Table("t").LoaderFrom(ref).Run(ctx)
	apiErr(t, err, http.StatusNotFound, "notFound")
	// Into a missing table with CREATE_NEVER, the job fails.
	e.putObject("x.json", ndjson("2024-10-22", 1, "x"))
	st := e.load(t, "gs://bucket/x.json", e.dataset(t).Table("missing"), bigquery.WriteAppend, nil)
	var be *bigquery.Error
	if !errors.As(st.Err(), &be) || be.Reason != "notFound" {
		t.Errorf("CREATE_NEVER into a missing table: %v", st.Err())
	}
}

func TestDDLRecordsPartitioningAndViews(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := ctx5(t)
	for _, sql := range []string{
		"CREATE SCHEMA IF NOT EXISTS analytics",
		"CREATE TABLE `test-proj.analytics.summary` (game_date DATE, player STRING, pts INT64, tags ARRAY<STRING>) " +
			"PARTITION BY game_date CLUSTER BY player OPTIONS(description = 'per player')",
		"CREATE VIEW `test-proj.analytics.recent` AS SELECT player, pts FROM `test-proj.analytics.summary` WHERE pts > 10",
	} {
		it, err := e.bq.Query(sql).Read(ctx)
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		var r []bigquery.Value
		if err := it.Next(&r); !errors.Is(err, iterator.Done) {
			t.Fatalf("%s: iterator %v", sql, err)
		}
	}
	md, err := e.bq.Dataset("analytics").Table("summary").Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := &bigquery.TimePartitioning{Type: bigquery.DayPartitioningType, Field: "game_date"}
	if diff := cmp.Diff(want, md.TimePartitioning); diff != "" {
		t.Errorf("partitioning (-want +got):\n%s", diff)
	}
	if md.Clustering == nil || !cmp.Equal(md.Clustering.Fields, []string{"player"}) || md.Description != "per player" {
		t.Errorf("clustering %+v, description %q", md.Clustering, md.Description)
	}
	if len(md.Schema) != 4 || !md.Schema[3].Repeated || md.Schema[2].Type != bigquery.IntegerFieldType {
		t.Errorf("schema = %+v", md.Schema)
	}
	vmd, err := e.bq.Dataset("analytics").Table("recent").Metadata(ctx)
	if err != nil || vmd.Type != bigquery.ViewTable {
		t.Errorf("view metadata: %v %+v", err, vmd)
	}
	// A decorator load now works on the DDL-created table.
	e.putObject("s.json", `{"game_date":"2024-10-22","player":"a","pts":12,"tags":["x"]}`+"\n")
	ref := bigquery.NewGCSReference("gs://bucket/s.json")
	ref.SourceFormat = bigquery.JSON
	job, err := e.bq.Dataset("analytics").Table("summary$20241022").LoaderFrom(ref).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := job.Wait(ctx); err != nil || st.Err() != nil {
		t.Fatalf("load: %v %v", err, st.Err())
	}
	rows := e.query(t, "SELECT player, pts FROM `test-proj.analytics.recent`")
	if diff := cmp.Diff([][]bigquery.Value{{"a", int64(12)}}, rows); diff != "" {
		t.Errorf("view rows (-want +got):\n%s", diff)
	}
	if _, err := e.bq.Query("DROP TABLE `test-proj.analytics.summary`").Read(ctx); err != nil {
		t.Fatalf("drop: %v", err)
	}
	_, err = e.bq.Dataset("analytics").Table("summary").Metadata(ctx)
	apiErr(t, err, http.StatusNotFound, "notFound")
}

// TestResumableUpload drives the resumable upload protocol the Go client uses for large
// media: an initiation POST, non-final chunks answered with a 308 override, a final chunk.
func TestResumableUpload(t *testing.T) {
	t.Parallel()
	gcs, err := fakestorage.NewServerWithOptions(fakestorage.Options{NoListener: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gcs.Stop)
	host := bqemu.StartTest(t, gcs.Client())
	e := &env{gcs: gcs, bq: newClient(t, host)}
	e.gamesTable(t, "games")
	base := "http://" + host + "/upload/bigquery/v2/projects/test-proj/jobs"
	job := `{"jobReference":{"jobId":"resumable-1"},"configuration":{"load":{"sourceFormat":"NEWLINE_DELIMITED_JSON",` +
		`"destinationTable":{"projectId":"test-proj","datasetId":"ds","tableId":"games$20241022"}}}}`
	resp, err := http.Post(base+"?uploadType=resumable", "application/json", strings.NewReader(job))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusOK || loc == "" {
		t.Fatalf("initiation: %d, Location %q", resp.StatusCode, loc)
	}
	data := ndjson("2024-10-22", 10, "r")
	cut := len(data) / 2
	send := func(chunk, contentRange string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, loc, strings.NewReader(chunk))
		req.Header.Set("Content-Range", contentRange)
		req.Header.Set("X-GUploader-No-308", "yes")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := send(data[:cut], fmt.Sprintf("bytes 0-%d/*", cut-1)); r.Header.Get("X-HTTP-Status-Code-Override") != "308" {
		t.Fatalf("non-final chunk: %d %v", r.StatusCode, r.Header)
	}
	if r := send(data[cut:], fmt.Sprintf("bytes %d-%d/%d", cut, len(data)-1, len(data))); r.StatusCode != http.StatusOK {
		t.Fatalf("final chunk: %d", r.StatusCode)
	}
	j, err := e.bq.JobFromID(ctx5(t), "resumable-1")
	if err != nil {
		t.Fatal(err)
	}
	if st := j.LastStatus(); !st.Done() || st.Err() != nil {
		t.Fatalf("job status %+v", st)
	}
	if got := e.countRows(t, "games", "2024-10-22"); got != 10 {
		t.Errorf("rows = %d, want 10", got)
	}
}

func TestLoadCreatesTableAndAddsFields(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := ctx5(t)
	e.dataset(t)
	e.putObject("n.json", ndjson("2024-10-22", 2, "n"))
	e.putObject("wide.json", `{"game_date":"2024-10-22","player":"w","pts":1,"team":"BOS"}`+"\n")
	run := func(obj, table string, schema bigquery.Schema, opts ...string) *bigquery.JobStatus {
		t.Helper()
		ref := bigquery.NewGCSReference("gs://bucket/" + obj)
		ref.SourceFormat = bigquery.JSON
		ref.Schema = schema
		l := e.dataset(t).Table(table).LoaderFrom(ref)
		l.TimePartitioning = &bigquery.TimePartitioning{Field: "game_date"}
		l.SchemaUpdateOptions = opts
		job, err := l.Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		st, err := job.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	if st := run("n.json", "fresh$20241022", gamesSchema); st.Err() != nil {
		t.Fatalf("load creating the table: %v", st.Err())
	}
	md, err := e.dataset(t).Table("fresh").Metadata(ctx)
	if err != nil || md.TimePartitioning == nil || md.TimePartitioning.Field != "game_date" || md.NumRows != 2 {
		t.Fatalf("created table: %v %+v", err, md)
	}
	wide := append(append(bigquery.Schema{}, gamesSchema...), &bigquery.FieldSchema{Name: "team", Type: bigquery.StringFieldType})
	if st := run("wide.json", "fresh", wide); st.Err() == nil {
		t.Errorf("new field accepted without ALLOW_FIELD_ADDITION")
	}
	if st := run("wide.json", "fresh", wide, "ALLOW_FIELD_ADDITION"); st.Err() != nil {
		t.Fatalf("ALLOW_FIELD_ADDITION: %v", st.Err())
	}
	rows := e.query(t, "SELECT team FROM `test-proj.ds.fresh` WHERE team IS NOT NULL")
	if diff := cmp.Diff([][]bigquery.Value{{"BOS"}}, rows); diff != "" {
		t.Errorf("added column (-want +got):\n%s", diff)
	}
}

func TestScriptsAndTrailingSemicolons(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.gamesTable(t, "games")
	if got := e.query(t, "SELECT 1 AS x;"); !cmp.Equal(got, [][]bigquery.Value{{int64(1)}}) {
		t.Errorf("trailing semicolon: %v", got)
	}
	ctx := ctx5(t)
	q := e.bq.Query(`INSERT INTO ds.games (game_date, player, pts) VALUES (DATE '2024-10-22', 'a', 3);
		INSERT INTO ds.games (game_date, player, pts) VALUES (DATE '2024-10-22', 'b', 4);
		SELECT SUM(pts) AS total FROM ds.games WHERE game_date = @d`)
	q.Parameters = []bigquery.QueryParameter{{Name: "d", Value: civil.Date{Year: 2024, Month: 10, Day: 22}}}
	job, err := q.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	it, err := job.Read(ctx)
	if err != nil {
		t.Fatalf("script: %v", err)
	}
	var r []bigquery.Value
	if err := it.Next(&r); err != nil || r[0] != int64(7) {
		t.Errorf("script result = %v, %v; want 7", r, err)
	}
	if st := job.LastStatus(); st.Statistics.Details.(*bigquery.QueryStatistics).StatementType != "SCRIPT" {
		t.Errorf("statement type = %s", st.Statistics.Details.(*bigquery.QueryStatistics).StatementType)
	}
}

func TestLoadGzipObject(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.gamesTable(t, "games")
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write([]byte(ndjson("2024-10-22", 6, "z"))); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	e.putObject("z/part-0.json.gz", buf.String())
	if st := e.load(t, "gs://bucket/z/*.gz", e.dataset(t).Table("games$20241022"), bigquery.WriteTruncate, nil); st.Err() != nil {
		t.Fatal(st.Err())
	}
	if got := e.countRows(t, "games", "2024-10-22"); got != 6 {
		t.Errorf("rows = %d, want 6", got)
	}
}
