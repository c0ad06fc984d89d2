// Package scrapers holds the phase-1 jobs: each fetches one source for one US Eastern game
// date and stores the raw response bodies in GCS for the raw phase to parse, under the
// object names that messages.Scraped declares for both phases:
//
//	nbac_schedule          NBA.com CDN schedule      messages.ScrapedNBACSchedule
//	nbac_player_boxscores  stats.nba.com gamelog     messages.ScrapedNBACPlayerBoxscores
//	bdl_games              Ball Don't Lie games      messages.ScrapedBDLGames
//	bdl_player_boxscores   Ball Don't Lie stats      messages.ScrapedBDLPlayerBoxscores
//	bdl_injuries           Ball Don't Lie injuries   messages.ScrapedBDLInjuries (today only)
//	odds_api_player_props  The Odds API historical   messages.ScrapedOddsAPIPlayerProps
//
// # What a run guarantees
//
// The objects under a job's date prefix are exactly those of its latest successful run:
// names are deterministic, an identical body is not rewritten (its generation is kept, so an
// unchanged scrape is an unchanged input downstream), and objects the run did not produce
// (a page that no longer exists) are deleted. Result.Objects lists every object with its
// generation.
//
// Whether "no rows" is a success is decided by the NBA.com schedule of that date, never by
// the source that came back empty, which may be a source not yet updated or broken
// (docs/lessons.md: empty is not done; an empty 200 on a game day is a failure):
//   - no games scheduled: success with Result.Empty, and no objects (the date prefix is
//     cleared; the source is not called, except for the injury report, which is kept when it
//     has rows), except nbac_schedule, which always writes its narrowed schedule (with no
//     gameDates entry on an off day) so that the raw phase can clear a day that lost its games;
//   - games scheduled: an empty response, or box scores covering fewer games than scheduled,
//     or games not yet final, is a transient error (ErrEmptyWithGames, ErrIncomplete,
//     ErrNotFinal): the runtime nacks and the subscription's attempt limit bounds the retries.
//
// The schedule is fetched from the CDN with conditional GETs and cached in the process
// (Cache-Control max-age is honoured, the ETag revalidates afterwards).
//
// # Calling the sources
//
// Each source has one token bucket shared by every job and worker of the process (the
// Config rates default to the real plans), and one pause that a 429's Retry-After sets for
// all of them. Transient failures (network errors, timeouts, 5xx, 429, a 200 whose body does
// not parse) are retried with exponential backoff and jitter within a budget of attempts and
// elapsed time; past it the error wraps ErrRetryBudget and is transient, so the runtime nacks.
// A 401/403, a 404 on a route, and any other 4xx are runner.Permanent, naming the endpoint.
// API keys are Secret values: they never appear in errors (URLs are scrubbed) or logs.
//
// The Odds API job reserves each call's credits before making it and stops with a permanent
// error wrapping ErrCreditFloor when the remaining credits would fall below the floor.
package scrapers
