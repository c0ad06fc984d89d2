package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/infra/sourcesim"
	"github.com/nba-props/pipeline/messages"
)

func TestBadFlagsExit2BeforeAnythingStarts(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--consumers", "1"}, "at least 2"},
		{[]string{"--season", "--start-date", "2024-11-05"}, "--season sets the range"},
		{[]string{"--start-date", "2024-02-30"}, "2024-02-30"},
		{[]string{"--end-date", "2024-10-01"}, "2024-10-01"},
		{[]string{"--dup-share", "1.5"}, "--dup-share"},
		{[]string{"--permanent", "3"}, "--permanent 3"},
		{[]string{"now"}, `unexpected argument "now"`},
		{[]string{"--kill"}, "flag provided but not defined"},
	} {
		var out, errs bytes.Buffer
		if code := run(context.Background(), tc.args, &out, &errs); code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", tc.args, code, errs.String())
		}
		if !strings.Contains(errs.String(), tc.want) {
			t.Errorf("%v: stderr %q does not say %q", tc.args, errs.String(), tc.want)
		}
		if out.Len() > 0 {
			t.Errorf("%v: printed %q before refusing", tc.args, out.String())
		}
	}
}

func TestHelpExits0(t *testing.T) {
	var out, errs bytes.Buffer
	if code := run(context.Background(), []string{"--help"}, &out, &errs); code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	for _, f := range []string{"-seed", "-season", "-kills", "-pubsub", "-timeout"} {
		if !strings.Contains(errs.String(), f) {
			t.Errorf("--help does not list %s:\n%s", f, errs.String())
		}
	}
}

func TestSourcePlanCoversEveryKindAndStaysOffTheSchedule(t *testing.T) {
	var dates []string
	for d := 1; d <= 30; d++ {
		dates = append(dates, time.Date(2024, 11, d, 0, 0, 0, 0, time.UTC).Format("2006-01-02"))
	}
	p, err := planSources(newRand(7), shareSeed(7), dates, 2)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[sourcesim.FaultKind]bool{}
	for _, f := range p.faults {
		if err := f.Validate(); err != nil {
			t.Errorf("fault %+v: %v", f, err)
		}
		kinds[f.Kind] = true
		if (f.Kind == sourcesim.FaultEmpty || f.Kind == sourcesim.FaultDropGame) && (f.Source == "" || f.Source == sourcesim.SourceNBACDN || f.Date == "" || f.First == 0) {
			t.Errorf("content fault %+v must name a checked dataset, a date and a limit", f)
		}
	}
	for _, k := range []sourcesim.FaultKind{sourcesim.FaultRateLimit, sourcesim.FaultServerError, sourcesim.FaultLatency,
		sourcesim.FaultTruncated, sourcesim.FaultEmpty, sourcesim.FaultDropGame} {
		if !kinds[k] {
			t.Errorf("the plan has no %s fault", k)
		}
	}
	if len(p.permanent) != 2 || p.permanent[0].date == p.permanent[1].date {
		t.Fatalf("permanent failures %+v: want two on different dates", p.permanent)
	}
	for i, pm := range p.permanent {
		if f := p.faults[i]; f != pm.fault || f.Share != 0 || f.First != 0 {
			t.Errorf("fault %d is %+v: the permanent faults come first, unlimited", i, f)
		}
	}
	if _, err := planSources(newRand(7), shareSeed(7), dates[:2], 2); err == nil {
		t.Error("two game dates for two permanent failures and no clean date: want an error")
	}
}

// TestSharedFaultsFollowTheChaosSeed: the simulator draws which requests a shared fault
// hits from the fault's seed, which the chaos seed sets; the league's seed plays no part.
func TestSharedFaultsFollowTheChaosSeed(t *testing.T) {
	dates := []string{"2024-11-01", "2024-11-02", "2024-11-03"}
	seeds := map[int64]bool{}
	for _, seed := range []int64{0, 1, 2, 7} {
		p, err := planSources(newRand(seed), shareSeed(seed), dates, 2)
		if err != nil {
			t.Fatal(err)
		}
		shared := 0
		for _, f := range p.faults {
			if f.Share == 0 {
				continue
			}
			shared++
			if f.Seed == 0 || f.Seed != shareSeed(seed) {
				t.Errorf("--seed %d: shared fault %+v has seed %d, want %d (never 0, the simulator's own)", seed, f, f.Seed, shareSeed(seed))
			}
		}
		if shared == 0 {
			t.Fatalf("--seed %d: the plan has no shared fault", seed)
		}
		seeds[shareSeed(seed)] = true
	}
	if len(seeds) != 4 {
		t.Errorf("four chaos seeds gave %d distinct fault seeds", len(seeds))
	}
}

// TestChaosWeek is make chaos over one week with fewer kills: every invariant must hold.
func TestChaosWeek(t *testing.T) {
	if testing.Short() {
		t.Skip("a chaos run builds the binaries and runs the whole stack for a minute or two")
	}
	var out bytes.Buffer
	var f flags
	if err := flagSet(&f, &out).Parse([]string{"--start-date", "2024-11-01", "--end-date", "2024-11-07",
		"--consumers", "2", "--kills", "3", "--kill-gap", "6s", "--poison", "1"}); err != nil {
		t.Fatal(err)
	}
	o, err := f.options()
	if err != nil {
		t.Fatal(err)
	}
	o.Out = &out
	res, err := Run(context.Background(), o)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatalf("chaos run: %v", err)
	}
	if !res.OK() {
		t.Fatalf("%d invariants failed; first: %s", len(res.Problems), res.Problems[0])
	}
	if len(res.Kills) != 3 || res.Poison != 4 || res.PermanentDead < 2 {
		t.Errorf("%d kills, %d poison and %d permanent dead letters: want 3, 4 and at least 2", len(res.Kills), res.Poison, res.PermanentDead)
	}
	if res.Sources.share() < 0.2 || res.BigQuery.Faulted() == 0 || res.GCS.Faulted() == 0 || res.Duplicates == 0 {
		t.Errorf("faults: sources %.2f, BigQuery %v, GCS %v, %d duplicates: want at least 20%% of the sources and some of each",
			res.Sources.share(), res.BigQuery, res.GCS, res.Duplicates)
	}
}

// The pairs a chaos run expects dead include the dates whose game books the simulator holds
// broken, taken from its ground truth: their raw game book job must end dead, and a record
// that succeeded there is a problem.
func TestBrokenGamebooksMustEndDead(t *testing.T) {
	now, _ := time.Parse(time.RFC3339, simNow)
	sim := sourcesim.New(sourcesim.Config{Seed: 2024, Now: func() time.Time { return now }})
	dates, err := messages.DateRange("2024-11-25", "2024-12-10")
	if err != nil {
		t.Fatal(err)
	}
	ends, err := brokenAtSource(sim, dates)
	if err != nil {
		t.Fatal(err)
	}
	if len(ends) == 0 {
		t.Fatal("no broken game book in the range: pick a range where the simulator breaks one")
	}
	raw := messages.Ref(messages.PhaseRaw, "nbac_gamebook_player_stats")
	for _, e := range ends {
		books, err := sim.Gamebooks(e.date)
		if err != nil {
			t.Fatal(err)
		}
		if e.ref != raw || !slices.ContainsFunc(books, func(b sourcesim.GamebookTruth) bool { return b.Available && b.Corrupt != "" }) {
			t.Errorf("%s: expected dead, but the truth has no broken book that date", e.key)
		}
	}
	cat := messages.DefaultCatalog()
	exp := newExpectation(cat, dates, "2025-06-30", ends)
	got := map[key]ledger.Summary{}
	for _, k := range exp.pairs {
		got[k] = ledger.Summary{State: ledger.StateSucceeded}
	}
	if bad := exp.check(got); len(bad) != len(ends) {
		t.Errorf("every pair succeeded: %d problems, want one per broken date (%d): %v", len(bad), len(ends), bad)
	}
	for _, e := range ends {
		got[e.key] = ledger.Summary{State: ledger.StateDead, Reason: runner.ReasonJobError}
	}
	if bad := exp.check(got); len(bad) != 0 {
		t.Errorf("the broken dates dead: %v, want no problem (nothing depends hard on the raw game book job)", bad)
	}
}

// TestScanLogsFindsRedeliveryLoopsAndKeys: the log scan counts each message's handlings per
// subscription from the consumers' JSON lines, names those past the bound, and finds the
// API keys; logs where no line says a delivery was handled are a problem of their own.
func TestScanLogsFindsRedeliveryLoopsAndKeys(t *testing.T) {
	dir := t.TempDir()
	line := func(msg, outcome, sub, id string) string {
		return fmt.Sprintf(`{"time":"2026-12-03T10:59:13Z","severity":"INFO","message":%q,"outcome":%q,"phase":"scrapers","job":"odds_api_player_props","subscription":%q,"message_id":%q}`, msg, outcome, sub, id)
	}
	var a, b []string
	for range maxHandled + 1 {
		a = append(a, line("message deferred", "deferred", "nba-deadletter.archive", "m142"))
	}
	for range maxHandled {
		b = append(b, line("message retry", "retry", "nba-phase1-scrapers.odds_api_player_props", "m7"))
	}
	// The same message id on another subscription is another message's count.
	b = append(b, line("message dead", "dead", "nba-deadletter.archive", "m7"),
		`{"message":"retrying source request","err":"GET /v4?apiKey=`+fakeOddsKey+`"}`, "not json at all")
	files := []string{filepath.Join(dir, "consumer-1.1.log"), filepath.Join(dir, "consumer-2.1.log")}
	for i, lines := range [][]string{a, b} {
		if err := os.WriteFile(files[i], []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	scan, err := scanLogs(files, []string{fakeBDLKey, fakeOddsKey})
	if err != nil {
		t.Fatal(err)
	}
	if scan.lines != len(a)+len(b) || len(scan.leaks) != 1 || !strings.Contains(scan.leaks[0], "consumer-2.1.log:12:") {
		t.Errorf("scanned %d lines (want %d), leaks %q (want line 12 of consumer-2.1.log)", scan.lines, len(a)+len(b), scan.leaks)
	}
	want := []string{fmt.Sprintf("message m142 handled %d times on nba-deadletter.archive (at most %d expected): it is delivered in a loop", maxHandled+1, maxHandled)}
	if diff := cmp.Diff(want, scan.redeliveryLoops()); diff != "" {
		t.Errorf("loops (-want +got):\n%s", diff)
	}
	if most, all := scan.mostHandled(); most != maxHandled+1 || all != 2*maxHandled+2 {
		t.Errorf("most handled %d, all %d; want %d and %d", most, all, maxHandled+1, 2*maxHandled+2)
	}

	blind, err := scanLogs(files[1:], nil)
	if err != nil {
		t.Fatal(err)
	}
	blind.handled = map[handledKey]int{}
	if got := blind.redeliveryLoops(); len(got) != 1 || !strings.Contains(got[0], "cannot read them") {
		t.Errorf("logs with no handled delivery: %q, want the check to say it cannot read them", got)
	}
}

// TestSummarySaysARunSettledBeforeItsLastKill: a run that settled before the kills planned
// for it were over says so, not a negative time after the last kill.
func TestSummarySaysARunSettledBeforeItsLastKill(t *testing.T) {
	r := Result{Pairs: 480, Converged: 79 * time.Second, AfterKill: -6 * time.Second, Kills: make([]kill, 10)}
	o := Options{Start: "2024-11-01", End: "2024-11-30"}
	if got := summary(o, r); !strings.Contains(got, "settled 79s after the first enqueue (6s before the last of 10 kills)") {
		t.Errorf("summary: %s", got)
	}
	r.AfterKill = 86 * time.Second
	if got := summary(o, r); !strings.Contains(got, "(86s after the last of 10 kills)") {
		t.Errorf("summary: %s", got)
	}
}

// TestAppendFirstKeepsTenAndCountsTheRest: a problem list names ten findings of a kind and
// counts the others.
func TestAppendFirstKeepsTenAndCountsTheRest(t *testing.T) {
	var found []string
	for i := range 12 {
		found = append(found, fmt.Sprint(i))
	}
	got := appendFirst([]string{"earlier"}, found, "key: ", "lines")
	if len(got) != 12 || got[1] != "key: 0" || got[10] != "key: 9" || got[11] != "... and 2 more lines" {
		t.Errorf("got %q", got)
	}
	if got := appendFirst(nil, found[:3], "", "lines"); !slices.Equal(got, found[:3]) {
		t.Errorf("three findings: %q", got)
	}
}
