package scrapers

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/infra/sourcesim"
	"github.com/nba-props/pipeline/messages"
)

// served fetches a path from the simulator the way a browser would.
func (e *testEnv) served(t testing.TB, path string) []byte {
	t.Helper()
	resp, err := http.Get(e.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d, %v", path, resp.StatusCode, err)
	}
	return b
}

// TestGamebookGameDay: one object per game, named by its teams, holding exactly the bytes the
// host serves, stored as a PDF; a second run that fetches the same bytes keeps every
// object's generation, so the raw phase sees an unchanged input.
func TestGamebookGameDay(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, sourcesim.Config{}, nil)
	books, err := e.sim.Gamebooks(gameDay)
	if err != nil || len(books) == 0 {
		t.Fatalf("Gamebooks(%s): %d, %v", gameDay, len(books), err)
	}
	res := e.mustRun(t, "nbac_gamebook", gameDay)
	var want []string
	for _, b := range books {
		want = append(want, messages.ScrapedNBACGamebooks.Object(gameDay, messages.GamebookPart(b.AwayTeam, b.HomeTeam)))
	}
	slices.Sort(want)
	if diff := cmp.Diff(want, names(res.Objects)); diff != "" {
		t.Fatalf("objects (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, e.list(t, messages.ScrapedNBACGamebooks.Prefix(gameDay))); diff != "" {
		t.Errorf("bucket (-want +got):\n%s", diff)
	}
	for _, b := range books {
		name := messages.ScrapedNBACGamebooks.Object(gameDay, messages.GamebookPart(b.AwayTeam, b.HomeTeam))
		if !bytes.Equal(e.read(t, name), e.served(t, b.Path)) {
			t.Errorf("%s does not hold the bytes served at %s", name, b.Path)
		}
		attrs, err := e.storage.Bucket(testBucket).Object(name).Attrs(context.Background())
		if err != nil || attrs.ContentType != "application/pdf" {
			t.Errorf("%s: content type %q (%v), want application/pdf", name, attrs.ContentType, err)
		}
	}
	if res.Empty || len(res.Missing) != 0 || res.Metrics["books"] != int64(len(books)) || res.Metrics["games"] != int64(len(books)) {
		t.Errorf("Empty %v, Missing %v, metrics %v; want %d books of %d games", res.Empty, res.Missing, res.Metrics, len(books), len(books))
	}
	again := e.mustRun(t, "nbac_gamebook", gameDay)
	if diff := cmp.Diff(res.Objects, again.Objects); diff != "" {
		t.Errorf("a rerun on the same bytes changed the objects (-first +again):\n%s", diff)
	}
}

// lateBook finds a game book of the simulated season published six hours or more after its
// game, on a date whose other books are all out a minute before it.
func lateBook(t *testing.T, sim *sourcesim.Sim) sourcesim.GamebookTruth {
	t.Helper()
	games, err := sim.Schedule(2024)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, g := range games {
		if seen[g.Date] {
			continue
		}
		seen[g.Date] = true
		books, err := sim.Gamebooks(g.Date)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range books {
			if !slices.Contains(b.Traps, "late") || b.Corrupt != "" {
				continue
			}
			ok := true
			for _, o := range books {
				ok = ok && o.Corrupt == "" && (o.GameID == b.GameID || o.PublishedAt.Before(b.PublishedAt.Add(-time.Minute)))
			}
			if ok && len(books) > 1 {
				return b
			}
		}
	}
	t.Fatal("no late book of the 2024 season has a date whose other books are out before it")
	return sourcesim.GamebookTruth{}
}

// TestGamebookNotPublishedYet: a game book the host still answers 404 for, hours after the
// game, is a missing game: the run fails transiently naming it and writes nothing; once it is
// published the next run stores every book. A date none of whose books is out is never a
// success, not even partial.
func TestGamebookNotPublishedYet(t *testing.T) {
	t.Parallel()
	probe := sourcesim.New(sourcesim.Config{Now: func() time.Time { return simNow }})
	late := lateBook(t, probe)
	var clock atomic.Int64
	clock.Store(late.PublishedAt.Add(-time.Minute).UnixNano())
	e := newTestEnv(t, sourcesim.Config{Now: func() time.Time { return time.Unix(0, clock.Load()) }}, nil)
	date := late.GameDate
	prefix := messages.ScrapedNBACGamebooks.Prefix(date)

	for _, attempt := range []int{1, PartialFromAttempt - 1} {
		res, err := e.runAttempt(t, "nbac_gamebook", date, attempt)
		var me *MissingGamesError
		if !errors.As(err, &me) || runner.IsPermanent(err) || !cmp.Equal(me.Games, []string{late.GameID}) {
			t.Fatalf("attempt %d with %s not published: err = %v (result %+v); want a transient MissingGamesError naming it", attempt, late.GameID, err, res)
		}
		if objs := e.list(t, prefix); len(objs) != 0 {
			t.Errorf("attempt %d wrote %v", attempt, objs)
		}
	}
	clock.Store(late.PublishedAt.UnixNano())
	res, err := e.runAttempt(t, "nbac_gamebook", date, PartialFromAttempt-1)
	if err != nil || len(res.Missing) != 0 {
		t.Fatalf("once published: err %v, missing %v; want every book", err, res.Missing)
	}
	books, _ := e.sim.Gamebooks(date)
	if len(res.Objects) != len(books) || !slices.Contains(names(res.Objects), messages.ScrapedNBACGamebooks.Object(date, messages.GamebookPart(late.AwayTeam, late.HomeTeam))) {
		t.Errorf("objects %v; want the %d books of %s, the late one included", names(res.Objects), len(books), date)
	}

	// Every game final, no book out yet: nothing to keep, whatever the attempt.
	noneOut, at := noBookOut(t)
	clock.Store(at.UnixNano())
	for _, attempt := range []int{1, PartialFromAttempt} {
		if _, err := e.runAttempt(t, "nbac_gamebook", noneOut, attempt); !errors.Is(err, ErrEmptyWithGames) || runner.IsPermanent(err) {
			t.Errorf("attempt %d with no book of %s out: err = %v; want a transient ErrEmptyWithGames", attempt, noneOut, err)
		}
	}
	if objs := e.list(t, messages.ScrapedNBACGamebooks.Prefix(noneOut)); len(objs) != 0 {
		t.Errorf("objects written with no book out: %v", objs)
	}
}

// noBookOut finds a date of the simulated season and an instant at which all its games are
// final and none of its books is published.
func noBookOut(t *testing.T) (string, time.Time) {
	t.Helper()
	var clock atomic.Int64
	sim := sourcesim.New(sourcesim.Config{Now: func() time.Time { return time.Unix(0, clock.Load()) }})
	games, err := sim.Schedule(2024)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, g := range games {
		if seen[g.Date] {
			continue
		}
		seen[g.Date] = true
		books, _ := sim.Gamebooks(g.Date)
		at := books[0].PublishedAt
		for _, b := range books {
			if b.PublishedAt.Before(at) {
				at = b.PublishedAt
			}
		}
		at = at.Add(-time.Minute)
		clock.Store(at.UnixNano())
		day, _ := sim.Truth(g.Date)
		final := true
		for _, dg := range day.Games {
			final = final && dg.Status == 3
		}
		if final {
			return g.Date, at
		}
	}
	t.Fatal("no date of the 2024 season has all its games final before its first book")
	return "", time.Time{}
}

// TestGamebookWaitsForFinalGames: books are not asked for while games are under way.
func TestGamebookWaitsForFinalGames(t *testing.T) {
	t.Parallel()
	now := func() time.Time { return time.Date(2024, 10, 23, 0, 0, 0, 0, time.UTC) } // opening night, 20:00 Eastern
	e := newTestEnv(t, sourcesim.Config{Now: now}, nil)
	if _, err := e.run(t, "nbac_gamebook", "2024-10-22"); !errors.Is(err, ErrNotFinal) || runner.IsPermanent(err) {
		t.Errorf("err = %v; want a transient ErrNotFinal", err)
	}
	if n := len(e.requests(sourcesim.SourceNBAStatsDMZ, "")); n != 0 {
		t.Errorf("%d game book requests before the games were final", n)
	}
}

// TestGamebookCutTransferIsFetchedAgain: a 200 whose PDF is cut short is fetched again, and
// the complete book is stored; a 200 with no PDF at all is a transient error that writes
// nothing.
func TestGamebookCutTransferIsFetchedAgain(t *testing.T) {
	t.Parallel()
	t.Run("cut short once", func(t *testing.T) {
		t.Parallel()
		e := newTestEnv(t, sourcesim.Config{Faults: []sourcesim.Fault{{Source: sourcesim.SourceNBAStatsDMZ, Dataset: sourcesim.DatasetGamebook,
			Date: gameDay, Kind: sourcesim.FaultTruncated, First: 1}}}, nil)
		res := e.mustRun(t, "nbac_gamebook", gameDay)
		books, _ := e.sim.Gamebooks(gameDay)
		for _, b := range books {
			name := messages.ScrapedNBACGamebooks.Object(gameDay, messages.GamebookPart(b.AwayTeam, b.HomeTeam))
			if !bytes.Equal(e.read(t, name), e.served(t, b.Path)) {
				t.Errorf("%s is not the complete book", name)
			}
		}
		if res.Metrics["requests"] != int64(len(books)+1) {
			t.Errorf("%d requests for %d books, one of them cut short; want %d", res.Metrics["requests"], len(books), len(books)+1)
		}
	})
	t.Run("cut short twice at the same point", func(t *testing.T) {
		t.Parallel()
		e := newTestEnv(t, sourcesim.Config{Faults: []sourcesim.Fault{{Source: sourcesim.SourceNBAStatsDMZ, Dataset: sourcesim.DatasetGamebook,
			Date: gameDay, Kind: sourcesim.FaultTruncated, First: 2}}}, nil)
		res := e.mustRun(t, "nbac_gamebook", gameDay)
		books, _ := e.sim.Gamebooks(gameDay)
		for _, b := range books {
			name := messages.ScrapedNBACGamebooks.Object(gameDay, messages.GamebookPart(b.AwayTeam, b.HomeTeam))
			if body := e.read(t, name); !bytes.Equal(body, e.served(t, b.Path)) || !complete(body) {
				t.Errorf("%s is not the complete book: two identical cut transfers were taken for a broken file", name)
			}
		}
		if res.Metrics["requests"] != int64(len(books)+2) {
			t.Errorf("%d requests for %d books, one of them cut short twice; want %d", res.Metrics["requests"], len(books), len(books)+2)
		}
	})
	t.Run("not a PDF", func(t *testing.T) {
		t.Parallel()
		e := newTestEnv(t, sourcesim.Config{Faults: []sourcesim.Fault{{Source: sourcesim.SourceNBAStatsDMZ, Dataset: sourcesim.DatasetGamebook,
			Kind: sourcesim.FaultEmpty}}}, nil)
		_, err := e.run(t, "nbac_gamebook", gameDay)
		if !errors.Is(err, ErrBadBody) || runner.IsPermanent(err) || !strings.Contains(err.Error(), "not a PDF") {
			t.Errorf("err = %v; want a transient ErrBadBody saying the body is not a PDF", err)
		}
		if objs := e.list(t, ""); len(objs) != 0 {
			t.Errorf("objects written: %v", objs)
		}
	})
}

// TestGamebookStoredBrokenIsKeptAsServed: a book the host holds broken (it ends mid-file every
// time) is stored as served once three fetches in a row agree on a run from
// PartialFromAttempt on, for the raw phase to report naming it; before, the run is retried.
func TestGamebookStoredBrokenIsKeptAsServed(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, sourcesim.Config{}, nil)
	var broken sourcesim.GamebookTruth
	games, _ := e.sim.Schedule(2024)
	for _, g := range games {
		books, _ := e.sim.Gamebooks(g.Date)
		for _, b := range books {
			if b.Corrupt == sourcesim.GamebookTruncated && broken.GameID == "" {
				broken = b
			}
		}
		if broken.GameID != "" {
			break
		}
	}
	if broken.GameID == "" {
		t.Fatal("no book of the 2024 season is stored truncated")
	}
	name := messages.ScrapedNBACGamebooks.Object(broken.GameDate, messages.GamebookPart(broken.AwayTeam, broken.HomeTeam))
	// Before PartialFromAttempt the agreeing cut fetches may still be unlucky transfers: a
	// transient error naming the book, nothing stored.
	_, err := e.runAttempt(t, "nbac_gamebook", broken.GameDate, PartialFromAttempt-1)
	if !errors.Is(err, ErrBadBody) || runner.IsPermanent(err) || !strings.Contains(err.Error(), messages.GamebookPart(broken.AwayTeam, broken.HomeTeam)) {
		t.Fatalf("attempt %d: err = %v; want a transient ErrBadBody naming the cut book", PartialFromAttempt-1, err)
	}
	if objs := e.list(t, messages.ScrapedNBACGamebooks.Prefix(broken.GameDate)); len(objs) != 0 {
		t.Errorf("attempt %d stored %v", PartialFromAttempt-1, objs)
	}
	res, err := e.runAttempt(t, "nbac_gamebook", broken.GameDate, PartialFromAttempt)
	if err != nil {
		t.Fatalf("attempt %d: %v", PartialFromAttempt, err)
	}
	body := e.read(t, name)
	if !bytes.Equal(body, e.served(t, broken.Path)) || complete(body) {
		t.Errorf("%s: %d bytes, complete %v; want the broken bytes as served", name, len(body), complete(body))
	}
	books, _ := e.sim.Gamebooks(broken.GameDate)
	if res.Metrics["requests"] != int64(len(books)+2) || len(res.Missing) != 0 {
		t.Errorf("%d requests for %d books, missing %v; want two more fetches of the broken book and nothing missing", res.Metrics["requests"], len(books), res.Missing)
	}
}
