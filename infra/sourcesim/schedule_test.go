package sourcesim

import (
	"fmt"
	"testing"
	"time"
)

func TestScheduleSeasons(t *testing.T) {
	t.Parallel()
	s := New(Config{Seed: 7})
	for season := 2021; season <= 2025; season++ {
		t.Run(fmt.Sprint(season), func(t *testing.T) {
			games, err := s.Schedule(season)
			if err != nil {
				t.Fatal(err)
			}
			if len(games) != 1230 {
				t.Fatalf("%d games, want 1230", len(games))
			}
			first, last, bFrom, bTo := SeasonDates(season)
			home, away := map[string]int{}, map[string]int{}
			playing := map[string]bool{} // date/team
			dates := map[string]bool{}
			ids := map[string]bool{}
			for i, g := range games {
				d, err := time.Parse(dateLayout, g.Date)
				if err != nil {
					t.Fatal(err)
				}
				if d.Before(first) || d.After(last) {
					t.Errorf("%v outside %v..%v", g, first, last)
				}
				if !d.Before(bFrom) && !d.After(bTo) {
					t.Errorf("%v during the All-Star break", g)
				}
				for _, tm := range []string{g.Home, g.Away} {
					if playing[g.Date+tm] {
						t.Errorf("%s plays twice on %s", tm, g.Date)
					}
					playing[g.Date+tm] = true
				}
				if et := g.Start.In(s.Eastern()).Format(dateLayout); et != g.Date {
					t.Errorf("%v tips off on Eastern date %s", g, et)
				}
				want := fmt.Sprintf("%s_%s_%s", d.Format("20060102"), g.Away, g.Home)
				if g.GameID != want || g.Seq != i+1 || g.NBAGameID != fmt.Sprintf("002%02d%05d", season%100, i+1) {
					t.Errorf("ids of game %d: %+v", i, g)
				}
				for _, id := range []string{g.GameID, g.NBAGameID, g.OddsEventID, fmt.Sprint(g.BDLID)} {
					if ids[id] {
						t.Errorf("duplicate id %s", id)
					}
					ids[id] = true
				}
				home[g.Home]++
				away[g.Away]++
				dates[g.Date] = true
			}
			for _, tm := range Teams() {
				if home[tm.Tricode] != 41 || away[tm.Tricode] != 41 {
					t.Errorf("%s: %d home, %d away; want 41 and 41", tm.Tricode, home[tm.Tricode], away[tm.Tricode])
				}
			}
			if len(dates) < 160 || len(dates) > 170 {
				t.Errorf("%d game dates, want about 165", len(dates))
			}
		})
	}
}

func TestSeasonDates2024(t *testing.T) {
	t.Parallel()
	first, last, bFrom, bTo := SeasonDates(2024)
	gotDates := []string{first.Format(dateLayout), last.Format(dateLayout), bFrom.Format(dateLayout), bTo.Format(dateLayout)}
	want := []string{"2024-10-22", "2025-04-13", "2025-02-14", "2025-02-19"}
	for i := range want {
		if gotDates[i] != want[i] {
			t.Errorf("SeasonDates(2024)[%d] = %s, want %s", i, gotDates[i], want[i])
		}
	}
	s := New(Config{Seed: 1})
	for _, d := range []string{"2024-10-22", "2025-04-13"} {
		gs, err := s.GamesOn(d)
		if err != nil || len(gs) == 0 {
			t.Errorf("GamesOn(%s) = %d games, %v; want games", d, len(gs), err)
		}
	}
	for _, d := range []string{"2025-02-14", "2025-02-19", "2024-12-24", "2024-07-01"} {
		gs, err := s.GamesOn(d)
		if err != nil || len(gs) != 0 {
			t.Errorf("GamesOn(%s) = %d games, %v; want none", d, len(gs), err)
		}
	}
}

func ExampleSeasonDates() {
	first, last, bFrom, bTo := SeasonDates(2024)
	fmt.Println(first.Format("2006-01-02"), last.Format("2006-01-02"), bFrom.Format("2006-01-02"), bTo.Format("2006-01-02"))
	// Output: 2024-10-22 2025-04-13 2025-02-14 2025-02-19
}

// TestScheduleManySeeds checks the scheduler places every game for many seeds and seasons.
func TestScheduleManySeeds(t *testing.T) {
	t.Parallel()
	for seed := int64(100); seed < 112; seed++ {
		for _, season := range []int{2019, 2026, 2030} {
			games, err := buildSchedule(seed, season, New(Config{}).Eastern())
			if err != nil || len(games) != 1230 {
				t.Errorf("seed %d season %d: %d games, %v", seed, season, len(games), err)
			}
		}
	}
}
