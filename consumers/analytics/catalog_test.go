package analytics_test

import (
	"context"
	"testing"

	"github.com/nba-props/pipeline/consumers/analytics"
	"github.com/nba-props/pipeline/infra/cloud"
	"github.com/nba-props/pipeline/messages"
)

// TestEveryCatalogueJobImplemented: the analytics phase of the catalogue and analytics.Jobs
// name the same jobs (each is run against the simulator's truth by the tests of this package).
func TestEveryCatalogueJobImplemented(t *testing.T) {
	t.Parallel()
	bq, err := cloud.BigQuery(context.Background(), "p", "127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	all, err := analytics.Jobs(analytics.Deps{BigQuery: bq})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range messages.DefaultCatalog().InPhase(messages.PhaseAnalytics) {
		if all[s.Name] == nil {
			t.Errorf("catalogue job %s has no implementation in analytics.Jobs", s.Ref())
		}
		delete(all, s.Name)
	}
	for name := range all {
		t.Errorf("analytics.Jobs has %s, which the catalogue does not declare", name)
	}
}
