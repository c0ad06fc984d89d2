package sourcesim

import (
	"fmt"
	"math"
	"sort"
	"time"
)

// Game is one scheduled regular-season game with every source's identifier for it.
type Game struct {
	Season      int       `json:"season"`        // season start year: 2024 for 2024-25 (BDL's "season")
	Seq         int       `json:"seq"`           // 1-based order in the season (date, tip-off, home tricode)
	GameID      string    `json:"game_id"`       // canonical key YYYYMMDD_AWAY_HOME (Eastern date, NBA tricodes)
	NBAGameID   string    `json:"nba_game_id"`   // NBA.com "0022400001"
	BDLID       int       `json:"bdl_game_id"`   // Ball Don't Lie game id
	OddsEventID string    `json:"odds_event_id"` // The Odds API event id (32 hex characters)
	Date        string    `json:"game_date"`     // US Eastern date, YYYY-MM-DD
	Start       time.Time `json:"start_utc"`     // tip-off, UTC
	Home        string    `json:"home_team"`     // NBA tricode
	Away        string    `json:"away_team"`     // NBA tricode

	home, away int // indices into teams
}

// FirstSeason and LastSeason bound the seasons the simulator generates.
const (
	FirstSeason = 2000
	LastSeason  = 2099
)

// dateLayout is the project's date format.
const dateLayout = "2006-01-02"

// SeasonOf returns the season (start year) an Eastern calendar date belongs to: dates from
// August on belong to the season starting that year.
func SeasonOf(date time.Time) int {
	if date.Month() >= time.August {
		return date.Year()
	}
	return date.Year() - 1
}

// SeasonDates returns the first and last day of a regular season and its All-Star break:
// opening night is the Tuesday between October 18 and 24, the last day is 173 days later (a
// Sunday), and the break runs from the Friday before the third Sunday of February to the
// Wednesday after. For 2024 this gives 2024-10-22, 2025-04-13 and 2025-02-14..2025-02-19.
func SeasonDates(season int) (first, last, breakFrom, breakTo time.Time) {
	first = time.Date(season, time.October, 18, 0, 0, 0, 0, time.UTC)
	for first.Weekday() != time.Tuesday {
		first = first.AddDate(0, 0, 1)
	}
	last = first.AddDate(0, 0, 173)
	sun := time.Date(season+1, time.February, 1, 0, 0, 0, 0, time.UTC)
	for sun.Weekday() != time.Sunday {
		sun = sun.AddDate(0, 0, 1)
	}
	sun = sun.AddDate(0, 0, 14)
	return first, last, sun.AddDate(0, 0, -2), sun.AddDate(0, 0, 3)
}

// offDays are dates without games besides the All-Star break: Thanksgiving and Christmas Eve.
func offDays(season int) map[time.Time]bool {
	th := time.Date(season, time.November, 1, 0, 0, 0, 0, time.UTC)
	for th.Weekday() != time.Thursday {
		th = th.AddDate(0, 0, 1)
	}
	return map[time.Time]bool{
		th.AddDate(0, 0, 21): true,
		time.Date(season, time.December, 24, 0, 0, 0, 0, time.UTC): true,
	}
}

// matchups lists the season's 1,230 games as (home, away) team indices: two games against
// each team of the other conference, and within a conference three games against the four
// teams nearest in a fixed circular order and four against the other ten (82 in all, 41 at
// home).
func matchups() [][2]int {
	var east, west []int
	for i, t := range teams {
		if t.Conference == "East" {
			east = append(east, i)
		} else {
			west = append(west, i)
		}
	}
	var out [][2]int
	for _, e := range east {
		for _, w := range west {
			out = append(out, [2]int{e, w}, [2]int{w, e})
		}
	}
	for _, conf := range [][]int{east, west} {
		n := len(conf)
		for i := range n {
			for j := i + 1; j < n; j++ {
				a, b := conf[i], conf[j]
				d := j - i
				if d == 1 || d == 2 {
					// a is the lower index: two at a's arena, one at b's.
					out = append(out, [2]int{a, b}, [2]int{a, b}, [2]int{b, a})
					continue
				}
				if d == n-1 || d == n-2 {
					// b's distance going forward to a is 1 or 2: two at b's arena.
					out = append(out, [2]int{b, a}, [2]int{b, a}, [2]int{a, b})
					continue
				}
				out = append(out, [2]int{a, b}, [2]int{a, b}, [2]int{b, a}, [2]int{b, a})
			}
		}
	}
	return out
}

// buildSchedule assigns the season's matchups to dates and tip-off times.
func buildSchedule(seed int64, season int, eastern *time.Location) ([]Game, error) {
	first, last, bFrom, bTo := SeasonDates(season)
	off := offDays(season)
	var dates []time.Time
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		if off[d] || (!d.Before(bFrom) && !d.After(bTo)) {
			continue
		}
		dates = append(dates, d)
	}
	ms := matchups()
	r := rngFor(seed, fmt.Sprintf("schedule/%d", season))
	r.Shuffle(len(ms), func(i, j int) { ms[i], ms[j] = ms[j], ms[i] })

	// Target games per date by weekday, scaled to the total.
	weights := make([]float64, len(dates))
	total := 0.0
	for i, d := range dates {
		w := []float64{6, 7, 6, 10, 5, 9, 8}[d.Weekday()] + between(r, -1.5, 1.5)
		switch {
		case i == 0:
			w = 1
		case i == 1:
			w = 9
		case d.Month() == time.December && d.Day() == 25:
			w = 3.5
		}
		weights[i] = w
		total += w
	}
	target := make([]int, len(dates))
	sum := 0
	for i := range dates {
		target[i] = max(1, min(15, int(math.Round(weights[i]*float64(len(ms))/total))))
		sum += target[i]
	}
	for i := 0; sum != len(ms); i = (i + 7) % len(dates) {
		switch {
		case sum < len(ms) && target[i] < 15 && i > 1:
			target[i]++
			sum++
		case sum > len(ms) && target[i] > 3:
			target[i]--
			sum--
		}
	}

	remaining := make([]int, len(teams))
	for _, m := range ms {
		remaining[m[0]]++
		remaining[m[1]]++
	}
	pos := make(map[*[2]int]int, len(ms))
	left := make([]*[2]int, len(ms))
	for i := range ms {
		left[i] = &ms[i]
		pos[left[i]] = i
	}
	busy := make([][]bool, len(dates)) // busy[date][team]
	assigned := make([][]*[2]int, len(dates))
	for di := range dates {
		busy[di] = make([]bool, len(teams))
		sort.SliceStable(left, func(a, b int) bool {
			pa := remaining[left[a][0]] + remaining[left[a][1]]
			pb := remaining[left[b][0]] + remaining[left[b][1]]
			if pa != pb {
				return pa > pb
			}
			return pos[left[a]] < pos[left[b]]
		})
		kept := left[:0]
		for _, m := range left {
			if len(assigned[di]) < target[di] && !busy[di][m[0]] && !busy[di][m[1]] {
				busy[di][m[0]], busy[di][m[1]] = true, true
				assigned[di] = append(assigned[di], m)
				remaining[m[0]]--
				remaining[m[1]]--
				continue
			}
			kept = append(kept, m)
		}
		left = kept
	}
	for _, m := range left {
		best := -1
		for di := 2; di < len(dates); di++ {
			if busy[di][m[0]] || busy[di][m[1]] {
				continue
			}
			if best < 0 || len(assigned[di]) < len(assigned[best]) {
				best = di
			}
		}
		if best < 0 {
			return nil, fmt.Errorf("schedule season %d: no free date for %s at %s", season, teams[m[1]].Tricode, teams[m[0]].Tricode)
		}
		busy[best][m[0]], busy[best][m[1]] = true, true
		assigned[best] = append(assigned[best], m)
	}

	var games []Game
	for di, d := range dates {
		var day []Game
		for k, m := range assigned[di] {
			g := Game{Season: season, home: m[0], away: m[1], Home: teams[m[0]].Tricode, Away: teams[m[1]].Tricode}
			g.Date = d.Format(dateLayout)
			gr := rngFor(seed, fmt.Sprintf("tip/%d/%s/%s", season, g.Date, g.Home))
			hh, mm := tipTime(gr, d, teams[m[0]].TZ, di, k)
			g.Start = time.Date(d.Year(), d.Month(), d.Day(), hh, mm, 0, 0, eastern).UTC()
			g.GameID = d.Format("20060102") + "_" + g.Away + "_" + g.Home
			day = append(day, g)
		}
		sort.Slice(day, func(a, b int) bool {
			if !day[a].Start.Equal(day[b].Start) {
				return day[a].Start.Before(day[b].Start)
			}
			return day[a].Home < day[b].Home
		})
		games = append(games, day...)
	}
	// BDL numbers games in its own order: by date, then by home team BDL id.
	bdlOrder := make([]int, len(games))
	for i := range games {
		games[i].Seq = i + 1
		games[i].NBAGameID = fmt.Sprintf("002%02d%05d", season%100, i+1)
		games[i].OddsEventID = eventID(seed, games[i].NBAGameID)
		bdlOrder[i] = i
	}
	sort.SliceStable(bdlOrder, func(a, b int) bool {
		ga, gb := games[bdlOrder[a]], games[bdlOrder[b]]
		if ga.Date != gb.Date {
			return ga.Date < gb.Date
		}
		return teams[ga.home].BDLID < teams[gb.home].BDLID
	})
	for k, i := range bdlOrder {
		games[i].BDLID = 15_000_000 + (season-2000)*40_000 + 7_000 + k
	}
	return games, nil
}

// tipTime picks an Eastern tip-off time from the home arena's time zone and the weekday.
func tipTime(r interface{ IntN(int) int }, d time.Time, tz, dateIndex, k int) (int, int) {
	if d.Month() == time.December && d.Day() == 25 {
		slots := [][2]int{{12, 0}, {14, 30}, {17, 0}, {20, 0}, {22, 30}}
		return slots[k%len(slots)][0], slots[k%len(slots)][1]
	}
	if dateIndex == 0 {
		return [][2]int{{19, 30}, {22, 0}}[k%2][0], [][2]int{{19, 30}, {22, 0}}[k%2][1]
	}
	weekend := d.Weekday() == time.Saturday || d.Weekday() == time.Sunday
	if weekend && r.IntN(4) == 0 {
		slots := [][2]int{{13, 0}, {15, 0}, {15, 30}, {18, 0}}
		s := slots[r.IntN(len(slots))]
		return s[0], s[1]
	}
	byTZ := [][][2]int{
		{{19, 0}, {19, 0}, {19, 30}, {19, 30}, {20, 0}},
		{{20, 0}, {20, 0}, {20, 30}, {19, 30}},
		{{21, 0}, {21, 0}, {21, 30}},
		{{22, 0}, {22, 0}, {22, 30}, {22, 30}},
	}[tz]
	s := byTZ[r.IntN(len(byTZ))]
	return s[0], s[1]
}

// eventID derives The Odds API's 32-hex-character event id for a game.
func eventID(seed int64, nbaGameID string) string {
	return fmt.Sprintf("%016x%016x", hashKey(fmt.Sprintf("%d/event/%s", seed, nbaGameID)), hashKey(fmt.Sprintf("%d/event2/%s", seed, nbaGameID)))
}

// String names a game by its canonical and NBA.com ids, for test and log messages.
func (g Game) String() string { return fmt.Sprintf("%s (%s)", g.GameID, g.NBAGameID) }
