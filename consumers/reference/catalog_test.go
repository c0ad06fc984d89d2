package reference_test

import (
	"testing"

	"github.com/nba-props/pipeline/messages"
)

// Neither registry may race with itself: each MERGEs into one table (and the game book
// registry rewrites earlier dates of the season), so each runs one date at a time. (That
// the catalogue and reference.Jobs name the same jobs is checked for every phase in
// consumers/service.)
func TestRegistriesRunOneDateAtATime(t *testing.T) {
	t.Parallel()
	for _, s := range messages.DefaultCatalog().InPhase(messages.PhaseReference) {
		if (s.Name == "player_registry" || s.Name == "gamebook_registry") && (s.MaxConcurrency != 1 || s.Deploy.MaxInstances != 1) {
			t.Errorf("%s has MaxConcurrency %d and MaxInstances %d; its MERGEs into one table must not race (want 1 and 1: MaxConcurrency is per instance)",
				s.Ref(), s.MaxConcurrency, s.Deploy.MaxInstances)
		}
	}
}
