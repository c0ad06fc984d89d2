package reference_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nba-props/pipeline/consumers/runner"
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
		env := newRegistryEnv(t)
		for _, d := range order {
			env.Put(t, captures[d])
			if res := env.fold(t, d); res.Rows[d] == 0 {
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

// TestPlayerRegistryKeepsWhatItHad folds a date into a registry whose row for one of its
// players already holds other spellings and teams, an earlier first game, a later last game
// with its display name, and ids: the fold keeps all of it, adding the date's spellings and
// teams to the sorted sets.
func TestPlayerRegistryKeepsWhatItHad(t *testing.T) {
	t.Parallel()
	const date = "2024-11-13"
	env := newRegistryEnv(t)
	env.Put(t, warehousetest.Capture(t, warehousetest.Sim(time.Time{}), date))
	fold := func() { env.fold(t, date) }
	row := func(lookup string) map[string]any {
		rows := env.Query(t, "SELECT * EXCEPT (updated_at) FROM nba_reference.player_registry WHERE player_lookup = @p", map[string]any{"p": lookup})
		if len(rows) != 1 {
			t.Fatalf("%d registry rows for %s", len(rows), lookup)
		}
		return rows[0]
	}
	fold()
	lookup := env.Query(t, "SELECT MIN(player_lookup) AS p FROM nba_reference.player_registry", nil)[0]["p"].(string)
	before := row(lookup)
	env.Query(t, `UPDATE nba_reference.player_registry SET
  nbac_names = ARRAY_CONCAT(['Aaa Old Spelling'], nbac_names), bdl_names = ARRAY_CONCAT(bdl_names, ['Zzz Older']),
  teams = ARRAY_CONCAT(teams, ['AAA']), first_game_date = DATE '2024-10-22', last_game_date = DATE '2025-01-05',
  player_name = 'Kept Name', nba_player_id = 7, bdl_player_id = 8
WHERE player_lookup = @p`, map[string]any{"p": lookup})
	fold()
	got := row(lookup)
	want := map[string]any{}
	for k, v := range before {
		want[k] = v
	}
	with := func(list any, x string) []any {
		out := append([]any{x}, list.([]any)...)
		slices.SortFunc(out, func(a, b any) int { return strings.Compare(a.(string), b.(string)) })
		return out
	}
	want["nbac_names"] = with(before["nbac_names"], "Aaa Old Spelling")
	want["bdl_names"] = with(before["bdl_names"], "Zzz Older")
	want["teams"] = with(before["teams"], "AAA")
	want["first_game_date"], want["last_game_date"] = "2024-10-22", "2025-01-05"
	want["player_name"], want["nba_player_id"], want["bdl_player_id"] = "Kept Name", float64(7), float64(8)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("registry row %s after folding %s again (-want +got):\n%s", lookup, date, diff)
	}
}

// fold loads a date's box scores, whose objects are stored, into the raw tables and folds
// them into the player registry.
func (e *registryEnv) fold(t *testing.T, date string) runner.Result {
	t.Helper()
	ctx := context.Background()
	for _, j := range []string{"nbac_player_boxscores", "bdl_player_boxscores"} {
		if _, err := e.raw[j].Run(ctx, request(messages.PhaseRaw, j, date)); err != nil {
			t.Fatalf("raw %s %s: %v", j, date, err)
		}
	}
	res, err := e.ref["player_registry"].Run(ctx, request(messages.PhaseReference, "player_registry", date))
	if err != nil {
		t.Fatalf("player_registry %s: %v", date, err)
	}
	return res
}
