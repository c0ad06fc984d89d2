package messages_test

import (
	"strings"
	"testing"

	"github.com/nba-props/pipeline/messages"
)

func TestDeployMergeTakesThePhaseDefaultForZeroFields(t *testing.T) {
	got := messages.Deploy{Memory: "2Gi", MaxInstances: 1}.Merge(messages.PhaseDeploy(messages.PhaseRaw))
	want := messages.Deploy{CPU: "1", Memory: "2Gi", MaxInstances: 1, ServiceAccount: "nba-raw"}
	if got != want {
		t.Errorf("merged = %+v, want %+v", got, want)
	}
}

func TestNewCatalogRejectsBadDeploySettings(t *testing.T) {
	_, err := messages.NewCatalog(messages.JobSpec{Phase: messages.PhaseRaw, Name: "a",
		Deploy: messages.Deploy{MinInstances: 3, MaxInstances: 2}})
	if err == nil || !strings.Contains(err.Error(), "raw/a: deploy settings") {
		t.Errorf("err = %v, want raw/a's deploy settings refused", err)
	}
}
