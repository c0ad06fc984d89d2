package push_test

import (
	"fmt"

	"github.com/nba-props/pipeline/consumers/push"
	"github.com/nba-props/pipeline/messages"
)

// The push endpoint of each job subscription, and of each phase's catch-all, is a path of
// its own; the topology points each push subscription at one.
func ExampleJobPath() {
	fmt.Println(push.JobPath(messages.Ref(messages.PhaseRaw, "bdl_injuries")))
	fmt.Println(push.UnroutablePath(messages.PhaseRaw))
	// Output:
	// /push/raw/bdl_injuries
	// /push/raw/unroutable
}
