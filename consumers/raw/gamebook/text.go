package gamebook

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/ledongthuc/pdf"
)

// The PDF layer: github.com/ledongthuc/pdf reads the file (cross-reference table, objects,
// stream filters) and tokenizes content streams; this file keeps the text state and decodes
// the shown strings itself. The library's own Content and GetTextByRow are not used: they
// give every glyph of a composite (Identity-H) font a zero width, so the text of one cell
// loses its extent, and they shift only the last byte of a ToUnicode range, so "č" (U+010D)
// comes back as a carriage return. A game book sets its names in such a font.

// run is the text of one text-showing operator, with where it starts and ends on the page.
type run struct {
	x0, x1 float64 // left and right edges, in points from the left of the page
	y      float64 // baseline, in points from the bottom of the page
	size   float64 // font size in points
	text   string
}

// line is the runs that share a baseline, left to right.
type line struct {
	page int // 1-based
	y    float64
	runs []run
}

// text joins a line's runs with single spaces.
func (l line) text() string {
	parts := make([]string, len(l.runs))
	for i, r := range l.runs {
		parts[i] = r.text
	}
	return strings.Join(parts, " ")
}

// readLines extracts every page's text as lines, top of the first page first. A file the
// library cannot read (not a PDF, truncated, a broken stream) is ErrCorrupt.
func readLines(data []byte) (lines []line, err error) {
	defer func() {
		// The library reports malformed input by panicking inside its readers.
		if r := recover(); r != nil {
			lines, err = nil, fmt.Errorf("%w: %v", ErrCorrupt, r)
		}
	}()
	if !bytes.HasPrefix(bytes.TrimLeft(data, "\x00\t\n\f\r "), []byte("%PDF-")) {
		return nil, fmt.Errorf("%w: the data does not start with %%PDF- (%d bytes)", ErrCorrupt, len(data))
	}
	rd, err := pdf.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	n := rd.NumPage()
	if n == 0 {
		return nil, fmt.Errorf("%w: the document has no pages", ErrCorrupt)
	}
	for i := 1; i <= n; i++ {
		p := rd.Page(i)
		if p.V.IsNull() {
			return nil, fmt.Errorf("%w: page %d of %d is missing", ErrCorrupt, i, n)
		}
		runs := pageRuns(p)
		lines = append(lines, groupLines(i, runs)...)
	}
	return lines, nil
}

// matrix is an affine transform [a b c d e f] as PDF writes it.
type matrix [6]float64

var identity = matrix{1, 0, 0, 1, 0, 0}

// mul returns m × n (m applied first).
func (m matrix) mul(n matrix) matrix {
	return matrix{
		m[0]*n[0] + m[1]*n[2], m[0]*n[1] + m[1]*n[3],
		m[2]*n[0] + m[3]*n[2], m[2]*n[1] + m[3]*n[3],
		m[4]*n[0] + m[5]*n[2] + n[4], m[4]*n[1] + m[5]*n[3] + n[5],
	}
}

func (m matrix) apply(x, y float64) (float64, float64) {
	return x*m[0] + y*m[2] + m[4], x*m[1] + y*m[3] + m[5]
}

// textState is the part of the graphics state that places text.
type textState struct {
	ctm, tm, tlm matrix
	font         *font
	size         float64
	tc, tw, th   float64 // character spacing, word spacing, horizontal scaling
	tl, rise     float64 // leading, rise
}

// pageRuns interprets a page's content stream and returns the text it shows.
func pageRuns(p pdf.Page) []run {
	fonts := map[string]*font{}
	st := textState{ctm: identity, tm: identity, tlm: identity, th: 1}
	var stack []textState
	var runs []run
	show := func(raw string) {
		if st.font == nil {
			return
		}
		x0, y := st.tm.mul(st.ctm).apply(0, st.rise)
		var text strings.Builder
		for _, c := range st.font.codes(raw) {
			text.WriteString(st.font.decode(c))
			w := st.font.width(c)/1000*st.size + st.tc
			if c.n == 1 && c.v == 32 {
				w += st.tw
			}
			st.tm = matrix{1, 0, 0, 1, w * st.th, 0}.mul(st.tm)
		}
		x1, _ := st.tm.mul(st.ctm).apply(0, st.rise)
		scale := math.Hypot(st.tm.mul(st.ctm)[2], st.tm.mul(st.ctm)[3])
		runs = append(runs, run{x0: math.Min(x0, x1), x1: math.Max(x0, x1), y: y, size: st.size * scale, text: text.String()})
	}
	nextLine := func() {
		st.tlm = matrix{1, 0, 0, 1, 0, -st.tl}.mul(st.tlm)
		st.tm = st.tlm
	}
	pdf.Interpret(p.V.Key("Contents"), func(stk *pdf.Stack, op string) {
		args := make([]pdf.Value, stk.Len())
		for i := len(args) - 1; i >= 0; i-- {
			args[i] = stk.Pop()
		}
		num := func(i int) float64 {
			if i < len(args) {
				return args[i].Float64()
			}
			return 0
		}
		switch op {
		case "q":
			stack = append(stack, st)
		case "Q":
			if n := len(stack); n > 0 {
				st, stack = stack[n-1], stack[:n-1]
			}
		case "cm":
			if len(args) == 6 {
				st.ctm = matrix{num(0), num(1), num(2), num(3), num(4), num(5)}.mul(st.ctm)
			}
		case "BT":
			st.tm, st.tlm = identity, identity
		case "Tf":
			if len(args) == 2 {
				name := args[0].Name()
				f, ok := fonts[name]
				if !ok {
					f = newFont(p.Resources().Key("Font").Key(name))
					fonts[name] = f
				}
				st.font, st.size = f, num(1)
			}
		case "Tc":
			st.tc = num(0)
		case "Tw":
			st.tw = num(0)
		case "Tz":
			st.th = num(0) / 100
		case "TL":
			st.tl = num(0)
		case "Ts":
			st.rise = num(0)
		case "Td", "TD":
			if op == "TD" {
				st.tl = -num(1)
			}
			st.tlm = matrix{1, 0, 0, 1, num(0), num(1)}.mul(st.tlm)
			st.tm = st.tlm
		case "Tm":
			if len(args) == 6 {
				st.tlm = matrix{num(0), num(1), num(2), num(3), num(4), num(5)}
				st.tm = st.tlm
			}
		case "T*":
			nextLine()
		case "Tj":
			if len(args) == 1 {
				show(args[0].RawString())
			}
		case "'":
			nextLine()
			if len(args) == 1 {
				show(args[0].RawString())
			}
		case "\"":
			if len(args) == 3 {
				st.tw, st.tc = num(0), num(1)
				nextLine()
				show(args[2].RawString())
			}
		case "TJ":
			if len(args) == 1 {
				a := args[0]
				for i := 0; i < a.Len(); i++ {
					v := a.Index(i)
					if v.Kind() == pdf.String {
						show(v.RawString())
						continue
					}
					st.tm = matrix{1, 0, 0, 1, -v.Float64() / 1000 * st.size * st.th, 0}.mul(st.tm)
				}
			}
		}
	})
	return mergeRuns(runs)
}

// mergeRuns joins runs that touch on the same baseline (a word split by kerning or by a
// change of font), so that one cell of a table is one run.
func mergeRuns(runs []run) []run {
	var out []run
	for _, r := range runs {
		if r.text == "" {
			continue
		}
		if n := len(out); n > 0 {
			last := &out[n-1]
			if math.Abs(last.y-r.y) < 0.5 && r.x0 >= last.x1-0.5 && r.x0-last.x1 < 0.15*r.size {
				last.text += r.text
				last.x1 = r.x1
				continue
			}
		}
		out = append(out, r)
	}
	return out
}

// groupLines sorts a page's runs into lines, top to bottom, each left to right. Runs whose
// baselines differ by less than a third of their size share a line.
func groupLines(page int, runs []run) []line {
	sort.SliceStable(runs, func(i, j int) bool { return runs[i].y > runs[j].y })
	var out []line
	for _, r := range runs {
		if strings.TrimSpace(r.text) == "" {
			continue
		}
		r.text = strings.TrimSpace(r.text)
		if n := len(out); n > 0 && math.Abs(out[n-1].y-r.y) < r.size/3 {
			out[n-1].runs = append(out[n-1].runs, r)
			continue
		}
		out = append(out, line{page: page, y: r.y, runs: []run{r}})
	}
	for i := range out {
		sort.SliceStable(out[i].runs, func(a, b int) bool { return out[i].runs[a].x0 < out[i].runs[b].x0 })
	}
	return out
}

// code is one character code of a shown string: its value and its length in bytes.
type code struct {
	v uint32
	n int
}

// font is what text extraction needs of a PDF font: how to split a string into codes, each
// code's width and its Unicode text.
type font struct {
	composite bool               // Type0: two-byte codes unless the ToUnicode map says otherwise
	widths    map[uint32]float64 // in thousandths of the font size
	dflt      float64            // width of a code without one
	toUnicode *cmap
	simple    pdf.TextEncoding // decoder of a simple font without ToUnicode
}

func newFont(v pdf.Value) *font {
	f := &font{widths: map[uint32]float64{}, dflt: 500}
	if v.Key("Subtype").Name() == "Type0" {
		f.composite = true
		f.dflt = 1000
		d := v.Key("DescendantFonts").Index(0)
		if dw := d.Key("DW"); dw.Kind() == pdf.Integer || dw.Kind() == pdf.Real {
			f.dflt = dw.Float64()
		}
		w := d.Key("W")
		for i := 0; i < w.Len(); {
			first := uint32(w.Index(i).Int64())
			if next := w.Index(i + 1); next.Kind() == pdf.Array {
				for k := 0; k < next.Len(); k++ {
					f.widths[first+uint32(k)] = next.Index(k).Float64()
				}
				i += 2
				continue
			}
			last := uint32(w.Index(i + 1).Int64())
			width := w.Index(i + 2).Float64()
			for c := first; c <= last && c-first < 1<<16; c++ {
				f.widths[c] = width
			}
			i += 3
		}
	} else {
		first := uint32(v.Key("FirstChar").Int64())
		ws := v.Key("Widths")
		for k := 0; k < ws.Len(); k++ {
			f.widths[first+uint32(k)] = ws.Index(k).Float64()
		}
		if mw := v.Key("FontDescriptor").Key("MissingWidth"); mw.Kind() == pdf.Integer || mw.Kind() == pdf.Real {
			f.dflt = mw.Float64()
		}
	}
	if tu := v.Key("ToUnicode"); tu.Kind() == pdf.Stream {
		if b, err := io.ReadAll(tu.Reader()); err == nil {
			f.toUnicode = parseCMap(b)
		}
	}
	if f.toUnicode == nil && !f.composite {
		font := pdf.Font{V: v}
		f.simple = font.Encoder()
	}
	return f
}

// codes splits a shown string into character codes.
func (f *font) codes(raw string) []code {
	var out []code
	for len(raw) > 0 {
		n := 1
		switch {
		case f.toUnicode != nil && len(f.toUnicode.spaces) > 0:
			n = f.toUnicode.codeLen(raw)
		case f.composite:
			n = 2
		}
		n = min(n, len(raw))
		var v uint32
		for i := range n {
			v = v<<8 | uint32(raw[i])
		}
		out = append(out, code{v: v, n: n})
		raw = raw[n:]
	}
	return out
}

func (f *font) width(c code) float64 {
	if w, ok := f.widths[c.v]; ok {
		return w
	}
	return f.dflt
}

func (f *font) decode(c code) string {
	if f.toUnicode != nil {
		if s, ok := f.toUnicode.lookup(c); ok {
			return s
		}
	}
	if f.simple != nil && c.n == 1 {
		return f.simple.Decode(string([]byte{byte(c.v)}))
	}
	return "\uFFFD"
}

// cmap is a ToUnicode map: code space ranges, single codes and code ranges.
type cmap struct {
	spaces []codeRange
	chars  map[code]string
	ranges []bfRange
}

type codeRange struct {
	lo, hi uint32
	n      int
}

type bfRange struct {
	lo, hi uint32
	n      int
	dst    []uint16 // UTF-16 of the first code's text; the last unit counts up
	list   []string // or one text per code
}

// codeLen is the length of the code at the start of raw, from the code space ranges.
func (m *cmap) codeLen(raw string) int {
	for n := 1; n <= 4 && n <= len(raw); n++ {
		var v uint32
		for i := range n {
			v = v<<8 | uint32(raw[i])
		}
		for _, s := range m.spaces {
			if s.n == n && s.lo <= v && v <= s.hi {
				return n
			}
		}
	}
	return 1
}

func (m *cmap) lookup(c code) (string, bool) {
	if s, ok := m.chars[c]; ok {
		return s, true
	}
	for _, r := range m.ranges {
		if r.n != c.n || c.v < r.lo || c.v > r.hi {
			continue
		}
		off := c.v - r.lo
		if r.list != nil {
			if int(off) < len(r.list) {
				return r.list[off], true
			}
			return "", false
		}
		// The destination counts up as a whole, not only in its last byte: a map such as
		// <0000> <FFFF> <0000> is the identity over all of Unicode's basic plane.
		units := append([]uint16(nil), r.dst...)
		units[len(units)-1] += uint16(off)
		return string(utf16.Decode(units)), true
	}
	return "", false
}

// parseCMap reads the code space ranges, bfchar and bfrange sections of a CMap program; it
// returns nil when there are none.
func parseCMap(b []byte) *cmap {
	m := &cmap{chars: map[code]string{}}
	toks := cmapTokens(b)
	for i := 0; i < len(toks); i++ {
		switch toks[i].op {
		case "begincodespacerange":
			for i++; i+1 < len(toks) && toks[i].op == ""; i += 2 {
				lo, hi := toks[i], toks[i+1]
				if lo.hex == nil || hi.hex == nil {
					continue
				}
				m.spaces = append(m.spaces, codeRange{lo: beUint(lo.hex), hi: beUint(hi.hex), n: len(lo.hex)})
			}
		case "beginbfchar":
			for i++; i+1 < len(toks) && toks[i].op == ""; i += 2 {
				src, dst := toks[i], toks[i+1]
				if src.hex == nil || dst.hex == nil {
					continue
				}
				m.chars[code{v: beUint(src.hex), n: len(src.hex)}] = utf16String(dst.hex)
			}
		case "beginbfrange":
			for i++; i+2 < len(toks) && toks[i].op == ""; i += 3 {
				lo, hi, dst := toks[i], toks[i+1], toks[i+2]
				if lo.hex == nil || hi.hex == nil {
					continue
				}
				r := bfRange{lo: beUint(lo.hex), hi: beUint(hi.hex), n: len(lo.hex)}
				switch {
				case dst.list != nil:
					for _, h := range dst.list {
						r.list = append(r.list, utf16String(h))
					}
				case len(dst.hex) > 0:
					r.dst = utf16Units(dst.hex)
				default:
					continue
				}
				m.ranges = append(m.ranges, r)
			}
		}
	}
	if len(m.spaces) == 0 && len(m.chars) == 0 && len(m.ranges) == 0 {
		return nil
	}
	return m
}

// cmapToken is one token of a CMap program that matters here: a hex string, an array of
// hex strings, or an operator (any other bare word). Numbers, names and literal strings
// are operands of operators that do not matter and are skipped.
type cmapToken struct {
	hex  []byte
	list [][]byte
	op   string
}

func cmapTokens(b []byte) []cmapToken {
	var out []cmapToken
	var list [][]byte
	inList := false
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == '%':
			for i < len(b) && b[i] != '\n' && b[i] != '\r' {
				i++
			}
		case c == '<' && i+1 < len(b) && b[i+1] == '<', c == '>' && i+1 < len(b) && b[i+1] == '>':
			i += 2
		case c == '<':
			j := bytes.IndexByte(b[i:], '>')
			if j < 0 {
				return out
			}
			h := hexBytes(b[i+1 : i+j])
			i += j + 1
			if inList {
				list = append(list, h)
				continue
			}
			out = append(out, cmapToken{hex: h})
		case c == '[':
			inList, list = true, nil
			i++
		case c == ']':
			if inList {
				out = append(out, cmapToken{list: list})
			}
			inList = false
			i++
		case c == '(':
			depth := 0
			for ; i < len(b); i++ {
				if b[i] == '\\' {
					i++
					continue
				}
				if b[i] == '(' {
					depth++
				}
				if b[i] == ')' {
					depth--
					if depth == 0 {
						i++
						break
					}
				}
			}
		case c == '/' || c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9'):
			i++
			for i < len(b) && !isCMapDelim(b[i]) {
				i++
			}
		case isCMapDelim(c):
			i++
		default:
			j := i
			for j < len(b) && !isCMapDelim(b[j]) {
				j++
			}
			out = append(out, cmapToken{op: string(b[i:j])})
			i = j
		}
	}
	return out
}

func isCMapDelim(c byte) bool {
	return strings.IndexByte(" \t\r\n\f\x00()<>[]{}/%", c) >= 0
}

// hexBytes decodes the digits of a hex string, ignoring white space; an odd final digit
// counts as followed by 0.
func hexBytes(h []byte) []byte {
	var digits []byte
	for _, c := range h {
		if strings.IndexByte("0123456789abcdefABCDEF", c) >= 0 {
			digits = append(digits, c)
		}
	}
	if len(digits)%2 == 1 {
		digits = append(digits, '0')
	}
	out := make([]byte, len(digits)/2)
	for i := range out {
		v, _ := strconv.ParseUint(string(digits[2*i:2*i+2]), 16, 8)
		out[i] = byte(v)
	}
	return out
}

func beUint(b []byte) uint32 {
	var v uint32
	for _, c := range b {
		v = v<<8 | uint32(c)
	}
	return v
}

func utf16Units(b []byte) []uint16 {
	units := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		units = append(units, uint16(b[i])<<8|uint16(b[i+1]))
	}
	if len(b)%2 == 1 {
		units = append(units, uint16(b[len(b)-1]))
	}
	return units
}

func utf16String(b []byte) string { return string(utf16.Decode(utf16Units(b))) }
