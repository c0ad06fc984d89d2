package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/infra/sourcesim"
	"github.com/nba-props/pipeline/infra/verify"
	"github.com/nba-props/pipeline/messages"
)

// permanent is a (job, date) whose source never answers: its scraper exhausts its attempts
// and the date must end dead with one of reasons. lost are the tables that then hold no row
// of the date; degraded those that keep their rows but lack what the lost input adds to
// them (player_game_summary without prop lines); everywhere those whose rows of every
// date may lack it (the game book registry resolves a short name by the season's other
// books, which name players in full from the BDL box scores). unmade counts, of the
// truth's rows of a degraded table, those the lost input alone makes (a late scratch's
// row in player_game_summary exists only for his prop line).
type permanent struct {
	ref        messages.JobRef
	date       string
	fault      sourcesim.Fault
	reasons    []string
	lost       []string
	degraded   []string
	everywhere []string
	unmade     func(sourcesim.DayTruth) map[string]int
}

// deadEnd is a (job, date) that must end dead: a permanent failure the run planted, or a
// file the source itself holds broken (the simulator's ground truth says which). reasons
// are those its record and its dead letter may carry, why says what kills it.
type deadEnd struct {
	key
	reasons []string
	why     string
}

// end is the permanent failure as a dead end.
func (p permanent) end() deadEnd {
	return deadEnd{key{p.ref, p.date}, p.reasons, fmt.Sprintf("every %s/%s request of the date answers %d", p.fault.Source, p.fault.Dataset, p.fault.Status)}
}

// brokenReasons are the ends of a (job, date) whose input the source holds broken: the job
// returns a permanent error on its first run (job_error), or, when the consumers cannot
// record that (killed, or the ledger unreachable) until the subscription's limit, the
// subscription dead-letters the message and the runtime records it (delivery_limit).
var brokenReasons = []string{runner.ReasonJobError, runner.ReasonDeliveryLimit}

// brokenAtSource lists the dead ends the simulator's ground truth plants in dates: a date
// whose published game books include a broken one loads none, its raw game book job dying
// with an error naming the object.
func brokenAtSource(sim *sourcesim.Sim, dates []string) ([]deadEnd, error) {
	broken, err := verify.BrokenGamebooks(sim, dates)
	if err != nil {
		return nil, err
	}
	var out []deadEnd
	for _, d := range dates {
		if why, ok := broken[d]; ok {
			out = append(out, deadEnd{key{messages.Ref(messages.PhaseRaw, "nbac_gamebook_player_stats"), d}, brokenReasons, why})
		}
	}
	return out, nil
}

// permanentReasons are the ends of a date that fails every run: the runtime dead-letters
// it on the last run it counts (max_attempts), or, when that last delivery goes to a
// consumer that is killed or cannot write the ledger, the subscription's own dead-letter
// policy forwards the message and the runtime records it (delivery_limit).
var permanentReasons = []string{runner.ReasonMaxAttempts, runner.ReasonDeliveryLimit}

// permanentKinds are the permanent failures a run can plant, one date each: a source
// dataset that answers 5xx to every request for the date. Each takes out one scraper and
// therefore what that scraper alone feeds.
var permanentKinds = []struct {
	job             string
	source, dataset string
	status          int
	lost, degraded  []string
	everywhere      []string
	unmade          func(sourcesim.DayTruth) map[string]int
}{
	{job: "bdl_player_boxscores", source: sourcesim.SourceBDL, dataset: sourcesim.DatasetBDLStats, status: 503,
		lost: []string{"nba_raw.bdl_player_boxscores"}, degraded: []string{"nba_raw.nbac_gamebook_player_stats"},
		everywhere: []string{"nba_reference.gamebook_registry"}},
	{job: "odds_api_player_props", source: sourcesim.SourceOdds, dataset: sourcesim.DatasetOddsEvents, status: 502,
		lost: []string{"nba_raw.odds_api_player_points_props"}, degraded: []string{"nba_analytics.player_game_summary"},
		// A player with a closing line who did not play has a row for his line alone.
		unmade: func(day sourcesim.DayTruth) map[string]int {
			return map[string]int{"nba_analytics.player_game_summary": len(day.VoidLines)}
		}},
}

// contentTargets are the datasets whose answers the scrapers check against the NBA.com
// schedule, so an empty or short answer on a game day can be told from a real one. The
// schedule itself (nbacdn) is the reference of what a date should hold, so it gets only
// faults that a scraper can see: errors, slowness and truncation.
var contentTargets = [][2]string{
	{sourcesim.SourceBDL, sourcesim.DatasetBDLGames},
	{sourcesim.SourceBDL, sourcesim.DatasetBDLStats},
	{sourcesim.SourceNBAStats, sourcesim.DatasetLeagueLog},
	{sourcesim.SourceOdds, sourcesim.DatasetOddsEvents},
	{sourcesim.SourceOdds, sourcesim.DatasetOddsEventOdds},
}

// sourcePlan is the faults a run installs in the simulator and the permanent failures
// among them.
type sourcePlan struct {
	faults    []sourcesim.Fault
	permanent []permanent
}

// planSources draws the simulator's faults for the game dates of the range:
//   - a permanent failure on one date per entry of permanentKinds (no share, no limit);
//   - a content fault (empty 200, or a game left out of a list) on about a third of the
//     game dates, for the first one or two matching requests of one dataset, so that a
//     retry sees the real answer;
//   - on every source, for a share of all requests: 429 with Retry-After, 500 and 503, a
//     truncated body and latency. Which requests a share hits is drawn from shareSeed (the
//     fault's own seed), not from the simulator's, which is the league: two runs of one
//     league differ by the chaos seed only.
//
// Faults are checked in order and the first that hits decides, so the dated ones come
// first: the random ones must not use up their first requests.
func planSources(rng *rand.Rand, shareSeed int64, gameDates []string, permanents int) (sourcePlan, error) {
	var p sourcePlan
	if permanents > len(permanentKinds) {
		return p, fmt.Errorf("--permanent %d: at most %d (one per kind: %s)", permanents, len(permanentKinds), permanentJobs())
	}
	if len(gameDates) < permanents+1 {
		return p, fmt.Errorf("the range has %d game dates: a chaos run needs at least %d (one per permanent failure and one clean)", len(gameDates), permanents+1)
	}
	picked := map[string]bool{}
	for _, k := range permanentKinds[:permanents] {
		var d string
		for d == "" || picked[d] {
			d = gameDates[rng.IntN(len(gameDates))]
		}
		picked[d] = true
		f := sourcesim.Fault{Source: k.source, Dataset: k.dataset, Date: d, Kind: sourcesim.FaultServerError, Status: k.status}
		p.faults = append(p.faults, f)
		p.permanent = append(p.permanent, permanent{ref: messages.Ref(messages.PhaseScrapers, k.job), date: d, fault: f,
			reasons: permanentReasons, lost: k.lost, degraded: k.degraded, everywhere: k.everywhere, unmade: k.unmade})
	}
	for _, d := range gameDates {
		if rng.IntN(3) != 0 {
			continue
		}
		t := contentTargets[rng.IntN(len(contentTargets))]
		kind := sourcesim.FaultEmpty
		if rng.IntN(2) == 0 {
			kind = sourcesim.FaultDropGame
		}
		p.faults = append(p.faults, sourcesim.Fault{Source: t[0], Dataset: t[1], Date: d, Kind: kind, First: 1 + rng.IntN(2)})
	}
	p.faults = append(p.faults,
		sourcesim.Fault{Kind: sourcesim.FaultRateLimit, RetryAfter: 1, Share: 0.06, Seed: shareSeed},
		sourcesim.Fault{Kind: sourcesim.FaultServerError, Status: 503, Share: 0.06, Seed: shareSeed},
		sourcesim.Fault{Kind: sourcesim.FaultServerError, Status: 500, Share: 0.05, Seed: shareSeed},
		sourcesim.Fault{Kind: sourcesim.FaultTruncated, Share: 0.06, Seed: shareSeed},
		sourcesim.Fault{Kind: sourcesim.FaultLatency, LatencyMS: 1500, Share: 0.07, Seed: shareSeed},
	)
	return p, nil
}

// shareSeed is the simulator's seed for the shares of a run's faults, derived from the
// chaos seed and never 0 (which would mean the simulator's own seed).
func shareSeed(seed int64) int64 {
	return int64(rand.New(rand.NewPCG(uint64(seed), 0x5a4e)).Uint64()>>1) | 1
}

func permanentJobs() string {
	var names []string
	for _, k := range permanentKinds {
		names = append(names, k.job)
	}
	return strings.Join(names, ", ")
}

// simClient talks to the simulator's control API, as a user would with curl.
type simClient struct {
	base string
	http *http.Client
}

// install replaces the simulator's faults with fs (POST /_sim/faults).
func (c simClient) install(ctx context.Context, fs []sourcesim.Fault) error {
	body, err := json.Marshal(fs)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/_sim/faults", bytes.NewReader(body))
	if err != nil {
		return err
	}
	res, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("POST /_sim/faults: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(res.Body)
		return fmt.Errorf("POST /_sim/faults: HTTP %d: %s", res.StatusCode, strings.TrimSpace(string(msg)))
	}
	return nil
}

func (c simClient) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return err
	}
	res, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(res.Body)
		return fmt.Errorf("GET %s: HTTP %d: %s", path, res.StatusCode, strings.TrimSpace(string(msg)))
	}
	return json.NewDecoder(res.Body).Decode(v)
}

// sourceStats is what the simulator says it did: requests answered, how many met a
// fault, and hits by fault kind.
type sourceStats struct {
	Requests, Faulted int
	ByKind            map[sourcesim.FaultKind]int
	// Permanent counts the requests the permanent faults answered: a scraper that keeps
	// trying a dead date would otherwise make the share of faulted requests look higher.
	Permanent int
	// Dated are the faults planted on one date that hit, with their counters.
	Dated []sourcesim.FaultStatus
}

// stats reads GET /_sim/requests and GET /_sim/faults.
func (c simClient) stats(ctx context.Context, plan sourcePlan) (sourceStats, error) {
	var reqs []sourcesim.RequestRecord
	if err := c.get(ctx, "/_sim/requests", &reqs); err != nil {
		return sourceStats{}, err
	}
	var faults []sourcesim.FaultStatus
	if err := c.get(ctx, "/_sim/faults", &faults); err != nil {
		return sourceStats{}, err
	}
	s := sourceStats{Requests: len(reqs), ByKind: map[sourcesim.FaultKind]int{}}
	for _, r := range reqs {
		if r.Fault != "" {
			s.Faulted++
		}
	}
	for i, f := range faults {
		s.ByKind[f.Kind] += f.Hit
		if i < len(plan.permanent) {
			s.Permanent += f.Hit
		} else if f.Date != "" && f.Hit > 0 {
			s.Dated = append(s.Dated, f)
		}
	}
	return s, nil
}

// share is the fraction of requests that met a fault, leaving out those of the permanent
// failures (every one of which does).
func (s sourceStats) share() float64 {
	if s.Requests <= s.Permanent {
		return 0
	}
	return float64(s.Faulted-s.Permanent) / float64(s.Requests-s.Permanent)
}

// allKinds lists every fault kind of the simulator the plan uses, for the report, in a
// stable order.
func (s sourceStats) kinds() []sourcesim.FaultKind {
	var ks []sourcesim.FaultKind
	for k := range s.ByKind {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i] < ks[j] })
	return ks
}

// plannedKinds are the simulator's fault kinds a plan uses; credits_exhausted is left out
// on purpose: The Odds API answers it for the account, not for a date, and the scraper
// rightly stops every later call of the process at its credit floor.
func (p sourcePlan) plannedKinds() []sourcesim.FaultKind {
	var ks []sourcesim.FaultKind
	for _, f := range p.faults {
		if !slices.Contains(ks, f.Kind) {
			ks = append(ks, f.Kind)
		}
	}
	return ks
}
