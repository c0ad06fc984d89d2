package scrapers

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/storage"

	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/messages"
)

// Config is the scrapers' environment. Rates default to the real plans: Ball Don't Lie's
// GOAT tier (600 requests a minute), and conservative paces for The Odds API and NBA.com,
// which publish none. A rate is per process, whatever the number of workers.
type Config struct {
	BDLBaseURL       string  `env:"BDL_BASE_URL, default=https://api.balldontlie.io"`
	BDLAPIKey        Secret  `env:"BDL_API_KEY"`
	BDLRatePerMinute float64 `env:"BDL_RATE_PER_MINUTE, default=600"`
	BDLBurst         int     `env:"BDL_BURST, default=1"`
	// BDLPerPage is the page size of list calls (BDL allows at most 100).
	BDLPerPage int `env:"BDL_PER_PAGE, default=100"`

	OddsBaseURL       string  `env:"ODDS_API_BASE_URL, default=https://api.the-odds-api.com"`
	OddsAPIKey        Secret  `env:"ODDS_API_KEY"`
	OddsRatePerMinute float64 `env:"ODDS_API_RATE_PER_MINUTE, default=120"`
	OddsBurst         int     `env:"ODDS_API_BURST, default=1"`
	// OddsCreditFloor is the number of credits the scraper never spends: a call that would
	// leave fewer remaining fails permanently instead.
	OddsCreditFloor int `env:"ODDS_API_CREDIT_FLOOR, default=500"`
	// OddsSnapshotOffsets lists how long before each tip-off to take a snapshot, separated by
	// spaces ("60m 5m"); each is rounded down to the API's 5-minute grid, so every snapshot
	// is strictly before tip-off. Each costs 10 credits per event.
	OddsSnapshotOffsets string `env:"ODDS_API_SNAPSHOT_OFFSETS, default=60m 5m"`

	NBACDNBaseURL       string  `env:"NBA_CDN_BASE_URL, default=https://cdn.nba.com"`
	NBACDNRatePerMinute float64 `env:"NBA_CDN_RATE_PER_MINUTE, default=120"`
	NBACDNBurst         int     `env:"NBA_CDN_BURST, default=2"`
	// NBACDNScheduleMaxAge caps how long a fetched schedule is reused without asking the CDN
	// again (it also honours the response's Cache-Control max-age, whichever is shorter);
	// after that it is revalidated with If-None-Match. 0 revalidates on every use.
	NBACDNScheduleMaxAge  time.Duration `env:"NBA_CDN_SCHEDULE_MAX_AGE, default=5m"`
	NBAStatsBaseURL       string        `env:"NBA_STATS_BASE_URL, default=https://stats.nba.com"`
	NBAStatsRatePerMinute float64       `env:"NBA_STATS_RATE_PER_MINUTE, default=30"`
	NBAStatsBurst         int           `env:"NBA_STATS_BURST, default=1"`
	// NBAStatsDMZBaseURL is the host of NBA.com's official game book PDFs, one request per
	// game. It publishes no rate either: a file host, paced like the other NBA.com sources.
	NBAStatsDMZBaseURL       string  `env:"NBA_STATSDMZ_BASE_URL, default=https://statsdmz.nba.com"`
	NBAStatsDMZRatePerMinute float64 `env:"NBA_STATSDMZ_RATE_PER_MINUTE, default=60"`
	NBAStatsDMZBurst         int     `env:"NBA_STATSDMZ_BURST, default=1"`

	// Retries of one request: at most RetryAttempts attempts within RetryBudget, waiting
	// RetryBase, doubling up to RetryMaxDelay (with jitter) or as long as Retry-After says.
	RetryAttempts int           `env:"SCRAPER_RETRY_ATTEMPTS, default=5"`
	RetryBase     time.Duration `env:"SCRAPER_RETRY_BASE, default=500ms"`
	RetryMaxDelay time.Duration `env:"SCRAPER_RETRY_MAX_DELAY, default=20s"`
	RetryBudget   time.Duration `env:"SCRAPER_RETRY_BUDGET, default=60s"`
	// RequestTimeout bounds one attempt.
	RequestTimeout time.Duration `env:"SCRAPER_REQUEST_TIMEOUT, default=30s"`
}

// Deps are the clients the jobs use, built by the service main.
type Deps struct {
	HTTP    *http.Client // nil: a client without timeout (each attempt has its own deadline)
	Storage *storage.Client
	Bucket  string
	// Now is the clock used only to refuse bdl_injuries for any day but today (nil: time.Now).
	Now func() time.Time
	// Logger receives retry warnings (nil: discarded; the runtime logs each run's outcome).
	Logger *slog.Logger
}

// Jobs builds the scrapers, keyed by job name. They share one rate limiter per source and one
// schedule cache, so call it once per process.
func Jobs(cfg Config, deps Deps) (map[string]runner.Job, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	offsets, err := parseOffsets(cfg.OddsSnapshotOffsets)
	if err != nil {
		return nil, err
	}
	if deps.Storage == nil || deps.Bucket == "" {
		return nil, errors.New("scrapers: Deps.Storage and Deps.Bucket are required (set GCS_BUCKET)")
	}
	if deps.HTTP == nil {
		deps.HTTP = &http.Client{}
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	retry := retryPolicy{attempts: cfg.RetryAttempts, base: cfg.RetryBase, maxDelay: cfg.RetryMaxDelay,
		budget: cfg.RetryBudget, timeout: cfg.RequestTimeout}
	newSource := func(name, base string, perMinute float64, burst int) *source {
		return &source{name: name, base: strings.TrimRight(base, "/"), client: deps.HTTP,
			limit: newLimiter(perMinute, burst), retry: retry, log: deps.Logger}
	}

	bdlSrc := newSource(SourceBDL, cfg.BDLBaseURL, cfg.BDLRatePerMinute, cfg.BDLBurst)
	bdlSrc.keyEnv, bdlSrc.secrets = "BDL_API_KEY", []string{cfg.BDLAPIKey.Reveal()}
	bdlSrc.authorize = func(h http.Header, _ url.Values) {
		if cfg.BDLAPIKey.IsSet() {
			h.Set("Authorization", cfg.BDLAPIKey.Reveal())
		}
	}
	oddsSrc := newSource(SourceOdds, cfg.OddsBaseURL, cfg.OddsRatePerMinute, cfg.OddsBurst)
	oddsSrc.keyEnv, oddsSrc.secrets = "ODDS_API_KEY", []string{cfg.OddsAPIKey.Reveal()}
	oddsSrc.authorize = func(_ http.Header, q url.Values) {
		if cfg.OddsAPIKey.IsSet() {
			q.Set("apiKey", cfg.OddsAPIKey.Reveal())
		}
	}
	odds := &oddsAPI{src: oddsSrc, floor: cfg.OddsCreditFloor, usage: ledger.New(deps.Storage, deps.Bucket, ledger.Options{})}
	oddsSrc.observe = odds.observe
	cdnSrc := newSource(SourceNBACDN, cfg.NBACDNBaseURL, cfg.NBACDNRatePerMinute, cfg.NBACDNBurst)
	statsSrc := newSource(SourceNBAStats, cfg.NBAStatsBaseURL, cfg.NBAStatsRatePerMinute, cfg.NBAStatsBurst)
	statsSrc.header = statsHeaders()
	dmzSrc := newSource(SourceNBAStatsDMZ, cfg.NBAStatsDMZBaseURL, cfg.NBAStatsDMZRatePerMinute, cfg.NBAStatsDMZBurst)
	dmzSrc.header = http.Header{"User-Agent": statsHeaders()["User-Agent"], "Accept": {"application/pdf"}}

	cdn := newNBACDN(cdnSrc, cfg.NBACDNScheduleMaxAge)
	out := objects{client: deps.Storage, bucket: deps.Bucket}
	ball := &bdl{src: bdlSrc, perPage: cfg.BDLPerPage}
	return map[string]runner.Job{
		"nbac_schedule":         nbacSchedule{cdn: cdn, out: out},
		"nbac_player_boxscores": nbacPlayerBoxscores{cdn: cdn, stats: &nbaStats{src: statsSrc}, out: out},
		"bdl_games":             bdlGames{cdn: cdn, bdl: ball, out: out},
		"bdl_player_boxscores":  bdlPlayerBoxscores{cdn: cdn, bdl: ball, out: out},
		"bdl_injuries":          bdlInjuries{cdn: cdn, bdl: ball, out: out, now: deps.Now},
		"odds_api_player_props": oddsAPIPlayerProps{cdn: cdn, odds: odds, out: out, offsets: offsets},
		"nbac_gamebook":         nbacGamebook{cdn: cdn, dmz: &nbaStatsDMZ{src: dmzSrc}, out: out},
	}, nil
}

func (c Config) validate() error {
	var errs []error
	for _, u := range []struct{ env, v string }{
		{"BDL_BASE_URL", c.BDLBaseURL}, {"ODDS_API_BASE_URL", c.OddsBaseURL},
		{"NBA_CDN_BASE_URL", c.NBACDNBaseURL}, {"NBA_STATS_BASE_URL", c.NBAStatsBaseURL},
		{"NBA_STATSDMZ_BASE_URL", c.NBAStatsDMZBaseURL},
	} {
		p, err := url.Parse(u.v)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			errs = append(errs, fmt.Errorf("%s=%q: want an http(s) base URL such as https://api.example.com", u.env, u.v))
		}
	}
	for _, r := range c.Rates() {
		if r.PerMinute <= 0 || r.Burst < 1 {
			errs = append(errs, fmt.Errorf("%s_RATE_PER_MINUTE=%v and %s_BURST=%d: want a rate > 0 and a burst >= 1", r.Env, r.PerMinute, r.Env, r.Burst))
		}
	}
	if c.BDLPerPage < 1 || c.BDLPerPage > 100 {
		errs = append(errs, fmt.Errorf("BDL_PER_PAGE=%d: want 1..100", c.BDLPerPage))
	}
	if c.NBACDNScheduleMaxAge < 0 {
		errs = append(errs, fmt.Errorf("NBA_CDN_SCHEDULE_MAX_AGE=%s: want >= 0", c.NBACDNScheduleMaxAge))
	}
	if c.OddsCreditFloor < 0 {
		errs = append(errs, fmt.Errorf("ODDS_API_CREDIT_FLOOR=%d: want >= 0", c.OddsCreditFloor))
	}
	if c.RetryAttempts < 1 || c.RetryBase <= 0 || c.RetryMaxDelay < c.RetryBase || c.RetryBudget <= 0 || c.RequestTimeout <= 0 {
		errs = append(errs, fmt.Errorf("SCRAPER_RETRY_ATTEMPTS=%d, SCRAPER_RETRY_BASE=%s, SCRAPER_RETRY_MAX_DELAY=%s, SCRAPER_RETRY_BUDGET=%s, SCRAPER_REQUEST_TIMEOUT=%s: want attempts >= 1, positive durations and max delay >= base",
			c.RetryAttempts, c.RetryBase, c.RetryMaxDelay, c.RetryBudget, c.RequestTimeout))
	}
	if len(errs) > 0 {
		return fmt.Errorf("scrapers config: %w", errors.Join(errs...))
	}
	return nil
}

// parseOffsets reads ODDS_API_SNAPSHOT_OFFSETS: positive durations, largest first, distinct.
func parseOffsets(v string) ([]time.Duration, error) {
	var out []time.Duration
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ',' || r == ';' }) {
		d, err := time.ParseDuration(f)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("ODDS_API_SNAPSHOT_OFFSETS=%q: %q is not a positive duration such as 5m", v, f)
		}
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("ODDS_API_SNAPSHOT_OFFSETS=%q: want at least one duration such as \"60m 5m\"", v)
	}
	slices.SortFunc(out, func(a, b time.Duration) int { return cmp.Compare(b, a) })
	return out, nil
}

// requestDate validates the message's date; a bad one is permanent.
func requestDate(req messages.Request) (time.Time, error) {
	d, err := messages.ParseDate(req.Date)
	if err != nil {
		return time.Time{}, runner.Permanent(fmt.Errorf("scrapers/%s: %w", req.Job, err))
	}
	return d, nil
}

// offDay is the result of a date without games: the date prefix is cleared (a date that lost
// its games keeps no stale objects) and the run is recorded as empty.
func offDay(ctx context.Context, out objects, prefix string, metrics map[string]int64) (runner.Result, error) {
	if err := out.prune(ctx, prefix, nil); err != nil {
		return runner.Result{}, err
	}
	return runner.Result{Empty: true, Metrics: metrics}, nil
}

// publish writes bodies (name -> bytes) under prefix and removes anything else there.
func publish(ctx context.Context, out objects, prefix string, names []string, bodies [][]byte) ([]runner.Object, error) {
	objs := make([]runner.Object, 0, len(names))
	for i, n := range names {
		o, err := out.put(ctx, prefix+n, bodies[i])
		if err != nil {
			return nil, err
		}
		objs = append(objs, o)
	}
	if err := out.prune(ctx, prefix, objs); err != nil {
		return nil, err
	}
	sortObjects(objs)
	return objs, nil
}

// notFinal counts the games that are not final.
func notFinal(games []scheduledGame) int {
	n := 0
	for _, g := range games {
		if !g.final() {
			n++
		}
	}
	return n
}
