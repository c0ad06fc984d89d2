package raw_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nba-props/pipeline/consumers/raw"
	"github.com/nba-props/pipeline/consumers/raw/gamebook"
	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/infra/sourcesim"
	"github.com/nba-props/pipeline/infra/warehousetest"
	"github.com/nba-props/pipeline/messages"
)

const gamebookJob = "nbac_gamebook_player_stats"

// loadBooks stores what the scrapers store for date and runs the raw jobs that load it, the
// box scores before the game books, as the catalogue orders them.
func loadBooks(t *testing.T, env *warehousetest.Env, jobs map[string]runner.Job, objs map[string][]byte, date string) (runner.Result, error) {
	t.Helper()
	env.Put(t, objs)
	for _, job := range []string{"nbac_player_boxscores", "bdl_player_boxscores"} {
		if _, err := jobs[job].Run(context.Background(), request(job, date)); err != nil {
			t.Fatalf("%s %s: %v", job, date, err)
		}
	}
	return jobs[gamebookJob].Run(context.Background(), request(gamebookJob, date))
}

// compareBooks checks the date's partition against the books the simulator published, row
// by row, and returns the number of rows checked.
func compareBooks(t *testing.T, env *warehousetest.Env, books []sourcesim.GamebookTruth) int {
	t.Helper()
	if len(books) == 0 {
		t.Fatal("no books to compare")
	}
	date := books[0].GameDate
	got := map[string]map[string]any{}
	for _, r := range env.Partition(t, "nba_raw."+gamebookJob, "game_date", date) {
		key := fmt.Sprint(r["game_id"], "/", r["team_abbr"], "/", r["printed_name"])
		if _, dup := got[key]; dup {
			t.Errorf("two rows %s", key)
		}
		got[key] = r
	}
	want := 0
	str := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	for _, b := range books {
		if !b.Available {
			continue
		}
		for _, p := range b.Players {
			want++
			key := p.GameID + "/" + p.TeamAbbr + "/" + p.PrintedName
			r, ok := got[key]
			if !ok {
				t.Errorf("row %s missing", key)
				continue
			}
			checks := []struct {
				col       string
				got, want any
			}{
				{"nba_game_id", r["nba_game_id"], b.NBAGameID},
				{"is_home", r["is_home"], p.IsHome},
				{"status", r["status"], p.Status},
				{"reason", r["reason"], str(p.Reason)},
				{"reason_category", r["reason_category"], str(p.Category)},
				{"starter", r["starter"], p.Starter},
				{"jersey", r["jersey"], str(p.Jersey)},
				{"position", r["position"], str(p.Position)},
				{"player_lookup", r["player_lookup"], str(p.BookLookup)},
				{"name_resolution", r["name_resolution"], p.BookResolution},
			}
			stats := []struct {
				col string
				v   int
			}{{"points", p.Points}, {"fgm", p.FGM}, {"fga", p.FGA}, {"fg3m", p.FG3M}, {"fg3a", p.FG3A}, {"ftm", p.FTM},
				{"fta", p.FTA}, {"offensive_rebounds", p.OffReb}, {"defensive_rebounds", p.DefReb}, {"rebounds", p.Rebounds},
				{"assists", p.Assists}, {"personal_fouls", p.Fouls}, {"steals", p.Steals}, {"turnovers", p.Turnovers},
				{"blocks", p.Blocks}, {"plus_minus", p.PlusMinus}, {"minutes", p.Minutes}}
			for _, s := range stats {
				var w any
				if p.Status == sourcesim.GamebookActive {
					w = float64(s.v)
				}
				checks = append(checks, struct {
					col       string
					got, want any
				}{s.col, r[s.col], w})
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s %s = %v, want %v", key, c.col, c.got, c.want)
				}
			}
			delete(got, key)
		}
	}
	for key := range got {
		t.Errorf("unexpected row %s", key)
	}
	return want
}

// TestGamebookRowsMatchTruth: the captured game day loads one row per roster player of every
// game, those who did not play included, equal to what the simulator's books say: status,
// reason and category, the stat line of those who played, and the player_lookup of every
// name the book and the day's box scores can tell (NULL, with the printed name, for a last
// name nothing of the day resolves).
func TestGamebookRowsMatchTruth(t *testing.T) {
	t.Parallel()
	env, jobs := setup(t, gameDay)
	res, err := loadBooks(t, env, jobs, nil, gameDay)
	if err != nil {
		t.Fatal(err)
	}
	books, err := warehousetest.Sim(time.Time{}).Gamebooks(gameDay)
	if err != nil {
		t.Fatal(err)
	}
	n := compareBooks(t, env, books)
	if res.Rows[gameDay] != int64(n) || res.Empty {
		t.Errorf("Result.Rows %v, Empty %v; want %d rows", res.Rows, res.Empty, n)
	}
	unresolved := env.Query(t, "SELECT COUNT(*) AS n FROM nba_raw."+gamebookJob+" WHERE game_date = @d AND player_lookup IS NULL AND status = 'inactive'",
		map[string]any{"d": mustCivil(t, gameDay)})
	if unresolved[0]["n"] == float64(0) {
		t.Error("no unresolved inactive name on the game day: the test does not cover one")
	}
}

// TestGamebookTraps: for each way a book is hard to read, the first game of the simulated
// season that has it loads rows equal to the truth: a box score that runs onto the next
// page, names with accents and suffixes, a reason that wraps onto a second line, overtime,
// an inactive player the day's injury report lists.
func TestGamebookTraps(t *testing.T) {
	t.Parallel()
	sim := warehousetest.Sim(time.Time{})
	games, err := sim.Schedule(2024)
	if err != nil {
		t.Fatal(err)
	}
	traps := []string{"box_split", "two_pages", "accents", "suffix", "wrapped_reason", "overtime", "inactive_injured"}
	dates := map[string][]string{} // date -> traps first seen on it
	var order []string
	seen := map[string]bool{}
	for _, g := range games {
		if seen[g.Date] {
			continue
		}
		seen[g.Date] = true
		books, err := sim.Gamebooks(g.Date)
		if err != nil {
			t.Fatal(err)
		}
		broken := slices.ContainsFunc(books, func(b sourcesim.GamebookTruth) bool { return b.Corrupt != "" })
		for _, b := range books {
			for _, x := range b.Traps {
				if slices.Contains(traps, x) && !broken && !slices.ContainsFunc(order, func(d string) bool { return slices.Contains(dates[d], x) }) {
					if dates[g.Date] == nil {
						order = append(order, g.Date)
					}
					dates[g.Date] = append(dates[g.Date], x)
				}
			}
		}
	}
	for _, date := range order {
		t.Run(date+"/"+strings.Join(dates[date], ","), func(t *testing.T) {
			t.Parallel()
			env, jobs := setup(t)
			if _, err := loadBooks(t, env, jobs, warehousetest.Capture(t, sim, date), date); err != nil {
				t.Fatal(err)
			}
			books, _ := sim.Gamebooks(date)
			compareBooks(t, env, books)
			for _, x := range dates[date] {
				switch x {
				case "wrapped_reason":
					rows := env.Query(t, "SELECT MAX(LENGTH(reason)) AS n FROM nba_raw."+gamebookJob+" WHERE game_date = @d AND status != 'inactive'",
						map[string]any{"d": mustCivil(t, date)})
					if n, _ := rows[0]["n"].(float64); n < 40 {
						t.Errorf("the longest reason in a box score is %v characters: the wrapped one was not joined", rows[0]["n"])
					}
				case "inactive_injured":
					found := false
					for _, b := range books {
						for _, p := range b.Players {
							found = found || p.Status == sourcesim.GamebookInactive && p.InjuryReportStatus != "" && p.Category == sourcesim.ReasonInjuryIllness
						}
					}
					if !found {
						t.Error("no inactive player on the injury report among the books")
					}
				}
			}
		})
	}
	for _, x := range traps {
		if !slices.ContainsFunc(order, func(d string) bool { return slices.Contains(dates[d], x) }) {
			t.Errorf("no readable book of the season has trap %s", x)
		}
	}
}

// TestGamebookLateBookLoadsWhenPublished: a book published hours after the others is not
// there at the first scrape; the date loads the books there are, and once the late one is
// stored the date loads again with it.
func TestGamebookLateBookLoadsWhenPublished(t *testing.T) {
	t.Parallel()
	probe := warehousetest.Sim(time.Time{})
	games, _ := probe.Schedule(2024)
	var late sourcesim.GamebookTruth
	for _, g := range games {
		books, _ := probe.Gamebooks(g.Date)
		for _, b := range books {
			if late.GameID == "" && slices.Contains(b.Traps, "late") && len(books) > 1 &&
				!slices.ContainsFunc(books, func(o sourcesim.GamebookTruth) bool {
					return o.Corrupt != "" || o.GameID != b.GameID && !o.PublishedAt.Before(b.PublishedAt)
				}) {
				late = b
			}
		}
	}
	if late.GameID == "" {
		t.Fatal("no late book of the 2024 season is the last of its date")
	}
	date := late.GameDate
	before := warehousetest.Sim(late.PublishedAt.Add(-time.Minute))
	env, jobs := setup(t)
	objs := warehousetest.Capture(t, warehousetest.Sim(time.Time{}), date)
	for name := range objs {
		if strings.HasPrefix(name, messages.ScrapedNBACGamebooks.Prefix(date)) {
			delete(objs, name)
		}
	}
	for name, body := range warehousetest.CaptureGamebooks(t, before, date) {
		objs[name] = body
	}
	first, err := loadBooks(t, env, jobs, objs, date)
	if err != nil {
		t.Fatal(err)
	}
	early, _ := before.Gamebooks(date)
	if n := compareBooks(t, env, early); first.Rows[date] != int64(n) {
		t.Errorf("before the late book: %v rows, want %d", first.Rows, n)
	}
	lateName := messages.ScrapedNBACGamebooks.Object(date, messages.GamebookPart(late.AwayTeam, late.HomeTeam))
	if _, ok := objs[lateName]; ok {
		t.Fatalf("%s was captured before it was published", lateName)
	}
	second, err := loadBooks(t, env, jobs, warehousetest.CaptureGamebooks(t, warehousetest.Sim(time.Time{}), date), date)
	if err != nil {
		t.Fatal(err)
	}
	all, _ := probe.Gamebooks(date)
	if n := compareBooks(t, env, all); second.Rows[date] != int64(n) || second.Rows[date] <= first.Rows[date] {
		t.Errorf("after the late book: %v rows (before %v), want %d", second.Rows, first.Rows, n)
	}
}

// TestGamebookBrokenBookIsPermanent: a book the host holds broken fails its date permanently,
// naming the object; the other books of the date are not loaded either (a date loads every
// book or none), and the partition keeps what it had.
func TestGamebookBrokenBookIsPermanent(t *testing.T) {
	t.Parallel()
	sim := warehousetest.Sim(time.Time{})
	games, _ := sim.Schedule(2024)
	var broken []sourcesim.GamebookTruth
	for _, g := range games {
		books, _ := sim.Gamebooks(g.Date)
		for _, b := range books {
			if b.Corrupt != "" && !slices.ContainsFunc(broken, func(x sourcesim.GamebookTruth) bool { return x.Corrupt == b.Corrupt }) {
				broken = append(broken, b)
			}
		}
	}
	if len(broken) < 2 {
		t.Fatalf("broken books of the season: %v; want a truncated one and a garbage one", broken)
	}
	for _, b := range broken {
		t.Run(b.Corrupt, func(t *testing.T) {
			t.Parallel()
			env, jobs := setup(t)
			objs := warehousetest.Capture(t, sim, b.GameDate)
			name := messages.ScrapedNBACGamebooks.Object(b.GameDate, messages.GamebookPart(b.AwayTeam, b.HomeTeam))
			res, err := loadBooks(t, env, jobs, objs, b.GameDate)
			if !runner.IsPermanent(err) || !errors.Is(err, raw.ErrBadRecord) || !errors.Is(err, gamebook.ErrCorrupt) {
				t.Fatalf("result %+v, error %v; want a permanent ErrBadRecord wrapping gamebook.ErrCorrupt", res, err)
			}
			if !strings.Contains(err.Error(), "gs://"+env.Bucket+"/"+name) {
				t.Errorf("error %q does not name gs://%s/%s", err, env.Bucket, name)
			}
			if rows := env.Partition(t, "nba_raw."+gamebookJob, "game_date", b.GameDate); len(rows) != 0 {
				t.Errorf("%d rows loaded from a date with a broken book", len(rows))
			}
		})
	}
}
