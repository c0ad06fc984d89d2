// Package sourcesim simulates the external sports APIs the scrapers read: a deterministic
// synthetic NBA league (the 30 real franchises, generated rosters and seasons) served over
// HTTP in the shapes of Ball Don't Lie v1, The Odds API v4 (historical) and NBA.com (CDN
// schedule and stats leaguegamelog), with the real sources' traps, injectable faults, and a
// ground-truth oracle computed from the simulator's own model.
//
// # Routes
//
// One handler serves every source under a base path; a scraper's base URL for a source is
// the server URL plus that path (for example BDL_BASE_URL=http://127.0.0.1:8090/bdl).
//
//	GET /bdl/v1/games?dates[]=YYYY-MM-DD[&dates[]=...][&seasons[]=2024][&per_page=N&cursor=C]
//	GET /bdl/v1/stats?dates[]=YYYY-MM-DD&per_page=100[&cursor=C]
//	GET /bdl/v1/player_injuries[?per_page=N&cursor=C]
//	    Header "Authorization: <Keys.BDLKey>". per_page defaults to 25 and is capped at 100;
//	    meta.next_cursor is present while more rows follow (pass it back as cursor).
//	GET /odds/v4/historical/sports/basketball_nba/events?date=<RFC3339>&apiKey=K
//	GET /odds/v4/historical/sports/basketball_nba/events/<id>/odds?markets=player_points&regions=us&date=<RFC3339>&apiKey=K[&oddsFormat=american]
//	    Prices are DECIMAL by default, as in the real API; pass oddsFormat=american for
//	    American integers. Credits: 1 for an events call that lists events, 10 per region per
//	    market for event odds with bookmakers, 0 otherwise; headers x-requests-remaining,
//	    x-requests-used, x-requests-last on every response.
//	GET /nbacdn/static/json/staticData/scheduleLeagueV2.json[?season=2024|2024-25]
//	GET /nbacdn/static/json/staticData/scheduleLeagueV2_2024.json
//	    Without a season: the season of Config.Now. ETag, and 304 on a matching If-None-Match.
//	GET /nbastats/stats/leaguegamelog?PlayerOrTeam=P&DateFrom=MM/DD/YYYY&DateTo=MM/DD/YYYY&Season=2024-25&SeasonType=Regular+Season
//	GET /nbastatsdmz/pdfs/YYYYMMDD/YYYYMMDD_AWAYHOME_book.pdf
//	    The official game book (statsdmz.nba.com): 404 until it is published, 40 minutes to a
//	    day and a half after the game; Gamebooks gives what each book says and its traps.
//
// Control endpoints (no key):
//
//	GET|POST|DELETE /_sim/faults      the installed faults (POST a JSON array to replace them;
//	                                  a field Fault does not have is a 400 naming it)
//	GET|DELETE      /_sim/requests    the request log (DELETE clears it)
//	GET             /_sim/truth?date=YYYY-MM-DD
//	GET             /_sim/truth/gamebooks?date=YYYY-MM-DD
//	GET             /_sim/schedule?season=2024
//	GET|POST        /_sim/credits[?remaining=N]
//
// # The league
//
// Seasons are named by their start year (2024 = 2024-25, BDL's "season"). Any season from
// FirstSeason to LastSeason is generated on first use by the same rules: opening night on
// the Tuesday between October 18 and 24, the last day 173 days later, no games on
// Thanksgiving, Christmas Eve or during the All-Star break (Friday before the third Sunday of
// February to the Wednesday after; 2025-02-14..2025-02-19), 1,230 games with 41 home and 41
// away per team. For 2024 this gives 2024-10-22..2025-04-13 over 166 game dates.
// Games are final once about 2 h 15 min (plus 20 min per overtime) have passed since tip-off
// at Config.Now; before that sources show them scheduled or in progress and serve no stats.
//
// # Traps reproduced
//
//   - NBA.com gameDateTimeEst / gameTimeEst / gameDateEst / *TeamTime end in "Z" but are
//     local wall-clock times (Eastern, or the team's own zone for *TeamTime).
//   - BDL game.date is the Eastern date, game.datetime is UTC and is the next day for every
//     tip-off from 7 pm Eastern (8 pm during daylight saving time) on.
//   - Team codes: NBA.com and BDL use NBA tricodes (BKN, PHX, CHA, GSW, NOP, SAS, UTA, WAS),
//     as the real BDL does; The Odds API uses full names, with both "Los Angeles Clippers" and
//     "LA Clippers" on different events.
//   - Game ids: NBA.com "0022400001", BDL integers, Odds API hex ids; the canonical key is
//     YYYYMMDD_AWAY_HOME.
//   - Names: NBA.com keeps accents, apostrophes and suffixes ("Jalen MacArthur Jr.",
//     "Goran Müller"); BDL folds accents and keeps the suffix in last_name; The Odds API folds
//     accents and, per player, drops the suffix, drops its period, drops periods of initials
//     or uses a typographic apostrophe. player_lookup is the same for all of them.
//   - BDL stats include players who dressed but did not play (min "00"); NBA.com does not.
//     BDL player.team_id is the player's team now, not necessarily the game's team.
//   - leaguegamelog shooting percentages are null without attempts.
//   - Odds snapshots after tip-off carry in-game lines that differ from the closing lines;
//     player props exist only from PropsStart (earlier snapshots have no bookmakers).
//   - Bookmakers post pre-tip lines for some questionable players (day-to-day on the injury
//     report) who then do not play: a late scratch, whose line is void.
//   - The injury report exists only for Config.Now's date.
//
// # Faults
//
// See Fault: 429 with Retry-After, 5xx, latency, truncated JSON, empty 200s, a game left
// out (drop_game) and exhausted Odds API credits, per source, dataset and date, for the
// first N matching requests or a seeded share of them, set in Config.Faults, with SetFaults,
// or over /_sim/faults, for example:
//
//	curl -X POST localhost:8090/_sim/faults -d '[{"source":"bdl","dataset":"stats","date":"2024-11-05","kind":"empty"}]'
//
// Games become final as Config.Now passes them, so a test that advances its Now sees a date
// first without stats and later with them.
//
// # Ground truth
//
// Truth(date) gives the games, team totals, every player row with its stats, the expected
// player_lookup, the consensus closing points line and the OVER/UNDER/PUSH result.
// It also gives each team's defensive game (Defense: the opponent's totals and the pace) and
// the void lines (VoidLines: a late scratch, a player with a closing line who did not play,
// which bookmakers post for some questionable players). Gamebooks(date) gives what each game
// book prints, who each name is and whether the book and the date's box scores can tell it,
// and GamebookRegistry(from, to) the game book registry a backfill of a range must end with.
// PropLines(event, at) gives the lines a snapshot serves (the rows of a raw odds table) and
// InjuryReport the current report. All are computed from the model, never from the served
// JSON or pipeline code. Closing lines stop moving 30 minutes before tip-off, so any
// snapshot in the last half hour before tip-off sees them.
//
// # Rate limits
//
// Config.RateLimits caps requests per wall-clock minute per source, answering 429 with
// Retry-After past the cap, so a test can check that a client paces itself.
package sourcesim
