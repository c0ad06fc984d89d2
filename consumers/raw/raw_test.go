package raw_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/civil"
	"github.com/google/go-cmp/cmp"

	"github.com/nba-props/pipeline/consumers/raw"
	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/infra/warehousetest"
	"github.com/nba-props/pipeline/messages"
)

var (
	update  = flag.Bool("update", false, "rewrite the golden files under testdata/golden")
	capture = flag.Bool("capture", false, "re-capture the simulator inputs under testdata/capture")
)

const (
	gameDay = "2024-11-15" // a Friday with a full slate
	offDay  = "2024-11-28" // Thanksgiving: no games
)

// gameLogObject is the game day's stats.nba.com game log (a regular-season day).
var gameLogObject = messages.ScrapedNBACPlayerBoxscores.Object(gameDay, messages.LeagueGameLogPart("Regular Season"))

// scheduleObject is the narrowed schedule of a date.
func scheduleObject(date string) string {
	return messages.ScrapedNBACSchedule.Object(date, messages.SchedulePart)
}

// isEventOdds reports whether a captured object of the game day is one (event, snapshot).
func isEventOdds(name string) bool {
	return strings.HasPrefix(name, messages.ScrapedOddsAPIPlayerProps.Prefix(gameDay)) && !messages.IsOddsEventsList(name)
}

// TestCapture refreshes testdata/capture from the source simulator (go test -run
// TestCapture -capture). The injury report only exists for the simulator's current date, so
// it is captured from a simulator whose clock is at noon of the game day.
func TestCapture(t *testing.T) {
	if !*capture {
		t.Skip("run with -capture to refresh testdata/capture from the simulator")
	}
	for _, date := range []string{gameDay, offDay} {
		objs := warehousetest.Capture(t, warehousetest.Sim(time.Time{}), date)
		if date == gameDay {
			noon := time.Date(2024, 11, 15, 17, 0, 0, 0, time.UTC)
			name := messages.ScrapedBDLInjuries.Object(date, messages.InjuriesPart)
			objs[name] = warehousetest.Capture(t, warehousetest.Sim(noon), date)[name]
		}
		warehousetest.WriteDir(t, "testdata/capture/"+date, objs)
	}
}

// setup starts the emulators, stores the captured objects of the dates and returns the jobs.
func setup(t *testing.T, dates ...string) (*warehousetest.Env, map[string]runner.Job) {
	t.Helper()
	env := warehousetest.Start(t)
	for _, d := range dates {
		env.Put(t, warehousetest.ReadDir(t, "testdata/capture/"+d))
	}
	jobs, err := raw.Jobs(raw.Deps{Storage: env.Storage, Bucket: env.Bucket, BigQuery: env.BigQuery})
	if err != nil {
		t.Fatal(err)
	}
	return env, jobs
}

func request(job, date string) messages.Request {
	return messages.Request{Version: messages.Version, Phase: messages.PhaseRaw, Job: job, Date: date, RunID: "test"}
}

// tables maps each raw job to its table and partition column.
var tables = map[string]struct{ table, field string }{
	"nbac_schedule":                {"nba_raw.nbac_schedule", "game_date"},
	"nbac_player_boxscores":        {"nba_raw.nbac_player_boxscores", "game_date"},
	"bdl_player_boxscores":         {"nba_raw.bdl_player_boxscores", "game_date"},
	"bdl_injuries":                 {"nba_raw.bdl_injuries", "report_date"},
	"odds_api_player_points_props": {"nba_raw.odds_api_player_points_props", "game_date"},
	"nbac_gamebook_player_stats":   {"nba_raw.nbac_gamebook_player_stats", "game_date"},
}

// rawJobs names the raw jobs in the catalogue's order, every job after the jobs of the phase
// it reads (the game book names are resolved against the box scores already loaded).
func rawJobs() []string {
	var out []string
	for _, s := range messages.DefaultCatalog().InPhase(messages.PhaseRaw) {
		out = append(out, s.Name)
	}
	return out
}

// TestGolden runs every raw job on the captured game day: the rows of the partition equal the
// golden file and Result.Rows counts them.
func TestGolden(t *testing.T) {
	t.Parallel()
	env, jobs := setup(t, gameDay)
	ctx := context.Background()
	for _, job := range rawJobs() {
		tb := tables[job]
		res, err := jobs[job].Run(ctx, request(job, gameDay))
		if err != nil {
			t.Fatalf("%s: %v", job, err)
		}
		rows := env.Partition(t, tb.table, tb.field, gameDay)
		if len(rows) == 0 {
			t.Errorf("%s: no rows in the %s partition", job, gameDay)
		}
		if got := res.Rows[gameDay]; got != int64(len(rows)) || res.Empty {
			t.Errorf("%s: Result.Rows[%s] = %d, Empty %v; the partition has %d rows", job, gameDay, got, res.Empty, len(rows))
		}
		warehousetest.Golden(t, job+"_"+gameDay, rows, *update)
	}
	// Every row keys to a game of the schedule through the canonical game_id (docs/lessons.md:
	// canonical keys).
	for _, table := range []string{"nbac_player_boxscores", "bdl_player_boxscores", "odds_api_player_points_props", "nbac_gamebook_player_stats"} {
		orphans := env.Query(t, "SELECT DISTINCT t.game_id FROM nba_raw."+table+" AS t "+
			"LEFT JOIN nba_raw.nbac_schedule AS s ON s.game_id = t.game_id AND s.game_date = @d "+
			"WHERE t.game_date = @d AND s.game_id IS NULL", map[string]any{"d": civil.Date{Year: 2024, Month: 11, Day: 15}})
		if len(orphans) != 0 {
			t.Errorf("%s has games the schedule does not know: %v", table, orphans)
		}
		games := env.Query(t, "SELECT COUNT(DISTINCT game_id) AS n FROM nba_raw."+table+" WHERE game_date = @d", map[string]any{"d": civil.Date{Year: 2024, Month: 11, Day: 15}})
		sched := env.Query(t, "SELECT COUNT(*) AS n FROM nba_raw.nbac_schedule WHERE game_date = @d", map[string]any{"d": civil.Date{Year: 2024, Month: 11, Day: 15}})
		if games[0]["n"] != sched[0]["n"] {
			t.Errorf("%s covers %v games, the schedule has %v", table, games[0]["n"], sched[0]["n"])
		}
	}
}

// TestRerunChangesNothing: for every raw job, a second run on the same input attaches to the
// same load job, so the partition keeps its rows and even their processed_at.
func TestRerunChangesNothing(t *testing.T) {
	t.Parallel()
	env, jobs := setup(t, gameDay)
	ctx := context.Background()
	for _, job := range rawJobs() {
		tb := tables[job]
		all := func() []map[string]any {
			return env.Query(t, "SELECT * FROM "+tb.table+" WHERE "+tb.field+" = @d", map[string]any{"d": civil.Date{Year: 2024, Month: 11, Day: 15}})
		}
		first, err := jobs[job].Run(ctx, request(job, gameDay))
		if err != nil {
			t.Fatal(err)
		}
		before := all()
		second, err := jobs[job].Run(ctx, request(job, gameDay))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(before, all()); diff != "" {
			t.Errorf("%s: rerun changed the partition (-before +after):\n%s", job, diff)
		}
		if diff := cmp.Diff(first, second); diff != "" {
			t.Errorf("%s: rerun returned a different result (-first +second):\n%s", job, diff)
		}
		if n := loadJobs(t, env, job); n != 1 {
			t.Errorf("%d load jobs into %s after two runs on one input, want 1", n, tb.table)
		}
	}
	// A forced run loads again although the input is the same.
	forced := request("nbac_schedule", gameDay)
	forced.Force = true
	if _, err := jobs["nbac_schedule"].Run(ctx, forced); err != nil {
		t.Fatal(err)
	}
	if n := loadJobs(t, env, "nbac_schedule"); n != 2 {
		t.Errorf("%d load jobs into nbac_schedule after a forced rerun, want 2", n)
	}
}

// loadJobs counts the BigQuery load jobs into a raw table.
func loadJobs(t *testing.T, env *warehousetest.Env, table string) int {
	t.Helper()
	it := env.BigQuery.Jobs(context.Background())
	it.AllUsers = true
	n := 0
	for {
		j, err := it.Next()
		if err != nil {
			break
		}
		if strings.HasPrefix(j.ID(), "raw_"+table+"_") {
			n++
		}
	}
	return n
}

// TestChangedInputReprocesses: for every raw job, a re-scrape with different bytes (a new
// generation, an object gone) loads again, and the partition reflects the new input.
func TestChangedInputReprocesses(t *testing.T) {
	t.Parallel()
	captured := warehousetest.ReadDir(t, "testdata/capture/"+gameDay)
	replace := func(name, from, to string) func(*warehousetest.Env) {
		return func(env *warehousetest.Env) {
			body := string(captured[name])
			if !strings.Contains(body, from) {
				t.Fatalf("%s holds no %q", name, from)
			}
			env.Put(t, map[string][]byte{name: []byte(strings.Replace(body, from, to, 1))})
		}
	}
	var oddsObject string
	for n := range captured {
		if isEventOdds(n) {
			oddsObject = n
			break
		}
	}
	for job, change := range map[string]func(*warehousetest.Env){
		"nbac_schedule":         replace(scheduleObject(gameDay), `"arenaName":"`, `"arenaName":"New `),
		"nbac_player_boxscores": replace(gameLogObject, `"Regular Season"`, `"Regular Season" `),
		"bdl_player_boxscores": func(env *warehousetest.Env) {
			env.Delete(t, messages.ScrapedBDLPlayerBoxscores.Object(gameDay, messages.PagePart(3)))
		},
		"bdl_injuries": replace(messages.ScrapedBDLInjuries.Object(gameDay, messages.InjuriesPart), `"status":"Out"`, `"status":"Day-To-Day"`),
		"odds_api_player_points_props": func(env *warehousetest.Env) {
			env.Delete(t, oddsObject)
		},
	} {
		t.Run(job, func(t *testing.T) {
			t.Parallel()
			env, jobs := setup(t, gameDay)
			ctx := context.Background()
			tb := tables[job]
			if _, err := jobs[job].Run(ctx, request(job, gameDay)); err != nil {
				t.Fatal(err)
			}
			before := env.Partition(t, tb.table, tb.field, gameDay)
			change(env)
			res, err := jobs[job].Run(ctx, request(job, gameDay))
			if err != nil {
				t.Fatal(err)
			}
			after := env.Partition(t, tb.table, tb.field, gameDay)
			if job == "nbac_player_boxscores" {
				// Same rows from new bytes: the load runs again and gives the same content.
				if diff := cmp.Diff(before, after); diff != "" {
					t.Errorf("reformatted input changed the rows:\n%s", diff)
				}
			} else if cmp.Equal(before, after) {
				t.Errorf("the partition did not change after the input changed")
			}
			if res.Rows[gameDay] != int64(len(after)) {
				t.Errorf("Result.Rows %v, partition has %d rows", res.Rows, len(after))
			}
			if n := loadJobs(t, env, job); n != 2 {
				t.Errorf("%d load jobs after two different inputs, want 2", n)
			}
		})
	}
}

// TestRescrapeDropsARow: a re-scrape that lost a player row removes it from the partition.
func TestRescrapeDropsARow(t *testing.T) {
	t.Parallel()
	env, jobs := setup(t, gameDay)
	ctx := context.Background()
	const job = "nbac_player_boxscores"
	if _, err := jobs[job].Run(ctx, request(job, gameDay)); err != nil {
		t.Fatal(err)
	}
	name := gameLogObject
	body := warehousetest.ReadDir(t, "testdata/capture/"+gameDay)[name]
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	rs := doc["resultSets"].([]any)[0].(map[string]any)
	rowSet := rs["rowSet"].([]any)
	first := rowSet[0].([]any)
	rs["rowSet"] = rowSet[1:] // the re-scrape lost one player row
	changed, _ := json.Marshal(doc)
	env.Put(t, map[string][]byte{name: changed})
	res, err := jobs[job].Run(ctx, request(job, gameDay))
	if err != nil {
		t.Fatal(err)
	}
	rows := env.Partition(t, "nba_raw.nbac_player_boxscores", "game_date", gameDay)
	if len(rows) != len(rowSet)-1 || res.Rows[gameDay] != int64(len(rowSet)-1) {
		t.Errorf("after the re-scrape: %d rows, Result.Rows %d; want %d", len(rows), res.Rows[gameDay], len(rowSet)-1)
	}
	for _, r := range rows {
		if r["source_player_id"] == first[1] {
			t.Errorf("player %v is still in the partition after the re-scrape dropped him", first[2])
		}
	}
}

// TestBDLGameTheGamesListLeftOut: a game that the BDL games objects leave out (the source
// left it out of the list and the games scraper recorded it missing) is placed by its
// stats' own game object and the teams the date's stats name, so the partition is the one
// the full list gives. Stats of such a game that do not name its teams fail permanently,
// naming the game.
func TestBDLGameTheGamesListLeftOut(t *testing.T) {
	t.Parallel()
	const job = "bdl_player_boxscores"
	captured := warehousetest.ReadDir(t, "testdata/capture/"+gameDay)
	gamesName := messages.ScrapedBDLGames.Object(gameDay, messages.PagePart(1))
	var games map[string]any
	if err := json.Unmarshal(captured[gamesName], &games); err != nil {
		t.Fatal(err)
	}
	list := games["data"].([]any)
	if len(list) < 2 {
		t.Fatalf("%s lists %d games", gamesName, len(list))
	}
	left := list[len(list)-1].(map[string]any)["id"].(float64)
	games["data"] = list[:len(list)-1]
	shortList, err := json.Marshal(games)
	if err != nil {
		t.Fatal(err)
	}
	rows := func(env *warehousetest.Env) []map[string]any {
		rs := env.Partition(t, tables[job].table, tables[job].field, gameDay)
		for _, r := range rs {
			delete(r, "processed_at")
		}
		return rs
	}

	env, jobs := setup(t, gameDay)
	ctx := context.Background()
	if _, err := jobs[job].Run(ctx, request(job, gameDay)); err != nil {
		t.Fatal(err)
	}
	full := rows(env)
	env.Put(t, map[string][]byte{gamesName: shortList})
	if _, err := jobs[job].Run(ctx, request(job, gameDay)); err != nil {
		t.Fatalf("stats of game %.0f, which the games list leaves out: %v", left, err)
	}
	if diff := cmp.Diff(full, rows(env)); diff != "" {
		t.Errorf("rows with game %.0f left out of the games list (-full list +short list):\n%s", left, diff)
	}

	// The same game's stats without its home team id: nothing places it.
	stripped := map[string][]byte{}
	for name, body := range captured {
		if !strings.HasPrefix(name, messages.ScrapedBDLPlayerBoxscores.Prefix(gameDay)) {
			continue
		}
		var page map[string]any
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, d := range page["data"].([]any) {
			if g := d.(map[string]any)["game"].(map[string]any); g["id"] == left {
				delete(g, "home_team_id")
				n++
			}
		}
		if n > 0 {
			if stripped[name], err = json.Marshal(page); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(stripped) == 0 {
		t.Fatalf("no stats object holds game %.0f", left)
	}
	env.Put(t, stripped)
	_, err = jobs[job].Run(ctx, request(job, gameDay))
	if !runner.IsPermanent(err) || !errors.Is(err, raw.ErrBadRecord) || !strings.Contains(err.Error(), fmt.Sprintf("game %.0f is not in the BDL games objects", left)) {
		t.Errorf("error = %v, want a permanent ErrBadRecord naming game %.0f", err, left)
	}
}

// TestOddsEveryEventFile: the props partition holds rows from every per-event object.
func TestOddsEveryEventFile(t *testing.T) {
	t.Parallel()
	env, jobs := setup(t, gameDay)
	const job = "odds_api_player_points_props"
	if _, err := jobs[job].Run(context.Background(), request(job, gameDay)); err != nil {
		t.Fatal(err)
	}
	files := map[string]bool{}
	for name := range warehousetest.ReadDir(t, "testdata/capture/"+gameDay) {
		if isEventOdds(name) {
			files["gs://BUCKET/"+name] = true
		}
	}
	got := map[string]bool{}
	for _, r := range env.Partition(t, "nba_raw.odds_api_player_points_props", "game_date", gameDay) {
		got[r["source_file_path"].(string)] = true
	}
	if len(files) < 4 {
		t.Fatalf("the capture has only %d per-event objects", len(files))
	}
	if diff := cmp.Diff(files, got); diff != "" {
		t.Errorf("per-event objects with rows (-captured +loaded):\n%s", diff)
	}
}

// TestUnparseableRecordIsPermanent: one bad record fails the run permanently, naming the
// object and the record, and leaves the partition as it was.
func TestUnparseableRecordIsPermanent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		job, object, from, to, pos string
	}{
		{"nbac_player_boxscores", gameLogObject, ` @ `, ` at `, "rowSet["},
		{"bdl_player_boxscores", messages.ScrapedBDLPlayerBoxscores.Object(gameDay, messages.PagePart(2)), `"min":"`, `"min":"x`, "data["},
		{"nbac_schedule", scheduleObject(gameDay), `"teamTricode":"`, `"teamTricode":"Z`, "games["},
		{"odds_api_player_points_props", "", `"point":`, `"point":"x",`, "byte "},
	} {
		t.Run(tc.job, func(t *testing.T) {
			t.Parallel()
			env, jobs := setup(t, gameDay)
			objs := warehousetest.ReadDir(t, "testdata/capture/"+gameDay)
			name := tc.object
			if name == "" {
				for n := range objs {
					if isEventOdds(n) && strings.Contains(string(objs[n]), tc.from) {
						name = n
						break
					}
				}
			}
			body := string(objs[name])
			if !strings.Contains(body, tc.from) {
				t.Fatalf("%s holds no %s to corrupt", name, tc.from)
			}
			env.Put(t, map[string][]byte{name: []byte(strings.Replace(body, tc.from, tc.to, 1))})
			_, err := jobs[tc.job].Run(context.Background(), request(tc.job, gameDay))
			if !runner.IsPermanent(err) || !errors.Is(err, raw.ErrBadRecord) {
				t.Fatalf("error = %v, want a permanent ErrBadRecord", err)
			}
			if !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), tc.pos) {
				t.Errorf("error %q does not name the object %s and the position %s", err, name, tc.pos)
			}
			tb := tables[tc.job]
			if rows := env.Partition(t, tb.table, tb.field, gameDay); len(rows) != 0 {
				t.Errorf("%d rows loaded despite the bad record", len(rows))
			}
		})
	}
}

// TestOffDayTruncates: a date that lost its games (the schedule re-scraped without them, the
// box score prefixes cleared) ends Empty with an empty partition, and loads again when they
// come back.
func TestOffDayTruncates(t *testing.T) {
	t.Parallel()
	env, jobs := setup(t, gameDay)
	ctx := context.Background()
	for _, job := range rawJobs() {
		if _, err := jobs[job].Run(ctx, request(job, gameDay)); err != nil {
			t.Fatalf("%s: %v", job, err)
		}
	}
	env.Delete(t, "")
	off := warehousetest.ReadDir(t, "testdata/capture/"+offDay)
	sched := strings.ReplaceAll(string(off[scheduleObject(offDay)]), offDay, gameDay)
	env.Put(t, map[string][]byte{scheduleObject(gameDay): []byte(sched)})
	for _, job := range rawJobs() {
		tb := tables[job]
		res, err := jobs[job].Run(ctx, request(job, gameDay))
		if err != nil {
			t.Fatalf("%s: %v", job, err)
		}
		if !res.Empty || res.Rows[gameDay] != 0 {
			t.Errorf("%s on a day without games: Empty %v, Rows %v; want Empty and 0", job, res.Empty, res.Rows)
		}
		if rows := env.Partition(t, tb.table, tb.field, gameDay); len(rows) != 0 {
			t.Errorf("%s: %d rows left in the partition of a day without games", job, len(rows))
		}
	}
	// The games come back: an empty date is never locked (docs/lessons.md: empty is not
	// done), so the rows return.
	env.Delete(t, "")
	env.Put(t, warehousetest.ReadDir(t, "testdata/capture/"+gameDay))
	for _, job := range rawJobs() {
		tb := tables[job]
		res, err := jobs[job].Run(ctx, request(job, gameDay))
		if err != nil {
			t.Fatalf("%s: %v", job, err)
		}
		rows := env.Partition(t, tb.table, tb.field, gameDay)
		if res.Empty || len(rows) == 0 || res.Rows[gameDay] != int64(len(rows)) {
			t.Errorf("%s after the games came back: Empty %v, Rows %v, %d rows in the partition", job, res.Empty, res.Rows, len(rows))
		}
	}
}

// TestEmptyResponseOnGameDayFails: an empty 200 stored for a date the schedule (or BDL's own
// games) says had final games is never a success.
func TestEmptyResponseOnGameDayFails(t *testing.T) {
	t.Parallel()
	env, jobs := setup(t, gameDay)
	objs := warehousetest.ReadDir(t, "testdata/capture/"+gameDay)
	emptied := map[string][]byte{}
	for name, body := range objs {
		switch {
		case strings.HasPrefix(name, messages.ScrapedNBACPlayerBoxscores.Prefix(gameDay)):
			var doc map[string]any
			if err := json.Unmarshal(body, &doc); err != nil {
				t.Fatal(err)
			}
			doc["resultSets"].([]any)[0].(map[string]any)["rowSet"] = []any{}
			emptied[name], _ = json.Marshal(doc)
		case strings.HasPrefix(name, messages.ScrapedBDLPlayerBoxscores.Prefix(gameDay)):
			emptied[name] = []byte(`{"data":[],"meta":{"per_page":100}}`)
		case isEventOdds(name):
			var doc map[string]any
			if err := json.Unmarshal(body, &doc); err != nil {
				t.Fatal(err)
			}
			doc["data"].(map[string]any)["bookmakers"] = []any{}
			emptied[name], _ = json.Marshal(doc)
		}
	}
	env.Put(t, emptied)
	for _, job := range []string{"nbac_player_boxscores", "bdl_player_boxscores", "odds_api_player_points_props"} {
		res, err := jobs[job].Run(context.Background(), request(job, gameDay))
		if !errors.Is(err, raw.ErrEmptyInput) || !runner.IsPermanent(err) {
			t.Errorf("%s on an empty response for a game day: result %+v, error %v; want a permanent ErrEmptyInput", job, res, err)
		}
	}
}
