package raw_test

import (
	"context"
	"testing"

	"github.com/nba-props/pipeline/consumers/raw"
	"github.com/nba-props/pipeline/infra/cloud"
	"github.com/nba-props/pipeline/messages"
)

// TestEveryCatalogueJobImplemented: the raw phase of the catalogue and raw.Jobs name the same
// jobs, and TestGolden runs every one of them end to end.
func TestEveryCatalogueJobImplemented(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if _, err := raw.Jobs(raw.Deps{}); err == nil {
		t.Error("raw.Jobs without clients succeeded; want an error that names the missing Deps")
	}
	// Clients pointed at a closed port: Jobs only wires them.
	gcs, err := cloud.Storage(ctx, "127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	bq, err := cloud.BigQuery(ctx, "p", "127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	all, err := raw.Jobs(raw.Deps{Storage: gcs, Bucket: "b", BigQuery: bq})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range messages.DefaultCatalog().InPhase(messages.PhaseRaw) {
		if all[s.Name] == nil {
			t.Errorf("catalogue job %s has no implementation in raw.Jobs", s.Ref())
		}
		if _, ok := tables[s.Name]; !ok {
			t.Errorf("catalogue job %s is not covered by TestGolden", s.Ref())
		}
		delete(all, s.Name)
	}
	for name := range all {
		t.Errorf("raw.Jobs has %s, which the catalogue does not declare", name)
	}
}
