package raw_test

import (
	"testing"

	"github.com/nba-props/pipeline/consumers/raw"
	"github.com/nba-props/pipeline/messages"
)

// raw.Jobs refuses to build without its clients, and TestGolden runs every raw job of the
// catalogue end to end. (That the catalogue and raw.Jobs name the same jobs is checked for
// every phase in consumers/service.)
func TestEveryRawJobGolden(t *testing.T) {
	t.Parallel()
	if _, err := raw.Jobs(raw.Deps{}); err == nil {
		t.Error("raw.Jobs without clients succeeded; want an error that names the missing Deps")
	}
	for _, s := range messages.DefaultCatalog().InPhase(messages.PhaseRaw) {
		if _, ok := tables[s.Name]; !ok {
			t.Errorf("catalogue job %s is not covered by TestGolden", s.Ref())
		}
	}
}
