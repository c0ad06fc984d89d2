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
//	nbac_gamebook          statsdmz.nba.com PDFs     messages.ScrapedNBACGamebooks
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
//   - games scheduled: an empty response, or box scores asked for while games are not yet
//     final, or an Odds API snapshot not yet taken, is a transient error (ErrEmptyWithGames,
//     ErrNotFinal, ErrNotYetAvailable): the runtime nacks and the subscription's attempt
//     limit bounds the retries. An empty response is never a partial result.
//
// # Missing games
//
// Every scraper of per-game data compares what the source delivered with the date's
// scheduled games, game by game (teams mapped by consumers/nba, so any spelling a source
// uses matches):
//
//	bdl_games              a game is missing when the games list has no game of its two teams
//	bdl_player_boxscores   when the stats have no row of one of its teams
//	nbac_player_boxscores  when the game log has no row of one of its teams
//	odds_api_player_props  when the events list does not list it, or none of its pre-tip
//	                       snapshots has a bookmaker line (not listed, or no bookmaker),
//	                       or one snapshot has lines and another none (EmptySnapshotsError;
//	                       the empty snapshot is then left out, never stored)
//	nbac_gamebook          when its book is not published (404): books appear 40 minutes to
//	                       a day and a half after the game; none published at all is
//	                       ErrEmptyWithGames
//
// A missing game is awaited, then recorded. Before PartialFromAttempt (the third attempt of
// the effort on the date, counting only the runs before it that ended: runner.RunInfo's
// Failures, so that a run whose consumer died, which may never have asked the source, is not
// taken for an answer) the run fails with a transient MissingGamesError
// (wrapping ErrIncomplete) that names the games by canonical id (YYYYMMDD_AWAY_HOME) and
// writes nothing, so the subscription retries with back-off and a late or glitching source
// delivers them. From that attempt on the source is no longer expected to: the run writes
// what the source has and succeeds with the games in Result.Missing, the date is recorded
// partial (its dependents run with what there is, the status grid names the games, and the
// next request for the date fetches again). The runtime's attempt bound
// (CONSUMER_MAX_ATTEMPTS, runner.DefaultMaxAttempts by default) is above it, so a game a
// source never delivers leaves the date partial, not dead. A run outside the runtime (no
// runner.Info) is attempt 0: it never records a game missing.
//
// The rule counts attempts, not hours, because the clock part is already decided before any
// comparison, by the source's own clock (the simulator's --sim-now locally): box scores wait
// for the schedule to show every game final (ErrNotFinal), the Odds API for each snapshot to
// exist (ErrNotYetAvailable), and the games list has its games before they are played. Past
// those, a game still absent is a source's
// omission that a retry may or may not mend, however long ago the game ended; a window in
// hours could only keep retrying until the attempt bound killed the date. The Odds API job
// checks the events list before buying any event's odds, so a retry for a game it leaves out
// costs one credit.
//
// It does not apply to nbac_schedule, which is the schedule the others compare with, nor to
// bdl_injuries, a league-wide report of players rather than of games.
//
// The schedule is the NBA.com CDN season document, the one nbac_schedule narrows to a date
// and stores as messages.ScrapedNBACSchedule. Each scraper reads it itself, cached in the
// process (Cache-Control max-age is honoured, the ETag revalidates afterwards), rather than
// the stored object: the scrapers are independent jobs of the first phase, so the object of
// the date may not be written yet, and its game states are as old as its last scrape.
//
// # Calling the sources
//
// Each source has one token bucket shared by every job and worker of the process (the
// Config rates default to the real plans), and one pause that a 429's Retry-After sets for
// all of them. Transient failures (network errors, timeouts, 5xx, 429, a 200 whose body does
// not parse) are retried with exponential backoff and jitter within a budget of attempts and
// elapsed time; past it the error wraps ErrRetryBudget and is transient, so the runtime nacks.
// A 401/403, a 404 on a route, and any other 4xx are runner.Permanent, naming the endpoint,
// except a game book's 404, which says the book is not published yet.
// API keys are Secret values: they never appear in errors (URLs are scrubbed) or logs.
//
// A game book is stored as served: a body that does not start like a PDF is a bad body
// (retried), one that does not end like a PDF is fetched again until three fetches in a row
// agree (a transfer cut short is followed by a complete one or differs, a file stored broken
// does not; two could be cut at the same point), and a book the host holds broken reaches
// the raw phase, which reports it permanently naming the object.
//
// The Odds API job reserves each call's credits before making it and stops with a permanent
// error wrapping ErrCreditFloor when the remaining credits would fall below the floor.
package scrapers
