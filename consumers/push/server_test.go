package push_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nba-props/pipeline/consumers/push"
	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/infra/oidclocal"
	"github.com/nba-props/pipeline/infra/testlog"
	"github.com/nba-props/pipeline/messages"
)

var (
	bounded = messages.Ref(messages.PhaseScrapers, "bounded") // MaxConcurrency 1
	wide    = messages.Ref(messages.PhaseScrapers, "wide")    // MaxConcurrency 3
	rawJob  = messages.Ref(messages.PhaseRaw, "raw_job")      // MaxConcurrency 2
	names   = messages.Names{Prefix: "test-"}
)

func testCatalog(t testing.TB) *messages.Catalog {
	t.Helper()
	cat, err := messages.NewCatalog(
		messages.JobSpec{Phase: messages.PhaseScrapers, Name: bounded.Job, MaxConcurrency: 1, Timeout: time.Minute},
		messages.JobSpec{Phase: messages.PhaseScrapers, Name: wide.Job, MaxConcurrency: 3, Timeout: time.Minute},
		messages.JobSpec{Phase: messages.PhaseRaw, Name: rawJob.Job, Hard: []messages.JobRef{bounded}, MaxConcurrency: 2, Timeout: time.Minute},
	)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// recorder is the Deliverer of these tests: it records each delivery and answers a fixed
// settlement, after waiting for release when hold is set.
type recorder struct {
	settle runner.Settlement
	hold   bool

	once    sync.Once
	mu      sync.Mutex
	calls   []runner.Delivery
	started chan struct{}
	// cancelled receives the context error of each held delivery whose context ends
	// before release.
	cancelled chan error
	released  chan struct{}
}

func newRecorder(settle runner.Settlement, hold bool) *recorder {
	return &recorder{settle: settle, hold: hold, started: make(chan struct{}, 100), released: make(chan struct{}),
		cancelled: make(chan error, 100)}
}

func (r *recorder) Deliver(ctx context.Context, d runner.Delivery) runner.Settlement {
	r.mu.Lock()
	r.calls = append(r.calls, d)
	r.mu.Unlock()
	r.started <- struct{}{}
	if r.hold {
		select {
		case <-r.released:
		case <-ctx.Done():
			r.cancelled <- ctx.Err()
			<-r.released
		}
	}
	return r.settle
}

func (r *recorder) release() { r.once.Do(func() { close(r.released) }) }

func (r *recorder) delivered() []runner.Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]runner.Delivery(nil), r.calls...)
}

type stack struct {
	iss   *oidclocal.Server
	srv   *push.Server
	http  *httptest.Server
	logs  *testlog.Buffer
	token string
}

func newStack(t *testing.T, d push.Deliverer, edit func(*push.Options)) *stack {
	t.Helper()
	iss := startIssuer(t, oidclocal.Options{})
	logs := &testlog.Buffer{}
	opts := push.Options{
		Deliverer: d, Verifier: localVerifier(t, iss), Catalog: testCatalog(t), Names: names,
		Jobs:   []messages.JobRef{bounded, wide, rawJob},
		Logger: slog.New(slog.NewJSONHandler(logs, nil)),
	}
	if edit != nil {
		edit(&opts)
	}
	srv, err := push.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	if rec, ok := d.(*recorder); ok {
		t.Cleanup(rec.release) // before hs.Close, which waits for the handlers
	}
	return &stack{iss: iss, srv: srv, http: hs, logs: logs, token: mint(t, iss, nil)}
}

// wrapped is a push body as Pub/Sub sends it for one message.
func wrapped(data, subscription string) string {
	b, _ := json.Marshal(map[string]any{
		"message": map[string]any{
			"data":        base64.StdEncoding.EncodeToString([]byte(data)),
			"attributes":  map[string]string{"job": "bounded"},
			"messageId":   "2070443601311540",
			"message_id":  "2070443601311540",
			"publishTime": "2021-02-26T19:13:55.749Z",
		},
		"subscription": subscription,
	})
	return string(b)
}

type answer struct {
	status int
	body   string
	header http.Header
}

func (s *stack) post(t *testing.T, path, token, body string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.http.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	return do(t, req)
}

func (s *stack) get(t *testing.T, path string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.http.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) answer {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{status: resp.StatusCode, body: string(b), header: resp.Header}
}

func TestSettlementStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		settle runner.Settlement
		want   int
	}{
		{runner.Ack, http.StatusNoContent},
		{runner.Nack, http.StatusInternalServerError},
		{runner.Busy, http.StatusTooManyRequests},
	}
	for _, tc := range tests {
		t.Run(tc.settle.String(), func(t *testing.T) {
			t.Parallel()
			rec := newRecorder(tc.settle, false)
			s := newStack(t, rec, nil)
			got := s.post(t, push.JobPath(rawJob), s.token, wrapped("hello", "projects/p/subscriptions/"+names.Subscription(rawJob)))
			if got.status != tc.want {
				t.Fatalf("%s settlement answered %d %q; want %d", tc.settle, got.status, got.body, tc.want)
			}
			want := []runner.Delivery{{ID: "2070443601311540", Data: []byte("hello"), Attributes: map[string]string{"job": "bounded"},
				PublishTime: mustTime(t, "2021-02-26T19:13:55.749Z"), Subscription: "test-nba-phase2-raw.raw_job"}}
			if diff := cmp.Diff(want, rec.delivered()); diff != "" {
				t.Errorf("deliveries (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPathDecidesTheSubscription(t *testing.T) {
	t.Parallel()
	rec := newRecorder(runner.Ack, false)
	s := newStack(t, rec, nil)
	if got := s.post(t, push.JobPath(rawJob), s.token, wrapped("x", "projects/p/subscriptions/renamed-sub")); got.status != http.StatusNoContent {
		t.Fatalf("answered %d %q", got.status, got.body)
	}
	if got := s.post(t, push.UnroutablePath(messages.PhaseRaw), s.token, wrapped("y", "")); got.status != http.StatusNoContent {
		t.Fatalf("catch-all answered %d %q", got.status, got.body)
	}
	calls := rec.delivered()
	if len(calls) != 2 || calls[0].Subscription != names.Subscription(rawJob) || calls[1].Subscription != names.UnroutableSubscription(messages.PhaseRaw) {
		t.Fatalf("deliveries %+v; want the job's subscription, then the raw catch-all's", calls)
	}
	if !strings.Contains(s.logs.String(), `"envelope_subscription":"renamed-sub"`) {
		t.Errorf("the subscription mismatch is not logged:\n%s", s.logs)
	}
}

func TestPathsServed(t *testing.T) {
	t.Parallel()
	s := newStack(t, newRecorder(runner.Ack, false), nil)
	want := []string{"/push/scrapers/bounded", "/push/scrapers/bounded/daily", "/push/scrapers/wide", "/push/scrapers/wide/daily",
		"/push/raw/raw_job", "/push/raw/raw_job/daily", "/push/scrapers/unroutable", "/push/raw/unroutable"}
	if diff := cmp.Diff(want, s.srv.Paths()); diff != "" {
		t.Errorf("paths (-want +got):\n%s", diff)
	}
	if got := s.post(t, "/push/analytics/unroutable", s.token, wrapped("x", "")); got.status != http.StatusNotFound || !strings.Contains(got.body, "/push/raw/raw_job") {
		t.Errorf("a phase not served answered %d %q; want 404 listing what is served", got.status, got.body)
	}
	if got := s.post(t, "/push/raw/other_job", s.token, wrapped("x", "")); got.status != http.StatusNotFound {
		t.Errorf("a job not served answered %d", got.status)
	}
	if got := s.get(t, push.JobPath(rawJob)); got.status != http.StatusMethodNotAllowed {
		t.Errorf("GET on a push endpoint answered %d; want 405", got.status)
	}
}

// A push whose identity is refused is neither decoded nor delivered, and the log line
// never holds the token.
func TestIdentityRefused(t *testing.T) {
	t.Parallel()
	rec := newRecorder(runner.Ack, false)
	s := newStack(t, rec, nil)
	other := mint(t, s.iss, func(c *oidclocal.Claims) { c.Email = "someone@else.iam.gserviceaccount.com" })
	expired := mint(t, s.iss, func(c *oidclocal.Claims) { c.Expiry = time.Now().Add(-time.Hour).Unix() })
	tests := []struct {
		name  string
		token string
		want  int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"expired", expired, http.StatusUnauthorized},
		{"another account", other, http.StatusForbidden},
	}
	for _, tc := range tests {
		// A malformed body: answering 400 would mean it was read before the identity check.
		got := s.post(t, push.JobPath(rawJob), tc.token, "not an envelope")
		if got.status != tc.want {
			t.Errorf("%s: answered %d %q; want %d", tc.name, got.status, got.body, tc.want)
		}
		if tc.want == http.StatusUnauthorized && !strings.HasPrefix(got.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: 401 without a WWW-Authenticate: Bearer challenge", tc.name)
		}
	}
	if calls := rec.delivered(); len(calls) != 0 {
		t.Errorf("refused pushes were delivered: %+v", calls)
	}
	logs := s.logs.String()
	if n := strings.Count(logs, "push refused: identity"); n != len(tests) {
		t.Errorf("%d identity refusals logged, want %d:\n%s", n, len(tests), logs)
	}
	for _, tok := range []string{other, expired} {
		for _, part := range strings.Split(tok, ".") {
			if strings.Contains(logs, part) {
				t.Fatalf("the log holds part of a token:\n%s", logs)
			}
		}
	}
}

func TestMalformedPushIsRefusedWith400(t *testing.T) {
	t.Parallel()
	rec := newRecorder(runner.Ack, false)
	s := newStack(t, rec, nil)
	for _, body := range []string{"not json", `{"subscription": "projects/p/subscriptions/s"}`, `{"message": {"data": "%%%", "messageId": "1"}}`} {
		if got := s.post(t, push.JobPath(rawJob), s.token, body); got.status != http.StatusBadRequest {
			t.Errorf("body %q answered %d %q; want 400", body, got.status, got.body)
		}
	}
	big := `{"message": {"messageId": "1", "data": "` + strings.Repeat("A", push.MaxBodyBytes) + `"}}`
	if got := s.post(t, push.JobPath(rawJob), s.token, big); got.status != http.StatusRequestEntityTooLarge {
		t.Errorf("an oversized body answered %d; want 413", got.status)
	}
	if calls := rec.delivered(); len(calls) != 0 {
		t.Errorf("malformed pushes were delivered: %+v", calls)
	}
}

func TestConcurrencyBound(t *testing.T) {
	t.Parallel()
	rec := newRecorder(runner.Ack, true)
	s := newStack(t, rec, func(o *push.Options) { o.SlotWait = 100 * time.Millisecond })
	first := make(chan answer, 1)
	go func() { first <- s.post(t, push.JobPath(bounded), s.token, wrapped("1", "")) }()
	<-rec.started

	// At the bound (MaxConcurrency 1): 429 after SlotWait, without calling the Deliverer.
	if got := s.post(t, push.JobPath(bounded), s.token, wrapped("2", "")); got.status != http.StatusTooManyRequests {
		t.Fatalf("second push at the bound answered %d %q; want 429", got.status, got.body)
	}
	if n := len(rec.delivered()); n != 1 {
		t.Fatalf("%d deliveries; the push over the bound reached the Deliverer", n)
	}
	// Another job's bound is its own, and the catch-all has none.
	paths := []string{push.JobPath(wide), push.JobPath(wide), push.JobPath(wide), push.JobPath(rawJob),
		push.UnroutablePath(messages.PhaseScrapers), push.UnroutablePath(messages.PhaseScrapers)}
	others := make(chan answer, len(paths))
	for _, path := range paths {
		go func() { others <- s.post(t, path, s.token, wrapped("3", "")) }()
	}
	for range paths {
		select {
		case <-rec.started:
		case got := <-others:
			t.Fatalf("a push of another job answered %d %q without reaching the Deliverer", got.status, got.body)
		}
	}
	rec.release()
	if got := <-first; got.status != http.StatusNoContent {
		t.Errorf("first push answered %d", got.status)
	}
	for range paths {
		if got := <-others; got.status != http.StatusNoContent {
			t.Errorf("push of another job answered %d", got.status)
		}
	}
	// The slot is free again.
	if got := s.post(t, push.JobPath(bounded), s.token, wrapped("4", "")); got.status != http.StatusNoContent {
		t.Errorf("push after the first finished answered %d; want 204", got.status)
	}
}

// A push at its job's bound waits for the slot instead of spending a delivery attempt.
func TestPushAtTheBoundWaitsForTheSlot(t *testing.T) {
	t.Parallel()
	rec := newRecorder(runner.Ack, true)
	s := newStack(t, rec, nil)
	first := make(chan answer, 1)
	go func() { first <- s.post(t, push.JobPath(bounded), s.token, wrapped("1", "")) }()
	<-rec.started
	second := make(chan answer, 1)
	go func() { second <- s.post(t, push.JobPath(bounded), s.token, wrapped("2", "")) }()
	select {
	case got := <-second:
		t.Fatalf("the push over the bound answered %d at once; want it to wait for the slot", got.status)
	case <-time.After(300 * time.Millisecond):
	}
	rec.release()
	for _, c := range []chan answer{first, second} {
		if got := <-c; got.status != http.StatusNoContent {
			t.Errorf("answered %d, want 204", got.status)
		}
	}
	if n := len(rec.delivered()); n != 2 {
		t.Errorf("%d deliveries, want 2", n)
	}
}

func TestShutdownLetsInFlightDeliveriesFinish(t *testing.T) {
	t.Parallel()
	rec := newRecorder(runner.Ack, true)
	s := newStack(t, rec, func(o *push.Options) { o.ShutdownGrace = time.Minute })
	inflight := make(chan answer, 1)
	go func() { inflight <- s.post(t, push.JobPath(rawJob), s.token, wrapped("1", "")) }()
	<-rec.started

	shutdown := make(chan error, 1)
	go func() { shutdown <- s.srv.Shutdown(context.Background()) }()
	// Shutdown has begun once readiness fails.
	for s.get(t, "/readyz").status != http.StatusServiceUnavailable {
		time.Sleep(5 * time.Millisecond)
	}
	if got := s.post(t, push.JobPath(wide), s.token, wrapped("2", "")); got.status != http.StatusServiceUnavailable {
		t.Errorf("a push during shutdown answered %d %q; want 503", got.status, got.body)
	}
	if got := s.get(t, "/healthz"); got.status != http.StatusOK {
		t.Errorf("healthz during shutdown answered %d; the process is alive", got.status)
	}
	select {
	case err := <-shutdown:
		t.Fatalf("Shutdown returned %v with a delivery in flight", err)
	default:
	}
	rec.release()
	if got := <-inflight; got.status != http.StatusNoContent {
		t.Errorf("the in-flight push answered %d; want 204 (it finished within the grace)", got.status)
	}
	if err := <-shutdown; err != nil {
		t.Errorf("Shutdown = %v", err)
	}
	if n := len(rec.delivered()); n != 1 {
		t.Errorf("%d deliveries; the push during shutdown reached the Deliverer", n)
	}
}

func TestShutdownGraceOverAnswers503(t *testing.T) {
	t.Parallel()
	rec := newRecorder(runner.Ack, true)
	s := newStack(t, rec, func(o *push.Options) { o.ShutdownGrace = 50 * time.Millisecond })
	inflight := make(chan answer, 1)
	go func() { inflight <- s.post(t, push.JobPath(rawJob), s.token, wrapped("1", "")) }()
	<-rec.started

	err := s.srv.Shutdown(context.Background())
	if err == nil || !strings.Contains(err.Error(), "1 deliveries still running") {
		t.Fatalf("Shutdown = %v; want an error counting the delivery still running", err)
	}
	if got := <-inflight; got.status != http.StatusServiceUnavailable {
		t.Errorf("the push cut off by the grace answered %d %q; want 503", got.status, got.body)
	}
	// The Deliverer's context is cancelled, so the runtime can give the work up.
	if err := <-rec.cancelled; !errors.Is(err, context.Canceled) {
		t.Errorf("the Deliverer's context ended with %v; want it cancelled", err)
	}
}

func TestBusyDuringShutdownIs503(t *testing.T) {
	t.Parallel()
	// The runtime answers Busy when it is itself shutting down; once the server drains too,
	// that is a 503, not a 429.
	hold := newRecorder(runner.Busy, true)
	s := newStack(t, hold, func(o *push.Options) { o.ShutdownGrace = time.Minute })
	inflight := make(chan answer, 1)
	go func() { inflight <- s.post(t, push.JobPath(rawJob), s.token, wrapped("1", "")) }()
	<-hold.started
	shutdown := make(chan error, 1)
	go func() { shutdown <- s.srv.Shutdown(context.Background()) }()
	for s.get(t, "/readyz").status != http.StatusServiceUnavailable {
		time.Sleep(5 * time.Millisecond)
	}
	hold.release()
	if got := <-inflight; got.status != http.StatusServiceUnavailable {
		t.Errorf("Busy during shutdown answered %d; want 503", got.status)
	}
	if err := <-shutdown; err != nil {
		t.Error(err)
	}
}

func TestReadiness(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var failure error
	s := newStack(t, newRecorder(runner.Ack, false), func(o *push.Options) {
		o.Ready = func(ctx context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			return failure
		}
	})
	if got := s.get(t, "/readyz"); got.status != http.StatusOK {
		t.Fatalf("readyz answered %d %q", got.status, got.body)
	}
	mu.Lock()
	failure = errors.New("bigquery: dial tcp 127.0.0.1:9050: connection refused")
	mu.Unlock()
	if got := s.get(t, "/readyz"); got.status != http.StatusServiceUnavailable || !strings.Contains(got.body, "connection refused") {
		t.Errorf("readyz with BigQuery down answered %d %q; want 503 with the reason", got.status, got.body)
	}
	if got := s.get(t, "/healthz"); got.status != http.StatusOK {
		t.Errorf("healthz answered %d", got.status)
	}
}

func TestServeStopsWhenTheContextEnds(t *testing.T) {
	t.Parallel()
	rec := newRecorder(runner.Ack, false)
	s := newStack(t, rec, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.srv.Serve(ctx, ln) }()
	req, _ := http.NewRequest(http.MethodPost, "http://"+ln.Addr().String()+push.JobPath(rawJob), strings.NewReader(wrapped("x", "")))
	req.Header.Set("Authorization", "Bearer "+s.token)
	if got := do(t, req); got.status != http.StatusNoContent {
		t.Fatalf("push over Serve answered %d %q", got.status, got.body)
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatalf("Serve = %v after a clean shutdown", err)
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/healthz"); err == nil {
		t.Error("the listener still answers after Serve returned")
	}
}

func TestNewServerRefusesBadOptions(t *testing.T) {
	t.Parallel()
	iss := startIssuer(t, oidclocal.Options{})
	v := localVerifier(t, iss)
	cat := testCatalog(t)
	weird, err := messages.NewCatalog(messages.JobSpec{Phase: messages.PhaseRaw, Name: "unroutable", Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder(runner.Ack, false)
	tests := []struct {
		name string
		opts push.Options
		want string
	}{
		{"no verifier", push.Options{Deliverer: rec, Catalog: cat, Jobs: []messages.JobRef{rawJob}}, "must be authenticated"},
		{"no deliverer", push.Options{Verifier: v, Catalog: cat, Jobs: []messages.JobRef{rawJob}}, "Deliverer is nil"},
		{"nothing served", push.Options{Deliverer: rec, Verifier: v, Catalog: cat}, "no job"},
		{"job not in catalogue", push.Options{Deliverer: rec, Verifier: v, Catalog: cat, Jobs: []messages.JobRef{messages.Ref(messages.PhaseRaw, "nope")}}, "not in the catalogue"},
		{"job named like the catch-all", push.Options{Deliverer: rec, Verifier: v, Catalog: weird, Jobs: []messages.JobRef{messages.Ref(messages.PhaseRaw, "unroutable")}}, "catch-all"},
		{"unknown catch-all phase", push.Options{Deliverer: rec, Verifier: v, Catalog: cat, Unroutable: []messages.Phase{"phase9"}}, "unknown phase"},
	}
	for _, tc := range tests {
		if _, err := push.NewServer(tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: NewServer = %v; want an error saying %q", tc.name, err, tc.want)
		}
	}
}
