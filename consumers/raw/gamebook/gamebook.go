// Package gamebook reads NBA.com's official game book, the PDF statsdmz.nba.com publishes for
// every game (/pdfs/YYYYMMDD/YYYYMMDD_AWAYHOME_book.pdf) a while after the final buzzer. It is
// the only source that says why a player did not play: its box scores list the players who
// did not play with a status and a reason ("DNP - Coach's Decision", "DND - Injury/Illness -
// Left Ankle; Sprain", "NWT - Personal Reasons") and each team's inactive list gives the rest
// of the roster with their reasons.
//
// Parse returns the whole book or an error, never part of it: a file that is not a readable
// PDF is ErrCorrupt, a readable one that is not a complete and self-consistent game book
// (a team missing, a stat line that does not add up to the totals) is ErrLayout. Both are
// properties of the bytes: fetching the same bytes again cannot fix them.
//
// The text is read with positions and assigned to the columns the box score's header row
// names, so the parser follows the columns wherever the layout puts them; a box that runs
// onto the next page, a reason that wraps onto a second line, and an inactive list split
// across lines are joined back.
package gamebook

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ErrCorrupt means the bytes are not a readable PDF: truncated, garbage, or a broken
// object. Fetching the same object again cannot help.
var ErrCorrupt = errors.New("game book is not a readable PDF")

// ErrLayout means the PDF reads but is not a complete game book as this parser knows it:
// a section is missing, a row does not fit the columns, or the numbers do not add up.
var ErrLayout = errors.New("game book layout not understood")

// Status is how a roster player took part in the game.
type Status string

// The statuses. A player on the active list either played (active) or did not: did not
// play (dnp), did not dress (dnd), not with the team (nwt); the rest of the roster is
// inactive.
const (
	StatusActive   Status = "active"
	StatusDNP      Status = "dnp"
	StatusDND      Status = "dnd"
	StatusNWT      Status = "nwt"
	StatusInactive Status = "inactive"
)

// Category groups the reasons a player did not play, so that a model can tell a coach's
// decision from an injury without reading the text.
type Category string

// The categories, derived from the reason text.
const (
	CategoryNone          Category = "" // an active player
	CategoryCoachDecision Category = "coach_decision"
	CategoryInjuryIllness Category = "injury_illness"
	CategoryPersonal      Category = "personal"
	CategoryNotWithTeam   Category = "not_with_team"
	CategoryGLeague       Category = "g_league"
	CategorySuspension    Category = "suspension"
	CategoryOther         Category = "other"
)

// Gamebook is one game's book.
type Gamebook struct {
	GameCode  string // "20240410/MEMCLE": date, visitor and home tricodes
	NBAGameID string // "0022301195"
	Date      string // YYYY-MM-DD, the Eastern date of the game
	Periods   int    // 4, or more with overtime
	Away      Team
	Home      Team
}

// Team is one team's part of a book.
type Team struct {
	Tricode      string // NBA tricode, from the game code
	Name         string // "Memphis Grizzlies"
	PeriodPoints []int  // points per period, overtime included
	Points       int
	// Players are in print order: the box score (starters first), then the inactive list.
	Players []Player
	Totals  Stats // the box score's TOTALS row
}

// Player is one roster player's entry.
type Player struct {
	Jersey string // "" on the inactive list, which prints none
	// Name as printed: the full name in the box score ("Luka Dončić", "Jaren Jackson Jr."),
	// usually only the last name in the inactive list ("Morant").
	Name     string
	Position string // a starter's position ("F", "C", "G"); "" on the bench
	Starter  bool
	Status   Status
	Reason   string // without the status: "Coach's Decision"; "" for an active player
	Category Category
	Stats    Stats // zero unless Status is active
}

// Stats is a stat line as the book prints it.
type Stats struct {
	Seconds   int // MIN, "35:42"
	FGM       int
	FGA       int
	FG3M      int
	FG3A      int
	FTM       int
	FTA       int
	OffReb    int
	DefReb    int
	Rebounds  int
	Assists   int
	Fouls     int
	Steals    int
	Turnovers int
	Blocks    int
	PlusMinus int
	Points    int
}

// Parse reads a game book. It returns the whole book or an error wrapping ErrCorrupt or
// ErrLayout that says what was wrong.
func Parse(data []byte) (Gamebook, error) {
	lines, err := readLines(data)
	if err != nil {
		return Gamebook{}, err
	}
	return parseLines(lines)
}

// parseLines reads a game book from its text lines.
func parseLines(lines []line) (Gamebook, error) {
	p := &parser{}
	for _, l := range lines {
		if err := p.line(l); err != nil {
			return Gamebook{}, fmt.Errorf("%w: page %d: %w", ErrLayout, l.page, err)
		}
	}
	gb, err := p.finish()
	if err != nil {
		return Gamebook{}, fmt.Errorf("%w: %w", ErrLayout, err)
	}
	return gb, nil
}

// statColumns are the box score's stat columns in print order, after NO, PLAYER, POS and MIN.
var statColumns = []string{"FG", "FGA", "3P", "3PA", "FT", "FTA", "OR", "DR", "TOT", "A", "PF", "ST", "TO", "BS", "+/-", "PTS"}

// column is one column of the box score, as its header row places it.
type column struct {
	label  string
	x0, x1 float64
}

// section is one team's box score being read.
type section struct {
	side      string // VISITOR or HOME
	name      string
	team      *Team
	columns   []column
	totals    bool    // the TOTALS row was read
	lastShort bool    // the last row was a did-not-play reason, which may continue
	reasonX   float64 // where that reason starts: its next line starts there too
}

// parser is the state of reading a book's lines in order.
type parser struct {
	gameID, gameCode string
	pages            int
	pageOf           map[int]bool
	periodLabels     []string
	scores           map[string][]int // tricode -> period points then the final
	scoreTable       bool
	cur              *section
	sides            map[string]*Team // VISITOR, HOME
	inactive         map[string]string
	inactiveOrder    []string
	inInactive       string // nickname of the inactive list being read
}

var (
	reGameCode  = regexp.MustCompile(`Game Code:\s*(\d{8})/([A-Z]{3})([A-Z]{3})`)
	reGameID    = regexp.MustCompile(`Game ID:\s*(\d{10})`)
	reSection   = regexp.MustCompile(`^(VISITOR|HOME):\s*(.+?)\s*\((\d+)-(\d+)\)(\s*\(continued\))?$`)
	rePage      = regexp.MustCompile(`^Page (\d+) of (\d+)$`)
	reStatus    = regexp.MustCompile(`^(DNP|DND|NWT)\s*-\s*(.*)$`)
	reMinutes   = regexp.MustCompile(`^(\d{1,3}):(\d{2})$`)
	reTricode   = regexp.MustCompile(`^[A-Z]{3}$`)
	reInactive  = regexp.MustCompile(`^Inactive:\s*(.+?)\s+-\s+(.*)$`)
	rePeriodLbl = regexp.MustCompile(`^(\d|OT\d+)$`)
)

func (p *parser) line(l line) error {
	t := l.text()
	first := l.runs[0].text
	switch {
	case first == "OFFICIAL GAME BOOK":
		return p.pageHeader(t)
	case strings.HasPrefix(first, "Generated "), rePage.MatchString(l.runs[len(l.runs)-1].text) && len(l.runs) <= 2:
		if m := rePage.FindStringSubmatch(l.runs[len(l.runs)-1].text); m != nil {
			n, _ := strconv.Atoi(m[2])
			if p.pages != 0 && p.pages != n {
				return fmt.Errorf("footer says %s, an earlier one said %d pages", m[0], p.pages)
			}
			p.pages = n
			if p.pageOf == nil {
				p.pageOf = map[int]bool{}
			}
			k, _ := strconv.Atoi(m[1])
			p.pageOf[k] = true
		}
		return nil
	case first == "SCORE BY PERIODS":
		p.scoreTable = true
		p.periodLabels = nil
		for _, r := range l.runs[1:] {
			p.periodLabels = append(p.periodLabels, r.text)
		}
		return nil
	case p.scoreTable && reTricode.MatchString(first) && p.cur == nil:
		vals, err := ints(l.runs[1:])
		if err != nil {
			return fmt.Errorf("score row %q: %w", t, err)
		}
		if p.scores == nil {
			p.scores = map[string][]int{}
		}
		p.scores[first] = vals
		return nil
	case reSection.MatchString(t):
		p.scoreTable = false
		return p.section(t)
	case strings.HasPrefix(t, "Inactive:"):
		p.cur = nil
		m := reInactive.FindStringSubmatch(t)
		if m == nil {
			return fmt.Errorf("inactive line %q: want \"Inactive: <team> - <players>\"", t)
		}
		if p.inactive == nil {
			p.inactive = map[string]string{}
		}
		if _, dup := p.inactive[m[1]]; dup {
			return fmt.Errorf("a second inactive list for %s", m[1])
		}
		p.inactive[m[1]] = m[2]
		p.inactiveOrder = append(p.inactiveOrder, m[1])
		p.inInactive = m[1]
		return nil
	case p.cur != nil:
		return p.boxLine(l)
	case p.inInactive != "":
		p.inactive[p.inInactive] += " " + t
		return nil
	}
	return nil // the header's matchup, date, officials and attendance lines
}

// pageHeader checks that every page is of the same game.
func (p *parser) pageHeader(t string) error {
	code, id := reGameCode.FindStringSubmatch(t), reGameID.FindStringSubmatch(t)
	if code == nil || id == nil {
		return fmt.Errorf("page header %q has no Game ID and Game Code", t)
	}
	gc := code[1] + "/" + code[2] + code[3]
	if p.gameCode != "" && (p.gameCode != gc || p.gameID != id[1]) {
		return fmt.Errorf("page header names game %s %s, an earlier page %s %s", id[1], gc, p.gameID, p.gameCode)
	}
	p.gameCode, p.gameID = gc, id[1]
	return nil
}

// section starts a team's box score, or continues it on a new page.
func (p *parser) section(t string) error {
	m := reSection.FindStringSubmatch(t)
	side, name, continued := m[1], m[2], m[5] != ""
	if p.sides == nil {
		p.sides = map[string]*Team{}
	}
	if continued {
		if p.cur == nil || p.cur.side != side || p.cur.name != name {
			return fmt.Errorf("%q continues a box score that was not open", t)
		}
		p.cur.columns = nil // the header row is repeated below
		p.cur.lastShort = false
		return nil
	}
	if p.cur != nil && !p.cur.totals {
		return fmt.Errorf("%s box score of %s ends without a TOTALS row", p.cur.side, p.cur.name)
	}
	if _, dup := p.sides[side]; dup {
		return fmt.Errorf("a second %s box score (%s)", side, name)
	}
	team := &Team{Name: name}
	p.sides[side] = team
	p.cur = &section{side: side, name: name, team: team}
	return nil
}

// boxLine reads one line inside a box score: its header row, a player, a continued reason
// or the totals.
func (p *parser) boxLine(l line) error {
	s := p.cur
	if strings.HasPrefix(l.runs[0].text, "Percentages:") {
		if !s.totals {
			return fmt.Errorf("%s box score of %s ends without a TOTALS row", s.side, s.name)
		}
		return nil
	}
	if s.totals {
		return fmt.Errorf("line %q after the TOTALS row of %s", l.text(), s.name)
	}
	if l.runs[0].text == "NO" {
		return p.header(l)
	}
	if s.columns == nil {
		return fmt.Errorf("row %q before the column header of %s", l.text(), s.name)
	}
	cells := map[string]string{}
	var reason *run
	for i := range l.runs {
		r := l.runs[i]
		if m := reStatus.FindStringSubmatch(r.text); m != nil && cells["PLAYER"] != "" {
			reason = &l.runs[i]
			continue
		}
		c := s.column(r)
		if _, dup := cells[c]; dup {
			return fmt.Errorf("row %q: two values in column %s", l.text(), c)
		}
		cells[c] = r.text
	}
	switch {
	case cells["PLAYER"] == "TOTALS:":
		st, err := statLine(cells)
		if err != nil {
			return fmt.Errorf("TOTALS row of %s: %w", s.name, err)
		}
		s.team.Totals = st
		s.totals = true
		s.lastShort = false
		return nil
	case reason != nil:
		m := reStatus.FindStringSubmatch(reason.text)
		if len(cells) != 2 || cells["NO"] == "" {
			return fmt.Errorf("row %q: a reason row has a number, a name and the reason only", l.text())
		}
		s.team.Players = append(s.team.Players, Player{Jersey: cells["NO"], Name: cells["PLAYER"], Status: Status(strings.ToLower(m[1])), Reason: m[2]})
		s.lastShort, s.reasonX = true, reason.x0
		return nil
	case cells["NO"] == "" && cells["PLAYER"] == "" && s.lastShort && len(l.runs) == 1 && abs(l.runs[0].x0-s.reasonX) < 2:
		last := &s.team.Players[len(s.team.Players)-1]
		last.Reason += " " + l.runs[0].text
		return nil
	case cells["NO"] != "" && cells["PLAYER"] != "":
		st, err := statLine(cells)
		if err != nil {
			return fmt.Errorf("row of %s: %w", cells["PLAYER"], err)
		}
		pl := Player{Jersey: cells["NO"], Name: cells["PLAYER"], Position: cells["POS"], Starter: cells["POS"] != "", Status: StatusActive, Stats: st}
		s.team.Players = append(s.team.Players, pl)
		s.lastShort = false
		return nil
	}
	return fmt.Errorf("row %q of %s is neither a player, a reason nor the totals", l.text(), s.name)
}

// header reads the box score's column header row.
func (p *parser) header(l line) error {
	want := append([]string{"NO", "PLAYER", "POS", "MIN"}, statColumns...)
	if len(l.runs) != len(want) {
		return fmt.Errorf("column header %q: want %s", l.text(), strings.Join(want, " "))
	}
	var cols []column
	for i, r := range l.runs {
		if r.text != want[i] {
			return fmt.Errorf("column header %q: column %d is %q, want %q", l.text(), i+1, r.text, want[i])
		}
		cols = append(cols, column{label: r.text, x0: r.x0, x1: r.x1})
	}
	p.cur.columns = cols
	return nil
}

// column names the column a run belongs to: the one whose header it overlaps most, or else
// the nearest.
func (s *section) column(r run) string {
	best, bestOverlap, bestDist := "", 0.0, 0.0
	for _, c := range s.columns {
		overlap := min(r.x1, c.x1) - max(r.x0, c.x0)
		dist := max(c.x0-r.x1, r.x0-c.x1)
		switch {
		case overlap > bestOverlap:
			best, bestOverlap = c.label, overlap
		case bestOverlap <= 0 && overlap <= 0 && (best == "" || dist < bestDist):
			best, bestDist = c.label, dist
		}
	}
	return best
}

// statLine reads MIN and the stat columns of a row.
func statLine(cells map[string]string) (Stats, error) {
	m := reMinutes.FindStringSubmatch(cells["MIN"])
	if m == nil {
		return Stats{}, fmt.Errorf("MIN %q: want mm:ss", cells["MIN"])
	}
	mins, _ := strconv.Atoi(m[1])
	secs, _ := strconv.Atoi(m[2])
	st := Stats{Seconds: mins*60 + secs}
	dst := []*int{&st.FGM, &st.FGA, &st.FG3M, &st.FG3A, &st.FTM, &st.FTA, &st.OffReb, &st.DefReb, &st.Rebounds,
		&st.Assists, &st.Fouls, &st.Steals, &st.Turnovers, &st.Blocks, &st.PlusMinus, &st.Points}
	for i, c := range statColumns {
		v, ok := cells[c]
		if !ok && c == "+/-" && cells["PLAYER"] == "TOTALS:" {
			continue // the totals row has no plus-minus
		}
		n, err := strconv.Atoi(strings.TrimPrefix(v, "+"))
		if err != nil {
			return Stats{}, fmt.Errorf("column %s is %q, want an integer", c, v)
		}
		*dst[i] = n
	}
	return st, nil
}

func ints(runs []run) ([]int, error) {
	out := make([]int, len(runs))
	for i, r := range runs {
		n, err := strconv.Atoi(r.text)
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", r.text)
		}
		out[i] = n
	}
	return out, nil
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// finish assembles the book and checks that it is complete and adds up.
func (p *parser) finish() (Gamebook, error) {
	if p.gameCode == "" {
		return Gamebook{}, errors.New("no page header with a Game Code")
	}
	d, err := time.Parse("20060102", p.gameCode[:8])
	if err != nil {
		return Gamebook{}, fmt.Errorf("game code %s: %w", p.gameCode, err)
	}
	gb := Gamebook{GameCode: p.gameCode, NBAGameID: p.gameID, Date: d.Format("2006-01-02")}
	if p.cur != nil && !p.cur.totals {
		return Gamebook{}, fmt.Errorf("%s box score of %s ends without a TOTALS row", p.cur.side, p.cur.name)
	}
	away, home := p.sides["VISITOR"], p.sides["HOME"]
	if away == nil || home == nil {
		return Gamebook{}, fmt.Errorf("want a VISITOR and a HOME box score, found %d", len(p.sides))
	}
	if p.pages == 0 || len(p.pageOf) != p.pages {
		return Gamebook{}, fmt.Errorf("found %d of the %d pages the footers announce", len(p.pageOf), p.pages)
	}
	away.Tricode, home.Tricode = p.gameCode[9:12], p.gameCode[12:15]
	gb.Periods = len(p.periodLabels) - 1
	if gb.Periods < 4 || p.periodLabels[len(p.periodLabels)-1] != "FINAL" {
		return Gamebook{}, fmt.Errorf("score by periods header %v: want 1 2 3 4 [OT1 ...] FINAL", p.periodLabels)
	}
	for i, lbl := range p.periodLabels[:gb.Periods] {
		want := strconv.Itoa(i + 1)
		if i >= 4 {
			want = fmt.Sprintf("OT%d", i-3)
		}
		if lbl != want || !rePeriodLbl.MatchString(lbl) {
			return Gamebook{}, fmt.Errorf("score by periods header %v: period %d is %q", p.periodLabels, i+1, lbl)
		}
	}
	for _, t := range []*Team{away, home} {
		row, ok := p.scores[t.Tricode]
		if !ok || len(row) != gb.Periods+1 {
			return Gamebook{}, fmt.Errorf("score by periods has no row of %d numbers for %s", gb.Periods+1, t.Tricode)
		}
		t.PeriodPoints, t.Points = row[:gb.Periods], row[gb.Periods]
		if err := p.inactiveOf(t); err != nil {
			return Gamebook{}, err
		}
	}
	if len(p.inactive) != 2 {
		return Gamebook{}, fmt.Errorf("want an inactive list per team, found %v", p.inactiveOrder)
	}
	for _, t := range []*Team{away, home} {
		opp := home
		if t == home {
			opp = away
		}
		if err := check(t, opp, gb.Periods); err != nil {
			return Gamebook{}, err
		}
	}
	gb.Away, gb.Home = *away, *home
	return gb, nil
}

// inactiveOf adds a team's inactive list, named by the team's nickname, to its players.
func (p *parser) inactiveOf(t *Team) error {
	var nick string
	for _, n := range p.inactiveOrder {
		if strings.HasSuffix(t.Name, " "+n) && len(n) > len(nick) {
			nick = n
		}
	}
	if nick == "" {
		return fmt.Errorf("no inactive list for %s (lists for %v)", t.Name, p.inactiveOrder)
	}
	list := strings.TrimSpace(p.inactive[nick])
	if list == "None" {
		return nil
	}
	for _, entry := range splitTop(list) {
		open := strings.Index(entry, "(")
		if open <= 0 || !strings.HasSuffix(entry, ")") {
			return fmt.Errorf("inactive list of %s: entry %q: want \"Name (Reason)\"", t.Name, entry)
		}
		reason := strings.TrimSpace(entry[open+1 : len(entry)-1])
		t.Players = append(t.Players, Player{Name: strings.TrimSpace(entry[:open]), Status: StatusInactive, Reason: reason, Category: categorize(reason)})
	}
	return nil
}

// splitTop splits a list at the commas outside parentheses.
func splitTop(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

// categorize derives a reason's category from its text.
func categorize(reason string) Category {
	r := strings.ToLower(reason)
	switch {
	case strings.Contains(r, "coach"):
		return CategoryCoachDecision
	case strings.HasPrefix(r, "injury/illness"), strings.HasPrefix(r, "injury"), strings.HasPrefix(r, "illness"):
		return CategoryInjuryIllness
	case strings.Contains(r, "personal"):
		return CategoryPersonal
	case strings.Contains(r, "not with team"):
		return CategoryNotWithTeam
	case strings.Contains(r, "g league"), strings.Contains(r, "g-league"):
		return CategoryGLeague
	case strings.Contains(r, "suspension"), strings.Contains(r, "suspended"):
		return CategorySuspension
	}
	return CategoryOther
}

// check verifies that a team's rows add up to its totals and its score, and fills in the
// categories of the box score's reasons.
func check(t, opp *Team, periods int) error {
	var sum Stats
	starters, active := 0, 0
	plusMinus := 0
	for i := range t.Players {
		pl := &t.Players[i]
		if pl.Status == StatusInactive {
			continue
		}
		if pl.Status != StatusActive {
			pl.Category = categorize(pl.Reason)
			continue
		}
		active++
		if pl.Starter {
			starters++
		}
		st := pl.Stats
		if st.Rebounds != st.OffReb+st.DefReb {
			return fmt.Errorf("%s %s: TOT %d is not OR %d + DR %d", t.Tricode, pl.Name, st.Rebounds, st.OffReb, st.DefReb)
		}
		if st.Points != 2*st.FGM+st.FG3M+st.FTM {
			return fmt.Errorf("%s %s: PTS %d is not 2 FG %d + 3P %d + FT %d", t.Tricode, pl.Name, st.Points, st.FGM, st.FG3M, st.FTM)
		}
		if st.FGM > st.FGA || st.FG3M > st.FG3A || st.FTM > st.FTA || st.FG3A > st.FGA {
			return fmt.Errorf("%s %s: more made than attempted in %+v", t.Tricode, pl.Name, st)
		}
		sum = add(sum, st)
		plusMinus += st.PlusMinus
	}
	if starters != 5 {
		return fmt.Errorf("%s has %d starters, want 5", t.Tricode, starters)
	}
	want := t.Totals
	want.PlusMinus = sum.PlusMinus
	if sum != want {
		return fmt.Errorf("%s: the players add up to %+v, the TOTALS row says %+v", t.Tricode, sum, t.Totals)
	}
	if game := 5 * 60 * (48 + 5*(periods-4)); sum.Seconds != game {
		return fmt.Errorf("%s: the players' minutes add up to %d seconds, want %d for %d periods", t.Tricode, sum.Seconds, game, periods)
	}
	total := 0
	for _, v := range t.PeriodPoints {
		total += v
	}
	if total != t.Points || t.Points != sum.Points {
		return fmt.Errorf("%s: periods add up to %d, the final is %d, the players scored %d", t.Tricode, total, t.Points, sum.Points)
	}
	if want := 5 * (t.Points - opp.Points); plusMinus != want {
		return fmt.Errorf("%s: plus-minus adds up to %d, want five times the margin, %d", t.Tricode, plusMinus, want)
	}
	return nil
}

func add(a, b Stats) Stats {
	return Stats{
		Seconds: a.Seconds + b.Seconds, FGM: a.FGM + b.FGM, FGA: a.FGA + b.FGA, FG3M: a.FG3M + b.FG3M, FG3A: a.FG3A + b.FG3A,
		FTM: a.FTM + b.FTM, FTA: a.FTA + b.FTA, OffReb: a.OffReb + b.OffReb, DefReb: a.DefReb + b.DefReb, Rebounds: a.Rebounds + b.Rebounds,
		Assists: a.Assists + b.Assists, Fouls: a.Fouls + b.Fouls, Steals: a.Steals + b.Steals, Turnovers: a.Turnovers + b.Turnovers,
		Blocks: a.Blocks + b.Blocks, PlusMinus: a.PlusMinus + b.PlusMinus, Points: a.Points + b.Points,
	}
}
