// Command bench measures the pipeline on the local stack and prints one table and a
// summary line (make bench). It compares the pipeline end to end (Pub/Sub, ledger, the
// consumers binary, driven by the real producer) with the same jobs called one after the
// other in one process, with instant and with realistic sources; it measures how fast
// messages are enqueued over a ledger of five finished seasons, the runtime's overhead per
// message, the consumers' peak memory and how the time per date scales with the range.
// It prints figures and asserts nothing.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/nba-props/pipeline/infra/bench/runtimebench"
	"github.com/nba-props/pipeline/infra/local"
	"github.com/nba-props/pipeline/messages"
)

// The 2024-25 regular season, the default range.
const (
	seasonStart = "2024-10-22"
	seasonEnd   = "2025-04-13"
)

type flags struct {
	rng     string
	latency time.Duration
	sample  int
	full    bool
	seed    int64
	logs    string
	skip    string
	profile string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) (code int) {
	var f flags
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.rng, "range", seasonStart+".."+seasonEnd, "game `dates` FROM..TO of the season rows (default the 2024-25 regular season; a week for a quick run)")
	fs.DurationVar(&f.latency, "latency", 50*time.Millisecond, "per-request latency of the simulator in the realistic row")
	fs.IntVar(&f.sample, "sample", 3, "dates the sequential loop runs at realistic rates (its time is extrapolated per date)")
	fs.BoolVar(&f.full, "full", false, "also time three seasons in the scaling row")
	fs.Int64Var(&f.seed, "sim-seed", 2024, "source simulator seed")
	fs.StringVar(&f.logs, "logs", "", "`file` for the consumers', producer's and emulators' logs (default: a temporary file)")
	fs.StringVar(&f.profile, "profile", "", "`directory` for pprof profiles of this process (emulators, DuckDB, simulator, sequential loop): the CPU by stage (cpu-<stage>.pprof), block, mutex and allocs, and at the end of each pipeline run its heap and DuckDB's memory by component; and the consumers process's CPU over each pipeline run")
	fs.StringVar(&pubsubEmulator, "pubsub", local.PubSubPstest, "Pub/Sub `emulator` of every row's stack: "+local.PubSubPstest+" (built in) or "+local.PubSubGcloud+" (Google's official emulator, when the Google Cloud CLI has it)")
	fs.StringVar(&f.skip, "skip", "", "comma-separated rows to leave out: instant, realistic, enqueue, runtime, scaling")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bench: unexpected argument %q (flags only; see -h)\n", fs.Arg(0))
		return 2
	}
	from, to, ok := strings.Cut(f.rng, "..")
	dates, err := messages.DateRange(from, to)
	if !ok || err != nil {
		fmt.Fprintf(stderr, "bench: --range %q: want FROM..TO as YYYY-MM-DD..YYYY-MM-DD, e.g. 2024-10-22..2024-10-28 (%v)\n", f.rng, err)
		return 2
	}
	if f.sample < 1 {
		fmt.Fprintf(stderr, "bench: --sample %d: at least 1\n", f.sample)
		return 2
	}
	skip := map[string]bool{}
	for _, s := range strings.Split(f.skip, ",") {
		switch s = strings.TrimSpace(s); s {
		case "":
		case "instant", "realistic", "enqueue", "runtime", "scaling":
			skip[s] = true
		default:
			fmt.Fprintf(stderr, "bench: --skip %q: rows are instant, realistic, enqueue, runtime, scaling\n", s)
			return 2
		}
	}
	if f.profile != "" {
		stopProf, err := startProfiles(f.profile)
		if err != nil {
			fmt.Fprintf(stderr, "bench: --profile: %v\n", err)
			return 1
		}
		defer func() {
			if err := stopProf(); err != nil {
				fmt.Fprintf(stderr, "bench: --profile: %v\n", err)
				code = 1
			}
		}()
	}
	if err := bench(ctx, f, dates, skip, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	return 0
}

// binaries are the producer and consumers, built once as production builds them.
type binaries struct{ producer, consumers string }

func build(ctx context.Context, dir string) (binaries, error) {
	b := binaries{producer: filepath.Join(dir, "producer"), consumers: filepath.Join(dir, "consumers")}
	// By import path, so that it builds from any directory of the module (make bench runs
	// at its root, go test in this package's).
	for pkg, out := range map[string]string{"github.com/nba-props/pipeline/producer": b.producer, "github.com/nba-props/pipeline/consumers": b.consumers} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if o, err := cmd.CombinedOutput(); err != nil {
			return b, fmt.Errorf("go build %s (run make bench inside the repository): %v\n%s", pkg, err, o)
		}
	}
	return b, nil
}

// table collects the rows as they are measured.
type table struct {
	rows    [][3]string
	summary summary
}

func (t *table) add(what, figure, note string) {
	t.rows = append(t.rows, [3]string{what, figure, note})
}

type summary struct {
	instant, sequential, realistic, floor, seqRealistic, enqueue, overhead, consumerMiB, stackMiB, spread float64
}

func bench(ctx context.Context, f flags, dates []string, skip map[string]bool, stdout, stderr io.Writer) error {
	dir, err := os.MkdirTemp("", "nba-props-bench-bin-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	logPath := f.logs
	if logPath == "" {
		logPath = filepath.Join(os.TempDir(), fmt.Sprintf("nba-props-bench-%d.log", os.Getpid()))
	}
	logs, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logs.Close()
	fmt.Fprintf(stderr, "bench: %d dates %s..%s; logs in %s\n", len(dates), dates[0], dates[len(dates)-1], logPath)
	bins, err := build(ctx, dir)
	if err != nil {
		return err
	}
	loadBefore := loadavg()
	t := &table{}
	say := func(format string, args ...any) { fmt.Fprintf(stderr, "bench: "+format+"\n", args...) }
	// stage says what the bench does next and, with --profile, profiles it on its own. A
	// profile that cannot be written is said; the bench goes on and exits non-zero.
	stage := func(name, format string, args ...any) {
		say(format, args...)
		if err := profileStage(name); err != nil {
			say("--profile: %v", err)
		}
	}
	span := fmt.Sprintf("%s..%s, %d dates", dates[0], dates[len(dates)-1], len(dates))

	var instant pipelineResult
	if !skip["instant"] {
		stage("instant-pipeline", "instant sources: pipeline over %s", span)
		if instant, err = pipelineOn(ctx, f.seed, 0, bins, instantRates(), dates, logs); err != nil {
			return fmt.Errorf("instant pipeline: %w", err)
		}
		stage("instant-sequential", "instant sources: sequential loop")
		seq, err := sequentialOn(ctx, f.seed, 0, instantRates(), dates, logs)
		if err != nil {
			return fmt.Errorf("instant sequential: %w", err)
		}
		t.summary.instant, t.summary.sequential = instant.elapsed.Seconds(), seq.elapsed.Seconds()
		t.add("1 instant: pipeline", secs(instant.elapsed), fmt.Sprintf("%s; %d (job, date) pairs; to the last ledger write (%s with the producer's wait for a quiet ledger); %s", span, instant.pairs, secs(instant.wall), verdict(instant)))
		t.add("1 instant: CPU", fmt.Sprintf("%.0f%% of 2 cores", 100*(cpuSum(instant.consumerCPU)+cpuSum(instant.stackCPU))/(2*instant.wall.Seconds())),
			fmt.Sprintf("consumers user %s sys %s; emulators, DuckDB and simulator user %s sys %s; over %s",
				secs(instant.consumerCPU[0]), secs(instant.consumerCPU[1]), secs(instant.stackCPU[0]), secs(instant.stackCPU[1]), secs(instant.wall)))
		t.add("1 instant: sequential", secs(seq.elapsed), fmt.Sprintf("%d job runs in one process, catalogue order, date by date; %d errors%s", seq.runs, len(seq.errs), firstErr(seq.errs)))
		t.add("1 instant: ratio", fmt.Sprintf("%.2f", instant.elapsed.Seconds()/seq.elapsed.Seconds()), "pipeline / sequential")
		t.summary.consumerMiB = mib(instant.consumerPeak)
	}

	if !skip["realistic"] {
		stage("realistic-pipeline", "realistic sources (%v per request, plan rates): pipeline over %s", f.latency, span)
		s, err := startStack(ctx, f.seed, f.latency, logs)
		if err != nil {
			return err
		}
		// The plans' rates make the slowest source take longer than the consumers' default
		// soft wait (a season's game books: 22 minutes; producer plan says so), after which
		// a job runs without a soft upstream still queued and again when it lands. An
		// operator sets the wait above the run's time, and so does this row.
		res, err := runPipeline(ctx, s, bins, map[string]string{"CONSUMER_SOFT_WAIT": "24h"}, dates, logs)
		reqs := requestsBySource(s.Sim)
		s.close()
		if err != nil {
			return fmt.Errorf("realistic pipeline: %w", err)
		}
		rates, err := planRates(ctx)
		if err != nil {
			return err
		}
		floor, binding, parts := floorOf(reqs, rates)
		sample := spread(dates, f.sample)
		stage("realistic-sequential", "realistic sources: sequential loop over %d sample dates", len(sample))
		seq, err := sequentialOn(ctx, f.seed, f.latency, nil, sample, logs)
		if err != nil {
			return fmt.Errorf("realistic sequential: %w", err)
		}
		// The rate limit paces the loop: extrapolate by the binding source's requests,
		// which follow the games of each date, not by the number of dates.
		scale := float64(len(dates)) / float64(len(sample))
		basis := "dates"
		if n := budgetRequests(seq.requests, binding); n > 0 {
			scale, basis = float64(budgetRequests(reqs, binding))/float64(n), binding+" requests"
		}
		seqAll := time.Duration(float64(seq.elapsed) * scale)
		t.summary.realistic, t.summary.floor, t.summary.seqRealistic = res.elapsed.Seconds(), floor.Seconds(), seqAll.Seconds()
		t.add("2 realistic: pipeline", secs(res.elapsed), fmt.Sprintf("%s; %v per request, the plans' rates; to the last ledger write (%s in all); %s", span, f.latency, secs(res.wall), verdict(res)))
		t.add("2 realistic: floor", secs(floor), fmt.Sprintf("binding: %s; requests ÷ rate per source: %s", binding, parts))
		t.add("2 realistic: share of floor", fmt.Sprintf("%.0f%%", 100*floor.Seconds()/res.elapsed.Seconds()), "floor / pipeline time (100% = the rate limit is all that paces it)")
		t.add("2 realistic: sequential", secs(seqAll), fmt.Sprintf("extrapolated ×%.1f by %s: %s over %d dates spread over the range (%s; %d %s requests); %d errors%s",
			scale, basis, secs(seq.elapsed), len(sample), strings.Join(sample, " "), budgetRequests(seq.requests, binding), binding, len(seq.errs), firstErr(seq.errs)))
		t.add("2 realistic: speed-up", fmt.Sprintf("%.1f×", seqAll.Seconds()/res.elapsed.Seconds()), "sequential / pipeline")
	}

	if !skip["enqueue"] {
		stage("enqueue", "enqueue: seeding five seasons of finished records")
		rates, err := enqueueRow(ctx, f.seed, bins, logs)
		if err != nil {
			return fmt.Errorf("enqueue: %w", err)
		}
		for _, r := range rates {
			t.add(fmt.Sprintf("3 enqueue %s", commas(r.n)), fmt.Sprintf("%s msg/s", commas(int(r.rate))),
				fmt.Sprintf("%s: the producer binary, from its start to its exit: plan, ledger listing of %s records (five seasons finished), every publish awaited", secs(r.took), commas(r.listed)))
			t.summary.enqueue = r.rate
		}
	}

	if !skip["runtime"] {
		stage("runtime", "runtime overhead: 10,000 messages, bare and through the runtime")
		o, err := runtimebench.Measure(ctx, 10_000)
		if err != nil {
			return fmt.Errorf("runtime overhead: %w", err)
		}
		t.summary.overhead = o.Overhead
		t.add("4 runtime overhead", fmt.Sprintf("%.2f ms/msg", o.Overhead),
			fmt.Sprintf("%s no-op messages, %d streams, %d in flight, ledger on tmpfs: bare receive-and-ack %.2f ms/msg, runtime %.2f ms/msg (%.1f×); %d redeliveries",
				commas(o.N), runtimebench.Streams, runtimebench.Concurrency, o.PerBare, o.PerRuntime, o.PerRuntime/o.PerBare, o.Redeliveries))
	}

	// The memory rows are the instant run's: without it there is no run to measure (the
	// scaling rows come later, and every pipeline run resets the peak).
	if !skip["instant"] {
		t.add("5 memory: consumers", fmt.Sprintf("%.0f MiB", mib(instant.consumerPeak)), "peak RSS (VmHWM) of the consumers process over the instant pipeline run")
		self, over := instant.stackPeak, "over the instant pipeline run"
		if self == 0 {
			// A kernel that cannot reset the peak: this process's peak so far.
			self, _ = vmHWM(os.Getpid())
			over = "over every row before this one: the peak could not be reset"
		}
		t.summary.stackMiB = mib(self + instant.consumerPeak)
		t.add("5 memory: stack", fmt.Sprintf("%.0f MiB", mib(self+instant.consumerPeak)), fmt.Sprintf("emulators, DuckDB and simulator in this process %.0f MiB (VmHWM %s) + consumers; besides, the instant run's GCS objects and DuckDB files on tmpfs: %.0f MiB", mib(self), over, mib(instant.data)))
	}

	if !skip["scaling"] {
		per, err := scaling(ctx, f, dates, bins, instant, logs, stage)
		if err != nil {
			return fmt.Errorf("scaling: %w", err)
		}
		lo, hi := time.Duration(0), time.Duration(0)
		var parts []string
		for _, p := range per {
			if p.skipped != "" {
				parts = append(parts, fmt.Sprintf("%s: %s", p.name, p.skipped))
				continue
			}
			pd := p.elapsed / time.Duration(p.dates)
			// To the hundredth: a date takes under a second, and the spread compares them.
			parts = append(parts, fmt.Sprintf("%s (%d dates) %.2fs/date", p.name, p.dates, pd.Seconds()))
			if lo == 0 || pd < lo {
				lo = pd
			}
			hi = max(hi, pd)
		}
		if lo > 0 {
			t.summary.spread = hi.Seconds() / lo.Seconds()
		}
		t.add("6 scaling: per-date spread", fmt.Sprintf("%.2f", t.summary.spread), "max / min of the pipeline's time per date (instant sources): "+strings.Join(parts, "; "))
	}

	fmt.Fprintf(stdout, "make bench, %s, load average %s before, %s after (2 shared cores: figures are noisy)\n",
		time.Now().Format("2006-01-02 15:04"), loadBefore, loadavg())
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ROW\tFIGURE\tHOW")
	for _, r := range t.rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r[0], r[1], r[2])
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	s := t.summary
	ratio := 0.0
	if s.sequential > 0 {
		ratio = s.instant / s.sequential
	}
	share, speedup := 0.0, 0.0
	if s.realistic > 0 {
		share, speedup = 100*s.floor/s.realistic, s.seqRealistic/s.realistic
	}
	// The figures the summary's format leaves out, then the summary, the last line.
	fmt.Fprintf(stdout, "bench: also realistic %.1f× sequential; overhead %.2f ms/msg; stack %.0f MiB\n", speedup, s.overhead, s.stackMiB)
	fmt.Fprintf(stdout, "bench: instant %.1fs vs sequential %.1fs (ratio %.2f); realistic %.1fs = %.0f%% of floor %.1fs; enqueue %.0f msg/s; consumers %.0f MiB; per-date spread %.2f\n",
		s.instant, s.sequential, ratio, s.realistic, share, s.floor, s.enqueue, s.consumerMiB, s.spread)
	return nil
}

// pipelineOn runs the pipeline on a fresh stack.
func pipelineOn(ctx context.Context, seed int64, latency time.Duration, bins binaries, rates map[string]string, dates []string, logs io.Writer) (pipelineResult, error) {
	s, err := startStack(ctx, seed, latency, logs)
	if err != nil {
		return pipelineResult{}, err
	}
	defer s.close()
	return runPipeline(ctx, s, bins, rates, dates, logs)
}

// sequentialOn runs the sequential loop on a fresh stack.
func sequentialOn(ctx context.Context, seed int64, latency time.Duration, rates map[string]string, dates []string, logs io.Writer) (sequentialResult, error) {
	s, err := startStack(ctx, seed, latency, logs)
	if err != nil {
		return sequentialResult{}, err
	}
	defer s.close()
	r, err := runSequential(ctx, s, rates, dates, logs)
	r.requests = requestsBySource(s.Sim)
	return r, err
}

// floorOf is the least time the plans' rates allow for the requests each source served:
// the largest of requests ÷ rate over the sources.
func floorOf(reqs map[string]int, perMinute map[string]float64) (time.Duration, string, string) {
	var floor time.Duration
	binding := "none"
	var parts []string
	srcs := make([]string, 0, len(reqs))
	for src := range reqs {
		srcs = append(srcs, src)
	}
	slices.Sort(srcs)
	for _, src := range srcs {
		n, r := reqs[src], perMinute[src]
		if r <= 0 {
			continue
		}
		d := time.Duration(float64(n) / r * float64(time.Minute))
		parts = append(parts, fmt.Sprintf("%s %d/%.0f per min = %s", src, n, r, secs(d)))
		if d > floor {
			floor, binding = d, src
		}
	}
	return floor, binding, strings.Join(parts, ", ")
}

type enqueueRate struct {
	n, listed int
	took      time.Duration
	rate      float64
}

// enqueueRow seeds five seasons of finished scraper records, then runs the real producer
// (producer enqueue --phase scrapers --job all) for 10,000 and 100,000 new (job, date)
// messages, each over a range that includes the seeded seasons: the first range ends with
// them, the second starts with them, so neither publishes the other's dates.
func enqueueRow(ctx context.Context, seed int64, bins binaries, logs io.Writer) ([]enqueueRate, error) {
	s, err := startStack(ctx, seed, 0, logs)
	if err != nil {
		return nil, err
	}
	defer s.close()
	seeded, err := messages.DateRange(seededFrom, seededTo)
	if err != nil {
		return nil, err
	}
	jobs := enqueueJobs()
	if err := seedLedger(ctx, s, jobs, seeded); err != nil {
		return nil, err
	}
	var out []enqueueRate
	for i, n := range []int{10_000, 100_000} {
		from, to, want := seededFrom, seededTo, 0
		if i == 0 {
			from, want = freshDates(jobs, seededFrom, -1, n)
		} else {
			to, want = freshDates(jobs, seededTo, +1, n)
		}
		sent, took, err := enqueue(ctx, s, bins, from, to, logs)
		if err != nil {
			return nil, err
		}
		if sent != want {
			return nil, fmt.Errorf("the producer published %d messages over %s..%s, want %d: the seeded seasons are %s..%s", sent, from, to, want, seededFrom, seededTo)
		}
		out = append(out, enqueueRate{n: sent, listed: len(seeded) * len(jobs), took: took, rate: float64(sent) / took.Seconds()})
	}
	return out, nil
}

type scaled struct {
	name    string
	dates   int
	elapsed time.Duration
	skipped string
}

// scaling times the pipeline per date for a week, a month and the range (the instant
// row's run), and with --full three seasons.
func scaling(ctx context.Context, f flags, dates []string, bins binaries, whole pipelineResult, logs io.Writer, stage func(name, format string, args ...any)) ([]scaled, error) {
	var out []scaled
	for _, w := range []struct {
		name string
		n    int
	}{{"week", 7}, {"month", 30}} {
		if len(dates) <= w.n {
			continue
		}
		stage("scaling-"+w.name, "scaling: pipeline over a %s", w.name)
		r, err := pipelineOn(ctx, f.seed, 0, bins, instantRates(), dates[:w.n], logs)
		if err != nil {
			return nil, err
		}
		out = append(out, scaled{name: w.name, dates: w.n, elapsed: r.elapsed})
	}
	if whole.elapsed > 0 {
		out = append(out, scaled{name: "range", dates: len(dates), elapsed: whole.elapsed})
	}
	if !f.full {
		out = append(out, scaled{name: "three seasons", skipped: "skipped (--full runs it: about three times the season row)"})
		return out, nil
	}
	three, err := messages.DateRange("2022-10-18", "2025-04-13")
	if err != nil {
		return nil, err
	}
	stage("scaling-three-seasons", "scaling: pipeline over three seasons (%d dates)", len(three))
	r, err := pipelineOn(ctx, f.seed, 0, bins, instantRates(), three, logs)
	if err != nil {
		return nil, err
	}
	return append(out, scaled{name: "three seasons", dates: len(three), elapsed: r.elapsed}), nil
}

func verdict(r pipelineResult) string {
	if r.ok {
		return "every table equals the ground truth"
	}
	return "NOT OK: " + strings.Join(r.problems, "; ")
}

func firstErr(errs []string) string {
	if len(errs) == 0 {
		return ""
	}
	return " (first: " + errs[0] + ")"
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) }

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func commas(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// spread picks n dates evenly over dates (all of them when there are fewer), so that a
// sample sees quiet and busy days alike.
func spread(dates []string, n int) []string {
	if n >= len(dates) {
		return dates
	}
	out := make([]string, n)
	for i := range n {
		out[i] = dates[i*(len(dates)-1)/max(n-1, 1)]
	}
	return out
}

func cpuSum(c [2]time.Duration) float64 { return (c[0] + c[1]).Seconds() }

// budgetRequests counts the requests that drew on a source's rate budget: each source is
// paced by a limiter of its own.
func budgetRequests(reqs map[string]int, budget string) int { return reqs[budget] }
