package runner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/storage"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/messages"
)

// Defaults of Options.
const (
	DefaultLease          = time.Minute
	DefaultMaxAttempts    = 5
	DefaultStreams        = 4
	DefaultShutdownGrace  = 8 * time.Second
	DefaultPublishTimeout = time.Minute
	DefaultLeaseWait      = 10 * time.Second
	DefaultSoftWait       = 15 * time.Minute
	DefaultReconcileEvery = time.Minute
	DefaultRetryWithin    = 15 * time.Minute
)

// Options configure a Runtime. PubSub, Storage, Bucket, Catalog and Jobs are required.
type Options struct {
	PubSub  *pubsub.Client
	Storage *storage.Client
	// Bucket holds the ledger (_ledger/...).
	Bucket  string
	Catalog *messages.Catalog
	Names   messages.Names
	// Jobs are the implementations this process can run, by job.
	Jobs map[messages.JobRef]Job
	// Select lists the jobs this process consumes; nil means every key of Jobs. A selected
	// job without an implementation is a configuration error.
	Select []messages.JobRef
	// Unroutable lists the phases whose catch-all subscription this process consumes; nil
	// means the phases of the selected jobs.
	Unroutable []messages.Phase
	// DeadLetters makes this process keep the dead-letter topic's messages in the bucket
	// (the dead-letter subscription feeds the store): what a subscription's dead-letter
	// policy forwarded on its own is kept with a reason and recorded in the ledger.
	DeadLetters bool
	// Owner names this consumer in ledger leases; "" means host name, pid and a random
	// suffix.
	Owner string
	// Lease is how long a claim holds a date without being extended (a third of it is the
	// extension period). A crashed consumer's dates are taken over after at most this.
	Lease time.Duration
	// MaxAttempts bounds the runs of one (job, date) that end in transient errors before it
	// is dead-lettered with reason max_attempts. Pub/Sub's own dead-letter policy is the
	// backstop; this bound also holds on the emulator, which does not apply it reliably.
	MaxAttempts int
	// Streams is the number of StreamingPull streams per subscription
	// (ReceiveSettings.NumGoroutines). pstest sends at most one message per stream every
	// 10 ms, so four carry 400 messages/s a subscription, beyond what one consumer decides;
	// each stream costs the client timers and buffers whether it carries anything or not
	// (sixteen took about 40 MiB more of the consumers' memory over a backfill).
	Streams int
	// ShutdownGrace is how long in-flight work may go on after Run's context is cancelled
	// (SIGTERM); then it is abandoned and its leases lapse. Cloud Run kills 10 s after
	// SIGTERM, so keep it below that.
	ShutdownGrace time.Duration
	// LeaseWait is how long a message for a date whose lease another consumer holds waits
	// for it to be released (the date is then decided again) before it is acknowledged: the
	// holder finishes the date, and re-runs it if its input changed meanwhile, or its lease
	// lapses and the reconciler re-sends it. Waiting never spends a delivery attempt.
	LeaseWait time.Duration
	// SoftWait bounds how long a job whose hard upstreams are done waits for soft upstreams
	// that are on their way for the date (running, retrying, queued by the same producer
	// run, or not started although their own hard upstreams are done). Running once with
	// every input, instead of once per arriving soft upstream, keeps a backfill at one
	// BigQuery job per table and date. The wait holds no handler: the date is recorded
	// waiting and the message acked; the soft upstream's completion triggers the job again,
	// and the reconciler re-sends the request once they have all landed or died, or once
	// SoftWait is over, when the job runs with what is there. Negative disables the wait.
	SoftWait time.Duration
	// ReconcileEvery is how often this process offers to run the reconciler (one instance
	// at a time runs it, by a lock in the bucket): it re-sends the requests of records whose
	// lease lapsed, whose upstreams landed, whose soft wait is over, or whose retry never
	// came. Negative: never from this process (a push service runs it on request).
	ReconcileEvery time.Duration
	// RetryWithin is how long a failed record may wait for Pub/Sub's redelivery before the
	// reconciler re-sends it (the subscriptions' retry back-off is at most 10 minutes).
	RetryWithin time.Duration
	// PublishTimeout bounds the wait for downstream and dead-letter publish results.
	PublishTimeout time.Duration
	// Logger receives one line per message handled; nil means slog.Default().
	Logger *slog.Logger
	// Now is the ledger's clock; nil means time.Now.
	Now func() time.Time
	// TracerProvider and MeterProvider receive the runtime's and its ledger's spans and
	// metrics (package telemetry); nil means the global ones, which a binary's main sets.
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
}

// Runtime consumes the subscriptions of the selected jobs and their phases' catch-alls.
// See the package documentation for the contract it implements.
type Runtime struct {
	opts    Options
	ledger  *ledger.Ledger
	log     *slog.Logger
	project string
	jobs    []messages.JobSpec // selected, in catalogue order
	phases  []messages.Phase   // unroutable catch-alls consumed
	// targets maps each subscription this runtime serves to what it serves.
	targets map[string]target

	pubMu      sync.Mutex
	publishers map[string]*pubsub.Publisher

	// abandon is cancelled when the shutdown grace period is over: work still running is
	// given up without further writes.
	abandon   context.Context
	stop      context.CancelFunc
	started   atomic.Bool
	closeOnce sync.Once
	inflight  sync.WaitGroup

	mu sync.Mutex
	// maxDelivery is each job subscription's MaxDeliveryAttempts (0: unknown or none), as
	// Prepare read it.
	maxDelivery map[string]int

	plans   planCache
	cancels cancelCache
	tel     *instruments

	// running counts the deliveries of this process deciding or running each (job, date),
	// by "phase/job date": a live lease of this owner on a date none of them holds is one
	// whose claim answer was lost.
	lanes     laneGate // daily deliveries go first (lanes.go)
	runningMu sync.Mutex
	running   map[string]int
}

func runKey(ref messages.JobRef, date string) string { return ref.String() + " " + date }

// runningElsewhereHere reports whether another delivery of this process than the caller
// (which markRunning counted) decides or runs (ref, date) now.
func (rt *Runtime) runningElsewhereHere(ref messages.JobRef, date string) bool {
	rt.runningMu.Lock()
	defer rt.runningMu.Unlock()
	return rt.running[runKey(ref, date)] > 1
}

// markRunning counts a delivery of this process deciding or running (ref, date) until
// the returned func.
func (rt *Runtime) markRunning(ref messages.JobRef, date string) func() {
	k := runKey(ref, date)
	rt.runningMu.Lock()
	if rt.running == nil {
		rt.running = map[string]int{}
	}
	rt.running[k]++
	rt.runningMu.Unlock()
	return func() {
		rt.runningMu.Lock()
		if rt.running[k]--; rt.running[k] <= 0 {
			delete(rt.running, k)
		}
		rt.runningMu.Unlock()
	}
}

// target is what one subscription carries: the messages of one job, every message of a
// phase topic (a catch-all: job nil), or the dead-letter topic's (deadLetters).
type target struct {
	job         *messages.JobSpec
	lane        string // of a job's subscription: messages.LaneDaily or messages.LaneBackfill
	phase       messages.Phase
	deadLetters bool
	// runs holds one token per run of the job in flight on this subscription: its
	// capacity is the job's MaxConcurrency (see runSlot).
	runs chan struct{}
}

// New checks the options and builds a runtime. It refuses a selected job that has no
// implementation or is not in the catalogue, naming it.
func New(opts Options) (*Runtime, error) {
	switch {
	case opts.PubSub == nil:
		return nil, errors.New("runner: Options.PubSub is nil")
	case opts.Storage == nil:
		return nil, errors.New("runner: Options.Storage is nil")
	case opts.Bucket == "":
		return nil, errors.New("runner: Options.Bucket is empty; set the ledger bucket (GCS_BUCKET)")
	case opts.Catalog == nil:
		return nil, errors.New("runner: Options.Catalog is nil")
	}
	opts = opts.WithDefaults()
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Owner == "" {
		opts.Owner = defaultOwner()
	}
	jobs, err := opts.selectedJobs()
	if err != nil {
		return nil, err
	}
	phases, err := opts.catchAllPhases(jobs)
	if err != nil {
		return nil, err
	}
	if len(jobs) == 0 && len(phases) == 0 && !opts.DeadLetters {
		return nil, errors.New("runner: nothing to consume: no job selected and no unroutable phase")
	}
	tel, err := newInstruments(opts.TracerProvider, opts.MeterProvider)
	if err != nil {
		return nil, err
	}
	rt := &Runtime{
		opts: opts,
		tel:  tel,
		ledger: ledger.New(opts.Storage, opts.Bucket, ledger.Options{Now: opts.Now,
			TracerProvider: opts.TracerProvider, MeterProvider: opts.MeterProvider}),
		log:        opts.Logger,
		project:    opts.PubSub.Project(),
		jobs:       jobs,
		phases:     phases,
		publishers: map[string]*pubsub.Publisher{},
		targets:    map[string]target{},
	}
	rt.abandon, rt.stop = context.WithCancel(context.Background())
	for i := range rt.jobs {
		for _, lane := range messages.Lanes() {
			rt.targets[opts.Names.LaneSubscription(rt.jobs[i].Ref(), lane)] = target{job: &rt.jobs[i], lane: lane, phase: rt.jobs[i].Phase,
				runs: make(chan struct{}, rt.jobs[i].MaxConcurrency)}
		}
	}
	for _, p := range rt.phases {
		rt.targets[opts.Names.UnroutableSubscription(p)] = target{phase: p}
	}
	if opts.DeadLetters {
		rt.targets[opts.Names.DeadLetterSubscription()] = target{deadLetters: true}
	}
	return rt, nil
}

// WithDefaults fills every unset setting with its default (the Default... constants) and
// returns the result; New applies it, and names the owner and the logger when unset.
func (opts Options) WithDefaults() Options {
	setDefault(&opts.Lease, DefaultLease)
	setDefault(&opts.MaxAttempts, DefaultMaxAttempts)
	setDefault(&opts.Streams, DefaultStreams)
	setDefault(&opts.ShutdownGrace, DefaultShutdownGrace)
	setDefault(&opts.LeaseWait, DefaultLeaseWait)
	setDefault(&opts.PublishTimeout, DefaultPublishTimeout)
	setDefault(&opts.RetryWithin, DefaultRetryWithin)
	if opts.ReconcileEvery == 0 {
		opts.ReconcileEvery = DefaultReconcileEvery
	}
	if opts.SoftWait == 0 { // negative disables the wait
		opts.SoftWait = DefaultSoftWait
	}
	return opts
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// selectedJobs checks the implementations and the selection against the catalogue and
// returns the selected jobs in catalogue order.
func (opts Options) selectedJobs() ([]messages.JobSpec, error) {
	for ref, j := range opts.Jobs {
		if _, ok := opts.Catalog.Lookup(ref); !ok {
			return nil, fmt.Errorf("runner: job %s has an implementation but is not in the catalogue", ref)
		}
		if j == nil {
			return nil, fmt.Errorf("runner: job %s has a nil implementation", ref)
		}
	}
	sel := opts.Select
	if sel == nil {
		sel = slices.Collect(maps.Keys(opts.Jobs))
	}
	selected := map[messages.JobRef]bool{}
	for _, ref := range sel {
		if _, ok := opts.Catalog.Lookup(ref); !ok {
			return nil, fmt.Errorf("runner: selected job %s is not in the catalogue", ref)
		}
		if opts.Jobs[ref] == nil {
			return nil, fmt.Errorf("runner: selected job %s has no implementation in this binary", ref)
		}
		selected[ref] = true
	}
	var jobs []messages.JobSpec
	for _, s := range opts.Catalog.Jobs() {
		if selected[s.Ref()] {
			jobs = append(jobs, s)
		}
	}
	return jobs, nil
}

// catchAllPhases returns the phases whose catch-all subscription the runtime consumes, in
// phase order: Unroutable, or else the phases of the selected jobs.
func (opts Options) catchAllPhases(jobs []messages.JobSpec) ([]messages.Phase, error) {
	phases := map[messages.Phase]bool{}
	for _, s := range jobs {
		phases[s.Phase] = true
	}
	if opts.Unroutable != nil {
		phases = map[messages.Phase]bool{}
		for _, p := range opts.Unroutable {
			if !p.Valid() {
				return nil, fmt.Errorf("runner: unroutable phase: %w %q", messages.ErrUnknownPhase, p)
			}
			phases[p] = true
		}
	}
	var out []messages.Phase
	for _, p := range messages.Phases() {
		if phases[p] {
			out = append(out, p)
		}
	}
	return out, nil
}

func defaultOwner() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// Owner is the name this runtime writes into the leases it holds.
func (rt *Runtime) Owner() string { return rt.opts.Owner }

// Subscriptions lists the subscriptions this runtime serves: two per selected job (the
// backfill and the daily lane), then the catch-alls.
func (rt *Runtime) Subscriptions() []string {
	var out []string
	for _, s := range rt.jobs {
		for _, lane := range messages.Lanes() {
			out = append(out, rt.opts.Names.LaneSubscription(s.Ref(), lane))
		}
	}
	for _, p := range rt.phases {
		out = append(out, rt.opts.Names.UnroutableSubscription(p))
	}
	if rt.opts.DeadLetters {
		out = append(out, rt.opts.Names.DeadLetterSubscription())
	}
	return out
}

// CatchAlls lists the phases whose catch-all subscription this runtime serves.
func (rt *Runtime) CatchAlls() []messages.Phase { return slices.Clone(rt.phases) }

// workContext is the context of the work on one delivery: it keeps the delivery context's
// values (trace span) but not its cancellation, which comes the moment shutdown starts;
// it ends when the grace period is over.
func (rt *Runtime) workContext(dctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(dctx))
	stop := context.AfterFunc(rt.abandon, cancel)
	return ctx, func() { stop(); cancel() }
}

func (rt *Runtime) abandoned() bool { return rt.abandon.Err() != nil }
