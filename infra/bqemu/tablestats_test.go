package bqemu_test

import (
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"
	"github.com/fsouza/fake-gcs-server/fakestorage"

	"github.com/nba-props/pipeline/infra/bqemu"
)

// clock is a settable clock for Options.Now, so that tests can tell which write set a time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

// newEnvWithClock is newEnv on an emulator whose clock the test sets.
func newEnvWithClock(t *testing.T, c *clock) *env {
	t.Helper()
	gcs, err := fakestorage.NewServerWithOptions(fakestorage.Options{NoListener: true})
	if err != nil {
		t.Fatalf("fake gcs: %v", err)
	}
	t.Cleanup(gcs.Stop)
	gcs.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "bucket"})
	s, err := bqemu.New(bqemu.Options{GCS: bqemu.StorageSource(gcs.Client()), Now: c.Now})
	if err != nil {
		t.Fatalf("start emulator: %v", err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() { ts.Close(); s.Close() })
	host := strings.TrimPrefix(ts.URL, "http://")
	return &env{host: host, gcs: gcs, bq: newClient(t, host)}
}

func TestTableMetadataFollowsEveryWrite(t *testing.T) {
	t.Parallel()
	c := &clock{t: time.Date(2024, 10, 22, 12, 0, 0, 0, time.UTC)}
	e := newEnvWithClock(t, c)
	ctx := ctx5(t)
	tbl := e.gamesTable(t, "games")
	at := func(minutes int) time.Time { return time.Date(2024, 10, 22, 12, minutes, 0, 0, time.UTC) }

	// Each box-score row is 8 (DATE) + 2 + len(player) (STRING) + 8 (INT64) bytes.
	check := func(step string, when time.Time, rows uint64, bytes int64) {
		t.Helper()
		md, err := tbl.Metadata(ctx)
		if err != nil {
			t.Fatalf("%s: metadata: %v", step, err)
		}
		if !md.LastModifiedTime.Equal(when) || md.NumRows != rows || md.NumBytes != bytes {
			t.Errorf("%s: lastModifiedTime %v, numRows %d, numBytes %d; want %v, %d, %d",
				step, md.LastModifiedTime.UTC(), md.NumRows, md.NumBytes, when, rows, bytes)
		}
		// The same through REST, where the numbers are strings.
		status, body := e.rest(t, http.MethodGet, "/projects/"+testProject+"/datasets/ds/tables/games", "")
		want := map[string]string{"lastModifiedTime": strconv.FormatInt(when.UnixMilli(), 10),
			"numRows": strconv.FormatUint(rows, 10), "numBytes": strconv.FormatInt(bytes, 10),
			"numTotalLogicalBytes": strconv.FormatInt(bytes, 10)}
		for k, v := range want {
			if status != http.StatusOK || body[k] != v {
				t.Errorf("%s: tables.get %s = %v (status %d), want %q", step, k, body[k], status, v)
			}
		}
	}
	check("created", at(0), 0, 0)

	c.Set(at(1))
	e.putObject("d1.json", ndjson("2024-10-22", 3, "a")) // players a0 a1 a2
	e.load(t, "gs://bucket/d1.json", tbl, bigquery.WriteAppend, nil)
	check("after a load", at(1), 3, 3*20)

	c.Set(at(2))
	q := e.bq.Query("SELECT DATE '2024-10-23' AS game_date, 'bb' AS player, 7 AS pts")
	q.Dst = tbl
	q.WriteDisposition = bigquery.WriteAppend
	job, err := q.Run(ctx)
	if err != nil {
		t.Fatalf("query into the table: %v", err)
	}
	if st, err := job.Wait(ctx); err != nil || st.Err() != nil {
		t.Fatalf("query into the table: %v %v", err, st.Err())
	}
	check("after a query with a destination", at(2), 4, 3*20+20)

	c.Set(at(3))
	err = tbl.Inserter().Put(ctx, &bigquery.ValuesSaver{Schema: gamesSchema, Row: []bigquery.Value{civil.Date{Year: 2024, Month: 10, Day: 23}, "cccc", 1}})
	if err != nil {
		t.Fatalf("insertAll: %v", err)
	}
	check("after insertAll", at(3), 5, 3*20+20+22)

	c.Set(at(4))
	e.query(t, "DELETE FROM `test-proj.ds.games` WHERE player = 'a0'")
	check("after DML", at(4), 4, 2*20+20+22)

	c.Set(at(5))
	if err := e.dataset(t).Table("games$20241023").Delete(ctx); err != nil {
		t.Fatalf("delete a partition: %v", err)
	}
	check("after a partition delete", at(5), 2, 2*20)

	c.Set(at(6))
	e.query(t, "SELECT COUNT(*) FROM `test-proj.ds.games`")
	check("a read changes nothing", at(5), 2, 2*20)
}

// TestNumBytesFollowsBigQuerySizeRules checks the size of each kind of value: NULL is 0,
// STRING and BYTES 2 plus their UTF-8 length, an ARRAY the sum of its elements and a
// STRUCT the sum of its fields.
func TestNumBytesFollowsBigQuerySizeRules(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := ctx5(t)
	schema := bigquery.Schema{
		{Name: "s", Type: bigquery.StringFieldType},
		{Name: "tags", Type: bigquery.StringFieldType, Repeated: true},
		{Name: "rec", Type: bigquery.RecordFieldType, Schema: bigquery.Schema{
			{Name: "a", Type: bigquery.IntegerFieldType},
			{Name: "ok", Type: bigquery.BooleanFieldType},
		}},
		{Name: "recs", Type: bigquery.RecordFieldType, Repeated: true, Schema: bigquery.Schema{
			{Name: "f", Type: bigquery.FloatFieldType},
		}},
		{Name: "b", Type: bigquery.BytesFieldType},
		{Name: "n", Type: bigquery.NumericFieldType},
		{Name: "ts", Type: bigquery.TimestampFieldType},
	}
	tbl := e.dataset(t).Table("sizes")
	if err := tbl.Create(ctx, &bigquery.TableMetadata{Schema: schema}); err != nil {
		t.Fatal(err)
	}
	rows := []*bigquery.ValuesSaver{
		{Schema: schema, Row: []bigquery.Value{
			"héllo",                         // 2 + 6
			[]bigquery.Value{"ab", "c"},     // (2 + 2) + (2 + 1)
			[]bigquery.Value{int64(1), nil}, // 8 + 0
			[]bigquery.Value{[]bigquery.Value{1.5}, []bigquery.Value{2.5}}, // 8 + 8
			[]byte("xyz"),    // 2 + 3
			big.NewRat(3, 2), // 16
			time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), // 8
		}},
		{Schema: schema, Row: []bigquery.Value{nil, []bigquery.Value{}, nil, []bigquery.Value{}, nil, nil, nil}}, // 0
	}
	if err := tbl.Inserter().Put(ctx, rows); err != nil {
		t.Fatalf("put: %v", err)
	}
	md, err := tbl.Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(8 + 7 + 8 + 16 + 5 + 16 + 8); md.NumRows != 2 || md.NumBytes != want {
		t.Errorf("numRows %d, numBytes %d; want 2, %d", md.NumRows, md.NumBytes, want)
	}
}
