package scrapers

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/infra/sourcesim"
	"github.com/nba-props/pipeline/messages"
)

func TestGameDay(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, sourcesim.Config{}, nil)
	games, err := e.sim.GamesOn(gameDay)
	if err != nil || len(games) == 0 {
		t.Fatalf("simulator has no games on %s: %v", gameDay, err)
	}
	today := messages.GameDate(simNow)
	todayGames, _ := e.sim.GamesOn(today)
	if len(todayGames) == 0 {
		t.Fatalf("simulator has no games today (%s); pick another clock", today)
	}
	props := messages.ScrapedOddsAPIPlayerProps.Prefix(gameDay)
	event := regexp.MustCompile(`^` + regexp.QuoteMeta(props) + `[0-9a-f]{32}-[A-Z]{6}/2024102[45]T\d{4}Z\.json$`)
	for _, tc := range []struct {
		job, date string
		data      messages.Scraped
		check     func(t *testing.T, names []string)
	}{
		{"nbac_schedule", gameDay, messages.ScrapedNBACSchedule, func(t *testing.T, names []string) {
			want := []string{messages.ScrapedNBACSchedule.Object(gameDay, messages.SchedulePart)}
			if diff := cmp.Diff(want, names); diff != "" {
				t.Errorf("objects (-want +got):\n%s", diff)
			}
			var doc struct {
				LeagueSchedule struct {
					SeasonYear string `json:"seasonYear"`
					GameDates  []struct {
						GameDate string            `json:"gameDate"`
						Games    []json.RawMessage `json:"games"`
					} `json:"gameDates"`
				} `json:"leagueSchedule"`
			}
			if err := json.Unmarshal(e.read(t, names[0]), &doc); err != nil {
				t.Fatal(err)
			}
			if n := len(doc.LeagueSchedule.GameDates); n != 1 || doc.LeagueSchedule.GameDates[0].GameDate != "10/24/2024 00:00:00" ||
				len(doc.LeagueSchedule.GameDates[0].Games) != len(games) || doc.LeagueSchedule.SeasonYear != "2024-25" {
				t.Errorf("schedule object: season %q, %d gameDates (want one, 10/24/2024 with %d games): %+v",
					doc.LeagueSchedule.SeasonYear, n, len(games), doc.LeagueSchedule.GameDates)
			}
		}},
		{"nbac_player_boxscores", gameDay, messages.ScrapedNBACPlayerBoxscores, func(t *testing.T, names []string) {
			want := []string{messages.ScrapedNBACPlayerBoxscores.Object(gameDay, messages.LeagueGameLogPart("Regular Season"))}
			if diff := cmp.Diff(want, names); diff != "" {
				t.Errorf("objects (-want +got):\n%s", diff)
			}
		}},
		{"bdl_games", gameDay, messages.ScrapedBDLGames, func(t *testing.T, names []string) {
			want := []string{messages.ScrapedBDLGames.Object(gameDay, messages.PagePart(1))}
			if diff := cmp.Diff(want, names); diff != "" {
				t.Errorf("objects (-want +got):\n%s", diff)
			}
		}},
		{"bdl_player_boxscores", gameDay, messages.ScrapedBDLPlayerBoxscores, func(t *testing.T, names []string) {
			if len(names) == 0 || names[0] != messages.ScrapedBDLPlayerBoxscores.Object(gameDay, messages.PagePart(1)) {
				t.Errorf("objects: %v, want page-0001.json first", names)
			}
		}},
		{"bdl_injuries", today, messages.ScrapedBDLInjuries, func(t *testing.T, names []string) {
			want := []string{messages.ScrapedBDLInjuries.Object(today, messages.InjuriesPart)}
			if diff := cmp.Diff(want, names); diff != "" {
				t.Errorf("objects (-want +got):\n%s", diff)
			}
		}},
		{"odds_api_player_props", gameDay, messages.ScrapedOddsAPIPlayerProps, func(t *testing.T, names []string) {
			// The events list plus two snapshots (60 and 5 minutes before tip) per game.
			if len(names) != 1+2*len(games) {
				t.Errorf("%d objects, want %d: %v", len(names), 1+2*len(games), names)
			}
			for _, n := range names {
				if !event.MatchString(n) && !(strings.HasPrefix(n, props) && messages.IsOddsEventsList(n)) {
					t.Errorf("object %s does not follow the layout", n)
				}
			}
		}},
	} {
		t.Run(tc.job, func(t *testing.T) {
			res := e.mustRun(t, tc.job, tc.date)
			if res.Empty {
				t.Errorf("Empty on a game day")
			}
			for _, o := range res.Objects {
				if o.Generation == 0 || o.Bucket != testBucket || o.Size == 0 {
					t.Errorf("object %+v: want bucket, generation and size", o)
				}
				if !json.Valid(e.read(t, o.Name)) {
					t.Errorf("object %s is not valid JSON", o.Name)
				}
			}
			got := names(res.Objects)
			if diff := cmp.Diff(got, e.list(t, tc.data.Prefix(tc.date))); diff != "" {
				t.Errorf("Result.Objects differ from the bucket (-result +bucket):\n%s", diff)
			}
			tc.check(t, got)
		})
	}
}

func TestOddsSnapshotsArePreTip(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, sourcesim.Config{}, nil)
	res := e.mustRun(t, "odds_api_player_props", gameDay)
	games, _ := e.sim.GamesOn(gameDay)
	tips := map[string]string{} // event id -> tip-off
	for _, g := range games {
		tips[g.OddsEventID] = g.Start.UTC().Format("20060102T1504Z")
	}
	for _, o := range res.Objects {
		rest := strings.TrimPrefix(o.Name, messages.ScrapedOddsAPIPlayerProps.Prefix(gameDay))
		id, snap, ok := strings.Cut(rest, "/")
		if !ok {
			continue
		}
		id = id[:32]
		if snap = strings.TrimSuffix(snap, ".json"); snap >= tips[id] {
			t.Errorf("%s: snapshot %s is not before tip-off %s", o.Name, snap, tips[id])
		}
	}
	if res.Metrics["odds_credits_used"] != int64(1+10*2*len(games)) {
		t.Errorf("odds_credits_used = %d, want %d (events + 10 per snapshot)", res.Metrics["odds_credits_used"], 1+10*2*len(games))
	}
	if rem, _ := e.sim.OddsCredits(); res.Metrics["odds_credits_remaining"] != int64(rem) {
		t.Errorf("odds_credits_remaining = %d, simulator says %d", res.Metrics["odds_credits_remaining"], rem)
	}
}

func TestOffDay(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, sourcesim.Config{}, nil)
	if g, _ := e.sim.GamesOn(offDay2); len(g) != 0 {
		t.Fatalf("%s has %d games in the simulator", offDay2, len(g))
	}
	for _, job := range []string{"nbac_player_boxscores", "bdl_games", "bdl_player_boxscores", "odds_api_player_props", "nbac_gamebook"} {
		t.Run(job, func(t *testing.T) {
			res := e.mustRun(t, job, offDay2)
			if !res.Empty || len(res.Objects) != 0 {
				t.Errorf("off day: Empty %v, objects %v; want Empty and no objects", res.Empty, names(res.Objects))
			}
		})
	}
	t.Run("nbac_schedule", func(t *testing.T) {
		res := e.mustRun(t, "nbac_schedule", offDay2)
		if !res.Empty || len(res.Objects) != 1 {
			t.Fatalf("off day: Empty %v, objects %v; want Empty and the narrowed schedule", res.Empty, names(res.Objects))
		}
		var doc struct {
			LeagueSchedule struct {
				GameDates []json.RawMessage `json:"gameDates"`
			} `json:"leagueSchedule"`
		}
		if err := json.Unmarshal(e.read(t, res.Objects[0].Name), &doc); err != nil || doc.LeagueSchedule.GameDates == nil || len(doc.LeagueSchedule.GameDates) != 0 {
			t.Errorf("off-day schedule: %v, gameDates %v; want an empty list", err, doc.LeagueSchedule.GameDates)
		}
	})
}

func TestInjuries(t *testing.T) {
	t.Parallel()
	t.Run("past date is permanent", func(t *testing.T) {
		t.Parallel()
		e := newTestEnv(t, sourcesim.Config{}, nil)
		_, err := e.run(t, "bdl_injuries", "2025-02-28")
		if !runner.IsPermanent(err) || !errors.Is(err, messages.ErrNotBackfillable) || !strings.Contains(err.Error(), "2025-03-01") {
			t.Errorf("err = %v; want a permanent ErrNotBackfillable naming today", err)
		}
		if n := len(e.requests(sourcesim.SourceBDL, "")); n != 0 {
			t.Errorf("%d BDL requests for a refused date", n)
		}
	})
	t.Run("empty report on an off day", func(t *testing.T) {
		t.Parallel()
		now := func() time.Time { return time.Date(2025, 2, 16, 17, 0, 0, 0, time.UTC) }
		e := newTestEnv(t, sourcesim.Config{Now: now, Faults: []sourcesim.Fault{{Source: sourcesim.SourceBDL, Dataset: sourcesim.DatasetBDLInjuries, Kind: sourcesim.FaultEmpty}}}, nil)
		res := e.mustRun(t, "bdl_injuries", offDay2)
		if !res.Empty || len(res.Objects) != 0 {
			t.Errorf("Empty %v, objects %v; want Empty and no objects", res.Empty, names(res.Objects))
		}
	})
	t.Run("report on an off day is kept", func(t *testing.T) {
		t.Parallel()
		now := func() time.Time { return time.Date(2025, 2, 16, 17, 0, 0, 0, time.UTC) }
		e := newTestEnv(t, sourcesim.Config{Now: now}, map[string]string{"BDL_PER_PAGE": "5"})
		res := e.mustRun(t, "bdl_injuries", offDay2)
		var doc struct {
			Data []json.RawMessage `json:"data"`
		}
		if len(res.Objects) != 1 || json.Unmarshal(e.read(t, res.Objects[0].Name), &doc) != nil {
			t.Fatalf("objects %v; want injuries.json", names(res.Objects))
		}
		if want := len(e.sim.InjuryReport()); len(doc.Data) != want || int64(want) != res.Metrics["rows"] || want <= 5 {
			t.Errorf("merged report has %d rows (metric %d); the simulator's has %d over several 5-row pages", len(doc.Data), res.Metrics["rows"], want)
		}
	})
}

func TestEmptyWithGamesIsNotSuccess(t *testing.T) {
	t.Parallel()
	today := messages.GameDate(simNow)
	for _, tc := range []struct {
		job, date, source, dataset string
	}{
		{"nbac_player_boxscores", gameDay, sourcesim.SourceNBAStats, sourcesim.DatasetLeagueLog},
		{"bdl_games", gameDay, sourcesim.SourceBDL, sourcesim.DatasetBDLGames},
		{"bdl_player_boxscores", gameDay, sourcesim.SourceBDL, sourcesim.DatasetBDLStats},
		{"bdl_injuries", today, sourcesim.SourceBDL, sourcesim.DatasetBDLInjuries},
		{"odds_api_player_props", gameDay, sourcesim.SourceOdds, ""},
	} {
		t.Run(tc.job, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t, sourcesim.Config{Faults: []sourcesim.Fault{{Source: tc.source, Dataset: tc.dataset, Kind: sourcesim.FaultEmpty}}}, nil)
			res, err := e.run(t, tc.job, tc.date)
			if err == nil || runner.IsPermanent(err) || !errors.Is(err, ErrEmptyWithGames) {
				t.Fatalf("err = %v (result %+v); want a transient ErrEmptyWithGames", err, res)
			}
			// Not even at the attempt that records missing games: nothing is not partial.
			if res, err := e.runAttempt(t, tc.job, tc.date, PartialFromAttempt); !errors.Is(err, ErrEmptyWithGames) {
				t.Fatalf("attempt %d: err = %v (result %+v); want ErrEmptyWithGames", PartialFromAttempt, err, res)
			}
			// The odds scraper's record of its credits (_sources/) is not data.
			if objs := slices.DeleteFunc(e.list(t, ""), func(n string) bool { return strings.HasPrefix(n, ledger.SourcePrefix) }); len(objs) != 0 {
				t.Errorf("objects written for an empty response: %v", objs)
			}
			// The source recovers: the next delivery succeeds with rows.
			if err := e.sim.SetFaults(nil); err != nil {
				t.Fatal(err)
			}
			if res := e.mustRun(t, tc.job, tc.date); res.Empty || len(res.Objects) == 0 {
				t.Errorf("after recovery: Empty %v, %d objects", res.Empty, len(res.Objects))
			}
		})
	}
}

func TestBoxScoresWaitForFinalGames(t *testing.T) {
	t.Parallel()
	// 20:00 Eastern on opening night: games are under way.
	now := func() time.Time { return time.Date(2024, 10, 23, 0, 0, 0, 0, time.UTC) }
	e := newTestEnv(t, sourcesim.Config{Now: now}, nil)
	for _, job := range []string{"bdl_player_boxscores", "nbac_player_boxscores"} {
		_, err := e.run(t, job, gameDay)
		if err == nil || runner.IsPermanent(err) || !errors.Is(err, ErrNotFinal) {
			t.Errorf("%s: err = %v; want a transient ErrNotFinal", job, err)
		}
	}
}

func TestPastSeasonScheduleFile(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, sourcesim.Config{}, nil)
	date := "2023-11-01"
	games, _ := e.sim.GamesOn(date)
	res := e.mustRun(t, "nbac_schedule", date)
	if res.Empty != (len(games) == 0) || res.Metrics["games"] != int64(len(games)) {
		t.Errorf("past season %s: Empty %v, games %d; simulator has %d", date, res.Empty, res.Metrics["games"], len(games))
	}
	var doc struct {
		LeagueSchedule struct {
			SeasonYear string `json:"seasonYear"`
		} `json:"leagueSchedule"`
	}
	if err := json.Unmarshal(e.read(t, res.Objects[0].Name), &doc); err != nil || doc.LeagueSchedule.SeasonYear != "2023-24" {
		t.Errorf("season %q (%v), want 2023-24", doc.LeagueSchedule.SeasonYear, err)
	}
}

func TestBadDateIsPermanent(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, sourcesim.Config{}, nil)
	for name := range e.jobs {
		if _, err := e.run(t, name, "TODAY"); !runner.IsPermanent(err) || !errors.Is(err, messages.ErrBadDate) {
			t.Errorf("%s: err = %v; want a permanent ErrBadDate", name, err)
		}
	}
}

func Example_preTip() {
	tip := time.Date(2024, 10, 22, 23, 30, 0, 0, time.UTC)
	for _, off := range []time.Duration{60 * time.Minute, 5 * time.Minute, 7 * time.Minute} {
		fmt.Println(off, preTip(tip, off).Format(time.RFC3339))
	}
	// Output:
	// 1h0m0s 2024-10-22T22:30:00Z
	// 5m0s 2024-10-22T23:25:00Z
	// 7m0s 2024-10-22T23:20:00Z
}

func TestScheduleIsCachedAndRevalidated(t *testing.T) {
	t.Parallel()
	t.Run("fresh copy is reused", func(t *testing.T) {
		t.Parallel()
		e := newTestEnv(t, sourcesim.Config{}, nil)
		for _, job := range []string{"nbac_schedule", "bdl_games", "nbac_player_boxscores"} {
			e.mustRun(t, job, gameDay)
		}
		if n := len(e.requests(sourcesim.SourceNBACDN, "")); n != 1 {
			t.Errorf("%d CDN requests for three jobs of one date; want 1 (Cache-Control max-age)", n)
		}
	})
	t.Run("stale copy is revalidated", func(t *testing.T) {
		t.Parallel()
		e := newTestEnv(t, sourcesim.Config{}, map[string]string{"NBA_CDN_SCHEDULE_MAX_AGE": "0s"})
		first := e.mustRun(t, "nbac_schedule", gameDay)
		second := e.mustRun(t, "nbac_schedule", gameDay)
		reqs := e.requests(sourcesim.SourceNBACDN, "")
		if len(reqs) != 2 || reqs[0].Status != http.StatusOK || reqs[1].Status != http.StatusNotModified {
			t.Errorf("CDN requests %+v; want 200 then 304", reqs)
		}
		if fmt.Sprint(first.Objects) != fmt.Sprint(second.Objects) {
			t.Errorf("objects changed across a 304: %v then %v", first.Objects, second.Objects)
		}
	})
}

func TestOddsSnapshotNotYetAvailable(t *testing.T) {
	t.Parallel()
	// At noon Eastern, tonight's pre-tip snapshots are in the future.
	e := newTestEnv(t, sourcesim.Config{}, nil)
	_, err := e.run(t, "odds_api_player_props", messages.GameDate(simNow))
	if err == nil || runner.IsPermanent(err) || !errors.Is(err, ErrNotYetAvailable) {
		t.Errorf("err = %v; want a transient ErrNotYetAvailable", err)
	}
}
