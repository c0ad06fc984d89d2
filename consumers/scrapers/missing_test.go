package scrapers

import (
	"context"
	"errors"
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

// dropCase is a source dataset that leaves one scheduled game out, and the scraper that
// fetches it.
type dropCase struct {
	name, job, source, dataset string
	data                       messages.Scraped
}

var dropCases = []dropCase{
	{"bdl_games", "bdl_games", sourcesim.SourceBDL, sourcesim.DatasetBDLGames, messages.ScrapedBDLGames},
	{"bdl_player_boxscores", "bdl_player_boxscores", sourcesim.SourceBDL, sourcesim.DatasetBDLStats, messages.ScrapedBDLPlayerBoxscores},
	{"nbac_player_boxscores", "nbac_player_boxscores", sourcesim.SourceNBAStats, sourcesim.DatasetLeagueLog, messages.ScrapedNBACPlayerBoxscores},
	{"odds events list", "odds_api_player_props", sourcesim.SourceOdds, sourcesim.DatasetOddsEvents, messages.ScrapedOddsAPIPlayerProps},
	{"odds event props", "odds_api_player_props", sourcesim.SourceOdds, sourcesim.DatasetOddsEventOdds, messages.ScrapedOddsAPIPlayerProps},
	{"nbac_gamebook", "nbac_gamebook", sourcesim.SourceNBAStatsDMZ, sourcesim.DatasetGamebook, messages.ScrapedNBACGamebooks},
}

// dropEnv is a testEnv whose source leaves the last game of gameDay out of tc's dataset.
func dropEnv(t *testing.T, tc dropCase) (*testEnv, string) {
	t.Helper()
	e := newTestEnv(t, sourcesim.Config{}, nil)
	dropped := lastGame(t, e.sim, gameDay)
	if err := e.sim.SetFaults([]sourcesim.Fault{{Source: tc.source, Dataset: tc.dataset, Date: gameDay, Kind: sourcesim.FaultDropGame, GameID: dropped}}); err != nil {
		t.Fatal(err)
	}
	return e, dropped
}

// runAttempt runs a job as the runtime runs the given attempt of an effort.
func (e *testEnv) runAttempt(t testing.TB, job, date string, attempt int) (runner.Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(runner.WithInfo(context.Background(), runner.RunInfo{Attempt: attempt, Failures: max(attempt-1, 0)}), time.Minute)
	defer cancel()
	return e.jobs[job].Run(ctx, messages.Request{
		Version: messages.Version, Phase: messages.PhaseScrapers, Job: job, Date: date, RunID: "test-run",
		Trigger: messages.Trigger{Kind: messages.TriggerProducer}, Lane: messages.LaneBackfill,
	})
}

// TestMissingGameIsRetriedThenPartial: every scraper of per-game data compares what the
// source delivered with the schedule. A scheduled game left out fails the attempts before
// PartialFromAttempt transiently, naming the game and writing nothing; from that attempt
// the run succeeds with the other games' objects and the game in Result.Missing.
func TestMissingGameIsRetriedThenPartial(t *testing.T) {
	t.Parallel()
	for _, tc := range dropCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, dropped := dropEnv(t, tc)
			prefix := tc.data.Prefix(gameDay)
			for _, attempt := range []int{0, 1, PartialFromAttempt - 1} { // 0: outside the runtime
				res, err := e.runAttempt(t, tc.job, gameDay, attempt)
				var me *MissingGamesError
				if !errors.As(err, &me) || runner.IsPermanent(err) || !errors.Is(err, ErrIncomplete) {
					t.Fatalf("attempt %d: err = %v (result %+v); want a transient MissingGamesError", attempt, err, res)
				}
				if diff := cmp.Diff([]string{dropped}, me.Games); diff != "" || !strings.Contains(err.Error(), dropped) || me.Attempt != attempt {
					t.Errorf("attempt %d: error %q names games (-want +got):\n%s", attempt, err, diff)
				}
				if objs := e.list(t, prefix); len(objs) != 0 {
					t.Errorf("attempt %d wrote %v", attempt, objs)
				}
			}
			res, err := e.runAttempt(t, tc.job, gameDay, PartialFromAttempt)
			if err != nil {
				t.Fatalf("attempt %d: %v; want a partial result", PartialFromAttempt, err)
			}
			if diff := cmp.Diff([]string{dropped}, res.Missing); diff != "" || res.Empty || res.Metrics["games_missing"] != 1 {
				t.Errorf("attempt %d: Empty %v, games_missing %d, Missing (-want +got):\n%s", PartialFromAttempt, res.Empty, res.Metrics["games_missing"], diff)
			}
			if got := e.list(t, prefix); len(got) == 0 || !cmp.Equal(got, names(res.Objects)) {
				t.Errorf("partial objects %v, in the bucket %v; want the delivered games' objects", names(res.Objects), got)
			}
			if tc.job == "odds_api_player_props" {
				games, _ := e.sim.GamesOn(gameDay)
				if want := 1 + 2*(len(games)-1); len(res.Objects) != want {
					t.Errorf("%d objects, want %d: the events list and two snapshots of each game with lines", len(res.Objects), want)
				}
				for _, o := range res.Objects {
					if strings.Contains(o.Name, games[len(games)-1].OddsEventID) {
						t.Errorf("object %s of the game without lines", o.Name)
					}
				}
			}
		})
	}
}

// TestRunsThatNeverEndedDoNotCountTowardsPartial: the third attempt of a date whose second
// run's consumer died before it ended has seen the source leave the game out once, not
// twice: it still fails transiently, and the next run that ends records the date partial.
func TestRunsThatNeverEndedDoNotCountTowardsPartial(t *testing.T) {
	t.Parallel()
	tc := dropCases[0]
	e, dropped := dropEnv(t, tc)
	run := func(attempt, failures int) (runner.Result, error) {
		ctx, cancel := context.WithTimeout(runner.WithInfo(context.Background(), runner.RunInfo{Attempt: attempt, Failures: failures}), time.Minute)
		defer cancel()
		return e.jobs[tc.job].Run(ctx, messages.Request{Version: messages.Version, Phase: messages.PhaseScrapers, Job: tc.job, Date: gameDay,
			RunID: "test-run", Trigger: messages.Trigger{Kind: messages.TriggerReconcile}, Lane: messages.LaneBackfill})
	}
	var me *MissingGamesError
	if res, err := run(PartialFromAttempt, PartialFromAttempt-2); !errors.As(err, &me) || me.Attempt != PartialFromAttempt-1 {
		t.Fatalf("attempt %d after %d ended runs: err = %v (result %+v); want a transient MissingGamesError at answered attempt %d",
			PartialFromAttempt, PartialFromAttempt-2, err, res, PartialFromAttempt-1)
	}
	res, err := run(PartialFromAttempt+1, PartialFromAttempt-1)
	if err != nil || !cmp.Equal(res.Missing, []string{dropped}) {
		t.Fatalf("attempt %d after %d ended runs: %v, missing %v; want the date partial without %s", PartialFromAttempt+1, PartialFromAttempt-1, err, res.Missing, dropped)
	}
}

// TestMissingGameDeliveredLater: a source that leaves a game out on the first attempt and
// has it on the next gives a complete result, with nothing missing.
func TestMissingGameDeliveredLater(t *testing.T) {
	t.Parallel()
	for _, tc := range dropCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, dropped := dropEnv(t, tc)
			if _, err := e.runAttempt(t, tc.job, gameDay, 1); !errors.Is(err, ErrIncomplete) || !strings.Contains(err.Error(), dropped) {
				t.Fatalf("attempt 1: err = %v; want ErrIncomplete naming %s", err, dropped)
			}
			if err := e.sim.SetFaults(nil); err != nil {
				t.Fatal(err)
			}
			res, err := e.runAttempt(t, tc.job, gameDay, 2)
			if err != nil || len(res.Missing) != 0 || res.Metrics["games_missing"] != 0 || len(res.Objects) == 0 {
				t.Fatalf("attempt 2: err %v, missing %v, %d objects; want a complete result", err, res.Missing, len(res.Objects))
			}
			want := e.mustRun(t, tc.job, gameDay) // the same source, unfaulted
			if !cmp.Equal(names(want.Objects), names(res.Objects)) {
				t.Errorf("objects %v, a clean run writes %v", names(res.Objects), names(want.Objects))
			}
		})
	}
}

// TestOddsEmptySnapshotOfALinedGameIsRetriedThenPartial: The Odds API answering one
// snapshot of a game with no bookmaker while another snapshot of the game has lines (an
// empty 200) is not stored as a snapshot without lines. The attempts before
// PartialFromAttempt fail transiently, naming the snapshot and writing nothing; from that
// attempt the snapshot is left out and its game recorded missing; and a source that
// answers it again gives the complete result.
func TestOddsEmptySnapshotOfALinedGameIsRetriedThenPartial(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, sourcesim.Config{}, nil)
	games, err := e.sim.GamesOn(gameDay)
	if err != nil || len(games) < 2 {
		t.Fatalf("simulator date %s: %d games (%v); want several", gameDay, len(games), err)
	}
	// The scraper asks for the events' odds in event id order, earliest snapshot first: the
	// first request is the first snapshot of the game with the smallest event id.
	first := games[0]
	for _, g := range games {
		if g.OddsEventID < first.OddsEventID {
			first = g
		}
	}
	emptyFirst := func() {
		t.Helper()
		if err := e.sim.SetFaults([]sourcesim.Fault{{Source: sourcesim.SourceOdds, Dataset: sourcesim.DatasetOddsEventOdds,
			Date: gameDay, Kind: sourcesim.FaultEmpty, First: 1}}); err != nil {
			t.Fatal(err)
		}
	}
	prefix := messages.ScrapedOddsAPIPlayerProps.Prefix(gameDay)
	for _, attempt := range []int{0, 1, PartialFromAttempt - 1} {
		emptyFirst()
		res, err := e.runAttempt(t, "odds_api_player_props", gameDay, attempt)
		var ee *EmptySnapshotsError
		if !errors.As(err, &ee) || runner.IsPermanent(err) || !errors.Is(err, ErrIncomplete) {
			t.Fatalf("attempt %d: err = %v (result %+v); want a transient EmptySnapshotsError", attempt, err, res)
		}
		if len(ee.Snapshots) != 1 || !strings.HasPrefix(ee.Snapshots[0], first.GameID+" at ") || ee.Attempt != attempt {
			t.Errorf("attempt %d: error %q, want it to name one snapshot of %s", attempt, err, first.GameID)
		}
		if objs := slices.DeleteFunc(e.list(t, prefix), func(n string) bool { return strings.HasPrefix(n, ledger.SourcePrefix) }); len(objs) != 0 {
			t.Errorf("attempt %d wrote %v", attempt, objs)
		}
	}
	emptyFirst()
	res, err := e.runAttempt(t, "odds_api_player_props", gameDay, PartialFromAttempt)
	if err != nil {
		t.Fatalf("attempt %d: %v; want a partial result", PartialFromAttempt, err)
	}
	if diff := cmp.Diff([]string{first.GameID}, res.Missing); diff != "" || res.Metrics["games_missing"] != 1 {
		t.Errorf("attempt %d: games_missing %d, Missing (-want +got):\n%s", PartialFromAttempt, res.Metrics["games_missing"], diff)
	}
	// The events list and both snapshots of every game, but the empty one.
	if want := 1 + 2*len(games) - 1; len(res.Objects) != want {
		t.Errorf("%d objects, want %d: the empty snapshot left out, every other kept", len(res.Objects), want)
	}
	lines := 0
	for _, o := range res.Objects {
		if strings.Contains(o.Name, first.OddsEventID) {
			lines++
		}
	}
	if lines != 1 {
		t.Errorf("%d objects of %s's event, want its one snapshot with lines", lines, first.GameID)
	}

	if err := e.sim.SetFaults(nil); err != nil {
		t.Fatal(err)
	}
	res, err = e.runAttempt(t, "odds_api_player_props", gameDay, 1)
	if err != nil || len(res.Missing) != 0 || len(res.Objects) != 1+2*len(games) {
		t.Errorf("the source answering again: err %v, missing %v, %d objects; want all %d objects and nothing missing", err, res.Missing, len(res.Objects), 1+2*len(games))
	}
}

// TestOddsUnlistedGameCostsOneCredit: a game the events list leaves out is awaited before
// any event's odds are bought, so each retry costs the events list only.
func TestOddsUnlistedGameCostsOneCredit(t *testing.T) {
	t.Parallel()
	e, _ := dropEnv(t, dropCases[3])
	before, _ := e.sim.OddsCredits()
	for attempt := 1; attempt < PartialFromAttempt; attempt++ {
		if _, err := e.runAttempt(t, "odds_api_player_props", gameDay, attempt); !errors.Is(err, ErrIncomplete) {
			t.Fatalf("attempt %d: err = %v; want ErrIncomplete", attempt, err)
		}
	}
	after, _ := e.sim.OddsCredits()
	if n := len(e.requests(sourcesim.SourceOdds, sourcesim.DatasetOddsEventOdds)); n != 0 || before-after != oddsEventsCost*(PartialFromAttempt-1) {
		t.Errorf("%d event odds requests and %d credits over %d retried attempts; want none and %d", n, before-after, PartialFromAttempt-1, oddsEventsCost*(PartialFromAttempt-1))
	}
}

// TestMissingGameThroughTheRuntime: each scraper of per-game data, served by the consumer
// runtime. A source that never delivers one game leaves the date partial naming it after
// PartialFromAttempt runs, with no operator; one that delivers it on the second run leaves
// it succeeded.
func TestMissingGameThroughTheRuntime(t *testing.T) {
	t.Parallel()
	for _, tc := range dropCases {
		t.Run(tc.name+"/never", func(t *testing.T) {
			t.Parallel()
			e, dropped := dropEnv(t, tc)
			h := startRuntime(t, e, tc.job, nil)
			h.request(t, "never")
			rec := h.waitRecord(t, "partial", func(r ledger.Record) bool { return r.State == ledger.StatePartial })
			if diff := cmp.Diff([]string{dropped}, rec.Output.Missing); diff != "" || rec.Attempts != PartialFromAttempt {
				t.Errorf("attempts %d (want %d), missing (-want +got):\n%s", rec.Attempts, PartialFromAttempt, diff)
			}
			waitUntil(t, "the raw message", func() bool { return h.published(messages.PhaseRaw) == 1 })
			if n := h.deadLetters(); n != 0 {
				t.Errorf("%d dead letters", n)
			}
		})
		t.Run(tc.name+"/later", func(t *testing.T) {
			t.Parallel()
			e, _ := dropEnv(t, tc)
			h := startRuntime(t, e, tc.job, func(_ *runtimeHarness, run int, err error) {
				if run == 1 && err != nil {
					if err := e.sim.SetFaults(nil); err != nil {
						t.Error(err)
					}
				}
			})
			h.request(t, "later")
			rec := h.waitRecord(t, "succeeded", func(r ledger.Record) bool { return r.State == ledger.StateSucceeded })
			if len(rec.Output.Missing) != 0 || rec.Attempts != 2 || h.runs.Load() != 2 {
				t.Errorf("missing %v after %d attempts (%d runs); want nothing missing after 2", rec.Output.Missing, rec.Attempts, h.runs.Load())
			}
		})
	}
}
