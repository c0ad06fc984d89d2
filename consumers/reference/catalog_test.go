package reference_test

import (
	"context"
	"testing"

	"github.com/nba-props/pipeline/consumers/reference"
	"github.com/nba-props/pipeline/infra/cloud"
	"github.com/nba-props/pipeline/messages"
)

// TestEveryCatalogueJobImplemented: the reference phase of the catalogue and reference.Jobs
// name the same jobs, and neither registry may race with itself.
func TestEveryCatalogueJobImplemented(t *testing.T) {
	t.Parallel()
	bq, err := cloud.BigQuery(context.Background(), "p", "127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	all, err := reference.Jobs(reference.Deps{BigQuery: bq})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range messages.DefaultCatalog().InPhase(messages.PhaseReference) {
		if all[s.Name] == nil {
			t.Errorf("catalogue job %s has no implementation in reference.Jobs", s.Ref())
		}
		if (s.Name == "player_registry" || s.Name == "gamebook_registry") && s.MaxConcurrency != 1 {
			t.Errorf("%s has MaxConcurrency %d; its MERGEs into one table must not race (want 1)", s.Ref(), s.MaxConcurrency)
		}
		delete(all, s.Name)
	}
	for name := range all {
		t.Errorf("reference.Jobs has %s, which the catalogue does not declare", name)
	}
}
