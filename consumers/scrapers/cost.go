package scrapers

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Source names, as requests, rate settings and errors call them.
const (
	SourceBDL      = "bdl"      // Ball Don't Lie (BDL_*)
	SourceOdds     = "odds"     // The Odds API (ODDS_API_*)
	SourceNBACDN   = "nbacdn"   // the NBA.com CDN schedule (NBA_CDN_*)
	SourceNBAStats = "nbastats" // stats.nba.com (NBA_STATS_*)
	// SourceNBAStatsDMZ is statsdmz.nba.com, the host of the game book PDFs (NBA_STATSDMZ_*).
	SourceNBAStatsDMZ = "nbastatsdmz"
)

// Sources lists every source in a stable order.
func Sources() []string {
	return []string{SourceBDL, SourceOdds, SourceNBAStats, SourceNBAStatsDMZ, SourceNBACDN}
}

// Averages for the counts a date's cost depends on that only the response tells.
const (
	// bdlStatsRowsPerGame is Ball Don't Lie's stats rows per game, both teams and players
	// who did not play included: 35,606 rows over the 1,230 games of 2024-25.
	bdlStatsRowsPerGame = 29
	// bdlInjuryRows is the length of a league injury report (60 to 150 players listed).
	bdlInjuryRows = 150
)

// ErrNoCostModel says DateCost does not know the job: a scraper added without its line
// there. A plan leaves its requests out and says so.
var ErrNoCostModel = errors.New("no cost model")

// DateCost is what one scraper job spends on one date, following what its Run does:
// requests per source (Sources) and The Odds API's credits. It is what a plan of a backfill
// counts before anything runs. Retries, the re-fetches of a game the source left out and
// the schedule document (ScheduleRequests) are not in it.
type DateCost struct {
	Requests map[string]float64
	Credits  float64
}

// DateCost estimates the cost of job (a scraper's name) for a date with games games (an
// average may be fractional), with this configuration's page size and snapshots.
func (c Config) DateCost(job string, games float64) (DateCost, error) {
	offsets, err := parseOffsets(c.OddsSnapshotOffsets)
	if err != nil {
		return DateCost{}, err
	}
	if c.BDLPerPage < 1 {
		return DateCost{}, fmt.Errorf("BDL_PER_PAGE=%d: want 1..100", c.BDLPerPage)
	}
	pages := func(rows float64) float64 { return max(1, math.Ceil(rows/float64(c.BDLPerPage))) }
	one := func(source string, n float64) DateCost { return DateCost{Requests: map[string]float64{source: n}} }
	switch job {
	case "nbac_schedule":
		return DateCost{}, nil // the schedule document only
	case "bdl_injuries":
		return one(SourceBDL, pages(bdlInjuryRows)), nil // the report is fetched on an off day too
	case "nbac_player_boxscores", "bdl_games", "bdl_player_boxscores", "odds_api_player_props", "nbac_gamebook":
		if games <= 0 {
			return DateCost{}, nil // an off day costs the schedule only
		}
	default:
		return DateCost{}, fmt.Errorf("%w for scraper %q: add it to scrapers.Config.DateCost", ErrNoCostModel, job)
	}
	switch job {
	case "nbac_player_boxscores":
		return one(SourceNBAStats, 1), nil // one game log per season type played: one on nearly every date
	case "bdl_games":
		return one(SourceBDL, pages(games)), nil
	case "bdl_player_boxscores":
		return one(SourceBDL, pages(games*bdlStatsRowsPerGame)), nil
	case "nbac_gamebook":
		return one(SourceNBAStatsDMZ, games), nil // one book per game
	}
	// One events list at the first game's last snapshot, then each game's odds at each
	// snapshot.
	snaps := games * float64(len(offsets))
	return DateCost{Requests: map[string]float64{SourceOdds: 1 + snaps}, Credits: oddsEventsCost + snaps*oddsEventOddsCost}, nil
}

// ScheduleRequests estimates the NBA.com CDN requests of a backfill: every scraper reads
// the season schedule, which a process fetches once and revalidates once per
// NBA_CDN_SCHEDULE_MAX_AGE (two documents for a season that is not the CDN's current one).
// pairs is the scraper (job, date) pairs, seasons the seasons they span, d how long the
// backfill lasts.
func (c Config) ScheduleRequests(pairs, seasons int, d time.Duration) float64 {
	perUse := float64(pairs * 2)
	if c.NBACDNScheduleMaxAge <= 0 {
		return perUse
	}
	return min(perUse, float64(seasons*2)*(1+math.Ceil(float64(d)/float64(c.NBACDNScheduleMaxAge))))
}

// Rate is one source's token bucket: its requests a minute and burst, per scraper
// process, set by the variables <Env>_RATE_PER_MINUTE and <Env>_BURST.
type Rate struct {
	Source    string
	Env       string
	PerMinute float64
	Burst     int
}

// Rates are the configured token buckets of every source the scrapers call.
func (c Config) Rates() []Rate {
	return []Rate{
		{SourceBDL, "BDL", c.BDLRatePerMinute, c.BDLBurst},
		{SourceOdds, "ODDS_API", c.OddsRatePerMinute, c.OddsBurst},
		{SourceNBACDN, "NBA_CDN", c.NBACDNRatePerMinute, c.NBACDNBurst},
		{SourceNBAStats, "NBA_STATS", c.NBAStatsRatePerMinute, c.NBAStatsBurst},
		{SourceNBAStatsDMZ, "NBA_STATSDMZ", c.NBAStatsDMZRatePerMinute, c.NBAStatsDMZBurst},
	}
}

// RatesPerMinute are the configured request rates of each source, per scraper process.
func (c Config) RatesPerMinute() map[string]float64 {
	out := map[string]float64{}
	for _, r := range c.Rates() {
		out[r.Source] = r.PerMinute
	}
	return out
}
