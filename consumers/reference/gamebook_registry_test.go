package reference_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nba-props/pipeline/consumers/raw"
	"github.com/nba-props/pipeline/consumers/reference"
	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/infra/sourcesim"
	"github.com/nba-props/pipeline/infra/warehousetest"
	"github.com/nba-props/pipeline/messages"
)

// registryEnv is a warehouse with the raw and reference jobs.
type registryEnv struct {
	*warehousetest.Env
	raw, ref map[string]runner.Job
}

func newRegistryEnv(t *testing.T) *registryEnv {
	t.Helper()
	env := warehousetest.Start(t)
	rawJobs, err := raw.Jobs(raw.Deps{Storage: env.Storage, Bucket: env.Bucket, BigQuery: env.BigQuery})
	if err != nil {
		t.Fatal(err)
	}
	refJobs, err := reference.Jobs(reference.Deps{BigQuery: env.BigQuery})
	if err != nil {
		t.Fatal(err)
	}
	return &registryEnv{Env: env, raw: rawJobs, ref: refJobs}
}

// day runs, for one date whose objects are stored, the raw jobs the registries read and then
// both registries, as the catalogue orders them.
func (e *registryEnv) day(t *testing.T, date string) runner.Result {
	t.Helper()
	ctx := context.Background()
	e.fold(t, date) // the box scores first: the game books' raw job reads them
	for _, j := range []string{"nbac_schedule", "nbac_gamebook_player_stats"} {
		if _, err := e.raw[j].Run(ctx, request(messages.PhaseRaw, j, date)); err != nil {
			t.Fatalf("raw %s %s: %v", j, date, err)
		}
	}
	res, err := e.ref["gamebook_registry"].Run(ctx, request(messages.PhaseReference, "gamebook_registry", date))
	if err != nil {
		t.Fatalf("gamebook_registry %s: %v", date, err)
	}
	return res
}

// rows is the registry's content without updated_at, in key order.
func (e *registryEnv) rows(t *testing.T) []map[string]any {
	t.Helper()
	return e.Query(t, "SELECT * EXCEPT (updated_at, source_file_path) FROM nba_reference.gamebook_registry ORDER BY game_date, game_id, entry", nil)
}

// TestGamebookRegistry loads three dates in order, and again in a shuffled order with one
// date twice: the same rows either way, equal to the simulator's registry truth. Every game
// has a row; every name of every book has one, with the player_lookup the range can tell,
// and the names nothing resolves listed with a NULL player_lookup.
func TestGamebookRegistry(t *testing.T) {
	t.Parallel()
	from, to := "2024-11-13", "2024-11-15"
	dates, err := messages.DateRange(from, to)
	if err != nil {
		t.Fatal(err)
	}
	sim := warehousetest.Sim(time.Time{})
	captures := map[string]map[string][]byte{}
	for _, d := range dates {
		captures[d] = warehousetest.Capture(t, sim, d)
	}
	run := func(order []string) ([]map[string]any, map[string]runner.Result) {
		e := newRegistryEnv(t)
		results := map[string]runner.Result{}
		for _, d := range order {
			e.Put(t, captures[d])
			results[d] = e.day(t, d)
		}
		// A date run again on the same tables changes nothing, not even updated_at.
		stamp := func() []map[string]any {
			return e.Query(t, "SELECT COUNT(*) AS n, MAX(updated_at) AS last FROM nba_reference.gamebook_registry", nil)
		}
		before := stamp()
		again := e.day(t, order[0])
		if diff := cmp.Diff(before, stamp()); diff != "" || again.Metrics["other_dates_changed"] != 0 {
			t.Errorf("%s run again changed the table (%v other rows changed): %s", order[0], again.Metrics["other_dates_changed"], diff)
		}
		return e.rows(t), results
	}
	forward, results := run(dates)
	shuffled, _ := run([]string{dates[2], dates[0], dates[2], dates[1]})
	if diff := cmp.Diff(forward, shuffled); diff != "" {
		t.Errorf("the registry depends on the order of the dates (-in order +shuffled):\n%s", diff)
	}

	truth, err := sim.GamebookRegistry(from, to)
	if err != nil {
		t.Fatal(err)
	}
	str := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	key := func(date, game, team, name string) string { return strings.Join([]string{date, game, team, name}, "/") }
	got := map[string]map[string]any{}
	for _, r := range forward {
		team, _ := r["team_abbr"].(string)
		name, _ := r["printed_name"].(string)
		got[key(r["game_date"].(string), r["game_id"].(string), team, name)] = r
	}
	perDate := map[string]int64{}
	kinds := map[string]int{}
	for _, w := range truth {
		perDate[w.GameDate]++
		k := key(w.GameDate, w.GameID, w.TeamAbbr, w.PrintedName)
		r, ok := got[k]
		if !ok {
			t.Errorf("row %s missing", k)
			continue
		}
		delete(got, k)
		entry := "game"
		if w.TeamAbbr != "" {
			entry = w.TeamAbbr + "/" + w.PrintedName
			kinds[w.Resolution]++
		}
		want := map[string]any{"entry": entry, "gamebook": w.Gamebook, "status": str(w.Status), "player_lookup": str(w.PlayerLookup),
			"resolution": str(w.Resolution)}
		for col, v := range want {
			if r[col] != v {
				t.Errorf("%s %s = %v, want %v", k, col, r[col], v)
			}
		}
	}
	for k := range got {
		t.Errorf("unexpected row %s", k)
	}
	for _, d := range dates {
		if results[d].Rows[d] != perDate[d] {
			t.Errorf("%s: Result.Rows %v, the truth has %d rows", d, results[d].Rows, perDate[d])
		}
	}
	if kinds["unresolved"] == 0 || kinds["registry"] == 0 {
		t.Errorf("resolutions %v: want names the registry resolves and names nothing resolves", kinds)
	}
	// The unresolved names are listed with what the book says of them.
	for _, r := range forward {
		if r["resolution"] == "unresolved" && (r["printed_name"] == nil || r["team_abbr"] == nil || r["status"] == nil || r["player_lookup"] != nil) {
			t.Errorf("unresolved row without its printed name, team and status: %v", r)
		}
	}
}

// TestGamebookRegistryMissingBook: a game whose book was not read is listed missing, with no
// names; once its book is read the game is parsed with its names.
func TestGamebookRegistryMissingBook(t *testing.T) {
	t.Parallel()
	date := "2024-11-15"
	sim := warehousetest.Sim(time.Time{})
	books, err := sim.Gamebooks(date)
	if err != nil {
		t.Fatal(err)
	}
	late := books[len(books)-1]
	lateObject := messages.ScrapedNBACGamebooks.Object(date, messages.GamebookPart(late.AwayTeam, late.HomeTeam))
	objs := warehousetest.Capture(t, sim, date)
	book := objs[lateObject]
	delete(objs, lateObject)
	e := newRegistryEnv(t)
	e.Put(t, objs)
	res := e.day(t, date)
	game := func() (string, int) {
		rows := e.Query(t, "SELECT gamebook, (SELECT COUNT(*) FROM nba_reference.gamebook_registry AS n WHERE n.game_id = g.game_id AND n.entry != 'game') AS names "+
			"FROM nba_reference.gamebook_registry AS g WHERE g.game_id = @id AND g.entry = 'game'", map[string]any{"id": late.GameID})
		if len(rows) != 1 {
			t.Fatalf("%d game rows for %s", len(rows), late.GameID)
		}
		return rows[0]["gamebook"].(string), int(rows[0]["names"].(float64))
	}
	if state, names := game(); state != sourcesim.BookMissing || names != 0 || res.Metrics["games_missing"] != 1 {
		t.Errorf("without its book, %s is %s with %d names (metrics %v); want missing with none", late.GameID, state, names, res.Metrics)
	}
	e.Put(t, map[string][]byte{lateObject: book})
	e.day(t, date)
	if state, names := game(); state != sourcesim.BookParsed || names != len(late.Players) {
		t.Errorf("with its book, %s is %s with %d names; want parsed with %d", late.GameID, state, names, len(late.Players))
	}
}
