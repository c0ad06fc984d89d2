package messages

import (
	"fmt"
	"path"
	"strings"
	"time"
)

// Scraped names the GCS objects of one source dataset: what a scraper writes for a date and
// the raw job of that dataset reads back. It is the contract between phase 1 and phase 2,
// and this file is the only place that spells it:
//
//	<source>/<dataset>/<date>/<part>
//
// where date is the US Eastern game date (YYYY-MM-DD) and part is one object of the date.
// Every object of a date lives under Prefix(date) and nothing else does, so a raw job lists
// the prefix and reads every object there (a date can have several, one per page or per
// event). Renaming a prefix or a part orphans every object already in the bucket: it needs a
// data migration, not just a code change.
type Scraped string

// The scraped datasets, one per scraper job.
const (
	// ScrapedNBACSchedule is the NBA.com CDN season schedule narrowed to the date, one part
	// SchedulePart (written on off days too, with no games).
	ScrapedNBACSchedule Scraped = "nba-com/schedule"
	// ScrapedNBACPlayerBoxscores is stats.nba.com's player game log, one part per season
	// type played that day (LeagueGameLogPart).
	ScrapedNBACPlayerBoxscores Scraped = "nba-com/player-boxscores"
	// ScrapedBDLGames is Ball Don't Lie's games, one part per page (PagePart).
	ScrapedBDLGames Scraped = "ball-dont-lie/games"
	// ScrapedBDLPlayerBoxscores is Ball Don't Lie's player stats, one part per page (PagePart).
	ScrapedBDLPlayerBoxscores Scraped = "ball-dont-lie/player-boxscores"
	// ScrapedBDLInjuries is Ball Don't Lie's injury report of the day, every page merged into
	// one part InjuriesPart.
	ScrapedBDLInjuries Scraped = "ball-dont-lie/injuries"
	// ScrapedOddsAPIPlayerProps is The Odds API's historical player points props: one events
	// list (OddsEventsPart) and one object per (event, snapshot) (OddsEventPart).
	ScrapedOddsAPIPlayerProps Scraped = "odds-api/player-props"
	// ScrapedNBACGamebooks is NBA.com's official game book PDF (statsdmz.nba.com), one part
	// per game (GamebookPart), stored byte for byte as served.
	ScrapedNBACGamebooks Scraped = "nba-com/gamebooks"
)

// Prefix is the "folder" of one date, ending in "/": a scraper replaces everything under
// it, and the raw job reads everything under it. date must be a validated YYYY-MM-DD date.
func (s Scraped) Prefix(date string) string { return string(s) + "/" + date + "/" }

// Object is the name of one part of a date.
func (s Scraped) Object(date, part string) string { return s.Prefix(date) + part }

// Parts of the single-object datasets.
const (
	// SchedulePart is the one object of ScrapedNBACSchedule.
	SchedulePart = "schedule.json"
	// InjuriesPart is the one object of ScrapedBDLInjuries.
	InjuriesPart = "injuries.json"
)

// PagePart names the n-th page (1-based) of a paged source: page-0001.json. The zero
// padding keeps name order equal to page order.
func PagePart(n int) string { return fmt.Sprintf("page-%04d.json", n) }

// LeagueGameLogPart names the stats.nba.com game log of one season type: leaguegamelog.json
// for the regular season, leaguegamelog-<type>.json for another one played the same day
// ("PlayIn" gives leaguegamelog-playin.json).
func LeagueGameLogPart(seasonType string) string {
	if seasonType == "Regular Season" {
		return "leaguegamelog.json"
	}
	return "leaguegamelog-" + strings.ToLower(strings.ReplaceAll(seasonType, " ", "")) + ".json"
}

// GamebookPart names the game book of one game by its visitor's and home team's tricodes:
// NYKBOS.pdf (the date is the prefix's). A team plays at most one game a date, so the
// tricodes name the game.
func GamebookPart(away, home string) string { return away + home + ".pdf" }

// oddsSnapshotLayout is a snapshot instant in object names, always UTC: 20241022T2255Z.
const oddsSnapshotLayout = "20060102T1504Z"

const oddsEventsPrefix = "events-"

// OddsEventsPart names the events list taken at snapshot: events-20241022T1600Z.json.
func OddsEventsPart(snapshot time.Time) string {
	return oddsEventsPrefix + snapshot.UTC().Format(oddsSnapshotLayout) + ".json"
}

// OddsEventPart names the odds of one event at one snapshot, in a folder per event named
// after its id and its away and home tricodes: <event>-BOSNYK/20241022T2255Z.json.
func OddsEventPart(eventID, away, home string, snapshot time.Time) string {
	return eventID + "-" + away + home + "/" + snapshot.UTC().Format(oddsSnapshotLayout) + ".json"
}

// IsOddsEventsList reports whether an object name (a full name or a part) is an events list
// rather than the odds of one event.
func IsOddsEventsList(name string) bool { return strings.HasPrefix(path.Base(name), oddsEventsPrefix) }
