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
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/storage"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/messages"
)

// Defaults of Options.
const (
	DefaultLease          = time.Minute
	DefaultMaxAttempts    = 5
	DefaultStreams        = 16
	DefaultShutdownGrace  = 8 * time.Second
	DefaultPublishTimeout = time.Minute
	DefaultLeaseWait      = 10 * time.Second
	DefaultSoftWait       = 15 * time.Minute
)

// Dead-letter attribute keys and the reason codes of the runtime itself (decode failures
// use messages.Reason codes).
const (
	AttrReason          = "reason"
	AttrError           = "error"
	AttrSubscription    = "subscription"
	AttrDeliveryAttempt = "delivery_attempt"
	AttrMessageID       = "message_id"

	ReasonJobError    = "job_error"    // the job returned a Permanent error
	ReasonMaxAttempts = "max_attempts" // transient errors until the attempt bound
)

// maxErrorAttr bounds the error text in a dead-letter attribute.
const maxErrorAttr = 1000

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
	// (ReceiveSettings.NumGoroutines). The emulator delivers about 80 messages/s per
	// stream, so local runs need 8 to 32.
	Streams int
	// ShutdownGrace is how long in-flight work may go on after Run's context is cancelled
	// (SIGTERM); then it is abandoned and its leases lapse. Cloud Run kills 10 s after
	// SIGTERM, so keep it below that.
	ShutdownGrace time.Duration
	// LeaseWait is how long a message for a date whose lease another consumer holds waits
	// for it to be released before it is nacked (a nack spends a delivery attempt).
	LeaseWait time.Duration
	// SoftWait bounds how long a job whose hard upstreams are done waits for soft upstreams
	// that are on their way for the date (running, retrying, queued by the same producer
	// run, or not started although their own hard upstreams are done). Running once with
	// every input, instead of once per arriving soft upstream, keeps a backfill at one
	// BigQuery job per table and date. The wait holds no handler: the date is recorded
	// waiting and the message acked; the soft upstream's completion triggers the job again,
	// and so does a message the runtime publishes itself after SoftWait, when the job runs
	// with what is there. Negative disables the wait.
	SoftWait time.Duration
	// PublishTimeout bounds the wait for downstream and dead-letter publish results.
	PublishTimeout time.Duration
	// Logger receives one line per message handled; nil means slog.Default().
	Logger *slog.Logger
	// Now is the ledger's clock; nil means time.Now.
	Now func() time.Time
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

	pubMu      sync.Mutex
	publishers map[string]*pubsub.Publisher

	// abandon is cancelled when the shutdown grace period is over: work still running is
	// given up without further writes.
	abandon  context.Context
	stop     context.CancelFunc
	started  atomic.Bool
	inflight sync.WaitGroup
	// maxDelivery is each job subscription's MaxDeliveryAttempts (0: unknown or none),
	// written by Run before any handler runs.
	maxDelivery map[string]int

	// plans caches producer run plans by run id (nil: the run wrote none); see pending.
	plansMu sync.Mutex
	plans   map[string]*ledger.Plan

	// retriggers are the soft-wait timers of this process by "phase/job date"; see
	// retriggerLater.
	retriggersMu sync.Mutex
	retriggers   map[string]*time.Timer
	stopping     bool
}

// abandonWait is how long Run waits for abandoned handlers to return.
const abandonWait = time.Second

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
	if opts.Lease <= 0 {
		opts.Lease = DefaultLease
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	if opts.Streams <= 0 {
		opts.Streams = DefaultStreams
	}
	if opts.ShutdownGrace <= 0 {
		opts.ShutdownGrace = DefaultShutdownGrace
	}
	if opts.LeaseWait <= 0 {
		opts.LeaseWait = DefaultLeaseWait
	}
	if opts.SoftWait == 0 {
		opts.SoftWait = DefaultSoftWait
	}
	if opts.PublishTimeout <= 0 {
		opts.PublishTimeout = DefaultPublishTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Owner == "" {
		opts.Owner = defaultOwner()
	}
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
	rt := &Runtime{
		opts:       opts,
		ledger:     ledger.New(opts.Storage, opts.Bucket, ledger.Options{Now: opts.Now}),
		log:        opts.Logger,
		project:    opts.PubSub.Project(),
		publishers: map[string]*pubsub.Publisher{},
	}
	phases := map[messages.Phase]bool{}
	for _, s := range opts.Catalog.Jobs() {
		if selected[s.Ref()] {
			rt.jobs = append(rt.jobs, s)
			phases[s.Phase] = true
		}
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
	for _, p := range messages.Phases() {
		if phases[p] {
			rt.phases = append(rt.phases, p)
		}
	}
	if len(rt.jobs) == 0 && len(rt.phases) == 0 {
		return nil, errors.New("runner: nothing to consume: no job selected and no unroutable phase")
	}
	return rt, nil
}

func defaultOwner() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// Owner is the name this runtime writes into the leases it holds.
func (rt *Runtime) Owner() string { return rt.opts.Owner }

// Ledger is the ledger the runtime records in.
func (rt *Runtime) Ledger() *ledger.Ledger { return rt.ledger }

// Run consumes until ctx is cancelled or a subscription fails. On cancellation it stops
// taking messages, lets in-flight work finish for up to ShutdownGrace, then abandons what
// is left (its leases lapse and the messages are redelivered) and returns nil.
// Run may be called once.
func (rt *Runtime) Run(ctx context.Context) error {
	if !rt.started.CompareAndSwap(false, true) {
		return errors.New("runner: Run called twice on one Runtime")
	}
	abandon, stop := context.WithCancel(context.WithoutCancel(ctx))
	rt.abandon, rt.stop = abandon, stop
	defer stop()
	defer rt.stopPublishers()

	if err := rt.inspectSubscriptions(ctx); err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, spec := range rt.jobs {
		sub := rt.subscriber(rt.opts.Names.Subscription(spec.Ref()), spec.MaxConcurrency)
		g.Go(func() error {
			err := sub.Receive(gctx, func(mctx context.Context, m *pubsub.Message) {
				rt.handle(mctx, spec, sub.ID(), m)
			})
			if err != nil {
				return fmt.Errorf("receive %s: %w", sub.ID(), err)
			}
			return nil
		})
	}
	for _, p := range rt.phases {
		sub := rt.subscriber(rt.opts.Names.UnroutableSubscription(p), 0)
		g.Go(func() error {
			err := sub.Receive(gctx, func(mctx context.Context, m *pubsub.Message) {
				rt.handleUnroutable(mctx, p, sub.ID(), m)
			})
			if err != nil {
				return fmt.Errorf("receive %s: %w", sub.ID(), err)
			}
			return nil
		})
	}
	err := g.Wait()
	rt.stopRetriggers()
	// Receive returned: either every handler finished or the grace period is over and the
	// library let go of the rest. Whatever still runs is abandoned: its context ends, and
	// it records nothing. Give it a moment to return so that its log line is written.
	stop()
	done := make(chan struct{})
	go func() { rt.inflight.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(abandonWait):
	}
	return err
}

// inspectSubscriptions checks that every job subscription exists and reads its
// dead-letter policy (maxDelivery). A consumer allowed only to consume (no
// pubsub.subscriptions.get) goes on without it: the policy then acts unannounced.
func (rt *Runtime) inspectSubscriptions(ctx context.Context) error {
	rt.maxDelivery = map[string]int{}
	admin := rt.opts.PubSub.SubscriptionAdminClient
	for _, spec := range rt.jobs {
		id := rt.opts.Names.Subscription(spec.Ref())
		sub, err := admin.GetSubscription(ctx, &pubsubpb.GetSubscriptionRequest{
			Subscription: "projects/" + rt.project + "/subscriptions/" + id,
		})
		switch status.Code(err) {
		case codes.OK:
			rt.maxDelivery[id] = int(sub.GetDeadLetterPolicy().GetMaxDeliveryAttempts())
		case codes.NotFound:
			return fmt.Errorf("subscription %s of job %s does not exist: apply the topology (infra apply) for prefix %q", id, spec.Ref(), rt.opts.Names.Prefix)
		default:
			rt.log.LogAttrs(ctx, slog.LevelWarn, "cannot read subscription settings; relying on its dead-letter policy unannounced",
				slog.String("subscription", id), slog.String("err", err.Error()))
		}
	}
	return nil
}

func (rt *Runtime) subscriber(id string, maxOutstanding int) *pubsub.Subscriber {
	sub := rt.opts.PubSub.Subscriber(id)
	sub.ReceiveSettings.NumGoroutines = rt.opts.Streams
	if maxOutstanding > 0 {
		sub.ReceiveSettings.MaxOutstandingMessages = maxOutstanding
	}
	sub.ReceiveSettings.ShutdownOptions = &pubsub.ShutdownOptions{
		Behavior: pubsub.ShutdownBehaviorWaitForProcessing,
		Timeout:  rt.opts.ShutdownGrace,
	}
	return sub
}

func (rt *Runtime) publisher(topic string) *pubsub.Publisher {
	rt.pubMu.Lock()
	defer rt.pubMu.Unlock()
	p, ok := rt.publishers[topic]
	if !ok {
		p = rt.opts.PubSub.Publisher(topic)
		rt.publishers[topic] = p
	}
	return p
}

func (rt *Runtime) stopPublishers() {
	rt.pubMu.Lock()
	ps := slices.Collect(maps.Values(rt.publishers))
	rt.publishers = map[string]*pubsub.Publisher{}
	rt.pubMu.Unlock()
	for _, p := range ps {
		p.Stop()
	}
}

// publish sends every message and waits for all results.
func (rt *Runtime) publish(ctx context.Context, topic string, msgs ...*pubsub.Message) error {
	ctx, cancel := context.WithTimeout(ctx, rt.opts.PublishTimeout)
	defer cancel()
	p := rt.publisher(topic)
	results := make([]*pubsub.PublishResult, len(msgs))
	for i, m := range msgs {
		results[i] = p.Publish(ctx, m)
	}
	var errs []error
	for _, r := range results {
		if _, err := r.Get(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("publish to %s: %w", topic, err)
	}
	return nil
}

// deadLetter publishes the original message to the dead-letter topic with why.
func (rt *Runtime) deadLetter(ctx context.Context, subID string, m *pubsub.Message, reason string, cause error) error {
	attrs := maps.Clone(m.Attributes)
	if attrs == nil {
		attrs = map[string]string{}
	}
	attrs[AttrReason] = reason
	attrs[AttrError] = truncate(errText(cause), maxErrorAttr)
	attrs[AttrSubscription] = subID
	attrs[AttrDeliveryAttempt] = strconv.Itoa(deliveryAttempt(m))
	attrs[AttrMessageID] = m.ID
	return rt.publish(ctx, rt.opts.Names.DeadLetterTopic(), &pubsub.Message{Data: m.Data, Attributes: attrs})
}

// workContext is the context of the work on one message: it keeps the callback's values
// (trace span) but not its cancellation, which comes the moment shutdown starts; it ends
// when the grace period is over.
func (rt *Runtime) workContext(mctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(mctx))
	stop := context.AfterFunc(rt.abandon, cancel)
	return ctx, func() { stop(); cancel() }
}

func (rt *Runtime) abandoned() bool { return rt.abandon.Err() != nil }

func deliveryAttempt(m *pubsub.Message) int {
	if m.DeliveryAttempt == nil {
		return 0
	}
	return *m.DeliveryAttempt
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
