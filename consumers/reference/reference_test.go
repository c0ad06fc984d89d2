package reference_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nba-props/pipeline/consumers/raw"
	"github.com/nba-props/pipeline/consumers/reference"
	"github.com/nba-props/pipeline/infra/warehousetest"
	"github.com/nba-props/pipeline/messages"
)

func request(p messages.Phase, job, date string) messages.Request {
	return messages.Request{Version: messages.Version, Phase: p, Job: job, Date: date, RunID: "test"}
}

// TestPlayerRegistry folds three dates into the registry, in a shuffled order and with one
// date merged twice: one row per player_lookup, with the union of names and teams, the
// first and last game dates, and a universal id that depends on the lookup only; the same
// end state whatever the order.
func TestPlayerRegistry(t *testing.T) {
	t.Parallel()
	dates := []string{"2024-11-13", "2024-11-15", "2024-11-16"}
	sim := warehousetest.Sim(time.Time{})
	captures := map[string]map[string][]byte{}
	for _, d := range dates {
		captures[d] = warehousetest.Capture(t, sim, d)
	}
	registry := func(order []string) []map[string]any {
		env := warehousetest.Start(t)
		rawJobs, err := raw.Jobs(raw.Deps{Storage: env.Storage, Bucket: env.Bucket, BigQuery: env.BigQuery})
		if err != nil {
			t.Fatal(err)
		}
		jobs, err := reference.Jobs(reference.Deps{BigQuery: env.BigQuery})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		for _, d := range order {
			env.Put(t, captures[d])
			for _, j := range []string{"nbac_player_boxscores", "bdl_player_boxscores"} {
				if _, err := rawJobs[j].Run(ctx, request(messages.PhaseRaw, j, d)); err != nil {
					t.Fatalf("raw %s %s: %v", j, d, err)
				}
			}
			res, err := jobs["player_registry"].Run(ctx, request(messages.PhaseReference, "player_registry", d))
			if err != nil {
				t.Fatalf("player_registry %s: %v", d, err)
			}
			if res.Rows[d] == 0 {
				t.Errorf("player_registry %s touched no rows", d)
			}
		}
		rows := env.Query(t, "SELECT * EXCEPT (updated_at) FROM nba_reference.player_registry ORDER BY player_lookup", nil)
		return rows
	}
	forward := registry(dates)
	shuffled := registry([]string{"2024-11-16", "2024-11-13", "2024-11-16", "2024-11-15"})
	if diff := cmp.Diff(forward, shuffled); diff != "" {
		t.Errorf("the registry depends on the order of the dates (-in order +shuffled):\n%s", diff)
	}

	// Expected from the simulator's truth: every player who played on one of the dates.
	type entry struct {
		First, Last string
		Teams       map[string]bool
		Name        string
	}
	want := map[string]*entry{}
	for _, d := range dates {
		day, err := sim.Truth(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range day.Players {
			e := want[p.PlayerLookup]
			if e == nil {
				e = &entry{First: d, Teams: map[string]bool{}}
				want[p.PlayerLookup] = e
			}
			e.Last, e.Name = d, p.FullName
			e.Teams[p.TeamAbbr] = true
		}
	}
	if len(forward) != len(want) {
		t.Errorf("%d registry rows, want %d players", len(forward), len(want))
	}
	for _, r := range forward {
		lookup := r["player_lookup"].(string)
		e, ok := want[lookup]
		if !ok {
			t.Errorf("registry row %s is not a player of the dates", lookup)
			continue
		}
		teams := map[string]bool{}
		for _, x := range r["teams"].([]any) {
			teams[x.(string)] = true
		}
		got := entry{First: r["first_game_date"].(string), Last: r["last_game_date"].(string), Teams: teams, Name: r["player_name"].(string)}
		if diff := cmp.Diff(*e, got); diff != "" {
			t.Errorf("registry row %s (-truth +table):\n%s", lookup, diff)
		}
		if r["universal_player_id"] != lookup+"_001" {
			t.Errorf("universal_player_id of %s = %v", lookup, r["universal_player_id"])
		}
		if len(r["nbac_names"].([]any)) == 0 || len(r["bdl_names"].([]any)) == 0 {
			t.Errorf("registry row %s lacks the names of a source: %v / %v", lookup, r["nbac_names"], r["bdl_names"])
		}
	}
}
