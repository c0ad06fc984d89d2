package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/consumers/scrapers"
	"github.com/nba-props/pipeline/consumers/service"
	"github.com/nba-props/pipeline/infra/backfill"
	"github.com/nba-props/pipeline/infra/sourcesim"
	"github.com/nba-props/pipeline/messages"
	"github.com/sethvargo/go-envconfig"
)

// instantRates lift every scraper source's token bucket far above anything the simulator
// serves, so that no client-side limit paces an instant run.
func instantRates() map[string]string {
	out := map[string]string{}
	for _, r := range (scrapers.Config{}).Rates() {
		out[r.Env+"_RATE_PER_MINUTE"], out[r.Env+"_BURST"] = "600000", "100"
	}
	return out
}

// planRates are the real plans' rates per minute by simulator source (the scrapers name
// their sources as the simulator does): the defaults of the scrapers' configuration.
func planRates(ctx context.Context) (map[string]float64, error) {
	cfg, err := service.Load(ctx, envconfig.MapLookuper(map[string]string{}))
	if err != nil {
		return nil, err
	}
	return cfg.Scrapers.RatesPerMinute(), nil
}

// pipelineResult is one end-to-end run through Pub/Sub, the ledger and the consumers.
type pipelineResult struct {
	// elapsed runs from the producer's start to the last ledger write of the range; wall
	// adds the wait of infra/backfill for a quiet ledger (3 s without a change).
	elapsed, wall time.Duration
	pairs         int
	ok            bool
	problems      []string
	consumerPeak  int64 // bytes, VmHWM of the consumers process
	// stackPeak is this process's VmHWM over the run (emulators, DuckDB, simulator), the
	// peak reset at its start where the kernel allows it (0 where it does not).
	stackPeak int64
	// consumerCPU and stackCPU are the CPU time (user, system) the consumers process and
	// this process (emulators, DuckDB, simulator) spent during the run.
	consumerCPU, stackCPU [2]time.Duration
	// data is the size of the stack's GCS objects and DuckDB files at the end (on tmpfs,
	// so in memory but in no process's resident size).
	data int64
}

// runPipeline runs the consumers binary against s with the given rates, drives the real
// producer through infra/backfill (as make run does) and reads the consumers' peak RSS.
func runPipeline(ctx context.Context, s *stack, bins binaries, rates map[string]string, dates []string, logs io.Writer) (pipelineResult, error) {
	vars := s.vars()
	var args []string
	if profileDir != "" {
		args = append(args, "--cpu-profile", filepath.Join(profileDir, fmt.Sprintf("consumers-cpu-%d-dates.pprof", len(dates))))
	}
	cmd := exec.CommandContext(ctx, bins.consumers, args...)
	cmd.Env = os.Environ()
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	for k, v := range rates {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, "CONSUMER_AVAILABLE_ONLY=true")
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		return pipelineResult{}, fmt.Errorf("starting the consumers: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	st := backfill.Stack{Env: vars, Storage: s.Storage, Bucket: s.Env().Bucket, BigQuery: s.BigQuery,
		Sim: s.Sim, Catalog: messages.DefaultCatalog(), Producer: []string{bins.producer}}
	reset := resetPeakRSS()
	t0 := time.Now()
	self0 := selfCPU()
	// The peaks are read once the chain has finished: what backfill does afterwards (the
	// job count, the ground-truth comparison, in this process) is the bench's work, not
	// the stack's.
	var peak, stackPeak int64
	var perr error
	finished := func() {
		peak, perr = vmHWM(cmd.Process.Pid)
		if reset && perr == nil {
			stackPeak, perr = vmHWM(os.Getpid())
		}
		if profileDir != "" {
			// What the stack holds when the chain has finished: Go's heap, DuckDB's memory.
			// A profile that cannot be written is said in the log; the run goes on, and the
			// bench exits non-zero at the end.
			err := writeProfile(filepath.Join(profileDir, fmt.Sprintf("heap-%d-dates.pprof", len(dates))), "heap")
			rep, merr := s.BigQueryEmulator.MemoryReport(ctx)
			if merr == nil {
				merr = os.WriteFile(filepath.Join(profileDir, fmt.Sprintf("duckdb-memory-%d-dates.txt", len(dates))), []byte(rep), 0o644)
			}
			if err = errors.Join(err, merr); err != nil {
				fmt.Fprintf(logs, "bench: --profile: %v\n", err)
				profileFailed(err)
			}
		}
	}
	res, err := backfill.Run(ctx, st, backfill.Options{Start: dates[0], End: dates[len(dates)-1],
		Timeout: 3 * time.Hour, Out: logs, Finished: finished})
	ccpu, cerr := procCPU(cmd.Process.Pid)
	self1 := selfCPU()
	stop()
	if perr == nil {
		perr = cerr
	}
	if err != nil {
		return pipelineResult{}, err
	}
	if perr != nil {
		return pipelineResult{}, perr
	}
	last, err := lastWrite(ctx, s, dates)
	if err != nil {
		return pipelineResult{}, err
	}
	problems := res.Problems
	if !res.Verify.OK() {
		problems = append(problems, "a table differs from the ground truth")
	}
	return pipelineResult{elapsed: last.Sub(t0), wall: res.Elapsed, pairs: res.Pairs, ok: res.OK(), problems: problems, consumerPeak: peak, stackPeak: stackPeak,
		consumerCPU: ccpu, stackCPU: [2]time.Duration{self1[0] - self0[0], self1[1] - self0[1]}, data: dirSize(s.dir)}, nil
}

// sequentialResult is the same jobs called directly, one after the other.
type sequentialResult struct {
	elapsed time.Duration
	perDate []time.Duration
	runs    int
	errs    []string
	// requests are the simulator's requests per source during the loop.
	requests map[string]int
}

// runSequential builds every job implementation the service wires (same code, same
// configuration) and calls each job's Run for each date in catalogue order, which lists
// every job after its upstreams: no Pub/Sub, no ledger, one call at a time.
func runSequential(ctx context.Context, s *stack, rates map[string]string, dates []string, logs io.Writer) (sequentialResult, error) {
	vars := s.vars()
	for k, v := range rates {
		vars[k] = v
	}
	cfg, err := service.Load(ctx, envconfig.MapLookuper(vars))
	if err != nil {
		return sequentialResult{}, err
	}
	if err := cfg.Resolve(); err != nil {
		return sequentialResult{}, err
	}
	deps := service.Deps{PubSub: s.PubSub, Storage: s.Storage, BigQuery: s.BigQuery, HTTP: &http.Client{},
		Bucket: s.Env().Bucket, Logger: slog.New(slog.NewJSONHandler(logs, nil))}
	jobs := map[messages.JobRef]runner.Job{}
	for _, p := range service.Phases() {
		built, err := p.Jobs(cfg, deps)
		if err != nil {
			return sequentialResult{}, fmt.Errorf("building the %s jobs: %w", p.Phase, err)
		}
		for name, j := range built {
			jobs[messages.Ref(p.Phase, name)] = j
		}
	}
	cat := messages.DefaultCatalog()
	today := messages.GameDate(time.Now())
	var out sequentialResult
	start := time.Now()
	for _, d := range dates {
		t0 := time.Now()
		for _, spec := range cat.Jobs() {
			j, ok := jobs[spec.Ref()]
			if !ok || cat.CheckDate(spec.Ref(), d, today) != nil {
				continue
			}
			req := messages.Request{Version: messages.Version, Phase: spec.Phase, Job: spec.Name, Date: d,
				RunID: "bench-sequential", Trigger: messages.Trigger{Kind: messages.TriggerProducer}, Lane: messages.LaneBackfill}
			rctx := runner.WithInfo(ctx, runner.RunInfo{Attempt: 1, Lane: messages.LaneBackfill})
			if _, err := j.Run(rctx, req); err != nil {
				out.errs = append(out.errs, fmt.Sprintf("%s %s: %v", spec.Ref(), d, err))
			}
			out.runs++
		}
		out.perDate = append(out.perDate, time.Since(t0))
	}
	out.elapsed = time.Since(start)
	return out, nil
}

// vmHWM reads a process's peak resident set size (bytes) from /proc.
func vmHWM(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("peak RSS of process %d: %w", pid, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("peak RSS of process %d: %q: %w", pid, rest, err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("peak RSS of process %d: no VmHWM in /proc/%d/status", pid, pid)
}

// requestsBySource counts the requests the simulator answered, per source.
func requestsBySource(sim *sourcesim.Sim) map[string]int {
	out := map[string]int{}
	for _, r := range sim.Requests() {
		out[r.Source]++
	}
	return out
}

// lastWrite is when the last ledger record of the range was written, over every job.
func lastWrite(ctx context.Context, s *stack, dates []string) (time.Time, error) {
	l := ledger.New(s.Storage, s.Env().Bucket, ledger.Options{})
	var last time.Time
	for _, spec := range messages.DefaultCatalog().Jobs() {
		sums, err := l.List(ctx, spec.Ref(), dates[0], dates[len(dates)-1])
		if err != nil {
			return last, err
		}
		for _, sm := range sums {
			if sm.Updated.After(last) {
				last = sm.Updated
			}
		}
	}
	return last, nil
}

// procCPU reads a process's user and system CPU time from /proc/<pid>/stat (clock ticks
// of 1/100 s, as on every Linux the stack runs on).
func procCPU(pid int) ([2]time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return [2]time.Duration{}, fmt.Errorf("CPU time of process %d: %w", pid, err)
	}
	// The command name (field 2) may hold spaces: count fields after its closing parenthesis.
	_, rest, _ := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if len(f) < 13 {
		return [2]time.Duration{}, fmt.Errorf("CPU time of process %d: short /proc/%d/stat", pid, pid)
	}
	var out [2]time.Duration
	for i, field := range f[11:13] { // utime and stime are fields 14 and 15
		ticks, err := strconv.ParseInt(field, 10, 64)
		if err != nil {
			return out, fmt.Errorf("CPU time of process %d: %w", pid, err)
		}
		out[i] = time.Duration(ticks) * 10 * time.Millisecond
	}
	return out, nil
}

// selfCPU is this process's user and system CPU time so far.
func selfCPU() [2]time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return [2]time.Duration{}
	}
	return [2]time.Duration{time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())}
}

// dirSize is the bytes of the regular files under dir (0 if it cannot be read).
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// resetPeakRSS sets this process's VmHWM back to its current resident size (Linux:
// clear_refs 5), so that a later reading is the peak of what came after, not of an
// earlier row's stack. It reports whether the kernel did.
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}
