package ledger_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nba-props/pipeline/consumers/ledger"
)

func TestSourceUsageKeepsTheLatest(t *testing.T) {
	t.Parallel()
	l := ledger.New(newStorage(t), bucket, ledger.Options{})
	ctx := context.Background()
	if _, err := l.SourceUsage(ctx, ledger.SourceOddsAPI); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("usage before any response: err %v, want ErrNotFound", err)
	}
	at := time.Date(2024, 10, 22, 23, 0, 0, 0, time.UTC)
	for i, u := range []ledger.SourceUsage{
		{Source: ledger.SourceOddsAPI, Remaining: 19_990, Used: 10, Observed: at},
		{Source: ledger.SourceOddsAPI, Remaining: 19_969, Used: 31, Observed: at.Add(time.Minute)},
	} {
		if err := l.PutSourceUsage(ctx, u); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	got, err := l.SourceUsage(ctx, ledger.SourceOddsAPI)
	if err != nil {
		t.Fatal(err)
	}
	want := ledger.SourceUsage{Source: ledger.SourceOddsAPI, Remaining: 19_969, Used: 31, Observed: at.Add(time.Minute)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("usage (-want +got):\n%s", diff)
	}
	if err := l.PutSourceUsage(ctx, ledger.SourceUsage{Source: "../odds"}); err == nil {
		t.Error("a source name that is a path was accepted")
	}
}

func TestMarkReplayedShowsInTheListing(t *testing.T) {
	t.Parallel()
	l := ledger.New(newStorage(t), bucket, ledger.Options{})
	ctx := context.Background()
	d := ledger.DeadLetter{MessageID: "m1", Reason: "malformed", Error: "not json", Phase: "raw", Job: "nbac_schedule",
		Date: "2024-10-22", RunID: "r1", Attributes: map[string]string{"phase": "raw"}, Data: []byte("{")}
	if _, err := l.PutDeadLetter(ctx, d); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2024, 10, 23, 9, 0, 0, 0, time.UTC)
	for i := range 2 {
		if _, err := l.MarkReplayed(ctx, "m1", ledger.Replay{At: at.Add(time.Duration(i) * time.Hour), Topic: "nba-phase2-raw", MessageID: "n1"}); err != nil {
			t.Fatal(err)
		}
	}
	sums, err := l.ListDeadLetters(ctx, time.Time{})
	if err != nil || len(sums) != 1 {
		t.Fatalf("list: %v, %d letters", err, len(sums))
	}
	if s := sums[0]; s.Replays != 2 || !s.Replayed.Equal(at.Add(time.Hour)) || s.Reason != "malformed" {
		t.Errorf("listing says %d replays, last %s, reason %q; want 2, %s, malformed", s.Replays, s.Replayed, s.Reason, at.Add(time.Hour))
	}
	got, err := l.GetDeadLetter(ctx, "m1")
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Data) != "{" || len(got.Replays) != 2 || got.Replays[0].Topic != "nba-phase2-raw" {
		t.Errorf("stored letter after replays: data %q, replays %+v", got.Data, got.Replays)
	}
	if _, err := l.MarkReplayed(ctx, "nope", ledger.Replay{Topic: "t"}); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("marking a letter that is not stored: %v", err)
	}
}
