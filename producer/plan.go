package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"cloud.google.com/go/storage"
	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/consumers/scrapers"
	"github.com/nba-props/pipeline/infra/topology"
	"github.com/nba-props/pipeline/messages"
	"github.com/sethvargo/go-envconfig"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
	"google.golang.org/api/iterator"
)

// Planning figures that are measurements or quotas, not settings.
const (
	// averageGamesPerDate stands in for a date of the regular season whose games are not
	// known yet: the 1,230 games of 2024-25 over its 174 dates. playoffGamesPerDate is for
	// May and June (about 85 playoff games over two months); July to September have none.
	// A date in the last weeks of April counts as the regular season: an estimate errs high.
	averageGamesPerDate = 1230.0 / 174
	playoffGamesPerDate = 85.0 / 61
	// perPairProcessing is the whole pipeline's throughput on the local stack, phases
	// overlapping: a regular season, 2,088 (job, date) pairs, in 300 s (README).
	perPairProcessing = 150 * time.Millisecond
	// tableJobsPerDay is BigQuery's quota of table operations (load jobs, and query or DML
	// jobs that write the table) per table and day. Each (job, date) of a BigQuery phase
	// runs one such job on its table.
	tableJobsPerDay = 1500
)

// Where a date's game count came from.
const (
	gamesFromLedger  = "ledger"
	gamesFromObject  = "schedule object"
	gamesFromAverage = "average"
)

type planFlags struct {
	enqueueFlags
	json, pairs bool
}

func planCmd(e *env) *cobra.Command {
	var f planFlags
	cmd := &cobra.Command{
		Use:   "plan --phase P --job J|all (--start-date D --end-date D | --dates D,D,...)",
		Short: "Show what an enqueue would run across the chain: pairs, requests, credits, BigQuery jobs, duration",
		Long: withEnv(`Show what the same enqueue would run, across every phase the chain reaches (the
catalogue's downstream edges, up to --stop-after): the (job, date) pairs that run and those
skipped with the reason (finished in the ledger, not backfillable, current day only, over
--limit, or not reached because no upstream of it runs that date); the requests per source
and the time they take at the scrapers' rates; The Odds API credits needed against the
balance the odds scraper last saw; BigQuery jobs per table and day against the quota of
1,500; and an estimated duration.

A date's games come from the ledger (raw/nbac_schedule's rows), else from the scraped
schedule object in the bucket, else the season's average for the month (7.1 games a date,
1.4 in May and June, none July to September); the output says how many dates each gave. The rates, page size, snapshots and credit floor are read from the
scrapers' variables (BDL_RATE_PER_MINUTE, ODDS_API_SNAPSHOT_OFFSETS, ODDS_API_CREDIT_FLOOR,
...; unset: their production defaults), for one scraper process. A downstream pair that is
finished in the ledger is counted although it runs again only if its input changed, so
the figures are an upper bound. producer enqueue refuses a run over a budget unless
--allow-over-budget.`),
		Example: `  producer plan --phase scrapers --job all --start-date 2024-10-22 --end-date 2025-04-13
  producer plan --phase scrapers --job odds_api_player_props --dates 2024-11-01,2024-11-02 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return planRun(cmd.Context(), e, f) },
	}
	selectionFlags(cmd, &f.enqueueFlags)
	fl := cmd.Flags()
	fl.BoolVar(&f.json, "json", false, "print the plan as JSON, every pair included")
	fl.BoolVar(&f.pairs, "pairs", false, "list every (job, date) of the chain with RUN or SKIP")
	return cmd
}

func planRun(ctx context.Context, e *env, f planFlags) error {
	sel, err := selectWork(e, f.enqueueFlags)
	if err != nil {
		return err
	}
	cl, err := open(ctx, e, false)
	if err != nil {
		return err
	}
	defer cl.Close()
	cfg, l := cl.cfg, cl.ledger
	records, err := chainLedger(ctx, e, l, sel)
	if err != nil {
		return err
	}
	sel.resolve(records)
	p, err := makePlan(ctx, e, l, records, cl.storage.Bucket(cfg.Bucket), sel)
	if err != nil {
		return err
	}
	if f.json {
		return p.writeJSON(e.stdout)
	}
	if f.pairs {
		for _, c := range p.chain {
			if c.run {
				fmt.Fprintf(e.stdout, "RUN   %s  %s%s\n", c.date, c.ref, noteOf(c.note))
			} else {
				fmt.Fprintf(e.stdout, "SKIP  %s  %s  %s: %s\n", c.date, c.ref, c.kind, c.reason)
			}
		}
	}
	p.print(e.stdout)
	return nil
}

func noteOf(note string) string {
	if note == "" {
		return ""
	}
	return "  (" + note + ")"
}

// chainPair is one (job, date) the run's chain reaches.
type chainPair struct {
	ref    messages.JobRef
	date   string
	run    bool
	kind   string // skip kind
	reason string
	note   string // a remark on a pair that runs
}

// The skip kind of a downstream pair no upstream of which runs that date.
const skipUnreached = "not reached"

// chainJobs are the jobs a selection's chain reaches: the selected jobs and, through the
// catalogue's downstream edges, every job of a phase no later than stop ("" for all), in
// the catalogue's dependency order.
func chainJobs(c *messages.Catalog, specs []messages.JobSpec, stop messages.Phase) []messages.JobSpec {
	in := map[messages.JobRef]bool{}
	queue := []messages.JobRef{}
	for _, s := range specs {
		in[s.Ref()] = true
		queue = append(queue, s.Ref())
	}
	for len(queue) > 0 {
		r := queue[0]
		queue = queue[1:]
		for _, d := range c.Downstream(r) {
			if in[d] || (stop != "" && d.Phase.Order() > stop.Order()) {
				continue
			}
			in[d] = true
			queue = append(queue, d)
		}
	}
	var out []messages.JobSpec
	for _, s := range c.Jobs() {
		if in[s.Ref()] {
			out = append(out, s)
		}
	}
	return out
}

// buildChain expands the first-phase items to every pair the chain reaches, date by date
// in the items' order. A downstream pair runs when an upstream of it runs that date (its
// completion sends the message) and its source can serve the date; records holds the
// ledger's summaries of the chain's jobs, to note the pairs that are finished already.
func buildChain(c *messages.Catalog, items []item, jobs []messages.JobSpec, today string, records map[messages.JobRef]map[string]ledger.Summary) []chainPair {
	first := map[string]map[messages.JobRef]item{}
	var dates []string
	for _, it := range items {
		if first[it.date] == nil {
			first[it.date] = map[messages.JobRef]item{}
			dates = append(dates, it.date)
		}
		first[it.date][it.ref] = it
	}
	inChain := map[messages.JobRef]bool{}
	for _, s := range jobs {
		inChain[s.Ref()] = true
	}
	// At most one pair per date and job: sized once, a backfill of 100,000 pairs is not
	// copied over and over as it grows.
	out := make([]chainPair, 0, len(dates)*len(jobs))
	for _, d := range dates {
		runs := map[messages.JobRef]bool{}
		present := map[messages.JobRef]bool{}
		for _, s := range jobs {
			ref := s.Ref()
			if it, ok := first[d][ref]; ok {
				out = append(out, chainPair{ref: ref, date: d, run: it.run, kind: it.kind, reason: it.reason})
				runs[ref], present[ref] = it.run, true
				continue
			}
			var reached, touched bool
			for _, u := range s.Upstreams() {
				reached = reached || runs[u]
				touched = touched || present[u]
			}
			if !touched || !inChain[ref] {
				continue
			}
			present[ref] = true
			p := chainPair{ref: ref, date: d, run: true}
			if err := c.CheckDate(ref, d, today); err != nil {
				p.run, p.kind, p.reason = false, skipUnavailable, err.Error()
			} else if !reached {
				p.run, p.kind, p.reason = false, skipUnreached, "no upstream of it runs that date, so nothing sends it"
			} else if sum, ok := records[ref][d]; ok && sum.State.Finished() {
				p.note = fmt.Sprintf("%s in the ledger: runs again only if its input changed", sum.State)
			}
			runs[ref] = p.run
			out = append(out, p)
		}
	}
	return out
}

// plan is what a selection will cost, across its chain.
type plan struct {
	sel   selection
	chain []chainPair

	games     map[string]float64
	gamesFrom map[string]string

	requests  map[string]float64 // by source
	rates     map[string]float64 // per minute
	credits   float64
	uncounted []string // scrapers without a cost model: their requests are not counted

	odds      ledger.SourceUsage
	oddsKnown bool
	oddsFloor int

	tables []tableLoad

	processing time.Duration
	floor      time.Duration
	floorBy    string
	duration   time.Duration
}

// tableLoad is the BigQuery jobs a run makes on one table.
type tableLoad struct {
	Table   string `json:"table"`
	Run     int    `json:"this_run"`
	Last24h int    `json:"last_24h"`
	PerDay  int    `json:"per_day"`
	Limit   int    `json:"limit"`
}

// Over is how far the table's jobs per day go over the quota (0: within it).
func (t tableLoad) Over() int { return max(0, t.PerDay-t.Limit) }

// makePlan reads what else the plan needs (game counts, the odds account) beside the chain's
// ledger records (chainLedger) and counts the run's cost.
func makePlan(ctx context.Context, e *env, l *ledger.Ledger, listed map[messages.JobRef][]ledger.Summary, bucket *storage.BucketHandle, sel selection) (*plan, error) {
	scfg, err := scraperConfig(ctx, e.lookuper)
	if err != nil {
		return nil, err
	}
	p := &plan{sel: sel, rates: scfg.RatesPerMinute(), oddsFloor: scfg.OddsCreditFloor, requests: map[string]float64{}}
	jobs := chainJobs(e.catalog, sel.specs, sel.stop)
	// Every record of each chain job: the dates of the run (finished ones are noted) and
	// the last day (BigQuery's quota counts the jobs of the last 24 hours).
	records := map[messages.JobRef]map[string]ledger.Summary{}
	now := time.Now()
	last24h := map[messages.JobRef]int{}
	for ref, sums := range listed {
		m := map[string]ledger.Summary{}
		for _, sum := range sums {
			m[sum.Date] = sum
			if sum.State.Done() && now.Sub(sum.Updated) < 24*time.Hour {
				last24h[ref]++
			}
		}
		records[ref] = m
	}
	p.chain = buildChain(e.catalog, sel.items, jobs, e.today(), records)

	var scraperDates []string
	seen := map[string]bool{}
	for _, c := range p.chain {
		if c.run && c.ref.Phase == messages.PhaseScrapers && !seen[c.date] {
			seen[c.date] = true
			scraperDates = append(scraperDates, c.date)
		}
	}
	if p.games, p.gamesFrom, err = gamesOf(ctx, l, bucket, scraperDates); err != nil {
		return nil, err
	}
	scraperPairs := 0
	seasons := map[int]bool{}
	tableOf := tableNames(e.catalog)
	perTable := map[string]int{}
	runPairs := 0
	for _, c := range p.chain {
		if !c.run {
			continue
		}
		runPairs++
		if c.ref.Phase == messages.PhaseScrapers {
			cost, err := scfg.DateCost(c.ref.Job, p.games[c.date])
			if errors.Is(err, scrapers.ErrNoCostModel) {
				if !slices.Contains(p.uncounted, c.ref.String()) {
					p.uncounted = append(p.uncounted, c.ref.String())
				}
				continue
			}
			if err != nil {
				return nil, usagef("planning %s %s: %w", c.ref, c.date, err)
			}
			for src, n := range cost.Requests {
				p.requests[src] += n
			}
			p.credits += cost.Credits
			scraperPairs++
			seasons[seasonStart(c.date)] = true
			continue
		}
		if t, ok := tableOf[c.ref]; ok {
			perTable[t]++
		}
	}

	p.processing = time.Duration(runPairs) * perPairProcessing
	p.settleDuration()
	if scraperPairs > 0 {
		// The schedule document's fetches depend on how long the scrapers run.
		p.requests[scrapers.SourceNBACDN] = scfg.ScheduleRequests(scraperPairs, len(seasons), p.duration)
		p.settleDuration()
	}
	days := max(1, int(math.Ceil(p.duration.Hours()/24)))
	for _, s := range jobs { // tables in the catalogue's order
		t, ok := tableOf[s.Ref()]
		if !ok || perTable[t] == 0 {
			continue
		}
		var used int
		for ref, name := range tableOf {
			if name == t {
				used += last24h[ref]
			}
		}
		perDay := int(math.Ceil(float64(perTable[t])/float64(days))) + used
		p.tables = append(p.tables, tableLoad{Table: t, Run: perTable[t], Last24h: used, PerDay: perDay, Limit: tableJobsPerDay})
	}

	usage, err := l.SourceUsage(ctx, ledger.SourceOddsAPI)
	switch {
	case errors.Is(err, ledger.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("reading the odds account: %w", err)
	default:
		p.odds, p.oddsKnown = usage, true
	}
	return p, nil
}

// settleDuration sets the estimate: the slowest source at its rate, or the processing
// estimate if that is longer.
func (p *plan) settleDuration() {
	p.floor, p.floorBy = 0, ""
	for _, src := range scrapers.Sources() {
		if n, rate := p.requests[src], p.rates[src]; n > 0 && rate > 0 {
			if d := time.Duration(n / rate * float64(time.Minute)); d > p.floor {
				p.floor, p.floorBy = d, src
			}
		}
	}
	p.duration = max(p.floor, p.processing)
}

// seasonStart is the year a date's season starts (from August on, the season starting
// then), to count the schedule documents the scrapers read.
func seasonStart(date string) int {
	t, _ := messages.ParseDate(date)
	if t.Month() < time.August {
		return t.Year() - 1
	}
	return t.Year()
}

// tableNames maps each job of a BigQuery phase to the table it writes: the table the
// topology declares under the job's name.
func tableNames(c *messages.Catalog) map[messages.JobRef]string {
	out := map[messages.JobRef]string{}
	for _, s := range c.Jobs() {
		if s.Phase == messages.PhaseScrapers {
			continue
		}
		for _, t := range topology.Tables() {
			if t.Name == s.Name {
				out[s.Ref()] = t.Dataset + "." + t.Name
			}
		}
	}
	return out
}

// scraperConfig reads the scrapers' settings from the producer's environment: the same
// variables, with the same defaults, that the scrapers read.
func scraperConfig(ctx context.Context, l envconfig.Lookuper) (scrapers.Config, error) {
	var c scrapers.Config
	if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: &c, Lookuper: l}); err != nil {
		return c, usagef("reading the scrapers' settings for the plan: %w", err)
	}
	for src, rate := range c.RatesPerMinute() {
		if rate <= 0 {
			return c, usagef("the %s rate per minute is %v: want > 0 (see producer plan --help)", src, rate)
		}
	}
	return c, nil
}

// gamesOf finds the games of each date: the raw schedule's rows in the ledger (one per
// game), else the scraped schedule object's games, else averageGamesPerDate.
func gamesOf(ctx context.Context, l *ledger.Ledger, bucket *storage.BucketHandle, dates []string) (map[string]float64, map[string]string, error) {
	games, from := map[string]float64{}, map[string]string{}
	if len(dates) == 0 {
		return games, from, nil
	}
	sorted := slices.Sorted(slices.Values(dates))
	known, err := gamesPerDate(ctx, l, sorted)
	if err != nil {
		return nil, nil, err
	}
	var rest []string
	for _, d := range sorted {
		if n, ok := known[d]; ok {
			games[d], from[d] = float64(n), gamesFromLedger
		} else {
			rest = append(rest, d)
		}
	}
	if len(rest) > 0 {
		objects, err := scheduleObjects(ctx, bucket, rest)
		if err != nil {
			return nil, nil, err
		}
		for d, n := range objects {
			games[d], from[d] = float64(n), gamesFromObject
		}
	}
	for _, d := range rest {
		if _, ok := games[d]; !ok {
			games[d], from[d] = averageGamesOn(d), gamesFromAverage
		}
	}
	return games, from, nil
}

// averageGamesOn is the games a date of its month has on average.
func averageGamesOn(date string) float64 {
	t, _ := messages.ParseDate(date)
	switch t.Month() {
	case time.July, time.August, time.September:
		return 0
	case time.May, time.June:
		return playoffGamesPerDate
	}
	return averageGamesPerDate
}

// scheduleObjects counts the games in the scraped schedule objects of dates that have one
// (messages.ScrapedNBACSchedule: NBA.com's schedule narrowed to the date).
func scheduleObjects(ctx context.Context, bucket *storage.BucketHandle, dates []string) (map[string]int, error) {
	want := map[string]string{} // object name -> date
	for _, d := range dates {
		want[messages.ScrapedNBACSchedule.Object(d, messages.SchedulePart)] = d
	}
	base := string(messages.ScrapedNBACSchedule) + "/"
	q := &storage.Query{Prefix: base, StartOffset: messages.ScrapedNBACSchedule.Prefix(dates[0]),
		EndOffset: messages.ScrapedNBACSchedule.Prefix(dates[len(dates)-1]) + "~"}
	if err := q.SetAttrSelection([]string{"Name"}); err != nil {
		return nil, err
	}
	var found []string
	it := bucket.Objects(ctx, q)
	for {
		a, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("listing the scraped schedules: %w", err)
		}
		if d, ok := want[a.Name]; ok {
			found = append(found, d)
		}
	}
	out := map[string]int{}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for _, d := range found {
		g.Go(func() error {
			n, err := scheduleGames(gctx, bucket, messages.ScrapedNBACSchedule.Object(d, messages.SchedulePart))
			if err != nil {
				return err
			}
			mu.Lock()
			out[d] = n
			mu.Unlock()
			return nil
		})
	}
	return out, g.Wait()
}

// scheduleGames counts the games of a scraped schedule object, which keeps NBA.com's shape.
func scheduleGames(ctx context.Context, bucket *storage.BucketHandle, name string) (int, error) {
	r, err := bucket.Object(name).NewReader(ctx)
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", name, err)
	}
	defer r.Close()
	var doc struct {
		LeagueSchedule struct {
			GameDates []struct {
				Games []json.RawMessage `json:"games"`
			} `json:"gameDates"`
		} `json:"leagueSchedule"`
	}
	if err := json.NewDecoder(r).Decode(&doc); err != nil {
		return 0, fmt.Errorf("reading %s: not NBA.com's schedule shape: %w", name, err)
	}
	n := 0
	for _, gd := range doc.LeagueSchedule.GameDates {
		n += len(gd.Games)
	}
	return n, nil
}

// overBudget lists each budget the run goes over, saying by how much and what to do.
func (p *plan) overBudget() []string {
	var out []string
	if over := p.creditsOver(); over > 0 {
		out = append(out, fmt.Sprintf("The Odds API credits: the run needs %s, %s remain and ODDS_API_CREDIT_FLOOR keeps %s: over by %s; enqueue fewer dates or add credits",
			thousands(p.credits), thousands(float64(p.odds.Remaining)), thousands(float64(p.oddsFloor)), thousands(over)))
	}
	for _, t := range p.tables {
		if t.Over() > 0 {
			out = append(out, fmt.Sprintf("BigQuery %s: %s jobs in a day (%s of this run, %s in the last 24 hours) against the quota of %s per table and day: over by %s; split the dates over several days",
				t.Table, thousands(float64(t.PerDay)), thousands(float64(t.PerDay-t.Last24h)), thousands(float64(t.Last24h)), thousands(float64(t.Limit)), thousands(float64(t.Over()))))
		}
	}
	return out
}

// creditsOver is how many credits the run needs beyond what may be spent (0: within, or
// the balance is unknown).
func (p *plan) creditsOver() float64 {
	if !p.oddsKnown || p.credits == 0 {
		return 0
	}
	return max(0, math.Ceil(p.credits)-float64(p.odds.Remaining-p.oddsFloor))
}

// counts is the run and skipped pairs of the chain.
func (p *plan) counts() (run, skipped int) {
	for _, c := range p.chain {
		if c.run {
			run++
		} else {
			skipped++
		}
	}
	return run, skipped
}

// summary is the one line enqueue prints about the plan before publishing.
func (p *plan) summary() string {
	run, _ := p.counts()
	s := fmt.Sprintf("plan: %s across the chain, about %s", plural(run, "pair"), roundDuration(p.duration))
	if p.credits > 0 {
		s += fmt.Sprintf(", %s Odds API credits", thousands(p.credits))
	}
	return s + " (producer plan shows the detail)"
}

func (p *plan) print(w io.Writer) {
	sel := p.sel
	through := "every phase"
	if sel.stop != "" {
		through = "phase " + string(sel.stop)
	}
	dates := sel.dates()
	fmt.Fprintf(w, "plan: %s/%s for %s (%s to %s), through %s\n", sel.phase, sel.jobName, plural(len(dates), "date"),
		slices.Min(dates), slices.Max(dates), through)

	type counts struct{ run, skipped int }
	byJob := map[messages.JobRef]*counts{}
	var order []messages.JobRef
	for _, c := range p.chain {
		if byJob[c.ref] == nil {
			byJob[c.ref] = &counts{}
			order = append(order, c.ref)
		}
		if c.run {
			byJob[c.ref].run++
		} else {
			byJob[c.ref].skipped++
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tRUN\tSKIPPED")
	run, skipped := p.counts()
	for _, r := range order {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r, thousands(float64(byJob[r].run)), thousands(float64(byJob[r].skipped)))
	}
	fmt.Fprintf(tw, "total\t%s\t%s\n", thousands(float64(run)), thousands(float64(skipped)))
	tw.Flush()
	printChainSkips(w, p.chain)

	from := map[string]int{}
	for _, src := range p.gamesFrom {
		from[src]++
	}
	if len(p.gamesFrom) > 0 {
		var parts []string
		for _, k := range []struct{ key, text string }{
			{gamesFromLedger, "from the ledger (raw/nbac_schedule's rows)"},
			{gamesFromObject, "from the scraped schedule objects"},
			{gamesFromAverage, fmt.Sprintf("from the season's averages, no schedule scraped yet (%.1f games a date, %.1f in May and June, none July to September)",
				averageGamesPerDate, playoffGamesPerDate)},
		} {
			if from[k.key] > 0 {
				parts = append(parts, plural(from[k.key], "date")+" "+k.text)
			}
		}
		total := 0.0
		for _, g := range p.games {
			total += g
		}
		fmt.Fprintf(w, "games: %s on the dates the scrapers run; %s\n", thousands(total), strings.Join(parts, ", "))
	}

	if len(p.requests) > 0 {
		fmt.Fprintln(w, "requests at the scrapers' rates (one scraper process):")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "SOURCE\tREQUESTS\tPER MINUTE\tTAKES AT LEAST")
		for _, src := range scrapers.Sources() {
			if n := p.requests[src]; n > 0 {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", src, thousands(n), thousands(p.rates[src]), roundDuration(time.Duration(n/p.rates[src]*float64(time.Minute))))
			}
		}
		tw.Flush()
	}
	if len(p.uncounted) > 0 {
		fmt.Fprintf(w, "not counted: the requests of %s (no cost model in scrapers.Config.DateCost)\n", strings.Join(p.uncounted, ", "))
	}
	if p.credits > 0 || p.oddsKnown {
		fmt.Fprintf(w, "Odds API credits: %s needed; %s\n", thousands(p.credits), p.oddsLine())
	}
	if len(p.tables) > 0 {
		fmt.Fprintf(w, "BigQuery jobs per table (quota %s per table and day; this run's spread over %s):\n",
			thousands(tableJobsPerDay), plural(max(1, int(math.Ceil(p.duration.Hours()/24))), "day"))
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "TABLE\tTHIS RUN\tLAST 24 H\tPER DAY\tQUOTA")
		for _, t := range p.tables {
			verdict := "ok"
			if t.Over() > 0 {
				verdict = "over by " + thousands(float64(t.Over()))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.Table, thousands(float64(t.Run)), thousands(float64(t.Last24h)), thousands(float64(t.PerDay)), verdict)
		}
		tw.Flush()
	}
	by := "processing"
	if p.floor >= p.processing && p.floorBy != "" {
		by = "the " + p.floorBy + " rate"
	}
	fmt.Fprintf(w, "estimated duration: %s (set by %s; processing %s at %s per pair)\n",
		roundDuration(p.duration), by, roundDuration(p.processing), perPairProcessing)
	if p.floor > runner.DefaultSoftWait {
		// A job waits that long for a soft upstream queued by the same run, then runs
		// without it, and again when it lands: two BigQuery jobs for the date.
		fmt.Fprintf(w, "soft waits: the %s source takes %s, beyond the consumers' default soft wait (%s): set CONSUMER_SOFT_WAIT above %s, or the jobs with soft upstreams behind it run twice for the dates that wait longest\n",
			p.floorBy, roundDuration(p.floor), roundDuration(runner.DefaultSoftWait), roundDuration(p.floor))
	}
	for _, o := range p.overBudget() {
		fmt.Fprintf(w, "OVER BUDGET: %s\n", o)
	}
}

// oddsLine says what is known of the odds account and whether the run fits.
func (p *plan) oddsLine() string {
	if !p.oddsKnown {
		return "remaining unknown (the odds scraper has not recorded a response yet)"
	}
	s := fmt.Sprintf("%s remaining as of %s, %s kept by ODDS_API_CREDIT_FLOOR", thousands(float64(p.odds.Remaining)),
		p.odds.Observed.UTC().Format(time.RFC3339), thousands(float64(p.oddsFloor)))
	if over := p.creditsOver(); over > 0 {
		return s + ": over by " + thousands(over)
	}
	return s + ": ok"
}

// printChainSkips summarises the skipped pairs of the chain per job and kind, with the
// first reason.
func printChainSkips(w io.Writer, chain []chainPair) {
	items := make([]item, 0, len(chain))
	for _, c := range chain {
		items = append(items, item{ref: c.ref, date: c.date, run: c.run, kind: c.kind, reason: c.reason})
	}
	printSkips(w, items)
}

type planJSON struct {
	Phase      string         `json:"phase"`
	Job        string         `json:"job"`
	StopAfter  string         `json:"stop_after,omitempty"`
	RunPairs   int            `json:"run_pairs"`
	Skipped    int            `json:"skipped_pairs"`
	Pairs      []planPairJSON `json:"pairs"`
	Requests   []sourceJSON   `json:"requests"`
	Uncounted  []string       `json:"requests_not_counted,omitempty"`
	Credits    creditsJSON    `json:"odds_credits"`
	Tables     []tableLoad    `json:"bigquery_tables"`
	Duration   durationJSON   `json:"duration"`
	OverBudget []string       `json:"over_budget"`
}

type planPairJSON struct {
	Phase     string   `json:"phase"`
	Job       string   `json:"job"`
	Date      string   `json:"date"`
	Run       bool     `json:"run"`
	Skip      string   `json:"skip,omitempty"`
	Reason    string   `json:"reason,omitempty"`
	Note      string   `json:"note,omitempty"`
	Games     *float64 `json:"games,omitempty"`
	GamesFrom string   `json:"games_from,omitempty"`
}

type sourceJSON struct {
	Source        string  `json:"source"`
	Requests      float64 `json:"requests"`
	RatePerMinute float64 `json:"rate_per_minute"`
	Seconds       float64 `json:"seconds"`
}

type creditsJSON struct {
	Needed    float64    `json:"needed"`
	Known     bool       `json:"known"`
	Remaining *int       `json:"remaining,omitempty"`
	Used      *int       `json:"used,omitempty"`
	Observed  *time.Time `json:"observed,omitempty"`
	Floor     int        `json:"floor"`
	Over      float64    `json:"over"`
}

type durationJSON struct {
	Seconds           float64 `json:"seconds"`
	SourceSeconds     float64 `json:"source_seconds"`
	SlowestSource     string  `json:"slowest_source,omitempty"`
	ProcessingSeconds float64 `json:"processing_seconds"`
}

func (p *plan) writeJSON(w io.Writer) error {
	run, skipped := p.counts()
	out := planJSON{Phase: string(p.sel.phase), Job: p.sel.jobName, StopAfter: string(p.sel.stop), RunPairs: run, Skipped: skipped, Uncounted: p.uncounted,
		Pairs: []planPairJSON{}, Requests: []sourceJSON{}, Tables: p.tables, OverBudget: p.overBudget(),
		Credits: creditsJSON{Needed: p.credits, Known: p.oddsKnown, Floor: p.oddsFloor, Over: p.creditsOver()},
		Duration: durationJSON{Seconds: p.duration.Seconds(), SourceSeconds: p.floor.Seconds(), SlowestSource: p.floorBy,
			ProcessingSeconds: p.processing.Seconds()}}
	if out.Tables == nil {
		out.Tables = []tableLoad{}
	}
	if out.OverBudget == nil {
		out.OverBudget = []string{}
	}
	if p.oddsKnown {
		out.Credits.Remaining, out.Credits.Used, out.Credits.Observed = &p.odds.Remaining, &p.odds.Used, &p.odds.Observed
	}
	for _, c := range p.chain {
		pp := planPairJSON{Phase: string(c.ref.Phase), Job: c.ref.Job, Date: c.date, Run: c.run, Skip: c.kind, Reason: c.reason, Note: c.note}
		if g, ok := p.games[c.date]; ok && c.ref.Phase == messages.PhaseScrapers && c.run {
			pp.Games, pp.GamesFrom = &g, p.gamesFrom[c.date]
		}
		out.Pairs = append(out.Pairs, pp)
	}
	for _, src := range scrapers.Sources() {
		if n := p.requests[src]; n > 0 {
			out.Requests = append(out.Requests, sourceJSON{Source: src, Requests: n, RatePerMinute: p.rates[src], Seconds: n / p.rates[src] * 60})
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("writing json: %w", err)
	}
	return nil
}

// thousands prints a count rounded up to a whole number, with thousands separators.
func thousands(v float64) string {
	s := fmt.Sprintf("%d", int64(math.Ceil(v)))
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// roundDuration keeps a duration readable: whole seconds, whole minutes past an hour.
func roundDuration(d time.Duration) time.Duration {
	if d >= time.Hour {
		return d.Round(time.Minute)
	}
	return d.Round(time.Second)
}
