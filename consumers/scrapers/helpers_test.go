package scrapers

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/sethvargo/go-envconfig"
	"google.golang.org/api/iterator"

	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/infra/sourcesim"
	"github.com/nba-props/pipeline/infra/testlog"
	"github.com/nba-props/pipeline/messages"
)

const (
	testBucket  = "nba-props-test"
	testBDLKey  = "bdl-key-7f3a9c1e55"
	testOddsKey = "odds-key-0b8d2e4f77"
	// gameDay and offDay are in the 2024-25 season the simulator serves at simNow.
	gameDay = "2024-10-24" // five games
	offDay2 = "2025-02-16" // All-Star break
)

// simNow is the simulator's clock: noon Eastern on 2025-03-01, a day with games.
var simNow = time.Date(2025, 3, 1, 17, 0, 0, 0, time.UTC)

// testEnv is one simulator, one fake GCS server and the scrapers wired to them.
type testEnv struct {
	sim     *sourcesim.Sim
	url     string
	storage *storage.Client
	logs    *testlog.Buffer
	jobs    map[string]runner.Job
	cfg     Config
}

// testVars are the environment of a fast test: generous rates, millisecond retries.
func testVars(base string) map[string]string {
	return map[string]string{
		"BDL_BASE_URL":                 base + "/bdl",
		"BDL_API_KEY":                  testBDLKey,
		"BDL_RATE_PER_MINUTE":          "600000",
		"BDL_BURST":                    "10",
		"ODDS_API_BASE_URL":            base + "/odds",
		"ODDS_API_KEY":                 testOddsKey,
		"ODDS_API_RATE_PER_MINUTE":     "600000",
		"ODDS_API_BURST":               "10",
		"ODDS_API_CREDIT_FLOOR":        "0",
		"NBA_CDN_BASE_URL":             base + "/nbacdn",
		"NBA_CDN_RATE_PER_MINUTE":      "600000",
		"NBA_STATS_BASE_URL":           base + "/nbastats",
		"NBA_STATS_RATE_PER_MINUTE":    "600000",
		"NBA_STATSDMZ_BASE_URL":        base + "/nbastatsdmz",
		"NBA_STATSDMZ_RATE_PER_MINUTE": "600000",
		"SCRAPER_RETRY_ATTEMPTS":       "4",
		"SCRAPER_RETRY_BASE":           "2ms",
		"SCRAPER_RETRY_MAX_DELAY":      "20ms",
		"SCRAPER_RETRY_BUDGET":         "30s",
		"SCRAPER_REQUEST_TIMEOUT":      "30s",
	}
}

// newTestEnv starts a simulator (keys set, clock at simNow unless cfg says otherwise) and a
// fake GCS server, and builds the jobs with testVars overridden by vars.
func newTestEnv(t testing.TB, cfg sourcesim.Config, vars map[string]string) *testEnv {
	t.Helper()
	if cfg.Keys == (sourcesim.Keys{}) {
		cfg.Keys = sourcesim.Keys{BDLKey: testBDLKey, OddsKey: testOddsKey}
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return simNow }
	}
	sim := sourcesim.New(cfg)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	gcs, err := fakestorage.NewServerWithOptions(fakestorage.Options{NoListener: true, Writer: io.Discard})
	if err != nil {
		t.Fatalf("fake gcs: %v", err)
	}
	t.Cleanup(gcs.Stop)
	gcs.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: testBucket, VersioningEnabled: false})
	e := &testEnv{sim: sim, url: srv.URL, storage: gcs.Client(), logs: &testlog.Buffer{}}
	e.jobs, e.cfg = e.build(t, vars, cfg.Now)
	return e
}

// build makes another set of jobs (its own limiters and caches) on the same servers.
func (e *testEnv) build(t testing.TB, vars map[string]string, now func() time.Time) (map[string]runner.Job, Config) {
	t.Helper()
	all := testVars(e.url)
	for k, v := range vars {
		all[k] = v
	}
	var cfg Config
	if err := envconfig.ProcessWith(context.Background(), &envconfig.Config{Target: &cfg, Lookuper: envconfig.MapLookuper(all)}); err != nil {
		t.Fatalf("envconfig: %v", err)
	}
	jobs, err := Jobs(cfg, Deps{
		Storage: e.storage, Bucket: testBucket, Now: now,
		Logger: slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatalf("Jobs: %v", err)
	}
	return jobs, cfg
}

func scrape(t testing.TB, jobs map[string]runner.Job, job, date string) (runner.Result, error) {
	t.Helper()
	j, ok := jobs[job]
	if !ok {
		t.Fatalf("no job %q", job)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return j.Run(ctx, messages.Request{
		Version: messages.Version, Phase: messages.PhaseScrapers, Job: job, Date: date, RunID: "test-run",
		Trigger: messages.Trigger{Kind: messages.TriggerProducer}, Lane: messages.LaneBackfill,
	})
}

func (e *testEnv) run(t testing.TB, job, date string) (runner.Result, error) {
	t.Helper()
	return scrape(t, e.jobs, job, date)
}

func (e *testEnv) mustRun(t testing.TB, job, date string) runner.Result {
	t.Helper()
	res, err := e.run(t, job, date)
	if err != nil {
		t.Fatalf("%s %s: %v", job, date, err)
	}
	return res
}

// list returns the names of the objects under prefix.
func (e *testEnv) list(t testing.TB, prefix string) []string {
	t.Helper()
	var out []string
	it := e.storage.Bucket(testBucket).Objects(context.Background(), &storage.Query{Prefix: prefix})
	for {
		a, err := it.Next()
		if err == iterator.Done {
			return out
		}
		if err != nil {
			t.Fatalf("list %s: %v", prefix, err)
		}
		out = append(out, a.Name)
	}
}

func (e *testEnv) read(t testing.TB, name string) []byte {
	t.Helper()
	r, err := e.storage.Bucket(testBucket).Object(name).NewReader(context.Background())
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return b
}

// requests returns the simulator's log for one source and dataset.
func (e *testEnv) requests(source, dataset string) []sourcesim.RequestRecord {
	var out []sourcesim.RequestRecord
	for _, r := range e.sim.Requests() {
		if r.Source == source && (dataset == "" || r.Dataset == dataset) {
			out = append(out, r)
		}
	}
	return out
}

func names(objs []runner.Object) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = o.Name
	}
	return out
}

func assertNoKeys(t testing.TB, what, s string) {
	t.Helper()
	for _, k := range []string{testBDLKey, testOddsKey} {
		if strings.Contains(s, k) {
			t.Errorf("%s contains an API key: %s", what, s)
		}
	}
}
