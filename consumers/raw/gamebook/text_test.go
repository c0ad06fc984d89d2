package gamebook

import (
	"bytes"
	"math"
	"testing"
	"time"

	"github.com/go-pdf/fpdf"
	"golang.org/x/image/font/gofont/goregular"
)

func TestCMapLookup(t *testing.T) {
	t.Parallel()
	m := parseCMap([]byte(`/CIDInit /ProcSet findresource begin
12 dict begin
begincmap
/CMapName /Test def
2 begincodespacerange
<0000> <FFFF>
endcodespacerange
2 beginbfchar
<0003> <0041>
<0004> <D83DDE00>
endbfchar
2 beginbfrange
<0000> <FFFF> <0000>
<0010> <0012> [<0061> <0062> <0063>]
endbfrange
endcmap
CMapName currentdict /CMap defineresource pop
end
end`))
	if m == nil {
		t.Fatal("no cmap")
	}
	for _, c := range []struct {
		code uint32
		want string
	}{
		{0x0003, "A"},          // bfchar before the ranges
		{0x0004, "\U0001F600"}, // a surrogate pair
		{0x0041, "A"},          // the identity range
		{0x010D, "č"},          // past the first 256 codes: the whole destination counts up
		{0x0146, "ņ"},
		{0x015F, "ş"},
	} {
		got, ok := m.lookup(code{v: c.code, n: 2})
		if !ok || got != c.want {
			t.Errorf("code %04X: %q, %v; want %q", c.code, got, ok, c.want)
		}
	}
	if got := m.codeLen("\x01\x0d"); got != 2 {
		t.Errorf("code length %d, want 2", got)
	}
}

// pdfWith renders lines of text with fpdf, in a UTF-8 (composite) font or a core font.
func pdfWith(t *testing.T, composite bool, texts map[float64]string) ([]byte, *fpdf.Fpdf) {
	t.Helper()
	p := fpdf.New("P", "pt", "Letter", "")
	p.SetCreationDate(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	name := "Helvetica"
	tr := p.UnicodeTranslatorFromDescriptor("")
	if composite {
		name, tr = "go", func(s string) string { return s }
		p.AddUTF8FontFromBytes(name, "", goregular.TTF)
	}
	p.AddPage()
	p.SetFont(name, "", 10)
	for y, s := range texts {
		p.Text(50, y, tr(s))
	}
	var buf bytes.Buffer
	if err := p.Output(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), p
}

func TestReadLinesKeepsAccentsAndPositions(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name      string
		composite bool
		text      string
	}{
		{"composite font", true, "Luka Dončić Jr. · Şengül · Porziņš · Małecki"},
		{"core font", false, "José Hernangómez Müller III"},
	} {
		data, doc := pdfWith(t, c.composite, map[float64]string{100: c.text, 300: "DNP - Coach's Decision"})
		lines, err := readLines(data)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if len(lines) != 2 || len(lines[0].runs) != 1 {
			t.Fatalf("%s: %d lines: %+v", c.name, len(lines), lines)
		}
		r := lines[0].runs[0]
		if r.text != c.text || math.Abs(r.x0-50) > 0.01 || math.Abs(r.y-(792-100)) > 0.01 || r.size != 10 {
			t.Errorf("%s: run %+v, want %q at x 50, y 692", c.name, r, c.text)
		}
		if c.composite {
			// The widths of an embedded font are in the file; the run ends where the text does.
			if w := doc.GetStringWidth(c.text); math.Abs(r.x1-(50+w)) > 0.05 {
				t.Errorf("%s: run ends at %.2f, the text at %.2f", c.name, r.x1, 50+w)
			}
		}
		if got := lines[1].text(); got != "DNP - Coach's Decision" {
			t.Errorf("%s: second line %q", c.name, got)
		}
	}
}
