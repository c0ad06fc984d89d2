package scrapers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/infra/sourcesim"
	"github.com/nba-props/pipeline/infra/testlog"
	"github.com/nba-props/pipeline/messages"
)

func TestTransientFaultsAreRetried(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		job   string
		fault sourcesim.Fault
		calls int // requests to the faulted dataset, the failures included
	}{
		{"503 then success", "bdl_player_boxscores",
			sourcesim.Fault{Source: sourcesim.SourceBDL, Dataset: sourcesim.DatasetBDLStats, Kind: sourcesim.FaultServerError, First: 2}, 3},
		{"truncated JSON then success", "bdl_games",
			sourcesim.Fault{Source: sourcesim.SourceBDL, Dataset: sourcesim.DatasetBDLGames, Kind: sourcesim.FaultTruncated, First: 1}, 2},
		{"truncated gamelog then success", "nbac_player_boxscores",
			sourcesim.Fault{Source: sourcesim.SourceNBAStats, Kind: sourcesim.FaultTruncated, First: 1}, 2},
		{"odds 502 then success", "odds_api_player_props",
			sourcesim.Fault{Source: sourcesim.SourceOdds, Dataset: sourcesim.DatasetOddsEvents, Kind: sourcesim.FaultServerError, Status: 502, First: 1}, 2},
		{"truncated schedule then success", "nbac_schedule",
			sourcesim.Fault{Source: sourcesim.SourceNBACDN, Kind: sourcesim.FaultTruncated, First: 1}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t, sourcesim.Config{Faults: []sourcesim.Fault{tc.fault}}, nil)
			res := e.mustRun(t, tc.job, gameDay)
			if len(res.Objects) == 0 {
				t.Fatalf("no objects")
			}
			for _, o := range res.Objects {
				if !json.Valid(e.read(t, o.Name)) {
					t.Errorf("%s holds invalid JSON: a truncated body was stored", o.Name)
				}
			}
			reqs := e.requests(tc.fault.Source, tc.fault.Dataset)
			if tc.job == "bdl_player_boxscores" {
				tc.calls += len(res.Objects) - 1 // the later pages
			}
			if len(reqs) != tc.calls {
				t.Errorf("%d requests, want %d", len(reqs), tc.calls)
			}
			if reqs[0].Fault == "" || reqs[len(reqs)-1].Fault != "" || reqs[len(reqs)-1].Status != http.StatusOK {
				t.Errorf("request log: first %+v, last %+v; want a fault then a clean 200", reqs[0], reqs[len(reqs)-1])
			}
		})
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	f := sourcesim.Fault{Source: sourcesim.SourceBDL, Dataset: sourcesim.DatasetBDLGames, Kind: sourcesim.FaultRateLimit, RetryAfter: 1, First: 1}
	e := newTestEnv(t, sourcesim.Config{Faults: []sourcesim.Fault{f}}, nil)
	e.mustRun(t, "bdl_games", gameDay)
	reqs := e.requests(sourcesim.SourceBDL, sourcesim.DatasetBDLGames)
	if len(reqs) != 2 || reqs[0].Status != http.StatusTooManyRequests || reqs[1].Status != http.StatusOK {
		t.Fatalf("request log %+v; want a 429 then a 200", reqs)
	}
	if gap := reqs[1].Time.Sub(reqs[0].Time); gap < time.Second {
		t.Errorf("retried %s after a 429 with Retry-After: 1 (backoff base is 2ms); want at least 1s", gap)
	}
	fmt.Printf("retry after 429 with Retry-After 1s came %s later\n", reqs[1].Time.Sub(reqs[0].Time).Round(time.Millisecond))
}

func TestPersistentServerErrorIsTransient(t *testing.T) {
	t.Parallel()
	f := sourcesim.Fault{Source: sourcesim.SourceOdds, Kind: sourcesim.FaultServerError, Status: 500}
	e := newTestEnv(t, sourcesim.Config{Faults: []sourcesim.Fault{f}}, nil)
	_, err := e.run(t, "odds_api_player_props", gameDay)
	if err == nil || runner.IsPermanent(err) || !errors.Is(err, ErrRetryBudget) {
		t.Fatalf("err = %v; want a transient ErrRetryBudget", err)
	}
	var se *StatusError
	if !errors.As(err, &se) || se.Status != 500 || se.Endpoint != "/v4/historical/sports/basketball_nba/events" {
		t.Errorf("err = %v; want the last StatusError 500 naming the endpoint", err)
	}
	if n := len(e.requests(sourcesim.SourceOdds, "")); n != e.cfg.RetryAttempts {
		t.Errorf("%d requests, want SCRAPER_RETRY_ATTEMPTS = %d", n, e.cfg.RetryAttempts)
	}
	assertNoKeys(t, "error", err.Error())
	assertNoKeys(t, "log", e.logs.String())
	if !strings.Contains(e.logs.String(), "retrying source request") {
		t.Errorf("no retry warnings logged: %s", e.logs.String())
	}
}

func TestRejectedKeysArePermanent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		job, env, endpoint string
	}{
		{"bdl_games", "BDL_API_KEY", "/v1/games"},
		{"odds_api_player_props", "ODDS_API_KEY", "/v4/historical/sports/basketball_nba/events"},
	} {
		t.Run(tc.job, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t, sourcesim.Config{Keys: sourcesim.Keys{BDLKey: "the-right-bdl-key", OddsKey: "the-right-odds-key"}}, nil)
			_, err := e.run(t, tc.job, gameDay)
			if !runner.IsPermanent(err) {
				t.Fatalf("err = %v; want permanent", err)
			}
			var se *StatusError
			if !errors.As(err, &se) || se.Status != http.StatusUnauthorized || !strings.Contains(err.Error(), tc.endpoint) || !strings.Contains(err.Error(), tc.env) {
				t.Errorf("err = %v; want a 401 naming %s and %s", err, tc.endpoint, tc.env)
			}
			assertNoKeys(t, "error", err.Error())
		})
	}
}

func TestOddsCreditFloor(t *testing.T) {
	t.Parallel()
	t.Run("floor", func(t *testing.T) {
		t.Parallel()
		// 35 credits: the events list (1) and two snapshots (10 each) fit above a floor of 10;
		// the third snapshot would leave 4.
		e := newTestEnv(t, sourcesim.Config{OddsCredits: 35}, map[string]string{"ODDS_API_CREDIT_FLOOR": "10"})
		_, err := e.run(t, "odds_api_player_props", gameDay)
		if !runner.IsPermanent(err) || !errors.Is(err, ErrCreditFloor) || !strings.Contains(err.Error(), "ODDS_API_CREDIT_FLOOR is 10") {
			t.Fatalf("err = %v; want a permanent ErrCreditFloor naming the floor", err)
		}
		if rem, _ := e.sim.OddsCredits(); rem < 10 {
			t.Errorf("%d credits left; the floor of 10 was crossed", rem)
		}
	})
	t.Run("exhausted", func(t *testing.T) {
		t.Parallel()
		f := sourcesim.Fault{Source: sourcesim.SourceOdds, Kind: sourcesim.FaultCreditsExhausted}
		e := newTestEnv(t, sourcesim.Config{Faults: []sourcesim.Fault{f}}, nil)
		_, err := e.run(t, "odds_api_player_props", gameDay)
		var se *StatusError
		if !runner.IsPermanent(err) || !errors.As(err, &se) || se.Code != "OUT_OF_USAGE_CREDITS" || !strings.Contains(err.Error(), "credit budget") {
			t.Errorf("err = %v; want a permanent OUT_OF_USAGE_CREDITS naming the budget", err)
		}
	})
}

func TestOddsEventNotListedAtSnapshot(t *testing.T) {
	t.Parallel()
	// 100 hours before tip-off the simulator (like the real API) does not list the event yet:
	// those snapshots 404; the date still succeeds with the 5-minute snapshots.
	e := newTestEnv(t, sourcesim.Config{}, map[string]string{"ODDS_API_SNAPSHOT_OFFSETS": "100h 5m"})
	res := e.mustRun(t, "odds_api_player_props", gameDay)
	games, _ := e.sim.GamesOn(gameDay)
	if res.Metrics["snapshots_missing"] != int64(len(games)) || res.Metrics["snapshots"] != int64(len(games)) || len(res.Objects) != 1+len(games) {
		t.Errorf("metrics %v, %d objects; want %d missing and %d stored snapshots", res.Metrics, len(res.Objects), len(games), len(games))
	}
}

func TestBDLCursorPaging(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, sourcesim.Config{}, map[string]string{"BDL_PER_PAGE": "25"})
	res := e.mustRun(t, "bdl_player_boxscores", gameDay)
	rows := 0
	ids := map[int]bool{}
	for i, o := range res.Objects {
		if want := messages.ScrapedBDLPlayerBoxscores.Object(gameDay, messages.PagePart(i+1)); o.Name != want {
			t.Errorf("object %d is %s, want %s", i, o.Name, want)
		}
		var p struct {
			Data []struct {
				ID int `json:"id"`
			} `json:"data"`
		}
		if err := json.Unmarshal(e.read(t, o.Name), &p); err != nil {
			t.Fatal(err)
		}
		for _, r := range p.Data {
			if ids[r.ID] {
				t.Errorf("row %d appears on two pages", r.ID)
			}
			ids[r.ID] = true
		}
		rows += len(p.Data)
	}
	reqs := e.requests(sourcesim.SourceBDL, sourcesim.DatasetBDLStats)
	if len(res.Objects) < 3 || len(reqs) != len(res.Objects) || int64(rows) != res.Metrics["rows"] || (rows+24)/25 != len(res.Objects) {
		t.Errorf("%d rows on %d pages from %d requests (metric rows %d)", rows, len(res.Objects), len(reqs), res.Metrics["rows"])
	}
	for i, r := range reqs {
		if strings.Contains(r.Query, "cursor=") != (i > 0) {
			t.Errorf("request %d query %q: want a cursor on every page but the first", i, r.Query)
		}
	}
}

func TestIdenticalRewriteKeepsGeneration(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, sourcesim.Config{}, map[string]string{"BDL_PER_PAGE": "25"})
	for _, job := range []string{"bdl_player_boxscores", "nbac_schedule", "odds_api_player_props"} {
		first := e.mustRun(t, job, gameDay)
		second := e.mustRun(t, job, gameDay)
		if len(first.Objects) == 0 {
			t.Fatalf("%s: no objects", job)
		}
		if fmt.Sprint(first.Objects) != fmt.Sprint(second.Objects) {
			t.Errorf("%s: rewrite changed the objects:\nfirst  %v\nsecond %v", job, first.Objects, second.Objects)
		}
	}
	// A run with fewer pages removes the pages that no longer exist.
	jobs, _ := e.build(t, map[string]string{"BDL_PER_PAGE": "100"}, nil)
	res, err := scrape(t, jobs, "bdl_player_boxscores", gameDay)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.list(t, messages.ScrapedBDLPlayerBoxscores.Prefix(gameDay)); fmt.Sprint(got) != fmt.Sprint(names(res.Objects)) {
		t.Errorf("bucket holds %v after a run that wrote %v", got, names(res.Objects))
	}
}

// TestRateLimitAcrossWorkers is not parallel: it measures request spacing, which the other
// tests' CPU load would blur.
func TestRateLimitAcrossWorkers(t *testing.T) {
	const perSecond = 40
	e := newTestEnv(t, sourcesim.Config{}, map[string]string{
		"BDL_RATE_PER_MINUTE": fmt.Sprint(perSecond * 60), "BDL_BURST": "1", "BDL_PER_PAGE": "15",
	})
	sched, err := e.sim.Schedule(2024)
	if err != nil {
		t.Fatal(err)
	}
	var dates []string
	for _, g := range sched {
		if len(dates) == 0 || dates[len(dates)-1] != g.Date {
			dates = append(dates, g.Date)
		}
	}
	dates = dates[10:18]
	var wg sync.WaitGroup
	errs := make([]error, len(dates))
	for i, d := range dates {
		wg.Go(func() { _, errs[i] = e.run(t, "bdl_player_boxscores", d) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("worker %d (%s): %v", i, dates[i], err)
		}
	}
	reqs := e.requests(sourcesim.SourceBDL, "")
	// In any window of W a token bucket of rate r and burst b admits at most r·W+b requests;
	// the simulator logs arrivals, so allow 150ms worth of delay between sending and arriving
	// on a loaded machine. A limiter per worker instead of per process would show 8x the rate.
	const window, jitter = 2 * time.Second, perSecond * 150 / 1000
	worst := 0
	for i := range reqs {
		n := 0
		for j := i; j < len(reqs) && reqs[j].Time.Sub(reqs[i].Time) < window; j++ {
			n++
		}
		worst = max(worst, n)
	}
	span := reqs[len(reqs)-1].Time.Sub(reqs[0].Time)
	fmt.Printf("8 workers: %d BDL requests in %s (%.1f/s, configured %d/s, burst 1); busiest %s window %d (bound %d)\n",
		len(reqs), span.Round(time.Millisecond), float64(len(reqs)-1)/span.Seconds(), perSecond, window, worst, 2*perSecond+1+jitter)
	if len(reqs) < 3*perSecond {
		t.Fatalf("only %d requests; the test needs more than three seconds' worth", len(reqs))
	}
	if worst > 2*perSecond+1+jitter {
		t.Errorf("%d requests in %s; the configured rate is %d/s with burst 1", worst, window, perSecond)
	}
}

func TestKeysNeverLeak(t *testing.T) {
	t.Parallel()
	cfg := Config{BDLAPIKey: NewSecret(testBDLKey), OddsAPIKey: NewSecret(testOddsKey)}
	var buf testlog.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "cfg", cfg, "key", cfg.OddsAPIKey)
	for _, s := range []string{
		buf.String(), fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprint(cfg.BDLAPIKey),
	} {
		assertNoKeys(t, "formatted config", s)
	}
	if b, err := json.Marshal(cfg); err != nil || strings.Contains(string(b), testOddsKey) {
		t.Errorf("JSON of the config: %s, %v", b, err)
	}

	// A transport error carries the full URL, query and all: it must come back scrubbed.
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	e := newTestEnv(t, sourcesim.Config{}, nil)
	jobs, _ := e.build(t, map[string]string{"ODDS_API_BASE_URL": deadURL + "/odds"}, nil)
	_, err := scrape(t, jobs, "odds_api_player_props", gameDay)
	if err == nil || runner.IsPermanent(err) {
		t.Fatalf("err = %v; want a transient transport error", err)
	}
	if !strings.Contains(err.Error(), "apiKey="+redacted) {
		t.Errorf("err = %v; want the URL with apiKey=%s", err, redacted)
	}
	for e := error(err); e != nil; e = errors.Unwrap(e) {
		assertNoKeys(t, "error chain", e.Error())
	}
	assertNoKeys(t, "log", e.logs.String())
}

func TestMissingRouteIsPermanent(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, sourcesim.Config{}, nil)
	jobs, _ := e.build(t, map[string]string{"BDL_BASE_URL": e.url + "/bdl/v2"}, nil)
	_, err := scrape(t, jobs, "bdl_games", gameDay)
	var se *StatusError
	if !runner.IsPermanent(err) || !errors.As(err, &se) || se.Status != http.StatusNotFound || !strings.Contains(err.Error(), "/v1/games") {
		t.Errorf("err = %v; want a permanent 404 naming /v1/games", err)
	}
}

func TestConfigErrorsNameTheVariable(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, sourcesim.Config{}, nil)
	for env, val := range map[string]string{
		"BDL_BASE_URL":              "api.balldontlie.io",
		"ODDS_API_RATE_PER_MINUTE":  "0",
		"BDL_PER_PAGE":              "500",
		"ODDS_API_SNAPSHOT_OFFSETS": "5m -1h",
		"SCRAPER_RETRY_ATTEMPTS":    "0",
	} {
		t.Run(env, func(t *testing.T) {
			var cfg Config
			vars := testVars(e.url)
			vars[env] = val
			if err := envconfig.ProcessWith(context.Background(), &envconfig.Config{Target: &cfg, Lookuper: envconfig.MapLookuper(vars)}); err != nil {
				t.Fatal(err)
			}
			_, err := Jobs(cfg, Deps{Storage: e.storage, Bucket: testBucket})
			if err == nil || !strings.Contains(err.Error(), env) {
				t.Errorf("%s=%s: err = %v; want an error naming %s", env, val, err, env)
			}
		})
	}
}

func TestSlowResponseIsRetried(t *testing.T) {
	t.Parallel()
	// The first request outlasts the per-attempt timeout; the retry is answered at once.
	f := sourcesim.Fault{Source: sourcesim.SourceBDL, Dataset: sourcesim.DatasetBDLGames, Kind: sourcesim.FaultLatency, LatencyMS: 3000, First: 1}
	e := newTestEnv(t, sourcesim.Config{Faults: []sourcesim.Fault{f}}, map[string]string{"SCRAPER_REQUEST_TIMEOUT": "1s"})
	// Warm the schedule cache first: under the 1s timeout a cold season build could time out.
	e.mustRun(t, "nbac_schedule", gameDay)
	res := e.mustRun(t, "bdl_games", gameDay)
	if len(res.Objects) != 1 {
		t.Fatalf("objects %v", names(res.Objects))
	}
	reqs := e.requests(sourcesim.SourceBDL, sourcesim.DatasetBDLGames)
	if len(reqs) != 2 || reqs[0].Fault != sourcesim.FaultLatency || reqs[1].Status != http.StatusOK {
		t.Errorf("request log %+v; want a timed-out request then a 200", reqs)
	}
}
