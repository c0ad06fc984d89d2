package bqemu_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
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
		schema := bigquery.Schema{
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
				ref := bigquery.NewGCSReference(fmt.Sprintf("gs://bucket/box/%s/*.json", d))
				ref.SourceFormat = bigquery.JSON
				l := ds.Table("games$" + strings.ReplaceAll(d.String(), "-", "")).LoaderFrom(ref)
				l.WriteDisposition = bigquery.WriteTruncate
				l.CreateDisposition = bigquery.CreateNever
				job, err := l.Run(ctx)
				if err != nil {
					b.Fatal(err)
				}
				st, err := job.Wait(ctx)
				if err != nil || st.Err() != nil {
					b.Fatalf("load %s: %v %v", d, err, st.Err())
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
