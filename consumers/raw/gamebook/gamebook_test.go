package gamebook

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nba-props/pipeline/infra/sourcesim"
)

// afterSeason is a simulator clock after the 2024-25 regular season: every book is out.
var afterSeason = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// league is a simulator served over HTTP, with every game book's expected content.
type league struct {
	sim   *sourcesim.Sim
	srv   *httptest.Server
	books []sourcesim.GamebookTruth // every game of the 2024-25 season, in schedule order
}

func newLeague(tb testing.TB, seed int64) *league {
	tb.Helper()
	s := sourcesim.New(sourcesim.Config{Seed: seed, Now: func() time.Time { return afterSeason }})
	srv := httptest.NewServer(s.Handler())
	tb.Cleanup(srv.Close)
	games, err := s.Schedule(2024)
	if err != nil {
		tb.Fatal(err)
	}
	l := &league{sim: s, srv: srv}
	for i, g := range games {
		if i > 0 && games[i-1].Date == g.Date {
			continue
		}
		day, err := s.Gamebooks(g.Date)
		if err != nil {
			tb.Fatal(err)
		}
		l.books = append(l.books, day...)
	}
	return l
}

// get fetches a book the way a scraper would.
func (l *league) get(tb testing.TB, path string) []byte {
	tb.Helper()
	resp, err := l.srv.Client().Get(l.srv.URL + path)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return b
}

// withTrap returns the first book that has a trap.
func (l *league) withTrap(tb testing.TB, trap string) sourcesim.GamebookTruth {
	tb.Helper()
	for _, b := range l.books {
		if slices.Contains(b.Traps, trap) && b.Corrupt == "" || trap == b.Corrupt && trap != "" {
			return b
		}
	}
	tb.Fatalf("no book of the season has trap %s", trap)
	return sourcesim.GamebookTruth{}
}

// expected is what Parse must return for a book, built from the simulator's truth.
func expected(t sourcesim.GamebookTruth) Gamebook {
	gb := Gamebook{
		GameCode:  strings.ReplaceAll(t.GameDate, "-", "") + "/" + t.AwayTeam + t.HomeTeam,
		NBAGameID: t.NBAGameID,
		Date:      t.GameDate,
		Periods:   t.Periods,
		Away:      Team{Tricode: t.AwayTeam, PeriodPoints: t.AwayPeriods, Points: t.AwayScore},
		Home:      Team{Tricode: t.HomeTeam, PeriodPoints: t.HomePeriods, Points: t.HomeScore},
	}
	for _, p := range t.Players {
		team := &gb.Away
		if p.IsHome {
			team = &gb.Home
		}
		pl := Player{
			Jersey: p.Jersey, Name: p.PrintedName, Position: p.Position, Starter: p.Starter,
			Status: Status(p.Status), Reason: p.Reason, Category: Category(p.Category),
		}
		if p.Status == sourcesim.GamebookActive {
			pl.Stats = Stats{
				Seconds: 60 * p.Minutes, FGM: p.FGM, FGA: p.FGA, FG3M: p.FG3M, FG3A: p.FG3A, FTM: p.FTM, FTA: p.FTA,
				OffReb: p.OffReb, DefReb: p.DefReb, Rebounds: p.Rebounds, Assists: p.Assists, Fouls: p.Fouls,
				Steals: p.Steals, Turnovers: p.Turnovers, Blocks: p.Blocks, PlusMinus: p.PlusMinus, Points: p.Points,
			}
			team.Totals = add(team.Totals, pl.Stats)
		}
		team.Players = append(team.Players, pl)
	}
	for _, team := range []*Team{&gb.Away, &gb.Home} {
		team.Totals.PlusMinus = 0
	}
	return gb
}

func TestParseEveryTrap(t *testing.T) {
	t.Parallel()
	l := newLeague(t, 21)
	for _, trap := range []string{"two_pages", "box_split", "wrapped_reason", "overtime", "accents", "suffix", "inactive_injured", "late"} {
		t.Run(trap, func(t *testing.T) {
			want := l.withTrap(t, trap)
			got, err := Parse(l.get(t, want.Path))
			if err != nil {
				t.Fatalf("%s: %v", want.GameID, err)
			}
			if diff := cmp.Diff(expected(want), got, ignoreTeamNames); diff != "" {
				t.Errorf("%s (-truth +parsed):\n%s", want.GameID, diff)
			}
		})
	}
}

func TestParseCorrupt(t *testing.T) {
	t.Parallel()
	l := newLeague(t, 21)
	for _, kind := range []string{sourcesim.GamebookTruncated, sourcesim.GamebookGarbage} {
		want := l.withTrap(t, kind)
		_, err := Parse(l.get(t, want.Path))
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s (%s): %v, want ErrCorrupt", want.GameID, kind, err)
		}
	}
}

// TestParseRoundTrip parses every fourth book of a season and compares it with the truth.
func TestParseRoundTrip(t *testing.T) {
	t.Parallel()
	l := newLeague(t, 7)
	step := 4
	if testing.Short() {
		step = 30
	}
	traps := map[string]int{}
	parsed := 0
	for i := 0; i < len(l.books); i += step {
		want := l.books[i]
		data := l.get(t, want.Path)
		got, err := Parse(data)
		if want.Corrupt != "" {
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s (%s): %v, want ErrCorrupt", want.GameID, want.Corrupt, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", want.GameID, err)
			continue
		}
		if diff := cmp.Diff(expected(want), got, ignoreTeamNames); diff != "" {
			t.Errorf("%s (-truth +parsed):\n%s", want.GameID, diff)
		}
		parsed++
		for _, x := range want.Traps {
			traps[x]++
		}
	}
	t.Logf("%d books parsed; traps among them: %v", parsed, traps)
}

// ignoreTeamNames leaves out the teams' full names, which the truth does not carry.
var ignoreTeamNames = cmp.FilterPath(func(p cmp.Path) bool {
	return p.String() == "Away.Name" || p.String() == "Home.Name"
}, cmp.Ignore())

func TestParseRejectsBrokenFiles(t *testing.T) {
	t.Parallel()
	l := newLeague(t, 21)
	good := l.get(t, l.withTrap(t, "two_pages").Path)
	if _, err := Parse(good); err != nil {
		t.Fatal(err)
	}
	flipped := append([]byte(nil), good...)
	at := bytes.Index(flipped, []byte("stream\n")) + 40 // inside the first page's compressed content
	flipped[at] ^= 0xff
	for name, data := range map[string][]byte{
		"empty":          {},
		"an html page":   []byte("<html><body>Service Unavailable</body></html>"),
		"cut at 10%":     good[:len(good)/10],
		"cut at 50%":     good[:len(good)/2],
		"cut at 90%":     good[:len(good)*9/10],
		"cut before EOF": good[:len(good)-8],
		"a header only":  []byte("%PDF-1.3\n"),
		"a flipped byte": flipped,
		"garbage":        append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 5000)...),
	} {
		_, err := Parse(data)
		t.Logf("%s: %v", name, err)
		switch {
		case err == nil:
			t.Errorf("%s: parsed", name)
		case name == "a flipped byte" && errors.Is(err, ErrLayout):
			// A broken stream may still inflate to something; then the layout catches it.
		case !errors.Is(err, ErrCorrupt):
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
}
