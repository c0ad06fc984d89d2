package ledger_test

import (
	"context"
	"errors"
	"testing"

	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/infra/emulators"
	"github.com/nba-props/pipeline/messages"
)

func TestPlanRoundTrip(t *testing.T) {
	t.Parallel()
	em := emulators.StartTest(t)
	l := ledger.New(em.Storage, em.Bucket, ledger.Options{})
	ctx := context.Background()
	odds := messages.Ref(messages.PhaseScrapers, "odds_api_player_props")
	if _, err := l.ReadPlan(ctx, "run-1"); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("ReadPlan of a run without a plan = %v, want ErrNotFound", err)
	}
	if err := l.WritePlan(ctx, ledger.Plan{RunID: "run-1", Pairs: map[string][]string{odds.String(): {"2024-10-22", "2024-10-23"}}}); err != nil {
		t.Fatal(err)
	}
	p, err := l.ReadPlan(ctx, "run-1")
	if err != nil {
		t.Fatal(err)
	}
	if !p.Has(odds, "2024-10-23") || p.Has(odds, "2024-10-24") || p.Has(messages.Ref(messages.PhaseScrapers, "bdl_games"), "2024-10-22") {
		t.Errorf("plan = %+v: Has answers wrongly", p)
	}
	if err := l.WritePlan(ctx, ledger.Plan{RunID: "../etc"}); err == nil {
		t.Error("WritePlan accepted a run id with a path in it")
	}
}
