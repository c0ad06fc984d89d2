package bqemu_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"google.golang.org/api/iterator"

	"github.com/nba-props/pipeline/infra/bqemu"
)

// BenchmarkSeasonLoadAndQuery loads one season of box scores (one NDJSON object and one
// WRITE_TRUNCATE load job per date into games$YYYYMMDD), runs a partition-filtered per-date
// aggregate for every date, then grows the table to five seasons and repeats the queries.
// It reports load rows/s, median and p95 query latency, and the five-to-one-season ratio of
// the median (the goal is <= 1.5: partition filtering must stay cheap as the table grows).
//
//	go test -run XXX -bench SeasonLoadAndQuery -benchtime 1x ./infra/bqemu/
func BenchmarkSeasonLoadAndQuery(b *testing.B) {
	const datesPerSeason, rowsPerDate = 165, 212
	for b.Loop() {
		gcs, err := fakestorage.NewServerWithOptions(fakestorage.Options{NoListener: true})
		if err != nil {
			b.Fatal(err)
		}
		gcs.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "bucket"})
		host := bqemu.StartTest(b, gcs.Client())
		c := newClient(b, host)
		ctx := context.Background()
		ds := c.Dataset("ds")
		if err := ds.Create(ctx, nil); err != nil {
			b.Fatal(err)
		}
		schema := boxScoreSchema
		err = ds.Table("games").Create(ctx, &bigquery.TableMetadata{Schema: schema,
			TimePartitioning: &bigquery.TimePartitioning{Field: "game_date"}})
		if err != nil {
			b.Fatal(err)
		}
		seasonDates := func(season int) []civil.Date {
			d := civil.Date{Year: 2019 + season, Month: 10, Day: 20}
			out := make([]civil.Date, datesPerSeason)
			for i := range out {
				out[i] = d.AddDays(i)
			}
			return out
		}
		loadSeason := func(season int) (rows int, elapsed time.Duration) {
			dates := seasonDates(season)
			for _, d := range dates {
				var sb strings.Builder
				for r := range rowsPerDate {
					fmt.Fprintf(&sb, `{"game_date":"%s","game_id":"%s-%02d","player":"p%03d","team":"T%02d","pts":%d,"reb":%d,"ast":%d,"minutes":%.1f,"loaded_at":"%sT12:00:00Z"}`+"\n",
						d, d, r/26, r, r%30, (r*7+d.Day)%40, r%15, r%11, float64(r%48), d)
				}
				name := fmt.Sprintf("box/%s/part-000.json", d)
				gcs.CreateObject(fakestorage.Object{ObjectAttrs: fakestorage.ObjectAttrs{BucketName: "bucket", Name: name}, Content: []byte(sb.String())})
			}
			start := time.Now()
			for _, d := range dates {
				if err := loadPartition(ctx, ds, fmt.Sprintf("gs://bucket/box/%s/*.json", d), d); err != nil {
					b.Fatalf("load %s: %v", d, err)
				}
			}
			return len(dates) * rowsPerDate, time.Since(start)
		}
		queryAll := func(seasons int) (median, p95 float64) {
			var ms []float64
			for s := range seasons {
				for _, d := range seasonDates(s) {
					q := c.Query("SELECT team, COUNT(*) AS players, SUM(pts) AS pts, AVG(minutes) AS minutes " +
						"FROM `test-proj.ds.games` WHERE game_date = @d GROUP BY team ORDER BY team")
					q.Parameters = []bigquery.QueryParameter{{Name: "d", Value: d}}
					start := time.Now()
					it, err := q.Read(ctx)
					if err != nil {
						b.Fatal(err)
					}
					n := 0
					for {
						var r []bigquery.Value
						err := it.Next(&r)
						if errors.Is(err, iterator.Done) {
							break
						}
						if err != nil {
							b.Fatal(err)
						}
						n++
					}
					ms = append(ms, float64(time.Since(start).Microseconds())/1000)
					if n != 30 {
						b.Fatalf("date %s: %d teams, want 30", d, n)
					}
				}
			}
			slices.Sort(ms)
			return ms[len(ms)/2], ms[len(ms)*95/100]
		}

		rows, el := loadSeason(0)
		oneRate := float64(rows) / el.Seconds()
		med1, p951 := queryAll(1)
		var rows5 int
		var el5 time.Duration
		for s := 1; s < 5; s++ {
			r, e := loadSeason(s)
			rows5 += r
			el5 += e
		}
		fiveRate := float64(rows5) / el5.Seconds()
		med5, p955 := queryAll(5)
		b.ReportMetric(oneRate, "load-rows/s-1season")
		b.ReportMetric(fiveRate, "load-rows/s-seasons2-5")
		b.ReportMetric(med1, "median-ms-1season")
		b.ReportMetric(p951, "p95-ms-1season")
		b.ReportMetric(med5, "median-ms-5seasons")
		b.ReportMetric(p955, "p95-ms-5seasons")
		b.ReportMetric(med5/med1, "ratio-5to1")
		b.Logf("one season: %d rows loaded at %.0f rows/s; per-date query median %.2f ms, p95 %.2f ms",
			rows, oneRate, med1, p951)
		b.Logf("five seasons: %d rows (seasons 2-5 loaded at %.0f rows/s); per-date query median %.2f ms, p95 %.2f ms; ratio %.2f",
			rows+rows5, fiveRate, med5, p955, med5/med1)
	}
}

// BenchmarkDMLBesideLoads measures how long a MERGE into one table waits behind load jobs
// into another, as the pipeline's serial registry MERGEs wait behind a backfill's loads.
// On an emulator with its store in files (as the local stack runs it), it times a run of
// MERGEs alone, two clients loading 2,000-row partitions side by side, then the MERGEs
// again while the two clients load without pause. It reports the MERGE latencies of both
// runs, their difference (the wait), and the loads' rate alone and beside the MERGEs.
//
//	go test -run '^$' -bench DMLBesideLoads -benchtime 1x ./infra/bqemu/
func BenchmarkDMLBesideLoads(b *testing.B) {
	const loaders, rowsPerLoad, loadsEach, merges, rosterRows = 2, 2000, 30, 60, 500
	for b.Loop() {
		gcs, err := fakestorage.NewServerWithOptions(fakestorage.Options{NoListener: true})
		if err != nil {
			b.Fatal(err)
		}
		gcs.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "bucket"})
		srv, err := bqemu.New(bqemu.Options{DuckDBPath: b.TempDir(), GCS: bqemu.StorageSource(gcs.Client())})
		if err != nil {
			b.Fatal(err)
		}
		ts := httptest.NewServer(srv.Handler())
		c := newClient(b, strings.TrimPrefix(ts.URL, "http://"))
		ctx := context.Background()
		ds := c.Dataset("ds")
		if err := ds.Create(ctx, nil); err != nil {
			b.Fatal(err)
		}
		games := boxScoreSchema
		if err := ds.Table("games").Create(ctx, &bigquery.TableMetadata{Schema: games,
			TimePartitioning: &bigquery.TimePartitioning{Field: "game_date"}}); err != nil {
			b.Fatal(err)
		}
		registry := bigquery.Schema{
			{Name: "player", Type: bigquery.StringFieldType},
			{Name: "team", Type: bigquery.StringFieldType},
			{Name: "last_seen", Type: bigquery.DateFieldType},
		}
		for _, name := range []string{"registry", "roster"} {
			if err := ds.Table(name).Create(ctx, &bigquery.TableMetadata{Schema: registry}); err != nil {
				b.Fatal(err)
			}
		}
		run := func(q *bigquery.Query) {
			job, err := q.Run(ctx)
			if err := finished(ctx, job, err); err != nil {
				b.Fatalf("%s: %v", q.Q, err)
			}
		}
		run(c.Query(fmt.Sprintf("INSERT INTO `test-proj.ds.roster` (player, team) "+
			"SELECT CONCAT('p', CAST(n AS STRING)), CONCAT('T', CAST(MOD(n, 30) AS STRING)) FROM UNNEST(GENERATE_ARRAY(1, %d)) AS n", rosterRows)))
		day0 := civil.Date{Year: 2024, Month: 10, Day: 22}
		mergeRun := func(first int) []float64 {
			ms := make([]float64, 0, merges)
			for i := range merges {
				q := c.Query("MERGE `test-proj.ds.registry` T USING (SELECT player, team FROM `test-proj.ds.roster`) S " +
					"ON T.player = S.player " +
					"WHEN MATCHED THEN UPDATE SET team = S.team, last_seen = @d " +
					"WHEN NOT MATCHED THEN INSERT (player, team, last_seen) VALUES (S.player, S.team, @d)")
				q.Parameters = []bigquery.QueryParameter{{Name: "d", Value: day0.AddDays(first + i)}}
				start := time.Now()
				run(q)
				ms = append(ms, float64(time.Since(start).Microseconds())/1000)
			}
			slices.Sort(ms)
			return ms
		}
		for l := range loaders {
			var sb strings.Builder
			for r := range rowsPerLoad {
				fmt.Fprintf(&sb, `{"game_date":"%s","game_id":"g%02d","player":"p%04d","team":"T%02d","pts":%d,"reb":%d,"ast":%d,"minutes":%.1f,"loaded_at":"%sT12:00:00Z"}`+"\n",
					day0.AddDays(l), r/26, r, r%30, r%40, r%15, r%11, float64(r%48), day0.AddDays(l))
			}
			gcs.CreateObject(fakestorage.Object{ObjectAttrs: fakestorage.ObjectAttrs{BucketName: "bucket",
				Name: fmt.Sprintf("box/%d.json", l)}, Content: []byte(sb.String())})
		}

		loadOnce := func(l int) error {
			return loadPartition(ctx, ds, fmt.Sprintf("gs://bucket/box/%d.json", l), day0.AddDays(l))
		}
		// runLoaders runs the loaders side by side until each has made n loads or stop is
		// closed, and returns the number of loads.
		runLoaders := func(n int, stop <-chan struct{}) (int64, error) {
			var loads atomic.Int64
			var wg sync.WaitGroup
			errs := make(chan error, loaders)
			for l := range loaders {
				wg.Go(func() {
					for range n {
						select {
						case <-stop:
							return
						default:
						}
						if err := loadOnce(l); err != nil {
							errs <- fmt.Errorf("load: %w", err)
							return
						}
						loads.Add(1)
					}
				})
			}
			wg.Wait()
			close(errs)
			return loads.Load(), <-errs
		}

		alone := mergeRun(0)
		start := time.Now()
		loadsAlone, err := runLoaders(loadsEach, nil)
		if err != nil {
			b.Fatal(err)
		}
		loadRateAlone := float64(loadsAlone) / time.Since(start).Seconds()
		stop := make(chan struct{})
		stopLoaders := sync.OnceFunc(func() { close(stop) })
		defer stopLoaders() // a failed MERGE must not leave the loaders running
		type result struct {
			loads int64
			err   error
		}
		done := make(chan result)
		go func() {
			n, err := runLoaders(math.MaxInt, stop)
			done <- result{n, err}
		}()
		start = time.Now()
		beside := mergeRun(merges)
		elapsed := time.Since(start)
		stopLoaders()
		r := <-done
		if r.err != nil {
			b.Fatal(r.err)
		}
		loadsBeside := r.loads
		ts.Close()
		if err := srv.Close(); err != nil {
			b.Fatal(err)
		}
		gcs.Stop()

		med := func(ms []float64) float64 { return ms[len(ms)/2] }
		p95 := func(ms []float64) float64 { return ms[len(ms)*95/100] }
		loadRate := float64(loadsBeside) / elapsed.Seconds()
		b.ReportMetric(med(alone), "merge-median-ms-alone")
		b.ReportMetric(med(beside), "merge-median-ms-beside-loads")
		b.ReportMetric(p95(beside), "merge-p95-ms-beside-loads")
		b.ReportMetric(med(beside)-med(alone), "merge-wait-median-ms")
		b.ReportMetric(loadRateAlone, "loads/s-alone")
		b.ReportMetric(loadRate, "loads/s-beside-merges")
		b.Logf("%d loaders of %d rows alone: %.1f loads/s (%.0f rows/s)", loaders, rowsPerLoad, loadRateAlone, loadRateAlone*rowsPerLoad)
		b.Logf("MERGE alone: median %.1f ms, p95 %.1f ms; beside the loaders: median %.1f ms, p95 %.1f ms (median wait %.1f ms), while %d loads ran in %.1f s (%.1f loads/s)",
			med(alone), p95(alone), med(beside), p95(beside), med(beside)-med(alone),
			loadsBeside, elapsed.Seconds(), loadRate)
	}
}

// boxScoreSchema is the benchmarks' box score table: a row per player and game, partitioned by
// game_date, as the pipeline's raw tables are.
var boxScoreSchema = bigquery.Schema{
	{Name: "game_date", Type: bigquery.DateFieldType, Required: true},
	{Name: "game_id", Type: bigquery.StringFieldType},
	{Name: "player", Type: bigquery.StringFieldType},
	{Name: "team", Type: bigquery.StringFieldType},
	{Name: "pts", Type: bigquery.IntegerFieldType},
	{Name: "reb", Type: bigquery.IntegerFieldType},
	{Name: "ast", Type: bigquery.IntegerFieldType},
	{Name: "minutes", Type: bigquery.FloatFieldType},
	{Name: "loaded_at", Type: bigquery.TimestampFieldType},
}

// loadPartition loads NDJSON objects into one day's partition of the table games, replacing
// it, as the pipeline's raw jobs do, and waits for the job.
func loadPartition(ctx context.Context, ds *bigquery.Dataset, uri string, day civil.Date) error {
	ref := bigquery.NewGCSReference(uri)
	ref.SourceFormat = bigquery.JSON
	l := ds.Table("games$" + strings.ReplaceAll(day.String(), "-", "")).LoaderFrom(ref)
	l.WriteDisposition = bigquery.WriteTruncate
	l.CreateDisposition = bigquery.CreateNever
	job, err := l.Run(ctx)
	return finished(ctx, job, err)
}

// finished waits for a job that started (err is Run's error) and returns its error, if any.
func finished(ctx context.Context, job *bigquery.Job, err error) error {
	if err != nil {
		return err
	}
	st, err := job.Wait(ctx)
	if err != nil {
		return err
	}
	return st.Err()
}
