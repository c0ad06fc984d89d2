package bqemu_test

import (
	"errors"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/iterator"
)

func TestDatasetAndTableLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := ctx5(t)
	ds := e.dataset(t)
	apiErr(t, ds.Create(ctx, nil), http.StatusConflict, "duplicate")
	_, err := e.bq.Dataset("missing").Metadata(ctx)
	apiErr(t, err, http.StatusNotFound, "notFound")

	schema := bigquery.Schema{
		{Name: "d", Type: bigquery.DateFieldType, Required: true},
		{Name: "n", Type: bigquery.IntegerFieldType},
		{Name: "ts", Type: bigquery.TimestampFieldType},
		{Name: "tags", Type: bigquery.StringFieldType, Repeated: true},
		{Name: "rec", Type: bigquery.RecordFieldType, Schema: bigquery.Schema{
			{Name: "a", Type: bigquery.StringFieldType},
			{Name: "f", Type: bigquery.FloatFieldType},
		}},
	}
	tbl := ds.Table("t")
	err = tbl.Create(ctx, &bigquery.TableMetadata{
		Schema:                 schema,
		TimePartitioning:       &bigquery.TimePartitioning{Field: "d"},
		RequirePartitionFilter: true,
		Clustering:             &bigquery.Clustering{Fields: []string{"n"}},
	})
	if err != nil {
		t.Fatalf("create table: %v", err)
	}
	apiErr(t, tbl.Create(ctx, &bigquery.TableMetadata{Schema: schema}), http.StatusConflict, "duplicate")
	md, err := tbl.Metadata(ctx)
	if err != nil {
		t.Fatalf("metadata: %v", err)
	}
	if diff := cmp.Diff(schema, md.Schema); diff != "" {
		t.Errorf("schema (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(&bigquery.TimePartitioning{Type: bigquery.DayPartitioningType, Field: "d"}, md.TimePartitioning); diff != "" {
		t.Errorf("partitioning (-want +got):\n%s", diff)
	}
	if md.CreationTime.Year() != time.Now().Year() {
		t.Errorf("creation time %v is not this year", md.CreationTime)
	}
	if !md.RequirePartitionFilter {
		t.Errorf("RequirePartitionFilter lost")
	}
	if md.Clustering == nil || !cmp.Equal(md.Clustering.Fields, []string{"n"}) {
		t.Errorf("clustering = %+v", md.Clustering)
	}

	// Update adds a column.
	upd := bigquery.TableMetadataToUpdate{
		Description:            "box scores",
		Schema:                 append(append(bigquery.Schema{}, schema...), &bigquery.FieldSchema{Name: "extra", Type: bigquery.StringFieldType}),
		RequirePartitionFilter: false,
	}
	upd.SetLabel("team", "lal")
	_, err = tbl.Update(ctx, upd, md.ETag)
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	md, err = tbl.Metadata(ctx)
	if err != nil {
		t.Fatalf("metadata: %v", err)
	}
	if md.Description != "box scores" || len(md.Schema) != 6 || md.RequirePartitionFilter || md.Labels["team"] != "lal" {
		t.Errorf("after update: description %q, %d fields, require filter %v, labels %v",
			md.Description, len(md.Schema), md.RequirePartitionFilter, md.Labels)
	}

	var names []string
	it := ds.Tables(ctx)
	for {
		tt, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			t.Fatalf("list tables: %v", err)
		}
		names = append(names, tt.TableID)
	}
	if !cmp.Equal(names, []string{"t"}) {
		t.Errorf("tables = %v", names)
	}
	apiErr(t, ds.Delete(ctx), http.StatusBadRequest, "resourceInUse")
	if err := tbl.Delete(ctx); err != nil {
		t.Fatalf("delete table: %v", err)
	}
	_, err = tbl.Metadata(ctx)
	apiErr(t, err, http.StatusNotFound, "notFound")
	if err := ds.Delete(ctx); err != nil {
		t.Fatalf("delete dataset: %v", err)
	}
}

func TestLoadTruncateDecoratorReplacesOnlyThatDay(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tbl := e.gamesTable(t, "games")
	e.putObject("day1/part-000.json", ndjson("2024-10-21", 4, "a"))
	e.putObject("day2/part-000.json", ndjson("2024-10-22", 3, "b"))
	e.putObject("day2/part-001.json", ndjson("2024-10-22", 2, "c"))
	day1 := e.dataset(t).Table("games$20241021")
	day2 := e.dataset(t).Table("games$20241022")
	if st := e.load(t, "gs://bucket/day1/*.json", day1, bigquery.WriteTruncate, nil); st.Err() != nil {
		t.Fatalf("load day1: %v", st.Err())
	}
	for range 2 {
		st := e.load(t, "gs://bucket/day2/part-*.json", day2, bigquery.WriteTruncate, nil)
		if st.Err() != nil {
			t.Fatalf("load day2: %v", st.Err())
		}
		if got := e.countRows(t, "games", "2024-10-22"); got != 5 {
			t.Errorf("day 2 rows = %d, want 5", got)
		}
		if got := e.countRows(t, "games", "2024-10-21"); got != 4 {
			t.Errorf("day 1 rows = %d, want 4 (untouched)", got)
		}
	}
	stats, ok := e.load(t, "gs://bucket/day2/part-*.json", day2, bigquery.WriteTruncate, nil).Statistics.Details.(*bigquery.LoadStatistics)
	if !ok || stats.OutputRows != 5 || stats.InputFiles != 2 {
		t.Errorf("load statistics = %+v", stats)
	}
	// WRITE_EMPTY on a non-empty day fails; on an empty day it succeeds.
	if st := e.load(t, "gs://bucket/day2/part-*.json", day2, bigquery.WriteEmpty, nil); st.Err() == nil {
		t.Errorf("WRITE_EMPTY into a full partition succeeded")
	}
	if got := e.countRows(t, "games", ""); got != 9 {
		t.Errorf("total rows = %d, want 9", got)
	}
	_ = tbl
}

func TestLoadRowOutsideDecoratorFailsAndWritesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.gamesTable(t, "games")
	e.putObject("ok.json", ndjson("2024-10-22", 3, "a"))
	e.putObject("bad.json", ndjson("2024-10-22", 2, "b")+ndjson("2024-10-23", 1, "c"))
	day := e.dataset(t).Table("games$20241022")
	if st := e.load(t, "gs://bucket/ok.json", day, bigquery.WriteTruncate, nil); st.Err() != nil {
		t.Fatal(st.Err())
	}
	st := e.load(t, "gs://bucket/bad.json", day, bigquery.WriteTruncate, nil)
	var be *bigquery.Error
	if !errors.As(st.Err(), &be) || be.Reason != "invalid" {
		t.Fatalf("status error = %v, want reason invalid", st.Err())
	}
	if got := e.countRows(t, "games", ""); got != 3 {
		t.Errorf("rows = %d, want the 3 from before the failed load", got)
	}
	// A missing URI is a job error too.
	st = e.load(t, "gs://bucket/nothing-*.json", day, bigquery.WriteAppend, nil)
	if !errors.As(st.Err(), &be) || be.Reason != "notFound" {
		t.Errorf("missing URI: status error = %v, want notFound", st.Err())
	}
}

func TestLoadUnknownFieldsAndMaxBadRecords(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.gamesTable(t, "games")
	e.putObject("extra.json", `{"game_date":"2024-10-22","player":"a","pts":1,"team":"LAL"}`+"\n")
	e.putObject("onebad.json", ndjson("2024-10-22", 2, "x")+`{"game_date":"2024-10-22","pts":"many"}`+"\n")
	tbl := e.dataset(t).Table("games")
	if st := e.load(t, "gs://bucket/extra.json", tbl, bigquery.WriteAppend, nil); st.Err() == nil {
		t.Errorf("unknown field accepted without ignoreUnknownValues")
	}
	st := e.load(t, "gs://bucket/extra.json", tbl, bigquery.WriteAppend, func(r *bigquery.GCSReference, _ *bigquery.Loader) {
		r.IgnoreUnknownValues = true
	})
	if st.Err() != nil {
		t.Errorf("ignoreUnknownValues: %v", st.Err())
	}
	if st := e.load(t, "gs://bucket/onebad.json", tbl, bigquery.WriteAppend, nil); st.Err() == nil || len(st.Errors) < 2 {
		t.Errorf("bad row with maxBadRecords=0: err %v, errors %v", st.Err(), st.Errors)
	}
	st = e.load(t, "gs://bucket/onebad.json", tbl, bigquery.WriteAppend, func(r *bigquery.GCSReference, _ *bigquery.Loader) {
		r.MaxBadRecords = 1
	})
	if st.Err() != nil || len(st.Errors) != 1 {
		t.Errorf("maxBadRecords=1: err %v, errors %v; want success with one error", st.Err(), st.Errors)
	}
	if got := e.countRows(t, "games", ""); got != 3 {
		t.Errorf("rows = %d, want 1 + 2", got)
	}
}

func TestReaderSourceUpload(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.gamesTable(t, "games")
	ctx := ctx5(t)
	for range 2 {
		src := bigquery.NewReaderSource(strings.NewReader(ndjson("2024-10-22", 3, "u")))
		src.SourceFormat = bigquery.JSON
		l := e.dataset(t).Table("games").LoaderFrom(src)
		l.WriteDisposition = bigquery.WriteAppend
		job, err := l.Run(ctx)
		if err != nil {
			t.Fatalf("upload: %v", err)
		}
		st, err := job.Wait(ctx)
		if err != nil || st.Err() != nil || !st.Done() {
			t.Fatalf("upload wait: %v %v done=%v", err, st.Err(), st.Done())
		}
	}
	if got := e.countRows(t, "games", ""); got != 6 {
		t.Errorf("rows = %d, want 6", got)
	}
}

func TestQueryReadParamsAndPaging(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := ctx5(t)
	ds := e.dataset(t)
	tbl := ds.Table("t")
	err := tbl.Create(ctx, &bigquery.TableMetadata{Schema: bigquery.Schema{
		{Name: "d", Type: bigquery.DateFieldType},
		{Name: "n", Type: bigquery.IntegerFieldType},
		{Name: "ts", Type: bigquery.TimestampFieldType},
		{Name: "tag", Type: bigquery.StringFieldType},
		{Name: "dt", Type: bigquery.DateTimeFieldType},
		{Name: "num", Type: bigquery.NumericFieldType},
	}})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2024, 10, 22, 10, 0, 0, 123456000, time.UTC)
	type rec struct {
		D   civil.Date     `bigquery:"d"`
		N   int64          `bigquery:"n"`
		TS  time.Time      `bigquery:"ts"`
		Tag string         `bigquery:"tag"`
		DT  civil.DateTime `bigquery:"dt"`
		Num *big.Rat       `bigquery:"num"`
	}
	var recs []*rec
	for i := range 5 {
		recs = append(recs, &rec{
			D: civil.DateOf(base), N: int64(i), TS: base.Add(time.Duration(i) * time.Hour), Tag: string(rune('a' + i)),
			DT: civil.DateTimeOf(base), Num: big.NewRat(int64(i*10+5), 10),
		})
	}
	if err := tbl.Inserter().Put(ctx, recs); err != nil {
		t.Fatalf("put: %v", err)
	}
	q := e.bq.Query("SELECT d, n, ts, tag, dt, num FROM `test-proj.ds.t` " +
		"WHERE d = @day AND n >= @n AND ts >= @ts AND tag IN UNNEST(@tags) AND @nul IS NULL ORDER BY n")
	q.Parameters = []bigquery.QueryParameter{
		{Name: "day", Value: civil.DateOf(base)},
		{Name: "n", Value: 0},
		{Name: "ts", Value: base.Add(-time.Minute)},
		{Name: "tags", Value: []string{"a", "b", "c", "d", "e"}},
		{Name: "nul", Value: bigquery.NullInt64{}},
	}
	it, err := q.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	it.PageInfo().MaxSize = 2
	var got [][]bigquery.Value
	pages := 0
	pager := iterator.NewPager(it, 2, "")
	for {
		var page [][]bigquery.Value
		tok, err := pager.NextPage(&page)
		if err != nil {
			t.Fatalf("page: %v", err)
		}
		pages++
		got = append(got, page...)
		if tok == "" {
			break
		}
		if pages > 10 {
			t.Fatal("paging does not end")
		}
	}
	if pages != 3 || it.TotalRows != 5 {
		t.Errorf("pages = %d, total rows = %d; want 3 pages of 5 rows", pages, it.TotalRows)
	}
	var want [][]bigquery.Value
	for _, r := range recs {
		want = append(want, []bigquery.Value{r.D, r.N, r.TS, r.Tag, r.DT, r.Num})
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b *big.Rat) bool { return a.Cmp(b) == 0 })); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}

func TestQueryRunDestinationDecorator(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := ctx5(t)
	e.gamesTable(t, "games")
	e.putObject("d21.json", ndjson("2024-10-21", 2, "a"))
	e.putObject("d22.json", ndjson("2024-10-22", 3, "b"))
	ds := e.dataset(t)
	e.load(t, "gs://bucket/d21.json", ds.Table("games$20241021"), bigquery.WriteTruncate, nil)
	e.load(t, "gs://bucket/d22.json", ds.Table("games$20241022"), bigquery.WriteTruncate, nil)

	run := func(sql string, dst string, write bigquery.TableWriteDisposition) error {
		q := e.bq.Query(sql)
		q.Dst = ds.Table(dst)
		q.WriteDisposition = write
		job, err := q.Run(ctx)
		return finished(ctx, job, err)
	}
	sql := "SELECT DATE '2024-10-22' AS game_date, 'z' AS player, 99 AS pts"
	for range 2 {
		if err := run(sql, "games$20241022", bigquery.WriteTruncate); err != nil {
			t.Fatalf("query into partition: %v", err)
		}
	}
	if got := e.countRows(t, "games", "2024-10-22"); got != 1 {
		t.Errorf("day 22 rows = %d, want 1", got)
	}
	if got := e.countRows(t, "games", "2024-10-21"); got != 2 {
		t.Errorf("day 21 rows = %d, want 2 (untouched)", got)
	}
	// Rows outside the decorator's day fail and write nothing.
	err := run("SELECT DATE '2024-10-23' AS game_date, 'y' AS player, 1 AS pts", "games$20241022", bigquery.WriteTruncate)
	apiErr(t, err, http.StatusBadRequest, "invalid")
	if got := e.countRows(t, "games", ""); got != 3 {
		t.Errorf("rows = %d, want 3", got)
	}
	// The default disposition (WRITE_EMPTY) on a non-empty table is a duplicate error.
	err = run(sql, "games", "")
	apiErr(t, err, http.StatusConflict, "duplicate")
	// A new destination table is created from the result.
	if err := run("SELECT player, pts FROM `test-proj.ds.games` WHERE game_date = '2024-10-21'", "copy", ""); err != nil {
		t.Fatalf("query into new table: %v", err)
	}
	md, err := ds.Table("copy").Metadata(ctx)
	if err != nil || len(md.Schema) != 2 || md.Schema[1].Type != bigquery.IntegerFieldType {
		t.Errorf("new table metadata: %v %+v", err, md)
	}
}

func TestSyntaxErrorsAreReportedPromptly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := ctx5(t)
	_, err := e.bq.Query("SELEC 1").Read(ctx)
	apiErr(t, err, http.StatusBadRequest, "invalidQuery")

	job, err := e.bq.Query("SELEC 1").Run(ctx)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	_, err = job.Wait(ctx)
	apiErr(t, err, http.StatusBadRequest, "invalidQuery")

	_, err = e.bq.Query("SELECT * FROM `test-proj.ds.nope`").Read(ctx)
	if err == nil {
		t.Errorf("query of a missing table succeeded")
	}
}

func TestDDLAndDMLThroughRead(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := ctx5(t)
	e.dataset(t)
	read := func(sql string) (*bigquery.RowIterator, *bigquery.Job) {
		t.Helper()
		q := e.bq.Query(sql)
		q.DefaultDatasetID = "ds"
		job, err := q.Run(ctx)
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		it, err := job.Read(ctx)
		if err != nil {
			t.Fatalf("%s: read: %v", sql, err)
		}
		return it, job
	}
	it, _ := read("CREATE TABLE ds.scores (game_date DATE, player STRING, pts INT64)")
	var r []bigquery.Value
	if err := it.Next(&r); !errors.Is(err, iterator.Done) {
		t.Errorf("DDL iterator: %v", err)
	}
	if _, err := e.dataset(t).Table("scores").Metadata(ctx); err != nil {
		t.Errorf("table created by DDL has no metadata: %v", err)
	}
	_, job := read("INSERT INTO ds.scores VALUES (DATE '2024-10-22', 'a', 1), (DATE '2024-10-22', 'b', 2), (DATE '2024-10-21', 'c', 3)")
	st := job.LastStatus()
	qs, ok := st.Statistics.Details.(*bigquery.QueryStatistics)
	if !ok || qs.NumDMLAffectedRows != 3 || qs.StatementType != "INSERT" {
		t.Errorf("insert statistics = %+v", qs)
	}
	// Fast path with DML: an empty iterator, no 404.
	it, err := e.bq.Query("DELETE FROM `test-proj.ds.scores` WHERE player = 'c'").Read(ctx)
	if err != nil {
		t.Fatalf("delete via Read: %v", err)
	}
	if err := it.Next(&r); !errors.Is(err, iterator.Done) {
		t.Errorf("DML iterator: %v", err)
	}
	if got := e.query(t, "SELECT COUNT(*) FROM `test-proj.ds.scores`"); got[0][0] != int64(2) {
		t.Errorf("rows after delete = %v", got)
	}
}

func TestInserterDedupAndErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := ctx5(t)
	tbl := e.gamesTable(t, "games")
	// Untagged fields arrive as "Player" and "Pts" and match case-insensitively.
	type box struct {
		GameDate civil.Date `bigquery:"game_date"`
		Player   string
		Pts      int64
	}
	saver := &bigquery.StructSaver{Struct: box{civil.Date{Year: 2024, Month: 10, Day: 22}, "a", 7}, InsertID: "row-1"}
	for range 2 {
		if err := tbl.Inserter().Put(ctx, saver); err != nil {
			t.Fatalf("put: %v", err)
		}
	}
	if got := e.countRows(t, "games", ""); got != 1 {
		t.Errorf("rows = %d, want 1 after a duplicate insertId", got)
	}
	bad := []*bigquery.ValuesSaver{{
		Schema: append(append(bigquery.Schema{}, gamesSchema...), &bigquery.FieldSchema{Name: "foo", Type: bigquery.StringFieldType}),
		Row:    []bigquery.Value{civil.Date{Year: 2024, Month: 10, Day: 22}, "b", 1, "x"},
	}}
	err := tbl.Inserter().Put(ctx, bad)
	var pme bigquery.PutMultiError
	if !errors.As(err, &pme) || len(pme) != 1 {
		t.Fatalf("unknown field: err = %v, want a PutMultiError", err)
	}
}

func TestJobsListAndJobFromID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := ctx5(t)
	it, err := e.bq.Query("SELECT 1 AS x").Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	job, err := e.bq.JobFromID(ctx, it.SourceJob().ID())
	if err != nil {
		t.Fatalf("JobFromID of a jobs.query job: %v", err)
	}
	if st := job.LastStatus(); st == nil || !st.Done() {
		t.Errorf("status = %+v", st)
	}
	if _, err := e.bq.Query("SELECT 2 AS x").Read(ctx); err != nil {
		t.Fatal(err)
	}
	n := 0
	jit := e.bq.Jobs(ctx)
	for {
		_, err := jit.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			t.Fatalf("jobs: %v", err)
		}
		n++
	}
	if n != 2 {
		t.Errorf("jobs listed = %d, want 2", n)
	}
	_, err = e.bq.JobFromID(ctx, "no-such-job")
	apiErr(t, err, http.StatusNotFound, "notFound")
}

func TestTableReadPagingAndDecorator(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := ctx5(t)
	e.gamesTable(t, "games")
	e.putObject("a.json", ndjson("2024-10-21", 3, "a")+ndjson("2024-10-22", 5, "b"))
	e.load(t, "gs://bucket/a.json", e.dataset(t).Table("games"), bigquery.WriteAppend, nil)
	for _, tc := range []struct {
		table string
		want  int
	}{{"games", 8}, {"games$20241022", 5}} {
		it := e.dataset(t).Table(tc.table).Read(ctx)
		it.PageInfo().MaxSize = 2
		n := 0
		for {
			var r []bigquery.Value
			err := it.Next(&r)
			if errors.Is(err, iterator.Done) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", tc.table, err)
			}
			if tc.table != "games" && r[0] != (civil.Date{Year: 2024, Month: 10, Day: 22}) {
				t.Errorf("%s returned row %v", tc.table, r)
			}
			n++
		}
		if n != tc.want || it.TotalRows != uint64(tc.want) {
			t.Errorf("%s: read %d rows, total %d; want %d", tc.table, n, it.TotalRows, tc.want)
		}
	}
}
