package sourcesim

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
)

// NBA.com's official game book: one PDF per game on statsdmz.nba.com, published a while after
// the final buzzer. This file decides what a book says (who played, who did not and why) and
// when it can be fetched; gamebook_pdf.go lays it out and renders it.

// Source and dataset of the game books, as used in Fault and RequestRecord.
const (
	SourceNBAStatsDMZ = "nbastatsdmz"
	DatasetGamebook   = "gamebook"
)

// Player statuses in a game book. A player on the roster is either active (a stat line), on
// the active list without playing (dnp: did not play, dnd: did not dress, nwt: not with the
// team), or on the inactive list.
const (
	GamebookActive   = "active"
	GamebookDNP      = "dnp"
	GamebookDND      = "dnd"
	GamebookNWT      = "nwt"
	GamebookInactive = "inactive"
)

// Reason categories of players who did not play, as the model decided them (the book prints
// only the reason text).
const (
	ReasonCoachDecision = "coach_decision"
	ReasonInjuryIllness = "injury_illness"
	ReasonPersonal      = "personal"
	ReasonNotWithTeam   = "not_with_team"
	ReasonGLeague       = "g_league"
	ReasonSuspension    = "suspension"
	ReasonOther         = "other"
)

// Ways a served game book is broken (GamebookTruth.Corrupt).
const (
	GamebookTruncated = "truncated" // the first part of the file only
	GamebookGarbage   = "garbage"   // a PDF header followed by random bytes
)

// activeListSize is how many players a team has on its active list for a game, usually;
// on some nights its two-way players dress too and the list grows to fullActiveList. The rest
// of the roster is inactive.
const (
	activeListSize = 13
	fullActiveList = 15
)

// gbRow is one roster player's entry in a game book.
type gbRow struct {
	player   int // pool index
	line     int // index into the box score side's lines, -1 when the player did not dress
	status   string
	reason   string // without the status prefix: "Coach's Decision", "Injury/Illness - Left Ankle; Sprain"
	category string
	starter  bool
	injury   string // the injury report status ("Out", "Day-To-Day") when the reason is a spell on it
}

// gbSide is one team's part of a game book.
type gbSide struct {
	team     int
	box      []gbRow // the box score section: players on the active list, starters first
	inactive []gbRow
	periods  []int // points per period
	wins     int   // the record after this game
	losses   int
}

// official is one referee of a game.
type official struct {
	number int
	name   string
}

// gamebook is everything a game's book says, plus when and how it is served.
type gamebook struct {
	g          Game
	b          *boxScore
	sides      [2]gbSide // as in boxScore: 0 home, 1 away
	officials  []official
	attendance int
	duration   time.Duration
	end        time.Time // when the game became final
	published  time.Time // the book is 404 before this instant
	corrupt    string
}

// gamebookOf builds a game's book from its box score, the season's injury spells and its
// own keyed generators. The box score is not changed: who played, and for how long, is the
// box score's; the book only adds why the others did not.
func (s *Sim) gamebookOf(m *seasonModel, gi int) gamebook {
	g := m.games[gi]
	b := s.box(m, gi)
	date, _ := time.Parse(dateLayout, g.Date)
	gb := gamebook{g: g, b: b}
	gb.end = g.Start.Add(2*time.Hour + 15*time.Minute + time.Duration(b.periods-4)*20*time.Minute)
	r := rngFor(s.seed, "gamebook/"+g.NBAGameID)
	for side, t := range []int{g.home, g.away} {
		gb.sides[side] = s.gamebookSide(m, g, b, side, t, date)
	}
	gb.sides[0].periods, gb.sides[1].periods = periodScores(r, b)
	gb.officials = officials(r)
	gb.attendance = 14000 + r.IntN(7200)
	gb.duration = gb.end.Sub(g.Start) - time.Duration(r.IntN(9))*time.Minute
	// Most books appear within a couple of hours; a few only the next day.
	delay := time.Duration(40+r.IntN(110)) * time.Minute
	if r.Float64() < 0.03 {
		delay = time.Duration(6*60+r.IntN(24*60)) * time.Minute
	}
	gb.published = gb.end.Add(delay)
	switch x := r.Float64(); {
	case x < 0.004:
		gb.corrupt = GamebookTruncated
	case x < 0.008:
		gb.corrupt = GamebookGarbage
	}
	gb.sides[0].wins, gb.sides[0].losses, gb.sides[1].wins, gb.sides[1].losses = s.records(m, gi)
	return gb
}

// gamebookSide decides the status of every roster player of one team in one game.
func (s *Sim) gamebookSide(m *seasonModel, g Game, b *boxScore, side, team int, date time.Time) gbSide {
	out := gbSide{team: team}
	lines := b.lines[side]
	inLines := map[int]bool{}
	var played, idle []gbRow
	for k, l := range lines {
		inLines[l.player] = true
		row := gbRow{player: l.player, line: k, status: GamebookActive}
		if l.min > 0 {
			row.starter = k < 5
			played = append(played, row)
			continue
		}
		idle = append(idle, row)
	}
	listed := len(played)
	size := activeListSize
	if rngFor(s.seed, fmt.Sprintf("gamebook/%s/%d/list", g.NBAGameID, team)).Float64() < 0.3 {
		size = fullActiveList
	}
	// Hurt players who did not dress: day-to-day ones may stay on the active list (DND), the
	// others are inactive. Either way their reason is the spell the injury report shows.
	var dnd, inactive []gbRow
	for _, p := range m.rosters[team] {
		if inLines[p] {
			continue
		}
		sp, ok := m.spellOn(p, date)
		if !ok {
			continue // every roster player missing from the box score is hurt that day
		}
		row := gbRow{player: p, line: -1, category: ReasonInjuryIllness, injury: sp.status,
			reason: injuryReason(s.seed, m.year, p, sp)}
		if sp.status == "Day-To-Day" && listed+len(idle)+len(dnd) < size {
			row.status = GamebookDND
			dnd = append(dnd, row)
			continue
		}
		row.status = GamebookInactive
		inactive = append(inactive, row)
	}
	// Players who dressed and did not play fill the active list; past it they are inactive.
	room := size - listed - len(dnd)
	for i, row := range idle {
		r := rngFor(s.seed, fmt.Sprintf("gamebook/%s/%d", g.NBAGameID, row.player))
		if i < room {
			row.status, row.reason, row.category = idleReason(r)
		} else {
			row.status = GamebookInactive
			row.reason, row.category = inactiveReason(r)
		}
		if row.status == GamebookInactive {
			inactive = append(inactive, row)
			continue
		}
		played = append(played, row)
	}
	out.box = append(played, dnd...)
	out.inactive = inactive
	return out
}

// spellOn returns the injury spell that keeps a player out on a date.
func (m *seasonModel) spellOn(p int, date time.Time) (spell, bool) {
	for _, sp := range m.spells[p] {
		if !date.Before(sp.from) && !date.After(sp.to) {
			return sp, true
		}
	}
	return spell{}, false
}

// idleReason draws why a player on the active list did not play.
func idleReason(r *rand.Rand) (status, reason, category string) {
	switch x := r.Float64(); {
	case x < 0.72:
		return GamebookDNP, "Coach's Decision", ReasonCoachDecision
	case x < 0.84:
		part := pick(r, bodyParts)
		return GamebookDND, injuryText(r, part), ReasonInjuryIllness
	case x < 0.90:
		return GamebookNWT, "Personal Reasons", ReasonPersonal
	case x < 0.95:
		return GamebookNWT, "Not With Team", ReasonNotWithTeam
	default:
		return GamebookNWT, "G League - Two-Way", ReasonGLeague
	}
}

// inactiveReason draws why a healthy player past the active list is inactive.
func inactiveReason(r *rand.Rand) (reason, category string) {
	switch x := r.Float64(); {
	case x < 0.45:
		return "G League - Two-Way", ReasonGLeague
	case x < 0.65:
		return "G League - On Assignment", ReasonGLeague
	case x < 0.75:
		return "Not With Team", ReasonNotWithTeam
	case x < 0.85:
		return "Personal Reasons", ReasonPersonal
	case x < 0.92:
		return "League Suspension", ReasonSuspension
	default:
		return "Trade Pending", ReasonOther
	}
}

// injuryParts are how the book names each body part of the injury model, whether it has a
// side, and the diagnoses it gets. The long ones are what makes a reason wrap in the box.
var injuryParts = map[string]struct {
	name  string
	sided bool
	kinds []string
}{
	"ankle":     {"Ankle", true, []string{"Sprain", "Soreness", "Injury Management"}},
	"knee":      {"Knee", true, []string{"Soreness", "Tendinitis", "Bone Bruise", "Injury Recovery/Management"}},
	"hamstring": {"Hamstring", true, []string{"Strain", "Tightness"}},
	"back":      {"Lower Back", false, []string{"Soreness", "Spasms"}},
	"calf":      {"Calf", true, []string{"Strain", "Tightness"}},
	"groin":     {"Groin", true, []string{"Strain"}},
	"hip":       {"Hip", true, []string{"Contusion", "Soreness", "Flexor Strain"}},
	"shoulder":  {"Shoulder", true, []string{"Sprain", "Soreness", "Labral Repair"}},
	"wrist":     {"Wrist", true, []string{"Sprain", "Fracture"}},
	"illness":   {"N/A", false, []string{"Illness"}},
	"foot":      {"Foot", true, []string{"Soreness", "Sprain", "Plantar Fasciitis"}},
	"Achilles":  {"Achilles", true, []string{"Tendinopathy", "Injury Recovery/Management - Return to Competition Reconditioning"}},
}

// injuryText is the book's reason for an injury to a body part of the model:
// "Injury/Illness - Left Ankle; Sprain".
func injuryText(r *rand.Rand, part string) string {
	ip, ok := injuryParts[part]
	if !ok {
		return "Injury/Illness - N/A; " + part
	}
	name := ip.name
	if ip.sided {
		name = []string{"Left ", "Right "}[r.IntN(2)] + name
	}
	return "Injury/Illness - " + name + "; " + ip.kinds[r.IntN(len(ip.kinds))]
}

// injuryReason is the reason for a spell: the same text for every game the spell covers.
func injuryReason(seed int64, season, p int, sp spell) string {
	return injuryText(rngFor(seed, fmt.Sprintf("gamebook/injury/%d/%d/%s", season, p, sp.from.Format(dateLayout))), sp.part)
}

// periodScores splits each side's final score into periods. Overtime needs a tie after
// regulation and after every overtime but the last, so those are shared first.
func periodScores(r *rand.Rand, b *boxScore) (home, away []int) {
	ots := b.periods - 4
	lead := 0 // side that won
	if b.pts[1] > b.pts[0] {
		lead = 1
	}
	out := [2][]int{make([]int, b.periods), make([]int, b.periods)}
	regulation := [2]int{b.pts[0], b.pts[1]}
	if ots > 0 {
		for p := 4; p < b.periods-1; p++ { // tied overtimes
			v := 6 + r.IntN(9)
			out[0][p], out[1][p] = v, v
			regulation[0] -= v
			regulation[1] -= v
		}
		lose := 4 + r.IntN(10)
		out[1-lead][b.periods-1] = lose
		out[lead][b.periods-1] = lose + b.pts[lead] - b.pts[1-lead]
		regulation[1-lead] -= lose
		regulation[lead] -= out[lead][b.periods-1]
	}
	for side := range 2 {
		left := regulation[side]
		for q := range 3 {
			v := left/(4-q) + r.IntN(9) - 4
			out[side][q] = max(0, v)
			left -= out[side][q]
		}
		out[side][3] = left
	}
	return out[0], out[1]
}

// officials draws a game's three referees.
func officials(r *rand.Rand) []official {
	var out []official
	used := map[int]bool{}
	for len(out) < 3 {
		n := 1 + r.IntN(98)
		if used[n] {
			continue
		}
		used[n] = true
		out = append(out, official{number: n, name: pick(r, plainFirst) + " " + pick(r, plainLast)})
	}
	return out
}

// records returns both teams' wins and losses after a game: every game of the season on an
// earlier date, plus this one (the same whatever the clock says).
func (s *Sim) records(m *seasonModel, gi int) (homeW, homeL, awayW, awayL int) {
	g := m.games[gi]
	count := func(team int) (w, l int) {
		for i, o := range m.games {
			if (o.Date >= g.Date && i != gi) || (o.home != team && o.away != team) {
				continue
			}
			b := s.box(m, i)
			won := (o.home == team) == (b.pts[0] > b.pts[1])
			if won {
				w++
			} else {
				l++
			}
		}
		return w, l
	}
	homeW, homeL = count(g.home)
	awayW, awayL = count(g.away)
	return homeW, homeL, awayW, awayL
}

// printedName is how the inactive list names a player: the last name (with the suffix), or
// the full name when a teammate shares the last name.
func (s *Sim) printedName(m *seasonModel, team, p int) string {
	pl := s.pool[p]
	for _, q := range m.rosters[team] {
		if q != p && foldASCII(s.pool[q].Last) == foldASCII(pl.Last) {
			return pl.FullName()
		}
	}
	if pl.Suffix != "" {
		return pl.Last + " " + pl.Suffix
	}
	return pl.Last
}

// gamebookPath is the path of a game's book under the simulator:
// /nbastatsdmz/pdfs/20240410/20240410_MEMCLE_book.pdf, as statsdmz.nba.com names it.
func gamebookPath(g Game) string {
	day := strings.ReplaceAll(g.Date, "-", "")
	return "/nbastatsdmz/pdfs/" + day + "/" + day + "_" + g.Away + g.Home + "_book.pdf"
}

// gamebookDates is the Eastern date in a game book's path, for fault matching and the log.
func gamebookDates(r *http.Request) []string {
	d, err := time.Parse("20060102", r.PathValue("day"))
	if err != nil {
		return nil
	}
	return []string{d.Format(dateLayout)}
}

// findGamebook resolves a game book's path to its game.
func (s *Sim) findGamebook(day, file string) (*seasonModel, int, bool) {
	d, err := time.Parse("20060102", day)
	if err != nil {
		return nil, 0, false
	}
	rest, ok := strings.CutPrefix(file, day+"_")
	rest, ok2 := strings.CutSuffix(rest, "_book.pdf")
	if !ok || !ok2 || len(rest) != 6 {
		return nil, 0, false
	}
	m, err := s.season(SeasonOf(d))
	if err != nil {
		return nil, 0, false
	}
	for _, gi := range m.byDate[d.Format(dateLayout)] {
		if g := m.games[gi]; g.Away+g.Home == rest {
			return m, gi, true
		}
	}
	return nil, 0, false
}

// gamebookPDF serves a game's book: 404 until it is published, then the PDF (or, for a
// corrupt book, broken bytes with 200, as a CDN serves whatever it was given).
func (s *Sim) gamebookPDF(r *http.Request, mode serveMode) response {
	notFound := response{status: http.StatusNotFound, header: http.Header{"Content-Type": {"application/xml"}},
		body: []byte("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>")}
	m, gi, ok := s.findGamebook(r.PathValue("day"), r.PathValue("file"))
	if !ok || mode.skip(m.games[gi]) {
		return notFound
	}
	gb := s.gamebookOf(m, gi)
	if s.now().Before(gb.published) {
		return notFound
	}
	header := http.Header{
		"Content-Type":  {"application/pdf"},
		"Last-Modified": {gb.published.UTC().Format(http.TimeFormat)},
	}
	if mode.empty {
		return response{status: http.StatusOK, header: header, body: []byte{}}
	}
	body, err := s.renderGamebook(m, gb)
	if err != nil {
		return textResponse(http.StatusInternalServerError, fmt.Sprintf("sourcesim: render game book %s: %v", gb.g.GameID, err))
	}
	return response{status: http.StatusOK, header: header, body: s.corrupt(gb, body)}
}

// corrupt breaks a corrupt book's bytes the way its GamebookTruth.Corrupt says.
func (s *Sim) corrupt(gb gamebook, body []byte) []byte {
	r := rngFor(s.seed, "gamebook/corrupt/"+gb.g.NBAGameID)
	switch gb.corrupt {
	case GamebookTruncated:
		return body[:len(body)*(30+r.IntN(60))/100]
	case GamebookGarbage:
		out := []byte("%PDF-1.3\n")
		for len(out) < len(body) {
			out = append(out, byte(r.IntN(256)))
		}
		return out
	}
	return body
}

func (s *Sim) getGamebookTruth(w http.ResponseWriter, r *http.Request) {
	t, err := s.Gamebooks(r.URL.Query().Get("date"))
	if err != nil {
		http.Error(w, err.Error()+" (GET /_sim/truth/gamebooks?date=YYYY-MM-DD)", http.StatusBadRequest)
		return
	}
	writeJSON(w, http.StatusOK, t)
}
