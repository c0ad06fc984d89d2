package sourcesim

import (
	"math"
	"math/rand/v2"
	"sort"
	"time"
)

// Bookmaker is one sportsbook The Odds API reports.
type Bookmaker struct {
	Key, Title string
}

var bookmakers = []Bookmaker{
	{"draftkings", "DraftKings"},
	{"fanduel", "FanDuel"},
	{"betmgm", "BetMGM"},
	{"williamhill_us", "Caesars"},
	{"betrivers", "BetRivers"},
	{"bovada", "Bovada"},
	{"betonlineag", "BetOnline.ag"},
	{"espnbet", "ESPN BET"},
}

// PropsStart is the first date The Odds API has historical player props for.
const PropsStart = "2023-05-03"

// propLine is one player's points line at one bookmaker update.
type propLine struct {
	point       float64
	over, under int // American prices
}

// propUpdate is a bookmaker's player_points market as it stood from `at` on.
type propUpdate struct {
	at    time.Time
	lines map[int]propLine // pool index -> line
}

// bookProps is one bookmaker's timeline for a game, updates in time order. Pre-tip updates
// all fall at least 30 minutes before tip-off; in-game updates follow tip-off.
type bookProps struct {
	book    Bookmaker
	updates []propUpdate
}

// at returns the update in effect at t, or nil before the bookmaker opened the market.
func (b *bookProps) at(t time.Time) *propUpdate {
	var u *propUpdate
	for i := range b.updates {
		if b.updates[i].at.After(t) {
			break
		}
		u = &b.updates[i]
	}
	return u
}

// gameProps is every bookmaker's player_points timeline for one game.
type gameProps struct {
	books []bookProps
}

// propsLockMargin is how long before tip-off the last pre-tip line change happens at the
// latest, so any snapshot in the last half hour before tip-off sees the closing lines.
const propsLockMargin = 30 * time.Minute

// propsPerTeam is how many players per team a bookmaker may offer.
const propsPerTeam = 7

// buildProps draws the bookmakers' timelines for a game from its box score: the players
// offered are those who played, the seven most used per team (by minutes); every bookmaker
// offers the top three of each team and most of the others.
func buildProps(seed int64, pool []Player, g Game, b boxScore) gameProps {
	r := rngFor(seed, "props/"+g.NBAGameID)
	var cands []statLine
	var ranks []int
	for side := range 2 {
		ls := append([]statLine(nil), b.lines[side]...)
		sort.SliceStable(ls, func(i, j int) bool { return ls[i].min > ls[j].min })
		for k := 0; k < len(ls) && k < propsPerTeam; k++ {
			if ls[k].min > 0 {
				cands = append(cands, ls[k])
				ranks = append(ranks, k)
			}
		}
	}
	base := make(map[int]float64, len(cands))
	for _, l := range cands {
		p := pool[l.player]
		perShot := p.threeShr*3*p.p3 + (1-p.threeShr)*2*p.p2
		exp := float64(l.min) * p.usage * (perShot + p.ftRate*p.pft)
		base[l.player] = math.Floor(exp+r.NormFloat64()*2) + 0.5
		if base[l.player] < 2.5 {
			base[l.player] = 2.5
		}
	}
	nBooks := 4 + r.IntN(3)
	perm := r.Perm(len(bookmakers))[:nBooks]
	sort.Ints(perm)
	var gp gameProps
	for _, bi := range perm {
		bp := bookProps{book: bookmakers[bi]}
		open := g.Start.Add(-time.Duration(8*3600+r.IntN(10*3600)) * time.Second)
		lastPre := g.Start.Add(-propsLockMargin)
		times := []time.Time{open}
		for range r.IntN(4) {
			span := lastPre.Sub(open)
			times = append(times, open.Add(time.Duration(r.Int64N(int64(span)))).Truncate(time.Second))
		}
		sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
		nPre := len(times)
		for range 2 + r.IntN(2) {
			times = append(times, g.Start.Add(time.Duration(180+r.IntN(6000))*time.Second))
		}
		sort.Slice(times[nPre:], func(i, j int) bool { return times[nPre+i].Before(times[nPre+j]) })

		offered := map[int]propLine{}
		var order []int // players in candidate order: never draw in map order
		for k, l := range cands {
			if ranks[k] >= 3 && r.IntN(5) == 0 {
				continue
			}
			pt := base[l.player]
			switch x := r.IntN(10); {
			case x == 0:
				pt -= 1
			case x <= 2:
				pt -= 0.5
			case x <= 4:
				pt += 0.5
			case x == 5:
				pt += 1
			}
			offered[l.player] = priced(r, pt)
			order = append(order, l.player)
		}
		for ti, at := range times {
			lines := make(map[int]propLine, len(offered))
			for _, p := range order {
				pl := offered[p]
				if ti > 0 && r.IntN(3) == 0 {
					step := []float64{-0.5, 0.5, -1, 1}[r.IntN(4)]
					if ti >= nPre {
						step = []float64{-4.5, -3, -2, -1.5, 1.5, 2, 3, 4.5}[r.IntN(8)]
					}
					pl = priced(r, math.Max(0.5, pl.point+step))
					offered[p] = pl
				}
				lines[p] = pl
			}
			bp.updates = append(bp.updates, propUpdate{at: at, lines: lines})
		}
		gp.books = append(gp.books, bp)
	}
	return gp
}

// priced attaches an over/under American price pair with a bookmaker margin to a line.
func priced(r *rand.Rand, point float64) propLine {
	pOver := between(r, 0.44, 0.6)
	pUnder := 1.045 - pOver
	return propLine{point: point, over: american(pOver), under: american(pUnder)}
}

// american converts an implied probability to an American price rounded to 5.
func american(p float64) int {
	var v float64
	if p >= 0.5 {
		v = -100 * p / (1 - p)
	} else {
		v = 100 * (1 - p) / p
	}
	a := int(math.Round(v/5) * 5)
	if a > -100 && a < 100 {
		a = 100
	}
	return a
}

// decimalOdds converts an American price to decimal odds, as The Odds API prints by default.
func decimalOdds(a int) float64 {
	var d float64
	if a > 0 {
		d = 1 + float64(a)/100
	} else {
		d = 1 + 100/float64(-a)
	}
	return math.Round(d*100) / 100
}

// closingLine returns a bookmaker's line for a player in effect at tip-off, if any.
func (b *bookProps) closingLine(g Game, player int) (float64, bool) {
	u := b.at(g.Start)
	if u == nil {
		return 0, false
	}
	l, ok := u.lines[player]
	return l.point, ok
}

// consensus returns the median of the bookmakers' closing lines (mean of the two middle
// lines for an even count) and how many bookmakers had one.
func consensus(gp gameProps, g Game, player int) (float64, int) {
	var pts []float64
	for i := range gp.books {
		if v, ok := gp.books[i].closingLine(g, player); ok {
			pts = append(pts, v)
		}
	}
	if len(pts) == 0 {
		return 0, 0
	}
	sort.Float64s(pts)
	n := len(pts)
	if n%2 == 1 {
		return pts[n/2], n
	}
	return (pts[n/2-1] + pts[n/2]) / 2, n
}

// scratchShare is the share of a game's questionable rotation players that bookmakers post a
// points line for although the player ends up not playing (a late scratch): on the injury
// report as day-to-day, out of the box score. The line is in every pre-tip update and in
// none of the bookmakers' in-game updates; a bet on it is void.
const scratchShare = 0.5

// addScratches adds the late scratches' lines to a game's bookmaker timelines. It draws from
// its own keyed generators, so every other line stays as buildProps drew it.
func addScratches(seed int64, pool []Player, m *seasonModel, g Game, b boxScore, gp *gameProps) {
	date, _ := time.Parse(dateLayout, g.Date)
	for side, team := range []int{g.home, g.away} {
		dressed := map[int]bool{}
		for _, l := range b.lines[side] {
			dressed[l.player] = true
		}
		for rank, p := range m.rosters[team] {
			sp, hurt := m.spellOn(p, date)
			if rank >= propsPerTeam || dressed[p] || !hurt || sp.status != "Day-To-Day" {
				continue
			}
			r := rngFor(seed, "props/scratch/"+g.NBAGameID+"/"+pool[p].Lookup())
			if r.Float64() >= scratchShare {
				continue
			}
			pl := pool[p]
			perShot := pl.threeShr*3*pl.p3 + (1-pl.threeShr)*2*pl.p2
			point := math.Max(2.5, math.Floor(float64(minuteTargets[min(rank, len(minuteTargets)-1)])*pl.usage*(perShot+pl.ftRate*pl.pft))+0.5)
			for i := range gp.books {
				if r.IntN(10) < 3 {
					continue // this bookmaker did not post him
				}
				line := priced(r, point+[]float64{-0.5, 0, 0, 0.5}[r.IntN(4)])
				for k := range gp.books[i].updates {
					if u := &gp.books[i].updates[k]; u.at.Before(g.Start) {
						u.lines[p] = line
					}
				}
			}
		}
	}
}
