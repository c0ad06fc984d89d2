// Package service turns the environment into a running consumer: it selects the jobs a
// process serves, builds their implementations from the phase packages, connects the
// clients (emulators or Google Cloud) and runs the consumer runtime. The consumers binary
// and the local stack both use it, so a job wired here runs in both.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/storage"
	"github.com/nba-props/pipeline/consumers/analytics"
	"github.com/nba-props/pipeline/consumers/push"
	"github.com/nba-props/pipeline/consumers/raw"
	"github.com/nba-props/pipeline/consumers/reference"
	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/consumers/scrapers"
	"github.com/nba-props/pipeline/infra/cloud"
	"github.com/nba-props/pipeline/messages"
	"github.com/sethvargo/go-envconfig"
)

// Config is the consumer service's environment (README: environment table): where the
// clients point (cloud.Env, shared with every binary), what to serve and how. Each phase
// package reads its own part.
type Config struct {
	cloud.Env

	// Phases and Jobs select what this process consumes: a job runs if it is in one of the
	// phases and in the job list. "all" (the default) selects everything.
	Phases []string `env:"CONSUMER_PHASES, default=all"`
	Jobs   []string `env:"CONSUMER_JOBS, default=all"`
	// Available selects, among those, only the jobs that have an implementation instead of
	// refusing to start (the local stack uses it).
	Available bool `env:"CONSUMER_AVAILABLE_ONLY, default=false"`

	// The runtime's settings (see runner.Options). Unset or zero means the runner's
	// default (runner.Default...), which is written only there; Runtime returns them
	// filled in.
	ShutdownGrace time.Duration `env:"CONSUMER_SHUTDOWN_GRACE"`
	Streams       int           `env:"CONSUMER_STREAMS"`
	Lease         time.Duration `env:"CONSUMER_LEASE"`
	MaxAttempts   int           `env:"CONSUMER_MAX_ATTEMPTS"`
	// SoftWait is how long a job waits for soft upstreams already on their way for the date
	// (negative: not at all).
	SoftWait time.Duration `env:"CONSUMER_SOFT_WAIT"`
	// ReconcileEvery is how often this process offers to run the reconciler (negative:
	// never); RetryWithin how long a failed date may wait for its redelivery before the
	// reconciler re-sends it.
	ReconcileEvery time.Duration `env:"CONSUMER_RECONCILE_EVERY"`
	RetryWithin    time.Duration `env:"CONSUMER_RETRY_WITHIN"`
	// DeadLetters makes this process keep the dead-letter topic's messages in the bucket.
	DeadLetters bool `env:"CONSUMER_DEADLETTERS, default=true"`

	// Mode is how messages arrive: "pull" (streaming pull; the local stack, worker pools,
	// GKE) or "push" (an HTTP server on PORT fed by push subscriptions; Cloud Run).
	Mode string `env:"CONSUMER_MODE, default=pull"`
	// Push configures the push endpoint and the identity it accepts (push mode).
	Push push.Config

	// Scrapers is the only phase with settings of its own.
	Scrapers scrapers.Config
}

// The modes of Config.Mode.
const (
	ModePull = "pull"
	ModePush = "push"
)

// checkMode refuses an unknown mode, and push mode without the identity it must check.
func (c Config) checkMode() error {
	switch c.Mode {
	case ModePull:
		return nil
	case ModePush:
		if c.Push.Audience == "" || c.Push.ServiceAccount == "" {
			return configErr("CONSUMER_MODE=push needs PUSH_AUDIENCE (the audience set on the push subscriptions) and PUSH_SERVICE_ACCOUNT (the account they sign tokens as)")
		}
		return nil
	}
	return configErr("CONSUMER_MODE=%q: want pull or push", c.Mode)
}

// checkRuntime refuses a runtime setting that means nothing: a negative count or duration
// where only CONSUMER_SOFT_WAIT and CONSUMER_RECONCILE_EVERY take negative for never, and
// an attempt bound a scraper's partial rule cannot fit under. Zero means the default.
func (c Config) checkRuntime() error {
	def := Config{}.Runtime()
	for _, s := range []struct {
		name     string
		set, def time.Duration
	}{
		{"CONSUMER_SHUTDOWN_GRACE", c.ShutdownGrace, def.ShutdownGrace},
		{"CONSUMER_LEASE", c.Lease, def.Lease},
		{"CONSUMER_RETRY_WITHIN", c.RetryWithin, def.RetryWithin},
	} {
		if s.set < 0 {
			return configErr("%s=%s: want a positive duration, or leave it unset for %s", s.name, s.set, s.def)
		}
	}
	if c.Streams < 0 {
		return configErr("CONSUMER_STREAMS=%d: want a positive count, or leave it unset for %d", c.Streams, def.Streams)
	}
	if n := c.MaxAttempts; n < 0 || n > 0 && n < scrapers.PartialFromAttempt {
		return configErr("CONSUMER_MAX_ATTEMPTS=%d: at least %d, so that a scraper whose source leaves out a game records the date partial before it would die (unset: %d)",
			n, scrapers.PartialFromAttempt, def.MaxAttempts)
	}
	return nil
}

// Runtime returns the runtime's settings this configuration makes, each unset one at the
// runner's default; the caller adds the clients, jobs and logger. Push mode runs the
// reconciler only when asked (POST /reconcile), never between requests.
func (c Config) Runtime() runner.Options {
	o := runner.Options{
		Bucket:         c.Bucket,
		Names:          messages.Names{Prefix: c.Prefix},
		Lease:          c.Lease,
		MaxAttempts:    c.MaxAttempts,
		SoftWait:       c.SoftWait,
		ReconcileEvery: c.ReconcileEvery,
		RetryWithin:    c.RetryWithin,
		DeadLetters:    c.DeadLetters,
		Streams:        c.Streams,
		ShutdownGrace:  c.ShutdownGrace,
	}
	if c.Mode == ModePush {
		o.ReconcileEvery = -1
	}
	return o.WithDefaults()
}

// Load reads the configuration from l (envconfig.OsLookuper() in production).
func Load(ctx context.Context, l envconfig.Lookuper) (Config, error) {
	var c Config
	if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: &c, Lookuper: l}); err != nil {
		return c, fmt.Errorf("reading the environment: %w", err)
	}
	return c, nil
}

// Deps are the shared clients handed to every phase's Jobs.
type Deps struct {
	PubSub   *pubsub.Client
	Storage  *storage.Client
	BigQuery *bigquery.Client // nil when no selected phase needs it
	HTTP     *http.Client
	Bucket   string
	Logger   *slog.Logger
}

// Phase builds the implementations of one phase's jobs, keyed by job name.
type Phase struct {
	Phase messages.Phase
	// BigQuery says the jobs need a BigQuery client.
	BigQuery bool
	Jobs     func(Config, Deps) (map[string]runner.Job, error)
}

// Phases are the job implementations the service knows. Wiring a new phase package is
// one entry here.
func Phases() []Phase {
	return []Phase{
		{messages.PhaseScrapers, false, func(c Config, d Deps) (map[string]runner.Job, error) {
			return scrapers.Jobs(c.Scrapers, scrapers.Deps{HTTP: d.HTTP, Storage: d.Storage, Bucket: d.Bucket, Logger: d.Logger})
		}},
		{messages.PhaseRaw, true, func(_ Config, d Deps) (map[string]runner.Job, error) {
			return raw.Jobs(raw.Deps{Storage: d.Storage, Bucket: d.Bucket, BigQuery: d.BigQuery})
		}},
		{messages.PhaseReference, true, func(_ Config, d Deps) (map[string]runner.Job, error) {
			return reference.Jobs(reference.Deps{BigQuery: d.BigQuery})
		}},
		{messages.PhaseAnalytics, true, func(_ Config, d Deps) (map[string]runner.Job, error) {
			return analytics.Jobs(analytics.Deps{BigQuery: d.BigQuery})
		}},
	}
}

// ErrConfig marks a configuration the operator must fix; the message says what to set.
var ErrConfig = errors.New("configuration")

func configErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
}

// Select resolves Phases and Jobs against the catalogue. It does not look at
// implementations.
func Select(c Config, cat *messages.Catalog) ([]messages.JobRef, error) {
	allPhases := len(c.Phases) == 0 || slices.Contains(c.Phases, "all")
	phases := map[messages.Phase]bool{}
	if !allPhases {
		for _, p := range c.Phases {
			ph, err := messages.ParsePhase(strings.TrimSpace(p))
			if err != nil {
				return nil, configErr("CONSUMER_PHASES=%s: %v", strings.Join(c.Phases, ","), err)
			}
			phases[ph] = true
		}
	}
	allJobs := len(c.Jobs) == 0 || slices.Contains(c.Jobs, "all")
	jobs := map[messages.JobRef]bool{}
	if !allJobs {
		for _, j := range c.Jobs {
			ref, err := messages.ParseJobRef(strings.TrimSpace(j))
			if err != nil {
				return nil, configErr("CONSUMER_JOBS: %q: %v (want phase/job, e.g. raw/bdl_player_boxscores, or all)", j, err)
			}
			if _, ok := cat.Lookup(ref); !ok {
				return nil, configErr("CONSUMER_JOBS: %s is not in the catalogue (see producer jobs)", ref)
			}
			if !allPhases && !phases[ref.Phase] {
				return nil, configErr("CONSUMER_JOBS names %s but CONSUMER_PHASES excludes phase %s", ref, ref.Phase)
			}
			jobs[ref] = true
		}
	}
	var out []messages.JobRef
	for _, s := range cat.Jobs() {
		if (allPhases || phases[s.Phase]) && (allJobs || jobs[s.Ref()]) {
			out = append(out, s.Ref())
		}
	}
	if len(out) == 0 {
		return nil, configErr("CONSUMER_PHASES and CONSUMER_JOBS select no job")
	}
	return out, nil
}

// Options are what a caller adds to the Config.
type Options struct {
	Catalog *messages.Catalog // nil: messages.DefaultCatalog()
	Phases  []Phase           // nil: Phases()
	Logger  *slog.Logger      // nil: slog.Default()
	// Clients, when set, are used instead of connecting from the Config (tests).
	PubSub   *pubsub.Client
	Storage  *storage.Client
	BigQuery *bigquery.Client
	HTTP     *http.Client
}

// Service is a configured runtime with the clients it owns.
type Service struct {
	Runtime  *runner.Runtime
	Selected []messages.JobRef
	closers  []func() error
	deps     Deps
	cfg      Config
	catalog  *messages.Catalog
	log      *slog.Logger
	// listening receives the push endpoint's address once it listens (push mode).
	listening chan string
}

// Close releases the clients the service opened.
func (s *Service) Close() error {
	var errs []error
	for _, c := range slices.Backward(s.closers) {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}

// New selects the jobs, connects what they need and builds the runtime. A selected job
// without an implementation is an error naming it, unless c.Available.
func New(ctx context.Context, c Config, o Options) (*Service, error) {
	if o.Catalog == nil {
		o.Catalog = messages.DefaultCatalog()
	}
	if o.Phases == nil {
		o.Phases = Phases()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if err := c.checkMode(); err != nil {
		return nil, err
	}
	if err := c.checkRuntime(); err != nil {
		return nil, err
	}
	ro := c.Runtime()
	selected, err := Select(c, o.Catalog)
	if err != nil {
		return nil, err
	}
	impl := map[messages.Phase]Phase{}
	for _, p := range o.Phases {
		impl[p.Phase] = p
	}
	needPhase := map[messages.Phase]bool{}
	for _, r := range selected {
		if _, ok := impl[r.Phase]; ok {
			needPhase[r.Phase] = true
		} else if !c.Available {
			// Fail before connecting anything: no client can fix this.
			return nil, configErr("no implementation for %s: deselect it with CONSUMER_JOBS or CONSUMER_PHASES", r)
		}
	}

	s := &Service{}
	deps := Deps{PubSub: o.PubSub, Storage: o.Storage, BigQuery: o.BigQuery, HTTP: o.HTTP, Bucket: c.Bucket, Logger: o.Logger}
	if err := s.connect(ctx, &c, &deps, needPhase, impl); err != nil {
		s.Close()
		return nil, err
	}
	jobs := map[messages.JobRef]runner.Job{}
	for _, p := range o.Phases {
		if !needPhase[p.Phase] {
			continue
		}
		built, err := p.Jobs(c, deps)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("building the %s jobs: %w", p.Phase, err)
		}
		for name, j := range built {
			jobs[messages.Ref(p.Phase, name)] = j
		}
	}
	var kept []messages.JobRef
	var missing []string
	for _, r := range selected {
		if _, ok := jobs[r]; ok {
			kept = append(kept, r)
		} else {
			missing = append(missing, r.String())
		}
	}
	switch {
	case len(missing) > 0 && !c.Available:
		s.Close()
		return nil, configErr("no implementation for %s: deselect it with CONSUMER_JOBS or CONSUMER_PHASES", strings.Join(missing, ", "))
	case len(kept) == 0:
		s.Close()
		return nil, configErr("none of the selected jobs has an implementation")
	}
	// A process serving every phase also watches the catch-alls of phases without jobs
	// (precompute), so a stray message there is dead-lettered with a reason too.
	var unroutable []messages.Phase
	if slices.Contains(c.Phases, "all") {
		unroutable = messages.Phases()
	}
	ro.Unroutable = unroutable
	ro.PubSub, ro.Storage, ro.Catalog, ro.Logger = deps.PubSub, deps.Storage, o.Catalog, o.Logger
	ro.Jobs, ro.Select = jobs, kept
	rt, err := runner.New(ro)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("consumer runtime: %w", err)
	}
	s.Runtime, s.Selected, s.deps = rt, kept, deps
	s.cfg, s.catalog, s.log, s.listening = c, o.Catalog, o.Logger, make(chan string, 1)
	return s, nil
}

// Ready reports whether the clients the service runs on answer: Pub/Sub (a subscription
// it serves), GCS (the bucket) and BigQuery (a dataset), when it uses them. A push
// service's GET /readyz calls it.
func (s *Service) Ready(ctx context.Context) error {
	subs := s.Runtime.Subscriptions()
	if len(subs) > 0 {
		if _, err := s.deps.PubSub.SubscriptionAdminClient.GetSubscription(ctx, &pubsubpb.GetSubscriptionRequest{
			Subscription: "projects/" + s.deps.PubSub.Project() + "/subscriptions/" + subs[0]}); err != nil {
			return fmt.Errorf("pubsub: %w", err)
		}
	}
	if _, err := s.deps.Storage.Bucket(s.deps.Bucket).Attrs(ctx); err != nil {
		return fmt.Errorf("gcs bucket %s: %w", s.deps.Bucket, err)
	}
	// Every phase that uses BigQuery reads or writes the raw tables.
	if s.deps.BigQuery != nil {
		if _, err := s.deps.BigQuery.Dataset(raw.Dataset).Metadata(ctx); err != nil {
			return fmt.Errorf("bigquery dataset %s: %w", raw.Dataset, err)
		}
	}
	return nil
}

// connect checks the environment and opens the clients the options did not provide.
func (s *Service) connect(ctx context.Context, c *Config, d *Deps, need map[messages.Phase]bool, impl map[messages.Phase]Phase) error {
	if err := c.Resolve(); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	d.Bucket = c.Bucket
	if d.PubSub == nil || d.Storage == nil {
		// The clients retry a refused connection forever: say which emulator is down instead.
		if err := c.Reach(ctx); err != nil {
			return err
		}
	}
	if d.PubSub == nil {
		ps, err := cloud.PubSubAt(ctx, c.Project, c.PubSubEmulatorHost)
		if err != nil {
			return err
		}
		s.closers = append(s.closers, ps.Close)
		d.PubSub = ps
	}
	if d.Storage == nil {
		gcs, err := cloud.Storage(ctx, c.StorageEmulatorHost)
		if err != nil {
			return err
		}
		s.closers = append(s.closers, gcs.Close)
		d.Storage = gcs
	}
	needBQ := false
	var bqPhases []string
	for p := range need {
		if impl[p].BigQuery {
			needBQ = true
			bqPhases = append(bqPhases, string(p))
		}
	}
	if needBQ && d.BigQuery == nil {
		if c.Local() && c.BigQueryEmulatorHost == "" {
			slices.Sort(bqPhases)
			return configErr("the %s jobs need BigQuery: set BIGQUERY_EMULATOR_HOST (the local stack serves it on 127.0.0.1:9050), or select other phases with CONSUMER_PHASES", strings.Join(bqPhases, ", "))
		}
		bq, err := cloud.BigQuery(ctx, c.Project, c.BigQueryEmulatorHost)
		if err != nil {
			return err
		}
		s.closers = append(s.closers, bq.Close)
		d.BigQuery = bq
	}
	if d.HTTP == nil {
		d.HTTP = &http.Client{}
	}
	return nil
}

// Serve consumes until ctx ends: by streaming pull, or, in push mode, as an HTTP server of
// the push endpoints on PORT. Either way deliveries in flight get the shutdown grace, and
// what could not finish is handed back.
func (s *Service) Serve(ctx context.Context) error {
	if s.cfg.Mode != ModePush {
		return s.Runtime.Run(ctx)
	}
	rt := s.Runtime
	defer rt.Close()
	v, err := push.NewVerifier(ctx, s.cfg.Push, nil)
	if err != nil {
		return err
	}
	if v.Local() {
		s.log.Warn("push tokens are checked against a local issuer, not Google: never in production", "issuers", v.Issuers())
	}
	srv, err := push.NewServer(push.Options{
		Deliverer: rt, Verifier: v, Catalog: s.catalog, Names: messages.Names{Prefix: s.cfg.Prefix},
		Jobs: s.Selected, Unroutable: rt.CatchAlls(), DeadLetters: s.cfg.DeadLetters, Ready: s.Ready,
		ShutdownGrace: s.cfg.ShutdownGrace, Logger: s.log,
		Reconcile: func(ctx context.Context) (any, error) { return rt.Reconcile(ctx) },
	})
	if err != nil {
		return err
	}
	if err := rt.Prepare(ctx); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(s.cfg.Push.Host, strconv.Itoa(s.cfg.Push.Port)))
	if err != nil {
		return fmt.Errorf("push: listen on PORT %d: %w", s.cfg.Push.Port, err)
	}
	s.log.Info("serving push endpoints", "addr", ln.Addr().String(), "paths", srv.Paths())
	s.listening <- ln.Addr().String()
	return srv.Serve(ctx, ln)
}

// Listening returns the push endpoint's address once Serve listens (push mode only).
func (s *Service) Listening() <-chan string { return s.listening }
