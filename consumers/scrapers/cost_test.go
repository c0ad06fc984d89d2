package scrapers

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/infra/sourcesim"
	"github.com/nba-props/pipeline/messages"
)

// TestDateCostMatchesWhatTheScrapersDo runs each scraper for a game day and an off day
// against the simulator and compares the requests and credits it spent with DateCost's
// estimate for the date's games (the schedule document aside). The BDL stats pages
// depend on the rows per game, so they may differ by a page.
func TestDateCostMatchesWhatTheScrapersDo(t *testing.T) {
	t.Parallel()
	for _, date := range []string{gameDay, offDay2} {
		for _, job := range []string{"nbac_schedule", "nbac_player_boxscores", "bdl_games", "bdl_player_boxscores", "odds_api_player_props", "nbac_gamebook"} {
			t.Run(job+" "+date, func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, sourcesim.Config{}, map[string]string{"BDL_PER_PAGE": "25"})
				games, err := e.sim.GamesOn(date)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := e.run(t, job, date); err != nil && len(games) > 0 {
					t.Fatalf("%s %s: %v", job, date, err)
				}
				got := map[string]float64{}
				credits := 0
				for _, r := range e.sim.Requests() {
					if r.Source != SourceNBACDN {
						got[r.Source]++
					}
					credits += r.Cost
				}
				est, err := e.cfg.DateCost(job, float64(len(games)))
				t.Logf("%d games: made %v, spent %d credits; estimated %v, %v credits", len(games), got, credits, est.Requests, est.Credits)
				if err != nil {
					t.Fatal(err)
				}
				for _, src := range Sources() {
					if src == SourceNBACDN {
						continue
					}
					slack := 0.0
					if job == "bdl_player_boxscores" && src == SourceBDL {
						slack = 1
					}
					if math.Abs(est.Requests[src]-got[src]) > slack {
						t.Errorf("%s requests: estimated %v, the scraper made %v (%d games)", src, est.Requests[src], got[src], len(games))
					}
				}
				if est.Credits != float64(credits) {
					t.Errorf("credits: estimated %v, the scraper spent %d (%d games)", est.Credits, credits, len(games))
				}
			})
		}
	}
}

func TestDateCostRefusesUnknownJobAndBadOffsets(t *testing.T) {
	t.Parallel()
	c := Config{BDLPerPage: 100, OddsSnapshotOffsets: "60m 5m"}
	if _, err := c.DateCost("nope", 5); !errors.Is(err, ErrNoCostModel) {
		t.Errorf("a job without a cost model: %v, want ErrNoCostModel", err)
	}
	c.OddsSnapshotOffsets = "soon"
	if _, err := c.DateCost("bdl_games", 5); err == nil {
		t.Error("ODDS_API_SNAPSHOT_OFFSETS=soon was accepted")
	}
}

func TestScheduleRequestsFollowTheMaxAge(t *testing.T) {
	t.Parallel()
	c := Config{NBACDNScheduleMaxAge: 5 * time.Minute}
	// One season, an hour: fetched once and revalidated twelve times, two documents each.
	if got := c.ScheduleRequests(1000, 1, time.Hour); got != 26 {
		t.Errorf("1 season over an hour: %v requests, want 26", got)
	}
	// Never more than each use asking for both documents.
	if got := c.ScheduleRequests(3, 1, time.Hour); got != 6 {
		t.Errorf("3 pairs: %v requests, want 6", got)
	}
	c.NBACDNScheduleMaxAge = 0
	if got := c.ScheduleRequests(10, 1, time.Hour); got != 20 {
		t.Errorf("no reuse: %v requests, want 20", got)
	}
}

// The odds scraper keeps the account's last known credits in the bucket, where producer
// plan reads them, after each date, and after a refused call too.
func TestOddsScraperRecordsItsCredits(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, sourcesim.Config{OddsCredits: 1000}, nil)
	l := ledger.New(e.storage, testBucket, ledger.Options{})
	ctx := context.Background()
	if _, err := l.SourceUsage(ctx, ledger.SourceOddsAPI); err == nil {
		t.Fatal("usage recorded before any call")
	}
	e.mustRun(t, "odds_api_player_props", gameDay)
	remaining, used := e.sim.OddsCredits()
	got, err := l.SourceUsage(ctx, ledger.SourceOddsAPI)
	if err != nil {
		t.Fatal(err)
	}
	if got.Remaining != remaining || got.Used != used || got.Observed.IsZero() {
		t.Errorf("recorded %+v, the source says %d remaining, %d used", got, remaining, used)
	}

	floor := newTestEnv(t, sourcesim.Config{OddsCredits: 30}, map[string]string{"ODDS_API_CREDIT_FLOOR": "25"})
	fl := ledger.New(floor.storage, testBucket, ledger.Options{})
	if _, err := floor.run(t, "odds_api_player_props", gameDay); err == nil {
		t.Fatal("a date over the credit floor succeeded")
	}
	if got, err := fl.SourceUsage(ctx, ledger.SourceOddsAPI); err != nil || got.Remaining != 29 {
		t.Errorf("after the floor refused a call: %+v, %v; want 29 remaining (the events list cost 1)", got, err)
	}
}

// Every scraper of the catalogue has a cost model, so a plan counts all of its requests.
func TestDateCostCoversTheCatalogue(t *testing.T) {
	t.Parallel()
	c := Config{BDLPerPage: 100, OddsSnapshotOffsets: "60m 5m"}
	for _, s := range messages.DefaultCatalog().InPhase(messages.PhaseScrapers) {
		if _, err := c.DateCost(s.Name, 7); err != nil {
			t.Errorf("%s: %v", s.Ref(), err)
		}
	}
}
