package sourcesim

import (
	"bytes"
	"testing"
	"time"
)

// TestBoxScoresConsistent checks every box score of a season: points from the shots, rebounds
// from their parts, made never above attempted, team minutes 240 plus 25 per overtime, team
// points the sum of the players', no ties, plus-minus summing to five times the margin.
func TestBoxScoresConsistent(t *testing.T) {
	t.Parallel()
	s := New(Config{Seed: 3, Now: func() time.Time { return fixedNow }})
	m, err := s.season(2024)
	if err != nil {
		t.Fatal(err)
	}
	lookups := map[string]int{}
	for i, g := range m.games {
		b := s.box(m, i)
		if b.pts[0] == b.pts[1] {
			t.Errorf("%v: tie %d-%d", g, b.pts[0], b.pts[1])
		}
		for side := range 2 {
			mins, pts, pm := 0, 0, 0
			for _, l := range b.lines[side] {
				p := s.pool[l.player]
				if l.pts != 2*(l.fgm-l.fg3m)+3*l.fg3m+l.ftm {
					t.Errorf("%v %s: pts %d from fgm %d fg3m %d ftm %d", g, p.FullName(), l.pts, l.fgm, l.fg3m, l.ftm)
				}
				if l.fgm > l.fga || l.fg3m > l.fg3a || l.ftm > l.fta || l.fg3m > l.fgm || l.fg3a > l.fga || l.fgm-l.fg3m > l.fga-l.fg3a {
					t.Errorf("%v %s: impossible shooting %+v", g, p.FullName(), l)
				}
				if l.pf > 6 || l.min < 0 || (l.min == 0 && (l.pts != 0 || l.fga != 0 || l.reb() != 0 || l.plusMinus != 0)) {
					t.Errorf("%v %s: impossible line %+v", g, p.FullName(), l)
				}
				mins += l.min
				pts += l.pts
				pm += l.plusMinus
				lookups[p.Lookup()]++
			}
			if want := 240 + 25*(b.periods-4); mins != want {
				t.Errorf("%v side %d: %d minutes, want %d", g, side, mins, want)
			}
			if pts != b.pts[side] {
				t.Errorf("%v side %d: players score %d, team %d", g, side, pts, b.pts[side])
			}
			if want := 5 * (b.pts[side] - b.pts[1-side]); pm != want {
				t.Errorf("%v side %d: plus-minus sums to %d, want %d", g, side, pm, want)
			}
		}
	}
	if len(lookups) < 400 {
		t.Errorf("only %d distinct players appeared in the season", len(lookups))
	}
}

func TestPlayerPoolNames(t *testing.T) {
	t.Parallel()
	pool := New(Config{Seed: 11}).Players()
	seen := map[string]bool{}
	var suffix, accent, apostrophe, initials, hyphen int
	for _, p := range pool {
		if seen[p.Lookup()] {
			t.Errorf("duplicate player_lookup %q", p.Lookup())
		}
		seen[p.Lookup()] = true
		for _, r := range p.Lookup() {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
				t.Errorf("player_lookup %q of %q has %q", p.Lookup(), p.FullName(), r)
			}
		}
		full := p.FullName()
		switch {
		case p.Suffix != "":
			suffix++
		case foldASCII(full) != full:
			accent++
		case bytes.ContainsRune([]byte(full), '\''):
			apostrophe++
		case bytes.ContainsRune([]byte(p.First), '.'):
			initials++
		case bytes.ContainsRune([]byte(p.Last), '-'):
			hyphen++
		}
	}
	if suffix < 10 || accent < 10 || apostrophe < 5 || initials < 5 || hyphen < 5 {
		t.Errorf("name traps: %d suffixes, %d accented, %d apostrophes, %d initials, %d hyphens; want each present", suffix, accent, apostrophe, initials, hyphen)
	}
}
