package messages

import "fmt"

// Phase names a stage of the pipeline. Each phase has one Pub/Sub topic.
type Phase string

// The phases, in the order data flows through them.
const (
	PhaseScrapers   Phase = "scrapers"
	PhaseRaw        Phase = "raw"
	PhaseReference  Phase = "reference"
	PhaseAnalytics  Phase = "analytics"
	PhasePrecompute Phase = "precompute"
)

var phaseInfo = []struct {
	phase Phase
	topic string
	order int
}{
	{PhaseScrapers, "nba-phase1-scrapers", 1},
	{PhaseRaw, "nba-phase2-raw", 2},
	{PhaseReference, "nba-reference", 3},
	{PhaseAnalytics, "nba-phase3-analytics", 4},
	{PhasePrecompute, "nba-phase4-precompute", 5},
}

// Phases returns every phase in flow order.
func Phases() []Phase {
	out := make([]Phase, len(phaseInfo))
	for i, p := range phaseInfo {
		out[i] = p.phase
	}
	return out
}

// ParsePhase validates a phase name given by a user or a message.
func ParsePhase(s string) (Phase, error) {
	for _, p := range phaseInfo {
		if string(p.phase) == s {
			return p.phase, nil
		}
	}
	return "", fmt.Errorf("%w %q (known phases: %s)", ErrUnknownPhase, s, phaseList())
}

// Valid reports whether p is a known phase.
func (p Phase) Valid() bool { return p.Order() > 0 }

// Order is the position of p in the flow (1 for scrapers), or 0 for an unknown phase.
// --stop-after compares orders: a job emits to a downstream phase only if it is not later
// than the stop phase.
func (p Phase) Order() int {
	for _, i := range phaseInfo {
		if i.phase == p {
			return i.order
		}
	}
	return 0
}

func (p Phase) baseTopic() string {
	for _, i := range phaseInfo {
		if i.phase == p {
			return i.topic
		}
	}
	return ""
}

func phaseList() string {
	s := ""
	for i, p := range phaseInfo {
		if i > 0 {
			s += ", "
		}
		s += string(p.phase)
	}
	return s
}
