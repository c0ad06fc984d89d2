package pushbridge_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"github.com/google/go-cmp/cmp"

	"github.com/nba-props/pipeline/consumers/push"
	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/infra/emulators"
	"github.com/nba-props/pipeline/infra/oidclocal"
	"github.com/nba-props/pipeline/infra/pushbridge"
	"github.com/nba-props/pipeline/infra/topology"
	"github.com/nba-props/pipeline/messages"
)

// The bridge delivers a published message to its job's push endpoint as Pub/Sub would:
// the envelope decodes to the message, the token passes the consumers' identity check,
// and a 2xx acknowledges it.
func TestBridgePushesWhatPubSubWould(t *testing.T) {
	t.Parallel()
	em := emulators.StartTest(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	iss, err := oidclocal.Start("127.0.0.1:0", oidclocal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = iss.Close() })

	var mu sync.Mutex
	var got []runner.Delivery
	var paths []string
	var verifier *push.Verifier
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := verifier.Verify(r.Context(), r); err != nil {
			t.Errorf("token refused: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		d, err := push.DecodeRequest(r)
		if err != nil {
			t.Errorf("envelope: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		got, paths = append(got, d), append(paths, r.URL.Path)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	const account = "push@local.iam"
	verifier, err = push.NewVerifier(ctx, push.Config{Audience: srv.URL, ServiceAccount: account, Issuer: iss.Iss()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := topology.Apply(ctx, topology.Clients{PubSub: em.PubSub}, topology.Options{Names: em.Names, Bucket: em.Bucket,
		Push: &topology.Push{ServiceURL: func(messages.Phase) string { return srv.URL }, DeadLetterURL: srv.URL, ServiceAccount: account}}); err != nil {
		t.Fatal(err)
	}
	b, err := pushbridge.New(pushbridge.Options{PubSub: em.PubSub, Issuer: iss.Issuer})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()

	ref := messages.Ref(messages.PhaseRaw, "bdl_player_boxscores")
	req := messages.Request{Version: messages.Version, Phase: ref.Phase, Job: ref.Job, Date: "2024-10-22", RunID: "r",
		Trigger: messages.Trigger{Kind: messages.TriggerProducer}, Lane: messages.LaneBackfill}
	body, attrs, err := messages.Encode(req, messages.DefaultCatalog())
	if err != nil {
		t.Fatal(err)
	}
	p := em.PubSub.Publisher(em.Names.Topic(ref.Phase))
	defer p.Stop()
	id, err := p.Publish(ctx, &pubsub.Message{Data: body, Attributes: attrs}).Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		// The job's subscription and the phase's catch-all each push their copy.
		if n >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	want := map[string]string{push.JobPath(ref): em.Names.Subscription(ref), push.UnroutablePath(ref.Phase): em.Names.UnroutableSubscription(ref.Phase)}
	gotSubs := map[string]string{}
	for i, d := range got {
		gotSubs[paths[i]] = d.Subscription
		if d.ID != id || string(d.Data) != string(body) || !cmp.Equal(d.Attributes, attrs) || d.PublishTime.IsZero() {
			t.Errorf("delivery on %s = %+v, want message %s as published", paths[i], d, id)
		}
	}
	if diff := cmp.Diff(want, gotSubs); diff != "" {
		t.Errorf("pushes by path (-want +got):\n%s", diff)
	}
	cancel()
	<-done
}
