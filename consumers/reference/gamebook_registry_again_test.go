package reference

import (
	"context"
	"slices"
	"testing"
	"time"

	"cloud.google.com/go/civil"
	"github.com/google/go-cmp/cmp"

	"github.com/nba-props/pipeline/consumers/raw"
	"github.com/nba-props/pipeline/infra/warehousetest"
	"github.com/nba-props/pipeline/messages"
)

// TestNamesToResolveAgain: the query of the season's names a run resolves again returns
// every name of the other dates that the registry resolved or could not resolve, and with
// each the player_lookups its book names itself for the team, the same as reading every
// row of those books gives.
func TestNamesToResolveAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := warehousetest.Start(t)
	rawJobs, err := raw.Jobs(raw.Deps{Storage: env.Storage, Bucket: env.Bucket, BigQuery: env.BigQuery})
	if err != nil {
		t.Fatal(err)
	}
	refJobs, err := Jobs(Deps{BigQuery: env.BigQuery})
	if err != nil {
		t.Fatal(err)
	}
	sim := warehousetest.Sim(time.Time{})
	dates := []string{"2024-11-13", "2024-11-14", "2024-11-15"}
	for _, d := range dates {
		env.Put(t, warehousetest.Capture(t, sim, d))
		for _, j := range []messages.JobRef{
			messages.Ref(messages.PhaseRaw, "nbac_schedule"), messages.Ref(messages.PhaseRaw, "nbac_player_boxscores"),
			messages.Ref(messages.PhaseRaw, "bdl_player_boxscores"), messages.Ref(messages.PhaseRaw, "nbac_gamebook_player_stats"),
			messages.Ref(messages.PhaseReference, "player_registry"), messages.Ref(messages.PhaseReference, "gamebook_registry"),
		} {
			jobs := rawJobs
			if j.Phase == messages.PhaseReference {
				jobs = refJobs
			}
			req := messages.Request{Version: messages.Version, Phase: j.Phase, Job: j.Job, Date: d, RunID: "test"}
			if _, err := jobs[j.Job].Run(ctx, req); err != nil {
				t.Fatalf("%s %s: %v", j, d, err)
			}
		}
	}

	day := civil.Date{Year: 2024, Month: time.November, Day: 13}
	season := map[string]any{"game_date": day, "from": civil.Date{Year: 2024, Month: time.October, Day: 1}, "to": civil.Date{Year: 2025, Month: time.September, Day: 30}}
	got, err := read[againRow](ctx, env.BigQuery, gamebookRegistryAgainSQL, season)
	if err != nil {
		t.Fatal(err)
	}
	all, err := read[registryRow](ctx, env.BigQuery, "SELECT * EXCEPT (updated_at) FROM nba_reference.gamebook_registry WHERE game_date BETWEEN @from AND @to AND game_date != @game_date ORDER BY game_date, game_id, entry", season)
	if err != nil {
		t.Fatal(err)
	}
	listed := listedIn(all)
	var want []againRow
	for _, r := range all {
		if res := r.Resolution.StringVal; res == resolvedRegistry || res == unresolved {
			var lookups []string
			for l := range listed[r.GameID+"/"+r.TeamAbbr.StringVal] {
				lookups = append(lookups, l)
			}
			slices.Sort(lookups)
			want = append(want, againRow{registryRow: r, Listed: lookups})
		}
	}
	if len(want) == 0 {
		t.Fatal("no name of the other dates was resolved by the registry or left unresolved: the test checks nothing")
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(againRow{})); diff != "" {
		t.Errorf("names to resolve again (-from every row of the books +query):\n%s", diff)
	}
}
