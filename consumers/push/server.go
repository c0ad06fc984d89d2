package push

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/messages"
)

// Deliverer takes one decoded push and says how to settle it. *runner.Runtime implements
// it; the server never acks or nacks on its own, it only turns the Settlement into a status.
type Deliverer interface {
	Deliver(ctx context.Context, d runner.Delivery) runner.Settlement
}

// unroutableSegment is the last path segment of a phase's catch-all endpoint.
const unroutableSegment = "unroutable"

// JobPath is the push endpoint path of a job's subscription: "/push/<phase>/<job>". The
// topology's push endpoints and the server agree through it.
func JobPath(r messages.JobRef) string { return "/push/" + string(r.Phase) + "/" + r.Job }

// LanePath is the push endpoint path of a job's subscription in lane: JobPath for the
// backfill lane, "/push/<phase>/<job>/daily" for the daily lane.
func LanePath(r messages.JobRef, lane string) string {
	if lane == messages.LaneDaily {
		return JobPath(r) + "/" + messages.LaneDaily
	}
	return JobPath(r)
}

// UnroutablePath is the push endpoint path of a phase's catch-all subscription:
// "/push/<phase>/unroutable".
func UnroutablePath(p messages.Phase) string { return "/push/" + string(p) + "/" + unroutableSegment }

// DeadLetterPath is the push endpoint of the dead-letter subscription, served by the
// service that keeps dead letters (Options.DeadLetters).
const DeadLetterPath = "/push/deadletters"

// readyTimeout bounds one readiness check.
const readyTimeout = 5 * time.Second

// Options configure a Server. Deliverer, Verifier, Catalog and Jobs (or Unroutable) are
// required.
type Options struct {
	Deliverer Deliverer
	Verifier  *Verifier
	Catalog   *messages.Catalog
	Names     messages.Names
	// Jobs are the jobs served, one endpoint each (JobPath). Each job's MaxConcurrency in
	// the catalogue bounds its deliveries in flight on this instance, as it bounds the
	// messages a pull consumer holds; a catch-all has no bound.
	Jobs []messages.JobRef
	// Unroutable are the phases whose catch-all is served (UnroutablePath); nil means the
	// phases of Jobs.
	Unroutable []messages.Phase
	// DeadLetters serves DeadLetterPath for the dead-letter subscription.
	DeadLetters bool
	// Reconcile, when set, is served at POST /reconcile for the same authenticated caller
	// as the pushes (Cloud Scheduler calls it every minute with the push service
	// account's token): nothing runs between requests on Cloud Run, so the reconciler
	// runs on request. Its result is answered as JSON.
	Reconcile func(ctx context.Context) (any, error)
	// Ready reports whether the instance can do its work (its Pub/Sub, GCS and BigQuery
	// clients answer); GET /readyz calls it. nil means always ready.
	Ready func(ctx context.Context) error
	// SlotWait is how long a push waits for a free slot of its job's bound on this instance
	// before it is answered 429; 0 means DefaultSlotWait. Every answer but a 2xx spends one
	// of the subscription's delivery attempts, so a burst waits instead of burning them.
	SlotWait time.Duration
	// ShutdownGrace is how long deliveries in flight may go on once Shutdown starts
	// (CONSUMER_SHUTDOWN_GRACE); 0 means runner.DefaultShutdownGrace. Cloud Run kills
	// 10 s after SIGTERM.
	ShutdownGrace time.Duration
	// Logger receives a line for each push refused before it reaches the Deliverer (the
	// runtime logs the rest); nil means slog.Default().
	Logger *slog.Logger
}

// DefaultSlotWait is Options.SlotWait's default: well within the shortest ack deadline a
// job subscription has (its timeout plus 30 s).
const DefaultSlotWait = 20 * time.Second

// route is one push endpoint: the subscription it stands for and its concurrency bound.
type route struct {
	path  string
	sub   string
	phase messages.Phase
	job   string   // "" for a catch-all
	slots chan int // nil: unbounded (a catch-all)
}

// acquire takes a slot of the route's bound, waiting up to wait (or until ctx or stop
// ends), and reports whether it got one.
func (rt *route) acquire(ctx context.Context, wait time.Duration, stop <-chan struct{}) bool {
	if rt.slots == nil {
		return true
	}
	select {
	case rt.slots <- 0:
		return true
	default:
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case rt.slots <- 0:
		return true
	case <-t.C:
	case <-ctx.Done():
	case <-stop:
	}
	return false
}

func (rt *route) release() {
	if rt.slots != nil {
		<-rt.slots
	}
}

// Server is the HTTP endpoint of Pub/Sub push subscriptions: it verifies each push's OIDC
// token, decodes it, bounds the deliveries in flight per job, hands it to the Deliverer and
// answers the Settlement as a status Pub/Sub understands. See the package documentation.
type Server struct {
	opts   Options
	log    *slog.Logger
	grace  time.Duration
	routes map[string]*route
	paths  []string
	mux    *http.ServeMux

	mu       sync.Mutex
	draining bool
	inflight sync.WaitGroup // pushes past the drain check; Add only under mu while !draining
	running  atomic.Int64   // Deliver calls that have not returned
	// graceOver is closed when the shutdown grace ends: pushes still waiting for the
	// Deliverer are answered 503 at once.
	graceOver chan struct{}
	graceOnce sync.Once
}

// NewServer checks the options and builds the endpoints.
func NewServer(o Options) (*Server, error) {
	switch {
	case o.Deliverer == nil:
		return nil, errors.New("push: Options.Deliverer is nil")
	case o.Verifier == nil:
		return nil, errors.New("push: Options.Verifier is nil: every push must be authenticated")
	case o.Catalog == nil:
		return nil, errors.New("push: Options.Catalog is nil")
	case len(o.Jobs) == 0 && len(o.Unroutable) == 0 && !o.DeadLetters:
		return nil, errors.New("push: no job and no catch-all to serve")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.ShutdownGrace <= 0 {
		o.ShutdownGrace = runner.DefaultShutdownGrace
	}
	if o.SlotWait <= 0 {
		o.SlotWait = DefaultSlotWait
	}
	s := &Server{opts: o, log: o.Logger, grace: o.ShutdownGrace, routes: map[string]*route{}, graceOver: make(chan struct{})}
	add := func(r *route) error {
		if _, dup := s.routes[r.path]; dup {
			return fmt.Errorf("push: %s is served twice", r.path)
		}
		s.routes[r.path] = r
		s.paths = append(s.paths, r.path)
		return nil
	}
	phases := o.Unroutable
	for _, ref := range o.Jobs {
		spec, ok := o.Catalog.Lookup(ref)
		if !ok {
			return nil, fmt.Errorf("push: job %s is not in the catalogue", ref)
		}
		if ref.Job == unroutableSegment {
			return nil, fmt.Errorf("push: job %s: the name %q is the path of the phase's catch-all", ref, unroutableSegment)
		}
		for _, lane := range messages.Lanes() {
			r := &route{path: LanePath(ref, lane), sub: o.Names.LaneSubscription(ref, lane), phase: ref.Phase, job: ref.Job}
			if spec.MaxConcurrency > 0 {
				r.slots = make(chan int, spec.MaxConcurrency)
			}
			if err := add(r); err != nil {
				return nil, err
			}
		}
		if o.Unroutable == nil && !slices.Contains(phases, ref.Phase) {
			phases = append(phases, ref.Phase)
		}
	}
	for _, p := range phases {
		if !p.Valid() {
			return nil, fmt.Errorf("push: catch-all of %w %q", messages.ErrUnknownPhase, p)
		}
		if err := add(&route{path: UnroutablePath(p), sub: o.Names.UnroutableSubscription(p), phase: p}); err != nil {
			return nil, err
		}
	}
	if o.DeadLetters {
		if err := add(&route{path: DeadLetterPath, sub: o.Names.DeadLetterSubscription()}); err != nil {
			return nil, err
		}
	}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("POST /push/{phase}/{job}", s.push)
	s.mux.HandleFunc("POST /push/{phase}/{job}/"+messages.LaneDaily, s.push)
	s.mux.HandleFunc("POST "+DeadLetterPath, s.push)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	s.mux.HandleFunc("GET /readyz", s.ready)
	if o.Reconcile != nil {
		s.mux.HandleFunc("POST /reconcile", s.reconcile)
	}
	return s, nil
}

// Paths are the push endpoint paths served, in the order of Options.Jobs then the
// catch-alls.
func (s *Server) Paths() []string { return slices.Clone(s.paths) }

// ServeHTTP serves POST /push/<phase>/<job>, POST /push/<phase>/unroutable, GET /healthz and
// GET /readyz.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if s.isDraining() {
		http.Error(w, "not ready: shutting down", http.StatusServiceUnavailable)
		return
	}
	if s.opts.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := s.opts.Ready(ctx); err != nil {
			s.log.Warn("push: not ready", "err", err.Error())
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
	}
	_, _ = w.Write([]byte("ready\n"))
}

// reconcile runs one reconciler pass for an authenticated caller and answers its report.
func (s *Server) reconcile(w http.ResponseWriter, r *http.Request) {
	if !s.authenticate(w, r, s.log.With("path", "/reconcile")) {
		return
	}
	if !s.begin() {
		http.Error(w, "push: shutting down", http.StatusServiceUnavailable)
		return
	}
	defer s.inflight.Done()
	rep, err := s.opts.Reconcile(r.Context())
	if err != nil {
		s.log.Warn("reconcile failed", "err", err.Error())
		http.Error(w, "reconcile: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(rep)
}

// authenticate verifies the caller's token and answers a refusal itself: 401, 403, or 503
// when the issuer's keys cannot be fetched. It reports whether the caller may go on.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, log *slog.Logger) bool {
	_, err := s.opts.Verifier.Verify(r.Context(), r)
	if err == nil {
		return true
	}
	status := http.StatusUnauthorized
	switch {
	case errors.Is(err, ErrForbidden):
		status = http.StatusForbidden
	case errors.Is(err, ErrKeysUnavailable):
		status = http.StatusServiceUnavailable
	default:
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	log.Warn("push refused: identity", "status", status, "remote", r.RemoteAddr, "err", err.Error())
	http.Error(w, err.Error(), status)
	return false
}

// push handles one push: route, authenticate, decode, bound, deliver, answer.
func (s *Server) push(w http.ResponseWriter, r *http.Request) {
	rt, ok := s.routes[r.URL.Path]
	if !ok {
		http.Error(w, fmt.Sprintf("push: no endpoint %s here; this instance serves %s", r.URL.Path, strings.Join(s.paths, ", ")),
			http.StatusNotFound)
		return
	}
	log := s.log.With("path", rt.path, "phase", string(rt.phase), "subscription", rt.sub)
	if rt.job != "" {
		log = log.With("job", rt.job)
	}
	if !s.authenticate(w, r, log) {
		return
	}
	if !s.begin() {
		log.Info("push refused: shutting down", "status", http.StatusServiceUnavailable)
		http.Error(w, "push: shutting down; Pub/Sub redelivers to another instance", http.StatusServiceUnavailable)
		return
	}
	delivering := false
	defer func() {
		if !delivering {
			s.inflight.Done()
		}
	}()
	d, err := DecodeRequest(r)
	if err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, ErrTooLarge) {
			status = http.StatusRequestEntityTooLarge
		}
		log.Warn("push refused: malformed", "status", status, "err", err.Error())
		http.Error(w, err.Error(), status)
		return
	}
	log = log.With("message_id", d.ID)
	// The path wins: the endpoint's URL is part of the subscription's push config, so it
	// says which job this request is for; the envelope's subscription may be named
	// differently (another environment's prefix, a subscription re-created under a new
	// name) and is only reported.
	if d.Subscription != "" && d.Subscription != rt.sub {
		log.Warn("push: envelope names another subscription than its endpoint; delivering as the endpoint's",
			"envelope_subscription", d.Subscription)
	}
	d.Subscription = rt.sub
	if !rt.acquire(r.Context(), s.opts.SlotWait, s.graceOver) {
		log.Info("push refused: at the job's concurrency bound", "status", http.StatusTooManyRequests, "max_concurrency", cap(rt.slots),
			"waited", s.opts.SlotWait)
		http.Error(w, fmt.Sprintf("push: %s has %d deliveries in flight on this instance, its bound", rt.path, cap(rt.slots)),
			http.StatusTooManyRequests)
		return
	}

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	done := make(chan runner.Settlement, 1)
	delivering = true
	s.running.Add(1)
	go func() {
		defer s.inflight.Done()
		defer s.running.Add(-1)
		defer rt.release()
		defer func() {
			if p := recover(); p != nil {
				log.Error("push: Deliver panicked; answering 500", "panic", fmt.Sprint(p))
				done <- runner.Nack
			}
		}()
		done <- s.opts.Deliverer.Deliver(ctx, d)
	}()
	select {
	case st := <-done:
		s.answer(w, st)
	case <-s.graceOver:
		cancel()
		log.Warn("push: shutdown grace over before the delivery finished; answering 503", "status", http.StatusServiceUnavailable)
		http.Error(w, "push: shutting down; Pub/Sub redelivers the message", http.StatusServiceUnavailable)
	}
}

// answer writes the status of a settlement: 2xx acks the message; anything else makes
// Pub/Sub redeliver it with the subscription's backoff, and 429 and 503 also slow the
// push rate down.
func (s *Server) answer(w http.ResponseWriter, st runner.Settlement) {
	switch st {
	case runner.Ack:
		w.WriteHeader(http.StatusNoContent)
	case runner.Busy:
		if s.isDraining() {
			http.Error(w, "push: shutting down; Pub/Sub redelivers the message", http.StatusServiceUnavailable)
			return
		}
		http.Error(w, "push: busy; Pub/Sub redelivers the message", http.StatusTooManyRequests)
	default:
		http.Error(w, "push: "+st.String()+"; Pub/Sub redelivers the message", http.StatusInternalServerError)
	}
}

// begin counts a push in flight unless shutdown has started.
func (s *Server) begin() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining {
		return false
	}
	s.inflight.Add(1)
	return true
}

func (s *Server) isDraining() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.draining
}

// Shutdown stops taking pushes (new ones are answered 503, /readyz fails) and waits for
// the deliveries in flight, at most ShutdownGrace or until ctx is done. Then the pushes
// still waiting are answered 503 and their Deliver calls' contexts are cancelled; the error
// says how many were still running. It does not close the listener (Serve does).
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.draining = true
	s.mu.Unlock()
	idle := make(chan struct{})
	go func() {
		s.inflight.Wait()
		close(idle)
	}()
	t := time.NewTimer(s.grace)
	defer t.Stop()
	select {
	case <-idle:
		return nil
	case <-t.C:
	case <-ctx.Done():
	}
	s.graceOnce.Do(func() { close(s.graceOver) })
	return fmt.Errorf("push: shutdown grace (%s) over with %d deliveries still running; their pushes were answered 503 "+
		"and Pub/Sub redelivers them", s.grace, s.running.Load())
}

// Serve serves s on ln until ctx is done, then shuts down: Shutdown (the grace period),
// then the HTTP server. It returns an error only if serving fails; deliveries cut off by
// the grace are logged, and Pub/Sub redelivers them.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("push: serving %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	if err := s.Shutdown(context.Background()); err != nil {
		s.log.Warn(err.Error())
	}
	// Every push handler has answered by now; this only closes the listener and idle
	// connections.
	cctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := hs.Shutdown(cctx); err != nil {
		_ = hs.Close()
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("push: serving %s: %w", ln.Addr(), err)
	}
	return nil
}
