package sourcesim

import (
	"cmp"
	"errors"
	"fmt"
)

// ErrUnknownSeason and the other sentinels classify the simulator's own errors.
var (
	ErrUnknownSeason = errors.New("unknown season")
	ErrBadDate       = errors.New("bad date")
	ErrBadFault      = errors.New("bad fault")
)

// FaultKind names what an injected fault does to a matching request.
type FaultKind string

// The fault kinds.
const (
	// FaultRateLimit answers 429 with a Retry-After header (Fault.RetryAfter seconds, default 1).
	FaultRateLimit FaultKind = "rate_limit"
	// FaultServerError answers Fault.Status (default 503) with a short error body.
	FaultServerError FaultKind = "server_error"
	// FaultLatency delays the response by Fault.LatencyMS, then serves it normally (or as the
	// next matching fault says). It honours the request's context.
	FaultLatency FaultKind = "latency"
	// FaultTruncated serves 200 with the first half of the normal body: invalid JSON.
	FaultTruncated FaultKind = "truncated"
	// FaultEmpty serves 200 with no rows ({"data":[]}, an empty rowSet, no gameDates, no
	// bookmakers), even on a date with games.
	FaultEmpty FaultKind = "empty"
	// FaultCreditsExhausted answers like The Odds API out of credits (401,
	// error_code OUT_OF_USAGE_CREDITS, x-requests-remaining 0) without touching the budget.
	FaultCreditsExhausted FaultKind = "credits_exhausted"
	// FaultDropGame serves 200 without one game: the game named by Fault.GameID (canonical
	// YYYYMMDD_AWAY_HOME), or else the last game of each date. Stats, game lists, the
	// schedule and the events list leave it out and its event odds answer 404: a source that
	// never delivers one game.
	FaultDropGame FaultKind = "drop_game"
)

// Sources and datasets, as used in Fault and RequestRecord.
const (
	SourceBDL      = "bdl"
	SourceOdds     = "odds"
	SourceNBACDN   = "nbacdn"
	SourceNBAStats = "nbastats"

	DatasetBDLGames      = "games"
	DatasetBDLStats      = "stats"
	DatasetBDLInjuries   = "player_injuries"
	DatasetOddsEvents    = "events"
	DatasetOddsEventOdds = "event_odds"
	DatasetCDNSchedule   = "schedule"
	DatasetLeagueLog     = "leaguegamelog"
)

var knownDatasets = map[string][]string{
	SourceBDL:         {DatasetBDLGames, DatasetBDLStats, DatasetBDLInjuries},
	SourceOdds:        {DatasetOddsEvents, DatasetOddsEventOdds},
	SourceNBACDN:      {DatasetCDNSchedule},
	SourceNBAStats:    {DatasetLeagueLog},
	SourceNBAStatsDMZ: {DatasetGamebook},
}

// Fault describes one injected failure. Source, Dataset and Date narrow which requests match
// (empty = any). Date is the Eastern date a request is about: BDL dates[], the leaguegamelog
// DateFrom..DateTo range, the Eastern date of an Odds API snapshot; a request without a
// date (the CDN schedule, BDL injuries) matches only faults without a Date. First and Share
// narrow further which matching requests the fault hits: only the first First of them
// (0 = no limit), and of those a Share drawn from a generator seeded by Seed (0: the
// simulator seed) and the match count (0 = all). Faults are checked in order; latency faults
// add up, and the first other fault that hits decides the response.
type Fault struct {
	Source     string    `json:"source,omitempty"`
	Dataset    string    `json:"dataset,omitempty"`
	Date       string    `json:"date,omitempty"`
	Kind       FaultKind `json:"kind"`
	Status     int       `json:"status,omitempty"`
	RetryAfter int       `json:"retry_after,omitempty"`
	LatencyMS  int       `json:"latency_ms,omitempty"`
	First      int       `json:"first,omitempty"`
	Share      float64   `json:"share,omitempty"`
	GameID     string    `json:"game_id,omitempty"` // drop_game only
	// Seed draws which matching requests a Share hits, so that a caller can vary its faults
	// without changing the league, whose seed is the simulator's; 0 uses the simulator seed.
	Seed int64 `json:"seed,omitempty"`
}

// Validate reports what is wrong with a fault, if anything.
func (f Fault) Validate() error {
	switch f.Kind {
	case FaultRateLimit, FaultLatency, FaultTruncated, FaultEmpty, FaultDropGame:
	case FaultServerError:
		if f.Status != 0 && (f.Status < 500 || f.Status > 599) {
			return fmt.Errorf("%w: server_error status %d: use 500..599 or 0 for 503", ErrBadFault, f.Status)
		}
	case FaultCreditsExhausted:
		if f.Source != "" && f.Source != SourceOdds {
			return fmt.Errorf("%w: credits_exhausted applies to source %q only", ErrBadFault, SourceOdds)
		}
	default:
		return fmt.Errorf("%w: kind %q: use rate_limit, server_error, latency, truncated, empty, credits_exhausted or drop_game", ErrBadFault, f.Kind)
	}
	if f.Source != "" {
		ds, ok := knownDatasets[f.Source]
		if !ok {
			return fmt.Errorf("%w: source %q: use bdl, odds, nbacdn, nbastats or nbastatsdmz", ErrBadFault, f.Source)
		}
		if f.Dataset != "" && !contains(ds, f.Dataset) {
			return fmt.Errorf("%w: dataset %q is not one of source %s's %v", ErrBadFault, f.Dataset, f.Source, ds)
		}
	}
	if f.Date != "" {
		if _, err := parseDate(f.Date); err != nil {
			return fmt.Errorf("%w: %w", ErrBadFault, err)
		}
	}
	if f.GameID != "" && f.Kind != FaultDropGame {
		return fmt.Errorf("%w: game_id applies to drop_game only", ErrBadFault)
	}
	if f.Share < 0 || f.Share > 1 || f.First < 0 || f.LatencyMS < 0 || f.RetryAfter < 0 {
		return fmt.Errorf("%w: share must be in [0,1] and first, latency_ms, retry_after >= 0", ErrBadFault)
	}
	return nil
}

// FaultStatus is a fault with how many requests matched it and how many it hit.
type FaultStatus struct {
	Fault
	Matched int `json:"matched"`
	Hit     int `json:"hit"`
}

type faultState struct {
	Fault
	serial  uint64
	matched int
	hit     int
}

// SetFaults replaces the injected faults and resets their counters. Invalid faults are
// dropped and reported in the returned error; the valid ones are installed.
func (s *Sim) SetFaults(faults []Fault) error {
	var errs []error
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	s.faults = nil
	for i, f := range faults {
		if err := f.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("fault %d: %w", i, err))
			continue
		}
		s.faultSerial++
		s.faults = append(s.faults, &faultState{Fault: f, serial: s.faultSerial})
	}
	return errors.Join(errs...)
}

// Faults returns the installed faults with their counters.
func (s *Sim) Faults() []FaultStatus {
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	out := make([]FaultStatus, 0, len(s.faults))
	for _, f := range s.faults {
		out = append(out, FaultStatus{Fault: f.Fault, Matched: f.matched, Hit: f.hit})
	}
	return out
}

// decideFaults returns the total latency to add and the fault (if any) that decides the
// response for a request of (source, dataset) about dates.
func (s *Sim) decideFaults(source, dataset string, dates []string) (latencyMS int, decided *Fault) {
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	for _, f := range s.faults {
		if f.Source != "" && f.Source != source || f.Dataset != "" && f.Dataset != dataset {
			continue
		}
		if f.Date != "" && !contains(dates, f.Date) {
			continue
		}
		f.matched++
		if f.First > 0 && f.matched > f.First {
			continue
		}
		if f.Share > 0 && rngFor(cmp.Or(f.Seed, s.seed), fmt.Sprintf("fault/%d/%d", f.serial, f.matched)).Float64() >= f.Share {
			continue
		}
		if f.Kind == FaultLatency {
			f.hit++
			latencyMS += f.LatencyMS
			continue
		}
		if decided != nil {
			continue
		}
		if f.Kind == FaultCreditsExhausted && source != SourceOdds {
			continue
		}
		f.hit++
		ff := f.Fault
		decided = &ff
	}
	return latencyMS, decided
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
