package sourcesim

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-pdf/fpdf"
	"golang.org/x/image/font/gofont/goregular"
)

// The game book's layout: one US Letter portrait page (612 x 792 pt) that runs onto a second
// when the box scores do not fit. Names keep their accents, so the text is set in the Go
// fonts embedded as UTF-8 (Identity-H) fonts: the PDF core fonts are cp1252 and have no
// "č", "ş" or "ņ".
const (
	gbLeft     = 36.0  // left margin
	gbTop      = 34.0  // first line of a page
	gbBottom   = 748.0 // no line starts below this
	gbFooterY  = 762.0
	gbRight    = 576.0 // right margin
	gbBody     = 7.5   // font size of the box scores
	gbRowH     = 16    // height of a box score row
	gbFontName = "go"
)

// gbColumn is one column of a box score.
type gbColumn struct {
	label string
	x, w  float64
	align string
}

// gbColumns are the box score's columns: jersey number, player, the starter's position,
// minutes and the stat line, as the official book prints them.
var gbColumns = func() []gbColumn {
	cols := []gbColumn{
		{label: "NO", x: gbLeft, w: 16, align: "R"},
		{label: "PLAYER", x: gbLeft + 18, w: 130, align: "L"},
		{label: "POS", x: gbLeft + 148, w: 18, align: "C"},
		{label: "MIN", x: gbLeft + 166, w: 28, align: "R"},
	}
	x := gbLeft + 194
	for _, l := range []string{"FG", "FGA", "3P", "3PA", "FT", "FTA", "OR", "DR", "TOT", "A", "PF", "ST", "TO", "BS", "+/-", "PTS"} {
		cols = append(cols, gbColumn{label: l, x: x, w: 21, align: "R"})
		x += 21
	}
	return cols
}()

// gbReasonW is the width a did-not-play reason may take, from the minutes column on; a
// longer reason wraps onto the next line, as the official book does.
const gbReasonW = 21*8 + 28

// gbCell is one piece of text at a position.
type gbCell struct {
	x, w  float64
	align string
	text  string
}

// gbLine is one line of cells on a page.
type gbLine struct {
	y     float64 // top of the line
	h     float64
	size  float64
	cells []gbCell
}

// gbLayout is a game book laid out on pages, with the traps the layout produced.
type gbLayout struct {
	pages   [][]gbLine
	wrapped bool // a did-not-play reason in a box runs onto a second line
	split   bool // a team's box score runs onto the next page
}

// gbWidths are the font's glyph widths in thousandths of the font size, for laying out
// without a PDF document. They are read once from the font fpdf embeds.
var gbWidths = sync.OnceValue(func() map[rune]int {
	pdf := newGamebookDoc(time.Time{})
	table := map[rune]int{}
	pdf.SetFont(gbFontName, "", 10)
	for r := rune(32); r < 0x250; r++ {
		table[r] = pdf.GetStringSymbolWidth(string(r))
	}
	return table
})

// textWidth is the width in points of text set at size.
func textWidth(text string, size float64) float64 {
	table := gbWidths()
	w := 0
	for _, r := range text {
		if v, ok := table[r]; ok {
			w += v
			continue
		}
		w += table['M']
	}
	return float64(w) * size / 1000
}

// wrapText breaks text at spaces into lines no wider than width (a word longer than a line
// gets a line of its own).
func wrapText(text string, width, size float64) []string {
	var lines []string
	cur := ""
	for _, word := range strings.Fields(text) {
		next := word
		if cur != "" {
			next = cur + " " + word
		}
		if cur != "" && textWidth(next, size) > width {
			lines = append(lines, cur)
			cur = word
			continue
		}
		cur = next
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	return lines
}

// layouter places lines top to bottom and starts a new page when one does not fit.
type layouter struct {
	gb      gamebook
	pages   [][]gbLine
	y       float64
	inBox   string // the team header to repeat on a new page while in a box score
	split   bool
	wrapped bool
}

func (l *layouter) newPage() {
	l.pages = append(l.pages, nil)
	l.y = gbTop
	g := l.gb.g
	l.add(gbLine{h: 16, size: 11, cells: []gbCell{
		{x: gbLeft, w: 250, align: "L", text: "OFFICIAL GAME BOOK"},
		{x: gbRight - 290, w: 290, align: "R", text: "Game ID: " + g.NBAGameID + "   Game Code: " + strings.ReplaceAll(g.Date, "-", "") + "/" + g.Away + g.Home},
	}})
	l.y += 4
	if l.inBox != "" {
		l.split = true
		l.add(gbLine{h: 14, size: 9, cells: []gbCell{{x: gbLeft, w: 400, align: "L", text: l.inBox + " (continued)"}}})
		l.columnHeader()
	}
}

// add places a line, on a new page if it does not fit on this one.
func (l *layouter) add(ln gbLine) {
	if len(l.pages) == 0 || l.y+ln.h > gbBottom {
		l.newPage()
	}
	ln.y = l.y
	l.pages[len(l.pages)-1] = append(l.pages[len(l.pages)-1], ln)
	l.y += ln.h
}

// keep starts a new page unless h more points fit on this one.
func (l *layouter) keep(h float64) {
	if l.y+h > gbBottom {
		l.newPage()
	}
}

func (l *layouter) text(size, h float64, text string) {
	l.add(gbLine{h: h, size: size, cells: []gbCell{{x: gbLeft, w: gbRight - gbLeft, align: "L", text: text}}})
}

func (l *layouter) columnHeader() {
	var cells []gbCell
	for _, c := range gbColumns {
		cells = append(cells, gbCell{x: c.x, w: c.w, align: c.align, text: c.label})
	}
	l.add(gbLine{h: gbRowH, size: gbBody, cells: cells})
}

// layoutGamebook lays a game book out on pages.
func (s *Sim) layoutGamebook(m *seasonModel, gb gamebook) gbLayout {
	l := &layouter{gb: gb}
	g := gb.g
	l.newPage()
	et := g.Start.In(s.eastern)
	home, away := teams[g.home], teams[g.away]
	l.text(10, 14, fmt.Sprintf("%s (%d-%d) at %s (%d-%d)", away.FullName, gb.sides[1].wins, gb.sides[1].losses, home.FullName, gb.sides[0].wins, gb.sides[0].losses))
	l.text(gbBody+0.5, 11, et.Format("Monday, January 2, 2006")+"   "+home.Arena+", "+home.ArenaCity+", "+home.ArenaState)
	var refs []string
	for _, o := range gb.officials {
		refs = append(refs, fmt.Sprintf("#%d %s", o.number, o.name))
	}
	l.text(gbBody+0.5, 11, "Officials: "+strings.Join(refs, ", "))
	att := strconv.Itoa(gb.attendance)
	if gb.attendance >= 19000 {
		att += " (Sellout)"
	}
	d := gb.duration.Round(time.Minute)
	l.text(gbBody+0.5, 15, fmt.Sprintf("Start of Game: %s ET   Game Duration: %d:%02d   Attendance: %s", et.Format("3:04 PM"), int(d.Hours()), int(d.Minutes())%60, att))

	// Score by periods.
	head := []gbCell{{x: gbLeft, w: 100, align: "L", text: "SCORE BY PERIODS"}}
	for p := range gb.b.periods {
		label := strconv.Itoa(p + 1)
		if p >= 4 {
			label = fmt.Sprintf("OT%d", p-3)
		}
		head = append(head, gbCell{x: gbLeft + 110 + float64(p)*26, w: 24, align: "R", text: label})
	}
	finalX := gbLeft + 110 + float64(gb.b.periods)*26
	head = append(head, gbCell{x: finalX, w: 30, align: "R", text: "FINAL"})
	l.add(gbLine{h: 11, size: gbBody, cells: head})
	for _, side := range []int{1, 0} {
		cells := []gbCell{{x: gbLeft, w: 100, align: "L", text: teams[gb.sides[side].team].Tricode}}
		for p, v := range gb.sides[side].periods {
			cells = append(cells, gbCell{x: gbLeft + 110 + float64(p)*26, w: 24, align: "R", text: strconv.Itoa(v)})
		}
		cells = append(cells, gbCell{x: finalX, w: 30, align: "R", text: strconv.Itoa(gb.b.pts[side])})
		l.add(gbLine{h: 11, size: gbBody, cells: cells})
	}
	l.y += 8

	for _, side := range []int{1, 0} {
		s.layoutBox(l, m, gb, side)
		l.y += 8
	}
	for _, side := range []int{1, 0} {
		gs := gb.sides[side]
		var parts []string
		for _, row := range gs.inactive {
			parts = append(parts, s.printedName(m, gs.team, row.player)+" ("+row.reason+")")
		}
		list := "None"
		if len(parts) > 0 {
			list = strings.Join(parts, ", ")
		}
		for _, line := range wrapText("Inactive: "+teams[gs.team].Name+" - "+list, gbRight-gbLeft, gbBody) {
			l.text(gbBody, 10.5, line)
		}
		l.y += 3
	}
	return gbLayout{pages: l.pages, wrapped: l.wrapped, split: l.split}
}

// layoutBox lays out one team's box score: header, one row per player on the active list
// (a stat line, or the reason he did not play), totals and percentages.
func (s *Sim) layoutBox(l *layouter, m *seasonModel, gb gamebook, side int) {
	gs := gb.sides[side]
	t := teams[gs.team]
	label := "HOME"
	if side == 1 {
		label = "VISITOR"
	}
	title := fmt.Sprintf("%s: %s (%d-%d)", label, t.FullName, gs.wins, gs.losses)
	l.keep(14 + 3*gbRowH)
	l.add(gbLine{h: 14, size: 9, cells: []gbCell{{x: gbLeft, w: 400, align: "L", text: title}}})
	l.columnHeader()
	l.inBox = title
	var tot statLine
	col := func(i int, v string) gbCell {
		c := gbColumns[i]
		return gbCell{x: c.x, w: c.w, align: c.align, text: v}
	}
	for _, row := range gs.box {
		p := s.pool[row.player]
		cells := []gbCell{col(0, p.Jersey), col(1, p.FullName())}
		if row.status != GamebookActive {
			reason := strings.ToUpper(row.status) + " - " + row.reason
			lines := wrapText(reason, gbReasonW-4, gbBody)
			l.keep(float64(len(lines)) * gbRowH)
			for i, text := range lines {
				if i > 0 {
					cells = nil
					l.wrapped = true
				}
				cells = append(cells, gbCell{x: gbColumns[3].x, w: gbReasonW, align: "L", text: text})
				l.add(gbLine{h: gbRowH, size: gbBody, cells: cells})
			}
			continue
		}
		ln := gb.b.lines[side][row.line]
		if row.starter {
			cells = append(cells, col(2, p.Position[:1]))
		}
		cells = append(cells, col(3, fmt.Sprintf("%d:00", ln.min)))
		for i, v := range []int{ln.fgm, ln.fga, ln.fg3m, ln.fg3a, ln.ftm, ln.fta, ln.oreb, ln.dreb, ln.reb(), ln.ast, ln.pf, ln.stl, ln.tov, ln.blk, ln.plusMinus, ln.pts} {
			cells = append(cells, col(4+i, strconv.Itoa(v)))
		}
		l.add(gbLine{h: gbRowH, size: gbBody, cells: cells})
		tot.min += ln.min
		tot.fgm, tot.fga, tot.fg3m, tot.fg3a = tot.fgm+ln.fgm, tot.fga+ln.fga, tot.fg3m+ln.fg3m, tot.fg3a+ln.fg3a
		tot.ftm, tot.fta, tot.oreb, tot.dreb = tot.ftm+ln.ftm, tot.fta+ln.fta, tot.oreb+ln.oreb, tot.dreb+ln.dreb
		tot.ast, tot.pf, tot.stl, tot.tov, tot.blk, tot.pts = tot.ast+ln.ast, tot.pf+ln.pf, tot.stl+ln.stl, tot.tov+ln.tov, tot.blk+ln.blk, tot.pts+ln.pts
	}
	cells := []gbCell{col(1, "TOTALS:"), col(3, fmt.Sprintf("%d:00", tot.min))}
	for i, v := range []int{tot.fgm, tot.fga, tot.fg3m, tot.fg3a, tot.ftm, tot.fta, tot.oreb, tot.dreb, tot.reb(), tot.ast, tot.pf, tot.stl, tot.tov, tot.blk} {
		cells = append(cells, col(4+i, strconv.Itoa(v)))
	}
	cells = append(cells, col(19, strconv.Itoa(tot.pts)))
	l.keep(2 * gbRowH)
	l.add(gbLine{h: gbRowH, size: gbBody, cells: cells})
	l.inBox = ""
	pct := func(made, att int) string {
		if att == 0 {
			return ".000"
		}
		return strings.TrimPrefix(fmt.Sprintf("%.3f", float64(made)/float64(att)), "0")
	}
	l.text(gbBody, gbRowH, fmt.Sprintf("Percentages:   FG %s   3P %s   FT %s", pct(tot.fgm, tot.fga), pct(tot.fg3m, tot.fg3a), pct(tot.ftm, tot.fta)))
}

// newGamebookDoc starts an empty game book document with the embedded fonts. Its dates
// are the publication instant and its resources sorted, so the same book is the same bytes.
func newGamebookDoc(published time.Time) *fpdf.Fpdf {
	pdf := fpdf.New("P", "pt", "Letter", "")
	pdf.SetCompression(true)
	pdf.SetCatalogSort(true)
	pdf.SetAutoPageBreak(false, 0)
	pdf.SetCreationDate(published)
	pdf.SetModificationDate(published)
	pdf.SetProducer("sourcesim", false)
	pdf.AddUTF8FontFromBytes(gbFontName, "", goregular.TTF)
	return pdf
}

// renderGamebook renders a game book as a PDF.
func (s *Sim) renderGamebook(m *seasonModel, gb gamebook) ([]byte, error) {
	lay := s.layoutGamebook(m, gb)
	pdf := newGamebookDoc(gb.published)
	pdf.SetTitle("Official Game Book "+gb.g.GameID, true)
	generated := "Generated " + gb.published.In(s.eastern).Format("January 2, 2006 3:04 PM") + " ET"
	for i, page := range lay.pages {
		pdf.AddPage()
		for _, ln := range page {
			pdf.SetFont(gbFontName, "", ln.size)
			for _, c := range ln.cells {
				pdf.SetXY(c.x, ln.y)
				pdf.CellFormat(c.w, ln.h, c.text, "", 0, c.align, false, 0, "")
			}
		}
		pdf.SetFont(gbFontName, "", 6.5)
		pdf.SetXY(gbLeft, gbFooterY)
		pdf.CellFormat(300, 10, generated, "", 0, "L", false, 0, "")
		pdf.SetXY(gbRight-100, gbFooterY)
		pdf.CellFormat(100, 10, fmt.Sprintf("Page %d of %d", i+1, len(lay.pages)), "", 0, "R", false, 0, "")
	}
	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
