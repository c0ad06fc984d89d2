package gamebook

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

// TestParseRejectsInconsistentBooks changes one thing in the text of a real book and checks
// that Parse refuses it as ErrLayout, saying what was wrong, instead of returning part of it.
func TestParseRejectsInconsistentBooks(t *testing.T) {
	t.Parallel()
	l := newLeague(t, 21)
	book := l.withTrap(t, "box_split")
	base, err := readLines(l.get(t, book.Path))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseLines(base); err != nil {
		t.Fatalf("the untouched book: %v", err)
	}
	// find returns the index of the first line whose text starts with prefix.
	find := func(lines []line, prefix string) int {
		for i, ln := range lines {
			if strings.HasPrefix(ln.text(), prefix) {
				return i
			}
		}
		t.Fatalf("no line starts with %q", prefix)
		return -1
	}
	// firstActive returns the index of the first row with a stat line.
	firstActive := func(lines []line) int {
		for i, ln := range lines {
			if len(ln.runs) == 20 && strings.Contains(ln.runs[3].text, ":") && ln.runs[1].text != "TOTALS:" {
				return i
			}
		}
		t.Fatal("no stat line")
		return -1
	}
	setRun := func(lines []line, i, k int, f func(string) string) {
		runs := append([]run(nil), lines[i].runs...)
		runs[k].text = f(runs[k].text)
		lines[i].runs = runs
	}
	plus := func(n int) func(string) string {
		return func(s string) string { v, _ := strconv.Atoi(s); return strconv.Itoa(v + n) }
	}
	for name, c := range map[string]struct {
		change func([]line) []line
		want   string
	}{
		"the home box score missing": {func(ls []line) []line {
			return append(ls[:find(ls, "HOME: ")], ls[find(ls, "Inactive: "):]...)
		}, "want a VISITOR and a HOME box score"},
		"a player's points that are not his shots": {func(ls []line) []line {
			setRun(ls, firstActive(ls), 19, plus(1))
			return ls
		}, "is not 2 FG"},
		"a player's free throw that the totals miss": {func(ls []line) []line {
			i := firstActive(ls)
			setRun(ls, i, 8, plus(1))  // FT
			setRun(ls, i, 9, plus(1))  // FTA
			setRun(ls, i, 19, plus(1)) // PTS
			return ls
		}, "the TOTALS row says"},
		"a totals row missing": {func(ls []line) []line {
			i := find(ls, "TOTALS:")
			return append(ls[:i], ls[i+1:]...)
		}, "without a TOTALS row"},
		"an inactive list missing": {func(ls []line) []line {
			i := find(ls, "Inactive: ")
			return append(ls[:i], ls[i+1:]...)
		}, "no inactive list for"},
		"the second page missing": {func(ls []line) []line {
			var out []line
			for _, ln := range ls {
				if ln.page == 1 {
					out = append(out, ln)
				}
			}
			return out
		}, "without a TOTALS row"},
		"a row that is not a player": {func(ls []line) []line {
			i := firstActive(ls)
			extra := line{page: ls[i].page, y: ls[i].y - 1, runs: []run{{x0: 300, x1: 320, y: ls[i].y - 1, size: 7.5, text: "???"}}}
			return append(ls[:i+1], append([]line{extra}, ls[i+1:]...)...)
		}, "neither a player"},
		"a final score the players did not score": {func(ls []line) []line {
			i := find(ls, book.AwayTeam+" ")
			setRun(ls, i, len(ls[i].runs)-1, plus(2))
			return ls
		}, "the final is"},
		"a minute column that is not minutes": {func(ls []line) []line {
			setRun(ls, firstActive(ls), 3, func(string) string { return "DNP" })
			return ls
		}, "want mm:ss"},
		"a page from another game": {func(ls []line) []line {
			i := find(ls, "OFFICIAL GAME BOOK")
			setRun(ls, i, 1, func(s string) string { return strings.Replace(s, book.NBAGameID, "0022499999", 1) })
			return ls
		}, "an earlier page"},
	} {
		lines := append([]line(nil), base...)
		_, err := parseLines(c.change(lines))
		if !errors.Is(err, ErrLayout) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrLayout saying %q", name, err, c.want)
		}
	}
}
