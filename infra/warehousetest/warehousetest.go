// Package warehousetest gives the tests of the raw, reference and analytics phases a local
// warehouse: fake GCS and the BigQuery emulator with every pipeline table (Start), the
// scraper objects of a date captured from the source simulator (Capture), and partition
// queries and golden files to compare what the jobs loaded. It is imported by tests only.
//
// The BigQuery emulator links DuckDB through cgo. Built without cgo, this package still
// compiles (so the production packages whose tests import it vet with CGO_ENABLED=0), and
// Start and StartBigQuery fail the test with a message saying what to install.
package warehousetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"
	"cloud.google.com/go/storage"
	"google.golang.org/api/iterator"

	"github.com/nba-props/pipeline/infra/cloud"
	"github.com/nba-props/pipeline/infra/emulators"
	"github.com/nba-props/pipeline/infra/sourcesim"
	"github.com/nba-props/pipeline/infra/topology"
	"github.com/nba-props/pipeline/messages"
)

// Env is one test's GCS bucket and BigQuery emulator with every pipeline table created.
type Env struct {
	Project  string
	Bucket   string
	Storage  *storage.Client
	BigQuery *bigquery.Client
}

// Start starts fake GCS and the BigQuery emulator for one test and creates the datasets
// and tables of topology.Tables.
func Start(tb testing.TB) *Env {
	tb.Helper()
	em := emulators.StartTest(tb)
	host := StartBigQuery(tb, em.Storage)
	ctx := context.Background()
	bq, err := cloud.BigQuery(ctx, em.Project, host)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { bq.Close() })
	for _, ds := range topology.Datasets() {
		if err := bq.Dataset(ds).Create(ctx, &bigquery.DatasetMetadata{}); err != nil {
			tb.Fatalf("create dataset %s: %v", ds, err)
		}
	}
	for _, t := range topology.Tables() {
		md := &bigquery.TableMetadata{Schema: t.Schema, Description: t.Description, RequirePartitionFilter: t.RequirePartitionFilter}
		if t.PartitionField != "" {
			md.TimePartitioning = &bigquery.TimePartitioning{Type: bigquery.DayPartitioningType, Field: t.PartitionField}
		}
		if len(t.Clustering) > 0 {
			md.Clustering = &bigquery.Clustering{Fields: t.Clustering}
		}
		if err := bq.Dataset(t.Dataset).Table(t.Name).Create(ctx, md); err != nil {
			tb.Fatalf("create table %s: %v", t.FullName(), err)
		}
	}
	return &Env{Project: em.Project, Bucket: em.Bucket, Storage: em.Storage, BigQuery: bq}
}

// Put writes objects (name → body) to the bucket.
func (e *Env) Put(tb testing.TB, objects map[string][]byte) {
	tb.Helper()
	ctx := context.Background()
	for name, body := range objects {
		w := e.Storage.Bucket(e.Bucket).Object(name).NewWriter(ctx)
		w.ChunkSize = 0
		if _, err := w.Write(body); err != nil {
			tb.Fatalf("write %s: %v", name, err)
		}
		if err := w.Close(); err != nil {
			tb.Fatalf("write %s: %v", name, err)
		}
	}
}

// Delete removes the objects under prefix.
func (e *Env) Delete(tb testing.TB, prefix string) {
	tb.Helper()
	ctx := context.Background()
	it := e.Storage.Bucket(e.Bucket).Objects(ctx, &storage.Query{Prefix: prefix})
	for {
		a, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return
		}
		if err != nil {
			tb.Fatal(err)
		}
		if err := e.Storage.Bucket(e.Bucket).Object(a.Name).Delete(ctx); err != nil {
			tb.Fatal(err)
		}
	}
}

// Query runs sql with the named parameters and returns the rows as JSON-friendly maps.
func (e *Env) Query(tb testing.TB, sql string, params map[string]any) []map[string]any {
	tb.Helper()
	ctx := context.Background()
	q := e.BigQuery.Query(sql)
	for k, v := range params {
		q.Parameters = append(q.Parameters, bigquery.QueryParameter{Name: k, Value: v})
	}
	it, err := q.Read(ctx)
	if err != nil {
		tb.Fatalf("query %s: %v", sql, err)
	}
	var out []map[string]any
	for {
		var row map[string]bigquery.Value
		err := it.Next(&row)
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			tb.Fatalf("query %s: %v", sql, err)
		}
		m := make(map[string]any, len(row))
		for k, v := range row {
			m[k] = plain(v)
		}
		out = append(out, m)
	}
	return out
}

// plain converts BigQuery values to comparable JSON-like values.
func plain(v bigquery.Value) any {
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case fmt.Stringer:
		return x.String() // civil.Date and friends
	case []bigquery.Value:
		out := make([]any, len(x))
		for i := range x {
			out[i] = plain(x[i])
		}
		return out
	case int64:
		return float64(x) // as after a JSON round trip
	}
	return v
}

// Partition returns the rows of table (dataset.table) for one date without processed_at,
// ordered by every column, as JSON-like maps. The test bucket's random name in
// source_file_path is replaced by BUCKET.
func (e *Env) Partition(tb testing.TB, table, field, date string) []map[string]any {
	tb.Helper()
	rows := e.Query(tb, fmt.Sprintf("SELECT * FROM `%s` WHERE %s = @d", table, field), map[string]any{"d": civilDate(tb, date)})
	for _, r := range rows {
		delete(r, "processed_at")
		delete(r, "updated_at")
		if p, ok := r["source_file_path"].(string); ok {
			r["source_file_path"] = strings.Replace(p, "gs://"+e.Bucket+"/", "gs://BUCKET/", 1)
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rowKey(rows[i]) < rowKey(rows[j]) })
	return rows
}

func rowKey(r map[string]any) string {
	b, _ := json.Marshal(r) // map keys are sorted
	return string(b)
}

// Golden compares got with testdata/golden/<name>.json, or rewrites the file when update.
func Golden(tb testing.TB, name string, got any, update bool) {
	tb.Helper()
	path := filepath.Join("testdata", "golden", name+".json")
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		tb.Fatal(err)
	}
	b = append(b, '\n')
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			tb.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("read golden file (run the test with -update to create it): %v", err)
	}
	if string(want) != string(b) {
		tb.Errorf("%s differs from %s (run with -update after checking the change):\n%s", name, path, lineDiff(string(want), string(b)))
	}
}

// lineDiff shows the first differing lines.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return fmt.Sprintf("line %d:\n want %s\n  got %s\n(%d lines wanted, %d got)", i+1, a, b, len(w), len(g))
		}
	}
	return "identical"
}

// ReadDir reads every file under dir as objects named by their path below it.
func ReadDir(tb testing.TB, dir string) map[string][]byte {
	tb.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = b
		return nil
	})
	if err != nil {
		tb.Fatalf("read captured objects under %s (run the test with -capture to create them): %v", dir, err)
	}
	return out
}

// WriteDir writes objects under dir, replacing what was there.
func WriteDir(tb testing.TB, dir string, objects map[string][]byte) {
	tb.Helper()
	if err := os.RemoveAll(dir); err != nil {
		tb.Fatal(err)
	}
	for name, body := range objects {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, body, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

func civilDate(tb testing.TB, date string) any {
	tb.Helper()
	d, err := time.Parse("2006-01-02", date)
	if err != nil {
		tb.Fatal(err)
	}
	return civil.DateOf(d)
}

// Sim is a simulator whose clock is well after the 2024-25 season unless now is given, so
// that every game is final.
func Sim(now time.Time) *sourcesim.Sim {
	if now.IsZero() {
		now = time.Date(2025, 7, 1, 12, 0, 0, 0, time.UTC)
	}
	return sourcesim.New(sourcesim.Config{Seed: 2024, Now: func() time.Time { return now }})
}

// Capture fetches what the scrapers would store for date from the simulator's HTTP API, in
// the layout of messages.Scraped (object name → body). Off days produce only the
// narrowed schedule, as the scrapers do.
func Capture(tb testing.TB, sim *sourcesim.Sim, date string) map[string][]byte {
	tb.Helper()
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	c := &capturer{tb: tb, base: srv.URL, out: map[string][]byte{}}
	d, err := time.Parse("2006-01-02", date)
	if err != nil {
		tb.Fatal(err)
	}
	season := d.Year()
	if d.Month() < time.October {
		season--
	}
	label := fmt.Sprintf("%d-%02d", season, (season+1)%100)

	// NBA.com schedule, narrowed to the date.
	var sched map[string]json.RawMessage
	c.getJSON("/nbacdn/static/json/staticData/scheduleLeagueV2.json?season="+label, &sched)
	var league map[string]json.RawMessage
	must(tb, json.Unmarshal(sched["leagueSchedule"], &league))
	var dates []json.RawMessage
	must(tb, json.Unmarshal(league["gameDates"], &dates))
	keep := []json.RawMessage{}
	games := 0
	for _, e := range dates {
		var gd struct {
			GameDate string            `json:"gameDate"`
			Games    []json.RawMessage `json:"games"`
		}
		must(tb, json.Unmarshal(e, &gd))
		if gd.GameDate == d.Format("01/02/2006")+" 00:00:00" {
			keep = append(keep, e)
			games += len(gd.Games)
		}
	}
	league["gameDates"] = mustJSON(tb, keep)
	sched["leagueSchedule"] = mustJSON(tb, league)
	c.out[messages.ScrapedNBACSchedule.Object(date, messages.SchedulePart)] = mustJSON(tb, sched)
	if games == 0 {
		return c.out
	}

	mdY := d.Format("01/02/2006")
	c.put(messages.ScrapedNBACPlayerBoxscores.Object(date, messages.LeagueGameLogPart("Regular Season")),
		"/nbastats/stats/leaguegamelog?"+url.Values{"PlayerOrTeam": {"P"}, "DateFrom": {mdY}, "DateTo": {mdY}, "Season": {label}, "SeasonType": {"Regular Season"}}.Encode())
	c.pages(messages.ScrapedBDLGames, date, "/bdl/v1/games?dates[]="+date+"&per_page=100")
	c.pages(messages.ScrapedBDLPlayerBoxscores, date, "/bdl/v1/stats?dates[]="+date+"&per_page=100")
	c.injuries(messages.ScrapedBDLInjuries.Object(date, messages.InjuriesPart))
	c.odds(date, d, -2*time.Hour, -10*time.Minute)
	c.gamebooks(sim, date)
	return c.out
}

// CaptureGamebooks fetches the game book of every game of date that is published at the
// simulator's clock, as nbac_gamebook stores it.
func CaptureGamebooks(tb testing.TB, sim *sourcesim.Sim, date string) map[string][]byte {
	tb.Helper()
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	c := &capturer{tb: tb, base: srv.URL, out: map[string][]byte{}}
	c.gamebooks(sim, date)
	return c.out
}

// gamebooks fetches the published game books of a date.
func (c *capturer) gamebooks(sim *sourcesim.Sim, date string) {
	books, err := sim.Gamebooks(date)
	must(c.tb, err)
	for _, b := range books {
		if b.Available {
			c.put(messages.ScrapedNBACGamebooks.Object(date, messages.GamebookPart(b.AwayTeam, b.HomeTeam)), b.Path)
		}
	}
}

// CaptureOdds fetches the events list of date and, per event of the date, one snapshot at
// each offset from tip-off (negative: before; positive: an in-game snapshot, which the
// scrapers never take but the pipeline must ignore if it finds one).
func CaptureOdds(tb testing.TB, sim *sourcesim.Sim, date string, offsets ...time.Duration) map[string][]byte {
	tb.Helper()
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	c := &capturer{tb: tb, base: srv.URL, out: map[string][]byte{}}
	d, err := time.Parse("2006-01-02", date)
	if err != nil {
		tb.Fatal(err)
	}
	c.odds(date, d, offsets...)
	return c.out
}

type capturer struct {
	tb   testing.TB
	base string
	out  map[string][]byte
}

func (c *capturer) get(path string) []byte {
	c.tb.Helper()
	resp, err := http.Get(c.base + path)
	if err != nil {
		c.tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.tb.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		c.tb.Fatalf("GET %s: %s: %s", path, resp.Status, b)
	}
	return b
}

func (c *capturer) getJSON(path string, v any) []byte {
	b := c.get(path)
	must(c.tb, json.Unmarshal(b, v))
	return b
}

func (c *capturer) put(name, path string) { c.out[name] = c.get(path) }

// pages follows BDL's cursor, one object per page.
func (c *capturer) pages(data messages.Scraped, date, path string) {
	cursor := ""
	for n := 1; ; n++ {
		var p struct {
			Meta struct {
				NextCursor *int `json:"next_cursor"`
			} `json:"meta"`
		}
		b := c.getJSON(path+cursor, &p)
		c.out[data.Object(date, messages.PagePart(n))] = b
		if p.Meta.NextCursor == nil {
			return
		}
		cursor = fmt.Sprintf("&cursor=%d", *p.Meta.NextCursor)
	}
}

// injuries merges the report's pages into one object.
func (c *capturer) injuries(name string) {
	var all []json.RawMessage
	cursor := ""
	for {
		var p struct {
			Data []json.RawMessage `json:"data"`
			Meta struct {
				NextCursor *int `json:"next_cursor"`
			} `json:"meta"`
		}
		c.getJSON("/bdl/v1/player_injuries?per_page=100"+cursor, &p)
		all = append(all, p.Data...)
		if p.Meta.NextCursor == nil {
			break
		}
		cursor = fmt.Sprintf("&cursor=%d", *p.Meta.NextCursor)
	}
	if all == nil {
		all = []json.RawMessage{}
	}
	c.out[name] = mustJSON(c.tb, map[string]any{"data": all, "meta": map[string]int{"per_page": 100}})
}

// odds stores the events list at noon Eastern and, per event of the date, one snapshot at
// each offset from tip-off.
func (c *capturer) odds(date string, d time.Time, offsets ...time.Duration) {
	et, _ := time.LoadLocation("America/New_York")
	noon := time.Date(d.Year(), d.Month(), d.Day(), 12, 0, 0, 0, et).UTC()
	var list struct {
		Timestamp string `json:"timestamp"`
		Data      []struct {
			ID           string `json:"id"`
			CommenceTime string `json:"commence_time"`
			HomeTeam     string `json:"home_team"`
			AwayTeam     string `json:"away_team"`
		} `json:"data"`
	}
	b := c.getJSON("/odds/v4/historical/sports/basketball_nba/events?date="+noon.Format(time.RFC3339), &list)
	c.out[messages.ScrapedOddsAPIPlayerProps.Object(date, messages.OddsEventsPart(noon))] = b
	codes := map[string]string{}
	for _, t := range sourcesim.Teams() {
		codes[t.OddsName], codes[t.FullName] = t.Tricode, t.Tricode
	}
	for _, e := range list.Data {
		tip, err := time.Parse(time.RFC3339, e.CommenceTime)
		if err != nil {
			c.tb.Fatal(err)
		}
		if tip.In(et).Format("2006-01-02") != date {
			continue
		}
		for _, off := range offsets {
			snap := tip.Add(off).Truncate(5 * time.Minute)
			q := url.Values{"markets": {"player_points"}, "regions": {"us"}, "oddsFormat": {"american"}, "date": {snap.Format(time.RFC3339)}}
			name := messages.ScrapedOddsAPIPlayerProps.Object(date, messages.OddsEventPart(e.ID, codes[e.AwayTeam], codes[e.HomeTeam], snap))
			c.put(name, "/odds/v4/historical/sports/basketball_nba/events/"+e.ID+"/odds?"+q.Encode())
		}
	}
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
