package nba_test

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/quick"
	"time"
	"unicode"

	"github.com/nba-props/pipeline/consumers/nba"
	"github.com/nba-props/pipeline/infra/sourcesim"
)

// TestTeamEverySimulatedSpelling checks the one map against every spelling the simulator's
// sources print for each franchise (its own table, not ours).
func TestTeamEverySimulatedSpelling(t *testing.T) {
	t.Parallel()
	for _, tm := range sourcesim.Teams() {
		for _, s := range []string{tm.Tricode, tm.FullName, tm.OddsName, tm.City + " " + tm.Name, strings.ToLower(tm.FullName)} {
			got, err := nba.Team(s)
			if err != nil || got != tm.Tricode {
				t.Errorf("Team(%q) = %q, %v; want %s", s, got, err, tm.Tricode)
			}
		}
	}
}

func TestTeamUnknown(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "XXX", "Seattle SuperSonics", "Clippers", "LA"} {
		if _, err := nba.Team(s); !errors.Is(err, nba.ErrUnknownTeam) {
			t.Errorf("Team(%q) error = %v, want ErrUnknownTeam", s, err)
		}
	}
}

// TestTeamProperties: every accepted spelling maps to one of the 30 tricodes, a tricode maps
// to itself, and the result does not depend on case or spacing.
func TestTeamProperties(t *testing.T) {
	t.Parallel()
	codes := nba.Tricodes()
	if len(codes) != 30 {
		t.Fatalf("Tricodes() has %d teams, want 30", len(codes))
	}
	valid := map[string]bool{}
	for _, c := range codes {
		valid[c] = true
		if got, err := nba.Team(c); err != nil || got != c {
			t.Errorf("Team(%q) = %q, %v: a tricode must map to itself", c, got, err)
		}
	}
	spellings := []string{"BRK", "PHO", "CHO", "GS", "WSH", "NY", "SA", "NO", "UTAH", "LA Clippers", "Los Angeles Clippers", "Golden State Warriors"}
	for _, tm := range sourcesim.Teams() {
		spellings = append(spellings, tm.FullName, tm.OddsName)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, s := range spellings {
		want, err := nba.Team(s)
		if err != nil || !valid[want] {
			t.Fatalf("Team(%q) = %q, %v", s, want, err)
		}
		for range 20 {
			v := jitterCase(r, s)
			if got, err := nba.Team(v); err != nil || got != want {
				t.Errorf("Team(%q) = %q, %v; want %s like %q", v, got, err, want, s)
			}
		}
	}
}

func jitterCase(r *rand.Rand, s string) string {
	var b strings.Builder
	for _, c := range s {
		if r.IntN(2) == 0 {
			c = unicode.ToUpper(c)
		} else {
			c = unicode.ToLower(c)
		}
		b.WriteRune(c)
		if c == ' ' && r.IntN(3) == 0 {
			b.WriteRune(' ')
		}
	}
	return " " + b.String()
}

// TestPlayerLookupProperties: the lookup is lower-case ASCII alphanumerics, idempotent, blind
// to case, accents, punctuation and trailing suffixes.
func TestPlayerLookupProperties(t *testing.T) {
	t.Parallel()
	cfg := &quick.Config{MaxCount: 2000}
	ascii := func(s string) bool {
		for _, r := range nba.PlayerLookup(s) {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
				return false
			}
		}
		return true
	}
	if err := quick.Check(ascii, cfg); err != nil {
		t.Errorf("lookup not lower-case ASCII alphanumeric: %v", err)
	}
	idempotent := func(s string) bool {
		k := nba.PlayerLookup(s)
		return nba.PlayerLookup(k) == k
	}
	if err := quick.Check(idempotent, cfg); err != nil {
		t.Errorf("lookup not idempotent: %v", err)
	}
	names := []string{"Jaren Jackson", "Nikola Vučević", "De'Aaron Fox", "Luka Dončić", "Bojan Bogdanović", "Dennis Schröder", "Kelly Oubre", "Larry Nance"}
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range names {
		want := nba.PlayerLookup(n)
		for range 50 {
			v := jitterCase(r, n)
			v = strings.ReplaceAll(v, "'", []string{"'", "’", ""}[r.IntN(3)])
			v += []string{"", " Jr.", " Jr", " Sr.", " II", " III", " IV", ", Jr."}[r.IntN(8)]
			if got := nba.PlayerLookup(v); got != want {
				t.Errorf("PlayerLookup(%q) = %q, want %q like %q", v, got, want, n)
			}
		}
	}
}

// TestPlayerLookupSimulatedLeague compares our lookup of every spelling the simulator's
// sources print with the simulator's own key, which it builds from first and last name
// without parsing.
func TestPlayerLookupSimulatedLeague(t *testing.T) {
	t.Parallel()
	sim := sourcesim.New(sourcesim.Config{Seed: 7, Now: func() time.Time { return time.Date(2025, 6, 30, 0, 0, 0, 0, time.UTC) }})
	seen := 0
	for _, d := range []string{"2024-10-22", "2024-11-15", "2025-01-10", "2025-03-03"} {
		day, err := sim.Truth(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range day.Players {
			seen++
			if got := nba.PlayerLookup(p.FullName); got != p.PlayerLookup {
				t.Errorf("PlayerLookup(%q) = %q, simulator says %q", p.FullName, got, p.PlayerLookup)
			}
			if p.OddsPlayerName != "" {
				if got := nba.PlayerLookup(p.OddsPlayerName); got != p.PlayerLookup {
					t.Errorf("PlayerLookup(%q) (Odds API spelling) = %q, simulator says %q", p.OddsPlayerName, got, p.PlayerLookup)
				}
			}
		}
	}
	if seen == 0 {
		t.Fatal("the simulator returned no player rows")
	}
}

// TestGameDateAroundMidnight covers 23:00 to 05:00 Eastern, both sides of the DST changes.
func TestGameDateAroundMidnight(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		utc  string
		want string
	}{
		{"2024-10-23T03:59:00Z", "2024-10-22"}, // 23:59 EDT
		{"2024-10-23T04:00:00Z", "2024-10-23"}, // 00:00 EDT
		{"2024-11-03T04:30:00Z", "2024-11-03"}, // 00:30 EDT, DST ends that night
		{"2024-11-04T04:30:00Z", "2024-11-03"}, // 23:30 EST
		{"2024-11-04T05:00:00Z", "2024-11-04"}, // 00:00 EST
		{"2025-03-09T04:59:00Z", "2025-03-08"}, // 23:59 EST before DST starts
		{"2025-03-10T03:59:00Z", "2025-03-09"}, // 23:59 EDT
		{"2025-03-10T09:00:00Z", "2025-03-10"}, // 05:00 EDT
	} {
		ts, err := nba.ParseUTC(tc.utc)
		if err != nil {
			t.Fatal(err)
		}
		if got := nba.GameDate(ts); got != tc.want {
			t.Errorf("GameDate(%s) = %s, want %s", tc.utc, got, tc.want)
		}
	}
}

func TestGameIDProperties(t *testing.T) {
	t.Parallel()
	codes := nba.Tricodes()
	f := func(a, h uint8, days uint16) bool {
		away, home := codes[int(a)%30], codes[int(h)%30]
		date := time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(days)%5000).Format(nba.DateLayout)
		id, err := nba.GameID(date, away, home)
		if away == home {
			return errors.Is(err, nba.ErrBadValue)
		}
		return err == nil && id == strings.ReplaceAll(date, "-", "")+"_"+away+"_"+home && len(id) == 16
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 3000}); err != nil {
		t.Error(err)
	}
	if _, err := nba.GameID("TODAY", "NYK", "BOS"); !errors.Is(err, nba.ErrBadValue) {
		t.Errorf("GameID(TODAY) error = %v, want ErrBadValue", err)
	}
}

// TestAmericanOddsProperties: American prices pass through unchanged, positive prices
// survive the round trip through decimal odds, and values of neither form are rejected.
func TestAmericanOddsProperties(t *testing.T) {
	t.Parallel()
	for a := int64(100); a <= 1000; a += 5 {
		if got, err := nba.AmericanOdds(float64(a)); err != nil || got != a {
			t.Errorf("AmericanOdds(%d) = %d, %v", a, got, err)
		}
		if got, err := nba.AmericanOdds(float64(-a)); err != nil || got != -a {
			t.Errorf("AmericanOdds(%d) = %d, %v", -a, got, err)
		}
		dec := 1 + float64(a)/100 // exact for positive prices
		if got, err := nba.AmericanOdds(dec); err != nil || got != a {
			t.Errorf("AmericanOdds(%v) = %d, %v; want %d", dec, got, err, a)
		}
	}
	for _, bad := range []float64{0, 1, -99, 0.5, 110.5, -150.5} {
		if _, err := nba.AmericanOdds(bad); !errors.Is(err, nba.ErrBadValue) {
			t.Errorf("AmericanOdds(%v) error = %v, want ErrBadValue", bad, err)
		}
	}
}

func TestMinutesBad(t *testing.T) {
	t.Parallel()
	for _, v := range []any{"abc", "38:75", "-3", true} {
		if _, err := nba.Minutes(v); !errors.Is(err, nba.ErrBadValue) {
			t.Errorf("Minutes(%v) error = %v, want ErrBadValue", v, err)
		}
	}
}

// TestBDLTeam checks Ball Don't Lie's team ids against the simulator's copy of BDL's table.
func TestBDLTeam(t *testing.T) {
	t.Parallel()
	for _, tm := range sourcesim.Teams() {
		if got, err := nba.BDLTeam(tm.BDLID); err != nil || got != tm.Tricode {
			t.Errorf("BDLTeam(%d) = %q, %v; want %s", tm.BDLID, got, err, tm.Tricode)
		}
	}
	for _, id := range []int{0, -1, 31} {
		if _, err := nba.BDLTeam(id); !errors.Is(err, nba.ErrUnknownTeam) {
			t.Errorf("BDLTeam(%d) error = %v, want ErrUnknownTeam", id, err)
		}
	}
}

// TestResolveNameSimulatedBooks: every name the simulated game books print, full or the last
// name only, resolves to its player among the names of his team's roster in the same book.
func TestResolveNameSimulatedBooks(t *testing.T) {
	t.Parallel()
	sim := sourcesim.New(sourcesim.Config{Seed: 7, Now: func() time.Time { return time.Date(2025, 6, 30, 0, 0, 0, 0, time.UTC) }})
	bare := 0
	for _, d := range []string{"2024-10-22", "2024-11-15", "2025-01-10", "2025-03-03"} {
		books, err := sim.Gamebooks(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range books {
			roster := map[string][]string{}
			for _, p := range b.Players {
				roster[p.TeamAbbr] = append(roster[p.TeamAbbr], p.FullName)
			}
			for _, p := range b.Players {
				if !nba.SurnameOf(p.PrintedName, p.FullName) {
					t.Errorf("%s: SurnameOf(%q, %q) = false", b.GameID, p.PrintedName, p.FullName)
				}
				if got, ok := nba.ResolveName(p.PrintedName, roster[p.TeamAbbr]); !ok || got != p.PlayerLookup {
					t.Errorf("%s %s: ResolveName(%q) = %q, %v; want %q", b.GameID, p.TeamAbbr, p.PrintedName, got, ok, p.PlayerLookup)
				}
				if p.PrintedName != p.FullName {
					bare++
					if nba.PrintedInFull(p.PrintedName) {
						t.Errorf("PrintedInFull(%q) = true for a last name", p.PrintedName)
					}
				} else if !nba.PrintedInFull(p.PrintedName) {
					t.Errorf("PrintedInFull(%q) = false for a full name", p.PrintedName)
				}
			}
		}
	}
	if bare == 0 {
		t.Fatal("no book printed a last name only")
	}
}
