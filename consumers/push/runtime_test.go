package push_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/consumers/push"
	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/infra/emulators"
	"github.com/nba-props/pipeline/infra/oidclocal"
	"github.com/nba-props/pipeline/infra/testlog"
	"github.com/nba-props/pipeline/infra/topology"
	"github.com/nba-props/pipeline/messages"
)

// realStack is the real consumer runtime behind the push server, on the emulators, with
// a local issuer: what a Cloud Run consumer is, with Pub/Sub's push replaced by POSTs.
type realStack struct {
	*stack
	em  *emulators.Env
	rt  *runner.Runtime
	led *ledger.Ledger
	cat *messages.Catalog
}

func newRealStack(t *testing.T, jobs map[messages.JobRef]runner.Job, edit func(*runner.Options)) *realStack {
	t.Helper()
	cat := testCatalog(t)
	em := emulators.StartTest(t)
	ctx := context.Background()
	if _, err := topology.Apply(ctx, topology.Clients{PubSub: em.PubSub, Storage: em.Storage},
		topology.Options{Catalog: cat, Names: em.Names, Bucket: em.Bucket}); err != nil {
		t.Fatal(err)
	}
	logs := &testlog.Buffer{}
	opts := runner.Options{PubSub: em.PubSub, Storage: em.Storage, Bucket: em.Bucket, Catalog: cat, Names: em.Names,
		Jobs: jobs, Lease: 3 * time.Second, LeaseWait: 300 * time.Millisecond, ReconcileEvery: -1,
		Logger: slog.New(runner.NewLogHandler(logs, nil))}
	if edit != nil {
		edit(&opts)
	}
	rt, err := runner.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.Close)
	iss := startIssuer(t, oidclocal.Options{})
	var refs []messages.JobRef
	for ref := range jobs {
		refs = append(refs, ref)
	}
	srv, err := push.NewServer(push.Options{Deliverer: rt, Verifier: localVerifier(t, iss), Catalog: cat, Names: em.Names,
		Jobs: refs, Unroutable: rt.CatchAlls(), Logger: slog.New(slog.NewJSONHandler(logs, nil)),
		Reconcile: func(ctx context.Context) (any, error) { return rt.Reconcile(ctx) }})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", logs.String())
		}
	})
	return &realStack{stack: &stack{iss: iss, srv: srv, http: hs, logs: logs, token: mint(t, iss, nil)},
		em: em, rt: rt, led: ledger.New(em.Storage, em.Bucket, ledger.Options{}), cat: cat}
}

// envelope is the push body Pub/Sub sends for req (or for body and attrs as given).
func envelope(t *testing.T, sub string, id string, body []byte, attrs map[string]string) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"message": map[string]any{"data": base64.StdEncoding.EncodeToString(body), "attributes": attrs,
			"messageId": id, "message_id": id, "publishTime": time.Now().UTC().Format(time.RFC3339Nano)},
		"subscription": "projects/p/subscriptions/" + sub, "deliveryAttempt": 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (s *realStack) request(t *testing.T, ref messages.JobRef, date string) string {
	t.Helper()
	req := messages.Request{Version: messages.Version, Phase: ref.Phase, Job: ref.Job, Date: date, RunID: "run-push",
		Trigger: messages.Trigger{Kind: messages.TriggerProducer}, Lane: messages.LaneBackfill}
	body, attrs, err := messages.Encode(req, s.cat)
	if err != nil {
		t.Fatal(err)
	}
	return envelope(t, s.em.Names.Subscription(ref), fmt.Sprintf("%s-%s-%d", ref.Job, date, time.Now().UnixNano()), body, attrs)
}

func (s *realStack) state(t *testing.T, ref messages.JobRef, date string) ledger.State {
	t.Helper()
	rec, _, err := s.led.Get(context.Background(), ref, date)
	if errors.Is(err, ledger.ErrNotFound) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return rec.State
}

// Every row of the runtime's outcome table holds in push mode: the real runtime decides,
// and the status tells Pub/Sub to ack (2xx) or redeliver (5xx, 429).
func TestEveryOutcomeThroughPush(t *testing.T) {
	t.Parallel()
	flaky := runner.JobFunc(func(ctx context.Context, req messages.Request) (runner.Result, error) {
		switch req.Date {
		case "2024-10-23":
			return runner.Result{}, errors.New("source answered 503")
		case "2024-10-24":
			return runner.Result{}, runner.Permanent(errors.New("source record will never parse"))
		}
		return runner.Result{Rows: map[string]int64{req.Date: 4}}, nil
	})
	ok := runner.JobFunc(func(ctx context.Context, req messages.Request) (runner.Result, error) {
		return runner.Result{Objects: []runner.Object{{Name: "x/" + req.Date, Generation: 1}}}, nil
	})
	s := newRealStack(t, map[messages.JobRef]runner.Job{bounded: ok, wide: ok, rawJob: flaky}, nil)
	post := func(path, body string) int { return s.post(t, path, s.token, body).status }

	cases := []struct {
		name   string
		path   string
		body   string
		status int
		ref    messages.JobRef
		date   string
		state  ledger.State
	}{
		{"succeeded", push.JobPath(bounded), s.request(t, bounded, "2024-10-22"), 204, bounded, "2024-10-22", ledger.StateSucceeded},
		{"duplicate", push.JobPath(bounded), s.request(t, bounded, "2024-10-22"), 204, bounded, "2024-10-22", ledger.StateSucceeded},
		{"waiting", push.JobPath(rawJob), s.request(t, rawJob, "2024-11-01"), 204, rawJob, "2024-11-01", ledger.StateWaiting},
		{"upstream done", push.JobPath(bounded), s.request(t, bounded, "2024-10-23"), 204, bounded, "2024-10-23", ledger.StateSucceeded},
		{"retry", push.JobPath(rawJob), s.request(t, rawJob, "2024-10-23"), 500, rawJob, "2024-10-23", ledger.StateFailed},
		{"upstream done", push.JobPath(bounded), s.request(t, bounded, "2024-10-24"), 204, bounded, "2024-10-24", ledger.StateSucceeded},
		{"dead", push.JobPath(rawJob), s.request(t, rawJob, "2024-10-24"), 204, rawJob, "2024-10-24", ledger.StateDead},
		{"routed", push.JobPath(bounded), s.request(t, wide, "2024-10-25"), 204, wide, "2024-10-25", ""},
		{"unroutable", push.UnroutablePath(messages.PhaseScrapers), envelope(t, "u", "junk-1", []byte(`{}`),
			map[string]string{"job": "nope", "date": "2024-10-25"}), 204, bounded, "2024-10-25", ""},
		{"malformed body, real job", push.JobPath(bounded), envelope(t, "b", "junk-2", []byte(`{"version":1,`),
			map[string]string{"job": bounded.Job, "phase": "scrapers", "date": "2024-10-26"}), 204, bounded, "2024-10-26", ""},
	}
	for _, c := range cases {
		if got := post(c.path, c.body); got != c.status {
			t.Errorf("%s: status %d, want %d", c.name, got, c.status)
		}
		if got := s.state(t, c.ref, c.date); got != c.state {
			t.Errorf("%s: %s %s is %q, want %q", c.name, c.ref, c.date, got, c.state)
		}
	}
	kept, err := s.led.ListDeadLetters(context.Background(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]int{}
	for _, d := range kept {
		reasons[d.Reason]++
	}
	if reasons["job_error"] != 1 || reasons["unknown_job"] != 1 || reasons["malformed"] != 1 || len(kept) != 3 {
		t.Errorf("dead letters kept: %v, want one each of job_error, unknown_job, malformed", reasons)
	}

	// Another consumer holds the date: acked, the holder or the reconciler finishes it.
	held := ledger.Record{Phase: wide.Phase, Job: wide.Job, Date: "2024-10-27"}.Start("other", "r", time.Minute, time.Now())
	if _, err := s.led.Write(context.Background(), held, 0); err != nil {
		t.Fatal(err)
	}
	if got := post(push.JobPath(wide), s.request(t, wide, "2024-10-27")); got != 204 {
		t.Errorf("lease held: status %d, want 204", got)
	}
	// The reconciler runs on request, for the same caller.
	if a := s.post(t, "/reconcile", s.token, ""); a.status != 200 || !json.Valid([]byte(a.body)) {
		t.Errorf("POST /reconcile: %d %s", a.status, a.body)
	}
	if a := s.post(t, "/reconcile", "", ""); a.status != http.StatusUnauthorized {
		t.Errorf("POST /reconcile without a token: %d, want 401", a.status)
	}
	// Shutdown: the runtime has given up its work; a push is handed back for redelivery.
	s.rt.Close()
	if got := post(push.JobPath(bounded), s.request(t, bounded, "2024-10-28")); got != http.StatusTooManyRequests {
		t.Errorf("abandoned: status %d, want 429 (busy: Pub/Sub redelivers)", got)
	}
}

// A push without a valid token changes nothing: no ledger record, no dead letter, no
// downstream message.
func TestPushWithoutAValidTokenChangesNothing(t *testing.T) {
	t.Parallel()
	ran := false
	job := runner.JobFunc(func(ctx context.Context, req messages.Request) (runner.Result, error) {
		ran = true
		return runner.Result{Rows: map[string]int64{req.Date: 1}}, nil
	})
	s := newRealStack(t, map[messages.JobRef]runner.Job{bounded: job}, nil)
	other := startIssuer(t, oidclocal.Options{})
	for name, tok := range map[string]string{
		"none":            "",
		"another issuer":  mint(t, other, nil),
		"another account": mint(t, s.iss, func(c *oidclocal.Claims) { c.Email = "intruder@example.com" }),
		"expired":         mint(t, s.iss, func(c *oidclocal.Claims) { c.Expiry = time.Now().Add(-time.Hour).Unix() }),
	} {
		a := s.post(t, push.JobPath(bounded), tok, s.request(t, bounded, "2024-10-22"))
		if a.status != 401 && a.status != 403 {
			t.Errorf("%s: status %d, want 401 or 403", name, a.status)
		}
	}
	if ran || s.state(t, bounded, "2024-10-22") != "" {
		t.Errorf("a refused push ran the job (%v) or wrote the ledger (%q)", ran, s.state(t, bounded, "2024-10-22"))
	}
	if kept, _ := s.led.ListDeadLetters(context.Background(), time.Time{}); len(kept) != 0 {
		t.Errorf("a refused push left %d dead letters", len(kept))
	}
	for _, m := range s.em.PubSubServer.Server.Messages() {
		t.Errorf("a refused push published %v", m.Attributes)
	}
}
