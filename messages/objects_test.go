package messages_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/nba-props/pipeline/messages"
)

// The names below are the ones already in every bucket: changing one orphans stored objects.
func ExampleScraped() {
	date := "2024-10-22"
	snap := time.Date(2024, 10, 22, 22, 55, 0, 0, time.UTC)
	fmt.Println(messages.ScrapedNBACSchedule.Object(date, messages.SchedulePart))
	fmt.Println(messages.ScrapedNBACPlayerBoxscores.Object(date, messages.LeagueGameLogPart("Regular Season")))
	fmt.Println(messages.ScrapedNBACPlayerBoxscores.Object(date, messages.LeagueGameLogPart("PlayIn")))
	fmt.Println(messages.ScrapedBDLGames.Object(date, messages.PagePart(1)))
	fmt.Println(messages.ScrapedBDLPlayerBoxscores.Object(date, messages.PagePart(12)))
	fmt.Println(messages.ScrapedBDLInjuries.Object(date, messages.InjuriesPart))
	fmt.Println(messages.ScrapedOddsAPIPlayerProps.Object(date, messages.OddsEventsPart(snap.Add(-7*time.Hour))))
	fmt.Println(messages.ScrapedOddsAPIPlayerProps.Object(date, messages.OddsEventPart("e1f2", "BOS", "NYK", snap.In(messages.Eastern))))
	fmt.Println(messages.ScrapedOddsAPIPlayerProps.Prefix(date))
	fmt.Println(messages.ScrapedNBACGamebooks.Object(date, messages.GamebookPart("NYK", "BOS")))
	// Output:
	// nba-com/schedule/2024-10-22/schedule.json
	// nba-com/player-boxscores/2024-10-22/leaguegamelog.json
	// nba-com/player-boxscores/2024-10-22/leaguegamelog-playin.json
	// ball-dont-lie/games/2024-10-22/page-0001.json
	// ball-dont-lie/player-boxscores/2024-10-22/page-0012.json
	// ball-dont-lie/injuries/2024-10-22/injuries.json
	// odds-api/player-props/2024-10-22/events-20241022T1555Z.json
	// odds-api/player-props/2024-10-22/e1f2-BOSNYK/20241022T2255Z.json
	// odds-api/player-props/2024-10-22/
	// nba-com/gamebooks/2024-10-22/NYKBOS.pdf
}

func TestIsOddsEventsList(t *testing.T) {
	snap := time.Date(2024, 10, 22, 16, 0, 0, 0, time.UTC)
	for name, want := range map[string]bool{
		messages.ScrapedOddsAPIPlayerProps.Object("2024-10-22", messages.OddsEventsPart(snap)): true,
		messages.OddsEventsPart(snap): true,
		messages.ScrapedOddsAPIPlayerProps.Object("2024-10-22", messages.OddsEventPart("ev", "BOS", "NYK", snap)): false,
		// An event id that happens to start with "events" is still an event's folder.
		messages.ScrapedOddsAPIPlayerProps.Object("2024-10-22", messages.OddsEventPart("events-x", "BOS", "NYK", snap)): false,
	} {
		if got := messages.IsOddsEventsList(name); got != want {
			t.Errorf("IsOddsEventsList(%q) = %v, want %v", name, got, want)
		}
	}
}
