package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"cloud.google.com/go/bigquery"

	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/infra/backfill"
	"github.com/nba-props/pipeline/infra/chaos/faultproxy"
	"github.com/nba-props/pipeline/infra/cloud"
	"github.com/nba-props/pipeline/infra/local"
	"github.com/nba-props/pipeline/infra/sourcesim"
	"github.com/nba-props/pipeline/messages"
)

// simNow puts the simulator after the 2024-25 season, so every game of a backfill is final.
const simNow = "2025-06-30T16:00:00Z"

// The API keys the consumers get: fake, and recognisable, so that a log line holding one
// is found by a plain search.
const (
	fakeBDLKey  = "CHAOS-FAKE-BDL-KEY-4f1d9c"
	fakeOddsKey = "CHAOS-FAKE-ODDS-KEY-8b27e0"
)

// Options are a chaos run's settings (the flags of the command).
type Options struct {
	Start, End string
	// Seed drives every random choice of the run: kills, their timing, poison, duplicates,
	// which dates fail for good, which source requests the shared faults hit and the
	// proxies' faults. SimSeed is the simulated league only.
	Seed, SimSeed int64
	Consumers     int
	Kills         int
	// KillGap is the mean time between kills (each gap is uniform in [gap/2, 3gap/2]).
	KillGap time.Duration
	// DupShare is the share of finished records whose emitted messages are published again.
	DupShare float64
	// Permanent is how many permanent failures to plant (at most one per kind).
	Permanent int
	// PoisonEach is how many messages of each poison kind to publish.
	PoisonEach int
	// BigQueryFaults and GCSFaults are the shares of the consumers' requests to BigQuery and
	// GCS that meet a fault of the proxies, split among the kinds (see proxyShares).
	BigQueryFaults, GCSFaults float64
	// Lease, ReconcileEvery and RetryWithin are the consumers' CONSUMER_LEASE,
	// CONSUMER_RECONCILE_EVERY and CONSUMER_RETRY_WITHIN.
	Lease, ReconcileEvery, RetryWithin time.Duration
	// Timeout bounds the whole run from the first enqueue.
	Timeout time.Duration
	// Dir keeps the binaries, the stack's data and every log ("": a temporary directory,
	// removed after a run that passed).
	Dir string
	// PubSub selects the stack's Pub/Sub emulator ("" for its default).
	PubSub string
	Out    io.Writer
}

// Result is what a chaos run measured and what failed.
type Result struct {
	Pairs     int
	Converged time.Duration // from the first enqueue until every pair settled
	AfterKill time.Duration // from the last kill until then
	Kills     []kill
	// StallBound is the longest a record may stay running under a lapsed lease before the
	// reconciler re-sends it (or sends it again); WorstStall the longest seen.
	StallBound, WorstStall time.Duration
	Stalls                 int
	Sources                sourceStats
	BigQuery, GCS          faultproxy.Stats
	// PermanentDead counts the dead letters of the pairs that must end dead (deadEnd).
	Poison, PermanentDead int
	Duplicates            int
	PeakKB                int64
	LogLines              int
	// Handled counts the deliveries the consumers' logs say they handled, and MostHandled
	// the most times one message was handled on one subscription.
	Handled, MostHandled int
	Problems             []string
}

// OK reports whether every invariant held.
func (r Result) OK() bool { return len(r.Problems) == 0 }

// proxyShares splits a proxy's share of faulted requests among the kinds: a little more
// delay (slow is the commonest failure), rate limits a little less.
func proxyShares(total float64) map[faultproxy.Kind]float64 {
	weights := map[faultproxy.Kind]float64{faultproxy.Refuse: 4, faultproxy.Lose: 4, faultproxy.RateLimit: 3, faultproxy.Delay: 5}
	out := map[faultproxy.Kind]float64{}
	for k, w := range weights {
		out[k] = total * w / 16
	}
	return out
}

// stallBound is how long a record may sit under a lapsed lease before the reconciler
// re-sends it, or re-sends it again: a pass runs every ReconcileEvery (one more period if
// the lock holder died), a record is re-sent at most once per redrive spacing (five
// periods), plus a few seconds for the pass itself and this run's polling. The re-sent
// message may then wait behind the subscription's backlog; that wait is not bounded here.
func stallBound(reconcile time.Duration) time.Duration {
	return 7*reconcile + 6*time.Second
}

// Run performs a chaos run and prints its report to o.Out.
func Run(ctx context.Context, o Options) (res Result, err error) {
	out := o.Out
	dates, err := messages.DateRange(o.Start, o.End)
	if err != nil {
		return res, err
	}
	rng := newRand(o.Seed)
	dir := o.Dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "nba-props-chaos-"); err != nil {
			return res, err
		}
		defer func() {
			if err == nil && res.OK() {
				_ = os.RemoveAll(dir)
			} else {
				fmt.Fprintf(out, "kept the binaries, data and logs in %s\n", dir)
			}
		}()
	}
	fmt.Fprintf(out, "building the consumers, producer and local stack into %s…\n", dir)
	bin, err := build(ctx, dir)
	if err != nil {
		return res, err
	}

	stackLog, err := os.Create(filepath.Join(dir, "stack.log"))
	if err != nil {
		return res, err
	}
	defer stackLog.Close()
	st, err := startStack(ctx, bin.localstack, stackOptions{dataDir: filepath.Join(dir, "data"), simSeed: o.SimSeed, simNow: simNow, pubsub: o.PubSub}, stackLog)
	if err != nil {
		return res, err
	}
	defer func() {
		if serr := st.stop(); serr != nil && err == nil {
			err = serr
		}
	}()
	env := cloud.Env{Project: st.env[cloud.ProjectEnv], PubSubEmulatorHost: st.env[cloud.PubSubEmulatorEnv],
		StorageEmulatorHost: st.env[cloud.StorageEmulatorEnv], BigQueryEmulatorHost: st.env[cloud.BigQueryEmulatorEnv],
		Bucket: st.env[cloud.BucketEnv], Prefix: st.env[cloud.PrefixEnv]}
	if err := env.Resolve(); err != nil {
		return res, fmt.Errorf("the stack's exports: %w", err)
	}
	fmt.Fprintf(out, "local stack up: Pub/Sub %s, GCS %s, BigQuery %s, simulator %s (log: %s)\n",
		env.PubSubEmulatorHost, env.StorageEmulatorHost, env.BigQueryEmulatorHost, st.sim, stackLog.Name())

	// The run's own view of the stack goes straight to the emulators, never through the proxies.
	gcs, err := cloud.Storage(ctx, env.StorageEmulatorHost)
	if err != nil {
		return res, err
	}
	defer gcs.Close()
	bq, err := cloud.BigQuery(ctx, env.Project, env.BigQueryEmulatorHost)
	if err != nil {
		return res, err
	}
	defer bq.Close()
	ps, err := cloud.PubSubAt(ctx, env.Project, env.PubSubEmulatorHost)
	if err != nil {
		return res, err
	}
	defer ps.Close()
	led := ledger.New(gcs, env.Bucket, ledger.Options{})
	cat := messages.DefaultCatalog()
	names := messages.Names{Prefix: env.Prefix}

	// The same league as the stack's simulator (same seed, same clock): the ground truth.
	now, _ := time.Parse(time.RFC3339, simNow)
	sim := sourcesim.New(sourcesim.Config{Seed: o.SimSeed, Now: func() time.Time { return now }})
	var gameDates []string
	for _, d := range dates {
		gs, err := sim.GamesOn(d)
		if err != nil {
			return res, err
		}
		if len(gs) > 0 {
			gameDates = append(gameDates, d)
		}
	}
	plan, err := planSources(rng, shareSeed(o.Seed), gameDates, o.Permanent)
	if err != nil {
		return res, err
	}
	simc := simClient{base: st.sim, http: &http.Client{Timeout: 30 * time.Second}}
	if err := simc.install(ctx, plan.faults); err != nil {
		return res, err
	}
	fmt.Fprintf(out, "source faults: %d installed (%s)\n", len(plan.faults), kindList(plan.plannedKinds()))
	// What must end dead: the planted failures, and what the source itself holds broken.
	var ends []deadEnd
	for _, p := range plan.permanent {
		ends = append(ends, p.end())
		fmt.Fprintf(out, "  permanent: %s %s (%s): must end dead, reason %s\n",
			p.ref, p.date, p.end().why, strings.Join(p.reasons, " or "))
	}
	broken, err := brokenAtSource(sim, dates)
	if err != nil {
		return res, err
	}
	for _, d := range broken {
		fmt.Fprintf(out, "  broken at the source: %s (%s): must end dead, reason %s\n", d.key, d.why, strings.Join(d.reasons, " or "))
	}
	ends = append(ends, broken...)

	bqp, err := faultproxy.Start(faultproxy.Options{Name: "bigquery", Target: env.BigQueryEmulatorHost, Seed: o.Seed + 1,
		RateLimitStatus: http.StatusForbidden, MaxDelay: 2 * time.Second, Shares: proxyShares(o.BigQueryFaults)})
	if err != nil {
		return res, err
	}
	defer bqp.Close()
	gcsp, err := faultproxy.Start(faultproxy.Options{Name: "gcs", Target: env.StorageEmulatorHost, Seed: o.Seed + 2,
		RateLimitStatus: http.StatusTooManyRequests, MaxDelay: 500 * time.Millisecond, Shares: proxyShares(o.GCSFaults)})
	if err != nil {
		return res, err
	}
	defer gcsp.Close()
	fmt.Fprintf(out, "fault proxies: BigQuery %s → %s, GCS %s → %s\n", bqp.URL(), env.BigQueryEmulatorHost, gcsp.URL(), env.StorageEmulatorHost)

	// Both enqueues run before any consumer, so every scraper message is in the
	// subscriptions twice, byte for byte (same run id), and the run plan is written twice
	// with the same pairs.
	runID := fmt.Sprintf("chaos-%d-%s", o.Seed, time.Now().UTC().Format("20060102T150405"))
	began := time.Now()
	for i := range 2 {
		if err := producer(ctx, bin.producer, st.env, filepath.Join(dir, fmt.Sprintf("enqueue-%d.log", i+1)),
			"enqueue", "--phase", "scrapers", "--job", "all", "--start-date", o.Start, "--end-date", o.End, "--run-id", runID); err != nil {
			return res, err
		}
	}
	fmt.Fprintf(out, "enqueued %s..%s twice (run %s)\n", o.Start, o.End, runID)

	cenv := consumerEnv(st.env, gcsp.URL(), bqp.URL(), o)
	fl := newFleet(bin.consumers, cenv, dir, o.Consumers, 20*time.Second)
	if err := fl.startAll(); err != nil {
		return res, err
	}
	defer fl.stopAll()
	fmt.Fprintf(out, "%d consumers started (CONSUMER_LEASE=%s CONSUMER_RECONCILE_EVERY=%s CONSUMER_RETRY_WITHIN=%s); logs in %s\n",
		o.Consumers, o.Lease, o.ReconcileEvery, o.RetryWithin, dir)

	exp := newExpectation(cat, dates, messages.GameDate(time.Now()), ends)
	res.Pairs = len(exp.pairs)
	res.StallBound = stallBound(o.ReconcileEvery)
	pub := newPublisher(ps, names, cat)
	defer pub.stop()

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var bg sync.WaitGroup
	var bgMu sync.Mutex
	var bgErrs []error
	bgErr := func(err error) {
		if err != nil && !errors.Is(err, context.Canceled) {
			bgMu.Lock()
			bgErrs = append(bgErrs, err)
			bgMu.Unlock()
		}
	}
	picker := &dupPicker{rng: rand.New(rand.NewPCG(uint64(o.Seed), 0xd0b1e)), share: o.DupShare}
	w := newWatcher(led, exp, dates[0], dates[len(dates)-1], func(s ledger.Summary) {
		ok, delay := picker.pick()
		if !ok {
			return
		}
		bg.Add(1)
		go func() {
			defer bg.Done()
			select {
			case <-time.After(delay):
			case <-runCtx.Done():
				return
			}
			rec, _, err := led.Get(runCtx, s.Ref(), s.Date)
			if err != nil {
				bgErr(fmt.Errorf("duplicate of %s %s: %w", s.Ref(), s.Date, err))
				return
			}
			req := messages.Request{Version: messages.Version, Phase: rec.Phase, Job: rec.Job, Date: rec.Date, RunID: rec.RunID,
				Trigger: messages.Trigger{Kind: messages.TriggerProducer}, StopAfter: rec.StopAfter, Lane: rec.Lane}
			bgErr(pub.duplicate(runCtx, req))
		}()
	})

	// Poison goes out at seeded moments over the first part of the run.
	kinds := poisonKinds(gameDates[0])
	window := time.Duration(o.Kills+1) * o.KillGap
	type shot struct {
		at time.Duration
		k  poisonKind
		n  int
	}
	var shots []shot
	for n := range o.PoisonEach {
		for _, k := range kinds {
			shots = append(shots, shot{time.Duration(rng.Int64N(int64(window))), k, n})
		}
	}
	sort.Slice(shots, func(i, j int) bool { return shots[i].at < shots[j].at })
	poisonDone, killsDone := make(chan struct{}), make(chan struct{})
	bg.Add(1)
	go func() {
		defer bg.Done()
		defer close(poisonDone)
		for _, s := range shots {
			if !sleepUntil(runCtx, began.Add(s.at)) {
				return
			}
			bgErr(pub.poisonOne(runCtx, s.k, runID+"-poison", s.n))
		}
	}()

	// Kills: a seeded consumer, a seeded signal, at seeded moments; each is restarted after
	// a short seeded pause.
	killRng := rand.New(rand.NewPCG(uint64(o.Seed), 0x4b111))
	var kmu sync.Mutex
	var lastKill time.Time
	bg.Add(1)
	go func() {
		defer bg.Done()
		defer close(killsDone)
		next := began
		for range o.Kills {
			next = next.Add(o.KillGap/2 + time.Duration(killRng.Int64N(int64(o.KillGap)+1)))
			s := fl.slots[killRng.IntN(len(fl.slots))]
			sig := syscall.SIGTERM
			if killRng.IntN(2) == 0 {
				sig = syscall.SIGKILL
			}
			pause := 500*time.Millisecond + time.Duration(killRng.Int64N(int64(2500*time.Millisecond)))
			if !sleepUntil(runCtx, next) {
				return
			}
			k, err := fl.signal(s, sig)
			if err != nil {
				bgErr(err)
				return
			}
			k.At = time.Since(began)
			kmu.Lock()
			res.Kills = append(res.Kills, k)
			lastKill = time.Now()
			kmu.Unlock()
			fmt.Fprintf(out, "kill %s\n", k)
			if !sleepUntil(runCtx, time.Now().Add(pause)) {
				return
			}
			if err := fl.start(s); err != nil {
				bgErr(err)
				return
			}
		}
	}()

	// Watch the ledger until every pair has settled, every poison message is in the
	// dead-letter store, the kills are over and nothing has moved for a few seconds.
	deadline := began.Add(o.Timeout)
	var lastChange time.Time
	var got map[key]ledger.Summary
	progress := time.Now()
	for {
		var changed bool
		got, changed, err = w.poll(runCtx)
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		if err != nil {
			return res, fmt.Errorf("watching the ledger: %w", err)
		}
		if changed {
			lastChange = time.Now()
		}
		open := w.unsettled(got)
		poison, _ := pub.poisoned()
		stored, err := storedPoison(runCtx, led, poison)
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		if err != nil {
			return res, err
		}
		if len(open) == 0 && closed(killsDone) && closed(poisonDone) && stored == len(poison) && time.Since(lastChange) >= 3*time.Second {
			break
		}
		if time.Since(progress) >= 15*time.Second {
			progress = time.Now()
			kmu.Lock()
			kills := len(res.Kills)
			kmu.Unlock()
			fmt.Fprintf(out, "%7.1fs  %d of %d pairs settled, %d kills, %d of %d poison messages dead-lettered\n",
				time.Since(began).Seconds(), len(exp.pairs)-len(open), len(exp.pairs), kills, stored, len(shots))
		}
		if time.Now().After(deadline) {
			res.Problems = append(res.Problems, fmt.Sprintf("not settled after %v: %d pairs open, %d of %d poison messages dead-lettered", o.Timeout, len(open), stored, len(poison)))
			for i, k := range open {
				if i == 20 {
					res.Problems = append(res.Problems, fmt.Sprintf("... and %d more", len(open)-20))
					break
				}
				s, ok := got[k]
				res.Problems = append(res.Problems, fmt.Sprintf("open: %s: %s", k, describe(s, ok)))
			}
			break
		}
		if !sleepUntil(runCtx, time.Now().Add(time.Second)) {
			return res, ctx.Err()
		}
	}
	res.Converged = lastChange.Sub(began)
	kmu.Lock()
	if !lastKill.IsZero() {
		res.AfterKill = lastChange.Sub(lastKill)
	}
	kmu.Unlock()
	cancel()
	bg.Wait()
	fl.stopAll()
	for _, e := range bgErrs {
		res.Problems = append(res.Problems, "chaos run: "+e.Error())
	}
	return res, finish(ctx, &res, finishArgs{o: o, out: out, dir: dir, producer: bin.producer, stackEnv: st.env, began: began,
		dates: dates, exp: exp, got: got, w: w, fl: fl, led: led, bq: bq, sim: sim, simc: simc, plan: plan, ends: ends, pub: pub, bqp: bqp, gcsp: gcsp})
}

type finishArgs struct {
	o         Options
	out       io.Writer
	dir       string
	producer  string
	stackEnv  map[string]string
	began     time.Time
	dates     []string
	exp       expectation
	got       map[key]ledger.Summary
	w         *watcher
	fl        *fleet
	led       *ledger.Ledger
	bq        *bigquery.Client
	sim       *sourcesim.Sim
	simc      simClient
	plan      sourcePlan
	ends      []deadEnd
	pub       *publisher
	bqp, gcsp *faultproxy.Proxy
}

// finish checks every invariant once the run has settled and the consumers have stopped,
// and prints the report.
func finish(ctx context.Context, res *Result, a finishArgs) error {
	out := a.out
	bad := a.exp.check(a.got)
	if len(bad) > 30 {
		tally := map[string]int{}
		for _, k := range a.exp.pairs {
			s, ok := a.got[k]
			tally[string(k.ref.Phase)+" "+shortState(s, ok)]++
		}
		var parts []string
		for t, n := range tally {
			parts = append(parts, fmt.Sprintf("%s %d", t, n))
		}
		sort.Strings(parts)
		bad = append(bad[:30], fmt.Sprintf("... and %d more pairs not as planned; every pair by phase and end: %s", len(bad)-30, strings.Join(parts, ", ")))
	}
	res.Problems = append(res.Problems, bad...)
	res.WorstStall, res.Stalls = a.w.worst, a.w.stalls
	if res.WorstStall > res.StallBound {
		res.Problems = append(res.Problems, fmt.Sprintf("%s stayed running under a lapsed lease, not re-sent, for %.0fs, over the bound of %.0fs",
			a.w.worstKey, res.WorstStall.Seconds(), res.StallBound.Seconds()))
	}
	for _, s := range a.w.stalled(time.Now()) {
		res.Problems = append(res.Problems, "still stalled: "+s)
	}
	res.Problems = append(res.Problems, a.fl.unexpected()...)

	var err error
	if res.Sources, err = a.simc.stats(ctx, a.plan); err != nil {
		return err
	}
	if sh := res.Sources.share(); sh < 0.20 {
		res.Problems = append(res.Problems, fmt.Sprintf("only %.1f%% of %d source requests (those of the permanent failures left out) met a fault, want at least 20%%",
			100*sh, res.Sources.Requests-res.Sources.Permanent))
	}
	for _, k := range a.plan.plannedKinds() {
		if res.Sources.ByKind[k] == 0 {
			res.Problems = append(res.Problems, fmt.Sprintf("source fault %s was planned but never hit a request", k))
		}
	}
	res.BigQuery, res.GCS = a.bqp.Stats(), a.gcsp.Stats()
	for _, p := range []struct {
		name  string
		s     faultproxy.Stats
		share float64
	}{{"BigQuery", res.BigQuery, a.o.BigQueryFaults}, {"GCS", res.GCS, a.o.GCSFaults}} {
		for _, k := range faultproxy.Kinds() {
			if p.share > 0 && p.s.Hits[k] == 0 {
				res.Problems = append(res.Problems, fmt.Sprintf("%s proxy: fault %s never hit a request (%d requests)", p.name, k, p.s.Requests))
			}
		}
	}

	if len(a.dates) <= 31 {
		fmt.Fprintf(out, "\nStatus grid (producer status)\n")
		grid := filepath.Join(a.dir, "status.txt")
		if err := producer(ctx, a.producer, a.stackEnv, grid, "status", "--job", "all", "--start-date", a.dates[0], "--end-date", a.dates[len(a.dates)-1]); err != nil {
			return err
		}
		b, err := os.ReadFile(grid)
		if err != nil {
			return err
		}
		out.Write(b)
	}

	fmt.Fprintln(out)
	tp, err := compareTables(ctx, a.bq, a.sim, a.dates, a.plan.permanent, out)
	if err != nil {
		return err
	}
	res.Problems = append(res.Problems, tp...)
	dups, err := duplicateKeys(ctx, a.bq, a.dates[0], a.dates[len(a.dates)-1])
	if err != nil {
		return err
	}
	res.Problems = append(res.Problems, dups...)
	poison, poisonKind := a.pub.poisoned()
	dl, err := checkDeadLetters(ctx, a.led, poison, poisonKind, a.ends)
	if err != nil {
		return err
	}
	res.Poison, res.PermanentDead = dl.Poison, dl.Permanent
	res.Problems = append(res.Problems, dl.Problems...)
	for _, u := range dl.Unexpected {
		k := key{messages.Ref(messages.Phase(u.Phase), u.Job), u.Date}
		s, ok := a.got[k]
		res.Problems = append(res.Problems, fmt.Sprintf("unexpected dead letter %s: %s reason %q (the date ended %s): %s",
			u.MessageID, k, u.Reason, describe(s, ok), u.Error))
	}
	scan, err := scanLogs(a.fl.logFiles(), []string{fakeBDLKey, fakeOddsKey})
	if err != nil {
		return err
	}
	res.LogLines = scan.lines
	res.MostHandled, res.Handled = scan.mostHandled()
	res.Problems = appendFirst(res.Problems, scan.leaks, "API key in a consumer log: ", "log lines with an API key")
	res.Problems = appendFirst(res.Problems, scan.redeliveryLoops(), "", "messages delivered in a loop")
	jobs, err := backfill.CountJobs(ctx, a.bq, a.began)
	if err != nil {
		return err
	}
	res.Duplicates = a.pub.duplicates()
	res.PeakKB = a.fl.maxPeak().kb

	report(out, res, a, jobs)
	return nil
}

// appendFirst appends the first ten of found to problems, each after prefix, and then how
// many more there are, of what.
func appendFirst(problems, found []string, prefix, what string) []string {
	for i, f := range found {
		if i == 10 {
			return append(problems, fmt.Sprintf("... and %d more %s", len(found)-10, what))
		}
		problems = append(problems, prefix+f)
	}
	return problems
}

// report prints the figures of the run and its problems.
func report(out io.Writer, res *Result, a finishArgs, jobs map[string]int) {
	fmt.Fprintf(out, "\nKills (%d)\n", len(res.Kills))
	for _, k := range res.Kills {
		fmt.Fprintf(out, "  %s\n", k)
	}
	fmt.Fprintf(out, "\nSource faults: %d of %d requests, %d of them on the permanent failures; %.1f%% of the others\n",
		res.Sources.Faulted, res.Sources.Requests, res.Sources.Permanent, 100*res.Sources.share())
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, k := range res.Sources.kinds() {
		fmt.Fprintf(tw, "  %s\t%d\n", k, res.Sources.ByKind[k])
	}
	_ = tw.Flush()
	fmt.Fprintf(out, "  dated content faults that hit (a retry then sees the real answer):")
	for _, f := range res.Sources.Dated {
		fmt.Fprintf(out, " %s %s/%s %s×%d;", f.Date, f.Source, f.Dataset, f.Kind, f.Hit)
	}
	fmt.Fprintln(out)
	fmt.Fprintf(out, "BigQuery proxy: %s\n", res.BigQuery)
	fmt.Fprintf(out, "GCS proxy:      %s\n", res.GCS)
	fmt.Fprintf(out, "Messages: every scraper message published twice; %d emitted messages published again; %d poison messages\n", res.Duplicates, res.Poison)
	fmt.Fprintf(out, "Dead-letter store: %d poison, %d for the pairs that must end dead (permanent failures, files broken at the source)\n", res.Poison, res.PermanentDead)

	fmt.Fprintf(out, "\nBigQuery jobs by table (one per date unless an input changed or a job failed)\n")
	var tables []string
	for t := range jobs {
		tables = append(tables, t)
	}
	sort.Strings(tables)
	for _, t := range tables {
		fmt.Fprintf(out, "  %-42s %4d for %d dates\n", t, jobs[t], len(a.dates))
	}

	fmt.Fprintf(out, "\nConverged %.1fs after the first enqueue, %s\n", res.Converged.Seconds(), res.sinceLastKill())
	fmt.Fprintf(out, "Longest a record sat under a lapsed lease before a re-drive or a takeover: %.1fs (%d times; bound %.0fs = 7 × CONSUMER_RECONCILE_EVERY + 6s)\n",
		res.WorstStall.Seconds(), res.Stalls, res.StallBound.Seconds())
	fmt.Fprintf(out, "Consumers' peak RSS: %s (VmHWM, the highest of every process before each kill and at the end)\n", mb(res.PeakKB))
	fmt.Fprintf(out, "Consumer log lines searched for the API keys: %d\n", res.LogLines)
	fmt.Fprintf(out, "Deliveries handled: %d; one message at most %d times on one subscription (bound %d)\n", res.Handled, res.MostHandled, maxHandled)
	for _, p := range res.Problems {
		fmt.Fprintf(out, "PROBLEM: %s\n", p)
	}
}

// shortState is a record's state and reason ("dead/delivery_limit"), or "none".
func shortState(s ledger.Summary, ok bool) string {
	switch {
	case !ok:
		return "none"
	case s.Reason != "":
		return string(s.State) + "/" + s.Reason
	}
	return string(s.State)
}

func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// newRand is the run's seeded generator; each use of randomness draws from its own, so
// that one use changing does not shift the draws of another.
func newRand(seed int64) *rand.Rand { return rand.New(rand.NewPCG(uint64(seed), 0x5eed)) }

// sleepUntil waits until t; it reports false if ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// producer runs the producer CLI with the stack's environment, its output in logPath.
func producer(ctx context.Context, bin string, env map[string]string, logPath string, args ...string) error {
	lf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer lf.Close()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = baseEnv()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("producer %s: %w (output in %s:\n%s)", strings.Join(args, " "), err, logPath, lastLines(logPath, 10))
	}
	return nil
}

// baseEnv is what a child process keeps of ours: nothing that could point it elsewhere.
func baseEnv() []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// consumerEnv is the environment of every consumer process: the stack's exports with GCS
// and BigQuery behind the fault proxies, fast reconciliation, fake API keys and the
// simulator's rates.
func consumerEnv(stackEnv map[string]string, gcsProxy, bqProxy string, o Options) []string {
	vars := map[string]string{}
	for k, v := range stackEnv {
		vars[k] = v
	}
	for k, v := range map[string]string{
		cloud.StorageEmulatorEnv:   gcsProxy,
		cloud.BigQueryEmulatorEnv:  bqProxy,
		"CONSUMER_AVAILABLE_ONLY":  "true",
		"CONSUMER_LEASE":           o.Lease.String(),
		"CONSUMER_RECONCILE_EVERY": o.ReconcileEvery.String(),
		"CONSUMER_RETRY_WITHIN":    o.RetryWithin.String(),
		"CONSUMER_SHUTDOWN_GRACE":  "5s",
		"CONSUMER_STREAMS":         strconv.Itoa(consumerStreams(o.PubSub)),
		"BDL_API_KEY":              fakeBDLKey,
		"ODDS_API_KEY":             fakeOddsKey,
	} {
		vars[k] = v
	}
	maps.Copy(vars, sourcesim.ScraperRates())
	env := baseEnv()
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		env = append(env, k+"="+vars[k])
	}
	return env
}

// consumerStreams is the streaming pulls each consumer opens per subscription. Google's
// emulator runs a thread per stream that polls its subscription every 50 ms and hands
// every message to the first stream that pulls, so a second stream only costs it CPU:
// with four per subscription (168 per consumer), a season's run had about 600 threads in
// the emulator's JVM, polling subscriptions that each hold every message of their phase
// (the emulator ignores filters), and the JVM took 1.6 of the two cores. pstest (through
// the stack's wrapper) spreads a subscription's messages over the streams, and four carry
// its 400 messages a second.
func consumerStreams(pubsub string) int {
	if pubsub == local.PubSubGcloud {
		return 1
	}
	return 4
}

func kindList(ks []sourcesim.FaultKind) string {
	var s []string
	for _, k := range ks {
		s = append(s, string(k))
	}
	return strings.Join(s, ", ")
}
