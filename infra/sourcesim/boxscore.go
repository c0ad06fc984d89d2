package sourcesim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"time"
)

// statLine is one player's line in one game. Lines with min == 0 are players who dressed
// but did not play; only BDL serves those (as min "00").
type statLine struct {
	player                         int // index into the pool
	team                           int // index into teams
	min                            int
	fgm, fga, fg3m, fg3a, ftm, fta int
	oreb, dreb, ast, stl, blk      int
	tov, pf, pts, plusMinus        int
}

func (l statLine) reb() int { return l.oreb + l.dreb }

// boxScore is a game's result: per-side lines (0 = home, 1 = away) and the score.
type boxScore struct {
	periods int
	pts     [2]int
	lines   [2][]statLine
}

// spell is a stretch of days a player misses, inclusive, on the injury report from the day
// before it starts.
type spell struct {
	from, to time.Time
	status   string // "Out" or "Day-To-Day"
	part     string
}

// seasonModel is one season's generated league: rosters, injuries and the schedule.
type seasonModel struct {
	year    int
	games   []Game
	byDate  map[string][]int
	byNBA   map[string]int
	byEvent map[string]int
	rosters [][]int     // team index -> pool indices, best rated first
	teamOf  map[int]int // pool index -> team index
	spells  map[int][]spell
}

var minuteTargets = []int{34, 33, 32, 30, 28, 24, 20, 16, 12, 7, 4}

var bodyParts = []string{"ankle", "knee", "hamstring", "back", "calf", "groin", "hip", "shoulder", "wrist", "illness", "foot", "Achilles"}

func newSeasonModel(seed int64, pool []Player, year int, eastern *time.Location) (*seasonModel, error) {
	games, err := buildSchedule(seed, year, eastern)
	if err != nil {
		return nil, err
	}
	m := &seasonModel{
		year:    year,
		games:   games,
		byDate:  map[string][]int{},
		byNBA:   map[string]int{},
		byEvent: map[string]int{},
		rosters: rosters(seed, pool, year),
		teamOf:  map[int]int{},
		spells:  map[int][]spell{},
	}
	for i, g := range games {
		m.byDate[g.Date] = append(m.byDate[g.Date], i)
		m.byNBA[g.NBAGameID] = i
		m.byEvent[g.OddsEventID] = i
	}
	first, last, _, _ := SeasonDates(year)
	days := int(last.Sub(first).Hours()/24) + 1
	for t, ro := range m.rosters {
		for _, p := range ro {
			m.teamOf[p] = t
			r := rngFor(seed, fmt.Sprintf("injury/%d/%d", year, p))
			n := 0
			switch x := r.Float64(); {
			case x < 0.35:
				n = 1
			case x < 0.5:
				n = 2
			}
			for range n {
				from := first.AddDate(0, 0, r.IntN(days))
				length := 1 + r.IntN(3)
				status := "Day-To-Day"
				if r.IntN(5) < 3 {
					length = 4 + r.IntN(22)
					status = "Out"
				}
				m.spells[p] = append(m.spells[p], spell{from: from, to: from.AddDate(0, 0, length-1), status: status, part: pick(r, bodyParts)})
			}
		}
	}
	return m, nil
}

// out reports whether a player misses games on a date.
func (m *seasonModel) out(p int, date time.Time) bool {
	for _, s := range m.spells[p] {
		if !date.Before(s.from) && !date.After(s.to) {
			return true
		}
	}
	return false
}

// boxScore generates a game's box score from its own keyed generator.
func (m *seasonModel) boxScore(seed int64, pool []Player, gi int) boxScore {
	g := m.games[gi]
	r := rngFor(seed, "box/"+g.NBAGameID)
	date, _ := time.Parse(dateLayout, g.Date)
	var b boxScore
	b.periods = 4
	switch x := r.Float64(); {
	case x < 0.01:
		b.periods = 6
	case x < 0.065:
		b.periods = 5
	}
	total := 240 + 25*(b.periods-4)
	for side, t := range []int{g.home, g.away} {
		var avail, hurt []int
		for _, p := range m.rosters[t] {
			if m.out(p, date) {
				hurt = append(hurt, p)
				continue
			}
			avail = append(avail, p)
		}
		// A team always dresses at least eight: the least hurt play through it.
		for len(avail) < 8 && len(hurt) > 0 {
			avail, hurt = append(avail, hurt[0]), hurt[1:]
		}
		mins := splitMinutes(r, len(avail), total, b.periods)
		for k, p := range avail {
			l := statLine{player: p, team: t, min: mins[k]}
			if l.min > 0 {
				playStats(r, &pool[p], &l)
			}
			b.lines[side] = append(b.lines[side], l)
			b.pts[side] += l.pts
		}
	}
	if b.pts[0] == b.pts[1] {
		// No ties: a late free throw decides it for a seeded side.
		side := r.IntN(2)
		l := &b.lines[side][0]
		l.fta++
		l.ftm++
		l.pts++
		b.pts[side]++
	}
	for side := range 2 {
		margin := b.pts[side] - b.pts[1-side]
		setPlusMinus(r, b.lines[side], margin, total)
	}
	return b
}

// splitMinutes gives n available players integer minutes adding up to total: rotation
// targets by rank with noise, then adjusted one minute at a time.
func splitMinutes(r *rand.Rand, n, total, periods int) []int {
	mins := make([]int, n)
	sum := 0
	for k := range n {
		if k >= len(minuteTargets) {
			break
		}
		v := minuteTargets[k] + int(math.Round(r.NormFloat64()*3))
		if k >= 9 && r.IntN(3) == 0 {
			v = 0
		}
		mins[k] = max(0, v)
		if k < 8 {
			mins[k] = max(8, mins[k])
		}
		sum += mins[k]
	}
	capMin := 48 + 5*(periods-4)
	for i := 0; sum != total; i++ {
		k := i % min(n, 9)
		switch {
		case sum < total && mins[k] < capMin-2:
			mins[k]++
			sum++
		case sum > total && mins[k] > 8:
			mins[k]--
			sum--
		}
	}
	return mins
}

func playStats(r *rand.Rand, p *Player, l *statLine) {
	m := l.min
	l.fga = binomial(r, int(math.Ceil(float64(m)*0.9)), p.usage/0.9)
	l.fg3a = binomial(r, l.fga, p.threeShr)
	l.fg3m = binomial(r, l.fg3a, p.p3)
	fg2m := binomial(r, l.fga-l.fg3a, p.p2)
	l.fgm = fg2m + l.fg3m
	l.fta = binomial(r, l.fga+2, p.ftRate)
	l.ftm = binomial(r, l.fta, p.pft)
	l.oreb = binomial(r, m, p.orb)
	l.dreb = binomial(r, m, p.drb)
	l.ast = binomial(r, m, p.ast)
	l.stl = binomial(r, m, p.stl)
	l.blk = binomial(r, m, p.blk)
	l.tov = binomial(r, m, p.tov)
	l.pf = min(6, binomial(r, m, p.pf))
	l.pts = 2*fg2m + 3*l.fg3m + l.ftm
}

// setPlusMinus spreads five times the margin over the players who played, in proportion to
// minutes with noise, so that the team's plus-minus sums to 5 × margin.
func setPlusMinus(r *rand.Rand, lines []statLine, margin, total int) {
	sum := 0
	var played []int
	for k := range lines {
		if lines[k].min == 0 {
			continue
		}
		played = append(played, k)
		v := int(math.Round(float64(5*margin*lines[k].min)/float64(total) + r.NormFloat64()*5))
		lines[k].plusMinus = v
		sum += v
	}
	sort.SliceStable(played, func(a, b int) bool { return lines[played[a]].min > lines[played[b]].min })
	for i := 0; sum != 5*margin; i++ {
		k := played[i%len(played)]
		if sum < 5*margin {
			lines[k].plusMinus++
			sum++
		} else {
			lines[k].plusMinus--
			sum--
		}
	}
}
