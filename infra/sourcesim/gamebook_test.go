package sourcesim

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/sfnt"
)

// seasonBooks returns every game book of the 2024-25 season.
func seasonBooks(tb testing.TB, s *Sim) []GamebookTruth {
	tb.Helper()
	games, err := s.Schedule(2024)
	if err != nil {
		tb.Fatal(err)
	}
	var out []GamebookTruth
	for i, g := range games {
		if i > 0 && games[i-1].Date == g.Date {
			continue
		}
		day, err := s.Gamebooks(g.Date)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, day...)
	}
	return out
}

func TestGamebookServedAfterPublication(t *testing.T) {
	t.Parallel()
	s := New(Config{Seed: 21, Now: func() time.Time { return fixedNow }})
	books, err := s.Gamebooks("2024-11-05")
	if err != nil || len(books) == 0 {
		t.Fatalf("Gamebooks: %d, %v", len(books), err)
	}
	b := books[0]
	if b.Path != "/nbastatsdmz/pdfs/20241105/20241105_"+b.AwayTeam+b.HomeTeam+"_book.pdf" {
		t.Errorf("path %s", b.Path)
	}
	for _, c := range []struct {
		now    time.Time
		status int
	}{
		{b.PublishedAt.Add(-time.Second), http.StatusNotFound},
		{b.PublishedAt, http.StatusOK},
		{b.PublishedAt.Add(30 * 24 * time.Hour), http.StatusOK},
	} {
		_, srv := newTestSim(t, Config{Seed: 21, Now: func() time.Time { return c.now }})
		r := fetch(t, srv, b.Path)
		if r.status != c.status {
			t.Errorf("at %s: %d, want %d", c.now, r.status, c.status)
			continue
		}
		if c.status != http.StatusOK {
			continue
		}
		if ct := r.header.Get("Content-Type"); ct != "application/pdf" || !bytes.HasPrefix(r.body, []byte("%PDF-")) ||
			!bytes.HasSuffix(bytes.TrimSpace(r.body), []byte("%%EOF")) || len(r.body) > 60_000 {
			t.Errorf("at %s: %s, %d bytes starting %q", c.now, ct, len(r.body), r.body[:min(20, len(r.body))])
		}
	}
	_, srv := newTestSim(t, Config{Seed: 21})
	for _, p := range []string{
		"/nbastatsdmz/pdfs/20241105/20241105_XXXYYY_book.pdf",
		"/nbastatsdmz/pdfs/20241105/20241106_" + b.AwayTeam + b.HomeTeam + "_book.pdf",
		"/nbastatsdmz/pdfs/20241105/20241105_" + b.AwayTeam + b.HomeTeam + ".pdf",
		"/nbastatsdmz/pdfs/2024-11-05/x.pdf",
	} {
		if r := fetch(t, srv, p); r.status != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, r.status)
		}
	}
}

// TestGamebookLateBook checks a book that appears only hours after the game: still 404 five
// hours after the final buzzer, there once published.
func TestGamebookLateBook(t *testing.T) {
	t.Parallel()
	s := New(Config{Seed: 21, Now: func() time.Time { return fixedNow }})
	var late GamebookTruth
	for _, b := range seasonBooks(t, s) {
		if slices.Contains(b.Traps, "late") {
			late = b
			break
		}
	}
	if late.GameID == "" {
		t.Fatal("no late book in the season")
	}
	games, err := s.GamesOn(late.GameDate)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(games, func(g Game) bool { return g.GameID == late.GameID })
	final := games[i].Start.Add(2*time.Hour + 15*time.Minute + time.Duration(late.Periods-4)*20*time.Minute)
	for _, c := range []struct {
		now    time.Time
		status int
	}{
		{final.Add(5 * time.Hour), http.StatusNotFound},
		{late.PublishedAt.Add(-time.Minute), http.StatusNotFound},
		{late.PublishedAt, http.StatusOK},
	} {
		_, srv := newTestSim(t, Config{Seed: 21, Now: func() time.Time { return c.now }})
		if r := fetch(t, srv, late.Path); r.status != c.status {
			t.Errorf("%s at %s (final %s, published %s): %d, want %d", late.GameID, c.now, final, late.PublishedAt, r.status, c.status)
		}
	}
}

// TestGamebookAgreesWithBoxScores checks a season's books against the other tables of the
// truth: the players who played are the NBA.com box score's rows with the same numbers,
// every roster player is listed once, and the players who did not play have no minutes.
func TestGamebookAgreesWithBoxScores(t *testing.T) {
	t.Parallel()
	s := New(Config{Seed: 21, Now: func() time.Time { return fixedNow }})
	m, err := s.season(2024)
	if err != nil {
		t.Fatal(err)
	}
	statuses := map[string]int{}
	for _, date := range []string{"2024-10-22", "2024-12-25", "2025-02-20", "2025-04-13"} {
		tr, err := s.Truth(date)
		if err != nil {
			t.Fatal(err)
		}
		books, err := s.Gamebooks(date)
		if err != nil {
			t.Fatal(err)
		}
		box := map[string]PlayerTruth{}
		for _, p := range tr.Players {
			box[fmt.Sprint(p.GameID, p.NBAPlayerID)] = p
		}
		active := 0
		for _, b := range books {
			seen := map[int]bool{}
			for _, p := range b.Players {
				statuses[p.Status+"/"+p.Category]++
				if seen[p.NBAPlayerID] {
					t.Errorf("%s: %s listed twice", b.GameID, p.FullName)
				}
				seen[p.NBAPlayerID] = true
				row, played := box[fmt.Sprint(b.GameID, p.NBAPlayerID)]
				if (p.Status == GamebookActive) != played {
					t.Errorf("%s: %s is %s in the book, in the box score: %v", b.GameID, p.FullName, p.Status, played)
					continue
				}
				if !played {
					if p.Minutes != 0 || p.Points != 0 || p.Reason == "" || p.Category == "" {
						t.Errorf("%s: %s did not play but has %+v", b.GameID, p.FullName, p)
					}
					continue
				}
				active++
				got := []int{p.Minutes, p.Points, p.Rebounds, p.Assists, p.FG3M, p.PlusMinus, p.FGA, p.FTM}
				want := []int{int(row.Minutes), row.Points, row.Rebounds, row.Assists, row.FG3M, row.PlusMinus, row.FGA, row.FTM}
				if !slices.Equal(got, want) || p.TeamAbbr != row.TeamAbbr || p.PrintedName != row.FullName {
					t.Errorf("%s: %s book %v %s, box %v %s", b.GameID, p.FullName, got, p.TeamAbbr, want, row.TeamAbbr)
				}
			}
			for _, team := range []string{b.HomeTeam, b.AwayTeam} {
				ti := slices.IndexFunc(teams, func(x Team) bool { return x.Tricode == team })
				n := 0
				for _, p := range b.Players {
					if p.TeamAbbr == team {
						n++
					}
				}
				if n != len(m.rosters[ti]) {
					t.Errorf("%s: %s lists %d players, its roster has %d", b.GameID, team, n, len(m.rosters[ti]))
				}
			}
		}
		if active != len(tr.Players) {
			t.Errorf("%s: %d active players in the books, %d box score rows", date, active, len(tr.Players))
		}
	}
	for _, want := range []string{"dnp/coach_decision", "dnd/injury_illness", "nwt/personal", "nwt/not_with_team", "inactive/injury_illness", "inactive/g_league"} {
		if statuses[want] == 0 {
			t.Errorf("no %s over four dates: %v", want, statuses)
		}
	}
}

// TestGamebookInactiveOnInjuryReport checks that a player kept out by an injury is on that
// day's injury report with the status the book's truth gives, and that the book's reason
// names the report's body part.
func TestGamebookInactiveOnInjuryReport(t *testing.T) {
	t.Parallel()
	date := "2025-01-15"
	now := time.Date(2025, 1, 15, 17, 0, 0, 0, time.UTC) // noon Eastern on the game day
	s := New(Config{Seed: 21, Now: func() time.Time { return now }})
	books, err := s.Gamebooks(date)
	if err != nil {
		t.Fatal(err)
	}
	report := map[int]InjuryTruth{}
	for _, in := range s.InjuryReport() {
		report[in.NBAPlayerID] = in
	}
	injured := 0
	for _, b := range books {
		for _, p := range b.Players {
			in, listed := report[p.NBAPlayerID]
			if p.InjuryReportStatus == "" {
				continue
			}
			injured++
			if !listed || in.Status != p.InjuryReportStatus || in.TeamAbbr != p.TeamAbbr {
				t.Errorf("%s: %s is %s (%s) in the book, on the report: %v %+v", b.GameID, p.FullName, p.Status, p.InjuryReportStatus, listed, in)
				continue
			}
			part := in.Description[strings.Index(in.Description, "(")+1 : strings.Index(in.Description, ")")]
			if name := injuryParts[part].name; !strings.Contains(p.Reason, name) || p.Category != ReasonInjuryIllness {
				t.Errorf("%s: %s reason %q, the report says %s", b.GameID, p.FullName, p.Reason, part)
			}
		}
	}
	if injured == 0 {
		t.Fatalf("%s: no injured player in %d books", date, len(books))
	}
}

// TestGamebookTrapsOccur checks that a season has every trap, so that tests of a parser can
// find each one, and that books are mostly on time and rarely broken.
func TestGamebookTrapsOccur(t *testing.T) {
	t.Parallel()
	s := New(Config{Seed: 21, Now: func() time.Time { return fixedNow }})
	books := seasonBooks(t, s)
	games, err := s.Schedule(2024)
	if err != nil {
		t.Fatal(err)
	}
	start := map[string]time.Time{}
	for _, g := range games {
		start[g.GameID] = g.Start
	}
	count := map[string]int{}
	for _, b := range books {
		for _, x := range b.Traps {
			count[x]++
		}
		if b.Pages != 1 && b.Pages != 2 {
			t.Errorf("%s: %d pages", b.GameID, b.Pages)
		}
		if !b.Available || b.PublishedAt.Before(start[b.GameID].Add(2*time.Hour+15*time.Minute)) {
			t.Errorf("%s: published %s", b.GameID, b.PublishedAt)
		}
	}
	for _, trap := range []string{"two_pages", "box_split", "wrapped_reason", "overtime", "accents", "suffix", "inactive_injured", "late", GamebookTruncated, GamebookGarbage} {
		if count[trap] == 0 {
			t.Errorf("no book has %s: %v", trap, count)
		}
	}
	if n := count[GamebookTruncated] + count[GamebookGarbage]; n > len(books)/50 {
		t.Errorf("%d corrupt books of %d", n, len(books))
	}
	if count["late"] > len(books)/10 {
		t.Errorf("%d late books of %d", count["late"], len(books))
	}
}

func TestGamebookCorruptServedWith200(t *testing.T) {
	t.Parallel()
	s, srv := newTestSim(t, Config{Seed: 21})
	found := map[string]bool{}
	for _, b := range seasonBooks(t, s) {
		if b.Corrupt == "" || found[b.Corrupt] {
			continue
		}
		found[b.Corrupt] = true
		r := fetch(t, srv, b.Path)
		if r.status != http.StatusOK || !bytes.HasPrefix(r.body, []byte("%PDF-")) || bytes.Contains(r.body, []byte("%%EOF")) {
			t.Errorf("%s (%s): %d, %d bytes", b.GameID, b.Corrupt, r.status, len(r.body))
		}
	}
	if len(found) != 2 {
		t.Errorf("corrupt kinds found: %v", found)
	}
}

func TestGamebookSameSeedSameBytes(t *testing.T) {
	t.Parallel()
	_, a := newTestSim(t, Config{Seed: 42})
	sb, b := newTestSim(t, Config{Seed: 42})
	_, c := newTestSim(t, Config{Seed: 43})
	books, err := sb.Gamebooks("2025-03-01")
	if err != nil || len(books) == 0 {
		t.Fatalf("Gamebooks: %d, %v", len(books), err)
	}
	fetch(t, b, "/_sim/truth/gamebooks?date=2025-03-02") // another order of generation
	for _, bk := range books[:2] {
		x, y, z := fetch(t, a, bk.Path), fetch(t, b, bk.Path), fetch(t, c, bk.Path)
		if x.status != 200 || !bytes.Equal(x.body, y.body) {
			t.Errorf("%s: same seed, different bytes (%d, %d)", bk.Path, len(x.body), len(y.body))
		}
		if bytes.Equal(x.body, z.body) {
			t.Errorf("%s: different seeds, same bytes", bk.Path)
		}
	}
}

func TestGamebookFaults(t *testing.T) {
	t.Parallel()
	s, srv := newTestSim(t, Config{Seed: 21})
	books, err := s.Gamebooks("2024-11-05")
	if err != nil || len(books) < 2 {
		t.Fatalf("Gamebooks: %d, %v", len(books), err)
	}
	good := fetch(t, srv, books[0].Path)
	err = s.SetFaults([]Fault{
		{Source: SourceNBAStatsDMZ, Dataset: DatasetGamebook, Date: "2024-11-05", Kind: FaultTruncated, First: 1},
		{Source: SourceNBAStatsDMZ, Kind: FaultDropGame, GameID: books[1].GameID},
	})
	if err != nil {
		t.Fatal(err)
	}
	if r := fetch(t, srv, books[0].Path); r.status != 200 || len(r.body) != len(good.body)/2 {
		t.Errorf("truncated: %d, %d bytes of %d", r.status, len(r.body), len(good.body))
	}
	if r := fetch(t, srv, books[0].Path); r.status != 200 || !bytes.Equal(r.body, good.body) {
		t.Errorf("after the fault: %d, %d bytes", r.status, len(r.body))
	}
	if r := fetch(t, srv, books[1].Path); r.status != http.StatusNotFound {
		t.Errorf("dropped game: %d", r.status)
	}
	recs := s.Requests()
	if last := recs[len(recs)-1]; last.Source != SourceNBAStatsDMZ || last.Dataset != DatasetGamebook || !slices.Equal(last.Dates, []string{"2024-11-05"}) {
		t.Errorf("request log: %+v", last)
	}
}

// TestGamebookFontHasEveryLetter checks that the embedded font draws every letter a name can
// have: a missing glyph would still extract as the right text but print as a blank box.
func TestGamebookFontHasEveryLetter(t *testing.T) {
	t.Parallel()
	f, err := sfnt.Parse(goregular.TTF)
	if err != nil {
		t.Fatal(err)
	}
	var buf sfnt.Buffer
	names := slices.Concat(plainFirst, plainLast, apostropheFirst, apostropheLast, initialsFirst, hyphenLast, accentFirst, accentLast, suffixes)
	for _, n := range names {
		for _, r := range n {
			if gi, err := f.GlyphIndex(&buf, r); err != nil || gi == 0 {
				t.Errorf("%q in %q: no glyph (%v)", r, n, err)
			}
		}
	}
}

func TestGamebookTruthEndpoint(t *testing.T) {
	t.Parallel()
	s, srv := newTestSim(t, Config{Seed: 21})
	want, err := s.Gamebooks("2025-01-09")
	if err != nil {
		t.Fatal(err)
	}
	got := decode[[]GamebookTruth](t, fetch(t, srv, "/_sim/truth/gamebooks?date=2025-01-09"))
	if len(got) != len(want) || len(got) == 0 || got[0].GameID != want[0].GameID || len(got[0].Players) != len(want[0].Players) {
		t.Errorf("served %d books, Gamebooks %d", len(got), len(want))
	}
	if r := fetch(t, srv, "/_sim/truth/gamebooks?date=2025-13-01"); r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "YYYY-MM-DD") {
		t.Errorf("bad date: %d %s", r.status, r.body)
	}
}
