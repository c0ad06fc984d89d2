package topology_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/google/go-cmp/cmp"
	"github.com/nba-props/pipeline/infra/emulators"
	"github.com/nba-props/pipeline/infra/topology"
	"github.com/nba-props/pipeline/messages"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

func apply(t *testing.T, env *emulators.Env) topology.Report {
	t.Helper()
	r, err := topology.Apply(context.Background(),
		topology.Clients{PubSub: env.PubSub, Storage: env.Storage},
		topology.Options{Names: env.Names, Bucket: env.Bucket + "-apply"})
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, r)
	}
	return r
}

func TestApplyTwiceChangesNothing(t *testing.T) {
	t.Parallel()
	env := emulators.StartTest(t)
	decl := topology.Declare(messages.DefaultCatalog(), env.Names, env.Bucket+"-apply", nil)
	total := len(decl.Topics) + len(decl.Subscriptions) + 1 // + bucket

	first := apply(t, env)
	if got := first.Count(topology.Created); got != total {
		t.Errorf("first apply created %d resources, want %d:\n%s", got, total, first)
	}
	second := apply(t, env)
	if got := second.Count(topology.Unchanged); got != total {
		t.Errorf("second apply left %d unchanged, want all %d:\n%s", got, total, second)
	}
}

func TestEverySubscriptionHasPolicies(t *testing.T) {
	t.Parallel()
	env := emulators.StartTest(t)
	apply(t, env)
	ctx := context.Background()
	cat := messages.DefaultCatalog()
	sub := func(id string) *pubsubpb.Subscription {
		t.Helper()
		s, err := env.PubSub.SubscriptionAdminClient.GetSubscription(ctx, &pubsubpb.GetSubscriptionRequest{
			Subscription: "projects/" + env.Project + "/subscriptions/" + id})
		if err != nil {
			t.Fatalf("subscription %s: %v", id, err)
		}
		return s
	}
	wantRetry := &pubsubpb.RetryPolicy{MinimumBackoff: durationpb.New(10 * time.Second), MaximumBackoff: durationpb.New(600 * time.Second)}
	dlTopic := "projects/" + env.Project + "/topics/" + env.Names.DeadLetterTopic()
	type policy struct {
		Topic, Filter      string
		AckDeadlineSeconds int32
		Retry              string
		DeadLetter         string
		Attempts           int32
		NeverExpires       bool
	}
	view := func(s *pubsubpb.Subscription) policy {
		p := policy{Topic: s.Topic, Filter: s.Filter, AckDeadlineSeconds: s.AckDeadlineSeconds,
			DeadLetter: s.DeadLetterPolicy.GetDeadLetterTopic(), Attempts: s.DeadLetterPolicy.GetMaxDeliveryAttempts(),
			NeverExpires: s.ExpirationPolicy != nil && s.ExpirationPolicy.Ttl == nil}
		if s.RetryPolicy != nil {
			p.Retry = s.RetryPolicy.MinimumBackoff.AsDuration().String() + ".." + s.RetryPolicy.MaximumBackoff.AsDuration().String()
		}
		return p
	}
	retry := wantRetry.MinimumBackoff.AsDuration().String() + ".." + wantRetry.MaximumBackoff.AsDuration().String()

	jobs := cat.Jobs()
	if len(jobs) == 0 {
		t.Fatal("catalogue has no jobs")
	}
	for _, spec := range jobs {
		for _, lane := range messages.Lanes() {
			got := view(sub(env.Names.LaneSubscription(spec.Ref(), lane)))
			want := policy{
				Topic:              "projects/" + env.Project + "/topics/" + env.Names.Topic(spec.Phase),
				Filter:             messages.Filter(spec.Ref(), lane),
				AckDeadlineSeconds: int32(spec.AckDeadline().Seconds()),
				Retry:              retry, DeadLetter: dlTopic, Attempts: 5, NeverExpires: true,
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s subscription of %s (-want +got):\n%s", lane, spec.Ref(), diff)
			}
		}
	}
	for _, p := range messages.Phases() {
		got := view(sub(env.Names.UnroutableSubscription(p)))
		want := policy{Topic: "projects/" + env.Project + "/topics/" + env.Names.Topic(p), AckDeadlineSeconds: 60,
			Retry: retry, DeadLetter: dlTopic, Attempts: 5, NeverExpires: true}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("unroutable subscription of %s (-want +got):\n%s", p, diff)
		}
	}
	got := view(sub(env.Names.DeadLetterSubscription()))
	want := policy{Topic: dlTopic, AckDeadlineSeconds: 60, Retry: retry, NeverExpires: true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("dead-letter archive subscription (-want +got):\n%s", diff)
	}
}

func TestApplyRepairsDrift(t *testing.T) {
	t.Parallel()
	env := emulators.StartTest(t)
	apply(t, env)
	ctx := context.Background()
	ref := messages.DefaultCatalog().Jobs()[0].Ref()
	id := env.Names.Subscription(ref)
	name := "projects/" + env.Project + "/subscriptions/" + id
	_, err := env.PubSub.SubscriptionAdminClient.UpdateSubscription(ctx, &pubsubpb.UpdateSubscriptionRequest{
		Subscription: &pubsubpb.Subscription{Name: name, AckDeadlineSeconds: 11, RetryPolicy: nil, DeadLetterPolicy: nil},
		UpdateMask:   &fieldmaskpb.FieldMask{Paths: []string{"ack_deadline_seconds", "retry_policy", "dead_letter_policy"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := apply(t, env)
	var got []topology.Change
	for _, c := range r.Changes {
		if c.Action != topology.Unchanged {
			got = append(got, c)
		}
	}
	want := []topology.Change{{Kind: "subscription", Name: id, Action: topology.Updated,
		Detail: "ack_deadline_seconds, retry_policy, dead_letter_policy"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("changes after drift (-want +got):\n%s", diff)
	}
	if r := apply(t, env); r.Count(topology.Unchanged) != len(r.Changes) {
		t.Errorf("apply after repair still changed something:\n%s", r)
	}
}

func TestApplyRefusesChangedFilter(t *testing.T) {
	t.Parallel()
	env := emulators.StartTest(t)
	ctx := context.Background()
	spec := messages.DefaultCatalog().Jobs()[0]
	topic := "projects/" + env.Project + "/topics/" + env.Names.Topic(spec.Phase)
	if _, err := env.PubSub.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: topic}); err != nil {
		t.Fatal(err)
	}
	_, err := env.PubSub.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
		Name:   "projects/" + env.Project + "/subscriptions/" + env.Names.Subscription(spec.Ref()),
		Topic:  topic,
		Filter: `attributes.job = "something_else"`,
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = topology.Apply(ctx, topology.Clients{PubSub: env.PubSub}, topology.Options{Names: env.Names})
	if !errors.Is(err, topology.ErrImmutable) {
		t.Fatalf("apply over a wrong filter: err = %v, want ErrImmutable", err)
	}
}

// TestSmokeMessageReachesItsJob publishes one request per phase topic and checks that it
// lands on its job's subscription and the catch-all, and on no other job's subscription.
func TestSmokeMessageReachesItsJob(t *testing.T) {
	t.Parallel()
	env := emulators.StartTest(t)
	apply(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cat := messages.DefaultCatalog()
	target := cat.InPhase(messages.PhaseRaw)[0].Ref()

	body, attrs, err := messages.Encode(messages.Request{Version: messages.Version, Phase: target.Phase, Job: target.Job,
		Date: "2024-10-22", RunID: "smoke", Trigger: messages.Trigger{Kind: messages.TriggerProducer}, Lane: messages.LaneBackfill}, cat)
	if err != nil {
		t.Fatal(err)
	}
	pub := env.PubSub.Publisher(env.Names.Topic(target.Phase))
	defer pub.Stop()
	if _, err := pub.Publish(ctx, &pubsub.Message{Data: body, Attributes: attrs}).Get(ctx); err != nil {
		t.Fatal(err)
	}

	var reached []string
	subs := []string{env.Names.UnroutableSubscription(target.Phase)}
	for _, spec := range cat.InPhase(target.Phase) {
		subs = append(subs, env.Names.Subscription(spec.Ref()))
	}
	for _, id := range subs {
		resp, err := env.PubSub.SubscriptionAdminClient.Pull(ctx, &pubsubpb.PullRequest{
			Subscription: "projects/" + env.Project + "/subscriptions/" + id, MaxMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range resp.ReceivedMessages {
			req, err := messages.Decode(m.Message.Data, m.Message.Attributes, cat)
			if err != nil {
				t.Errorf("message on %s does not decode: %v", id, err)
			}
			if req.Ref() != target {
				t.Errorf("message for %s on %s", req.Ref(), id)
			}
			reached = append(reached, id)
		}
	}
	want := []string{env.Names.UnroutableSubscription(target.Phase), env.Names.Subscription(target)}
	slices.Sort(want)
	slices.Sort(reached)
	if diff := cmp.Diff(want, reached); diff != "" {
		t.Errorf("subscriptions reached (-want +got):\n%s", diff)
	}
}

// The same declaration applies push subscriptions onto the consumer services: each job's
// endpoint is its service's URL and its path, the token is the push account's for the
// service's URL, with the same filter and policies; applying pull after push turns it off.
func TestPushSubscriptionsFromTheSameDeclaration(t *testing.T) {
	t.Parallel()
	env := emulators.StartTest(t)
	ctx := context.Background()
	pushOpts := &topology.Push{
		ServiceURL:     func(p messages.Phase) string { return "https://nba-consumers-" + string(p) + ".example.run.app" },
		DeadLetterURL:  "https://nba-consumers-raw.example.run.app",
		ServiceAccount: "pubsub-push@demo.iam.gserviceaccount.com",
	}
	applyWith := func(p *topology.Push) topology.Report {
		t.Helper()
		r, err := topology.Apply(ctx, topology.Clients{PubSub: env.PubSub},
			topology.Options{Names: env.Names, Bucket: env.Bucket, Push: p})
		if err != nil {
			t.Fatalf("apply: %v\n%s", err, r)
		}
		return r
	}
	get := func(id string) *pubsubpb.Subscription {
		t.Helper()
		s, err := env.PubSub.SubscriptionAdminClient.GetSubscription(ctx, &pubsubpb.GetSubscriptionRequest{
			Subscription: "projects/" + env.Project + "/subscriptions/" + id})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	applyWith(pushOpts)
	ref := messages.Ref(messages.PhaseRaw, "bdl_player_boxscores")
	s := get(env.Names.Subscription(ref))
	pc := s.GetPushConfig()
	if pc.GetPushEndpoint() != "https://nba-consumers-raw.example.run.app/push/raw/bdl_player_boxscores" ||
		pc.GetOidcToken().GetServiceAccountEmail() != pushOpts.ServiceAccount ||
		pc.GetOidcToken().GetAudience() != "https://nba-consumers-raw.example.run.app" ||
		s.Filter != messages.Filter(ref, messages.LaneBackfill) || s.DeadLetterPolicy.GetMaxDeliveryAttempts() != topology.MaxDeliveryAttempts {
		t.Errorf("push subscription of %s: endpoint %q, oidc %v, filter %q, dead letter %v", ref, pc.GetPushEndpoint(), pc.GetOidcToken(), s.Filter, s.DeadLetterPolicy)
	}
	if got := get(env.Names.UnroutableSubscription(messages.PhaseRaw)).GetPushConfig().GetPushEndpoint(); got != "https://nba-consumers-raw.example.run.app/push/raw/unroutable" {
		t.Errorf("catch-all endpoint %q", got)
	}
	if got := get(env.Names.DeadLetterSubscription()).GetPushConfig().GetPushEndpoint(); got != "https://nba-consumers-raw.example.run.app/push/deadletters" {
		t.Errorf("dead-letter endpoint %q", got)
	}
	if again := applyWith(pushOpts); again.Count(topology.Created)+again.Count(topology.Updated) != 0 {
		t.Errorf("second push apply changed something:\n%s", again)
	}
	back := applyWith(nil)
	if n := back.Count(topology.Updated); n == 0 {
		t.Errorf("pull after push updated nothing:\n%s", back)
	}
	if got := get(env.Names.Subscription(ref)).GetPushConfig().GetPushEndpoint(); got != "" {
		t.Errorf("after a pull apply the subscription still pushes to %q", got)
	}
}

func TestDryRunReportsAndChangesNothing(t *testing.T) {
	t.Parallel()
	env := emulators.StartTest(t)
	ctx := context.Background()
	opts := topology.Options{Names: env.Names, Bucket: env.Bucket + "-apply", DryRun: true}
	clients := topology.Clients{PubSub: env.PubSub, Storage: env.Storage}
	decl := topology.Declare(messages.DefaultCatalog(), env.Names, opts.Bucket, nil)
	r, err := topology.Apply(ctx, clients, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.Count(topology.Created), len(decl.Topics)+len(decl.Subscriptions)+1; got != want {
		t.Errorf("dry run on an empty project reports %d to create, want %d:\n%s", got, want, r)
	}
	if _, err := env.PubSub.TopicAdminClient.GetTopic(ctx, &pubsubpb.GetTopicRequest{
		Topic: "projects/" + env.Project + "/topics/" + decl.Topics[0].ID}); err == nil {
		t.Errorf("dry run created topic %s", decl.Topics[0].ID)
	}

	apply(t, env)
	id := decl.Subscriptions[0].ID
	if _, err := env.PubSub.SubscriptionAdminClient.UpdateSubscription(ctx, &pubsubpb.UpdateSubscriptionRequest{
		Subscription: &pubsubpb.Subscription{Name: "projects/" + env.Project + "/subscriptions/" + id, AckDeadlineSeconds: 11},
		UpdateMask:   &fieldmaskpb.FieldMask{Paths: []string{"ack_deadline_seconds"}},
	}); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the dry run repairs nothing, so it reports the same drift twice
		r, err := topology.Apply(ctx, clients, opts)
		if err != nil {
			t.Fatal(err)
		}
		var got []topology.Change
		for _, c := range r.Changes {
			if c.Action != topology.Unchanged {
				got = append(got, c)
			}
		}
		want := []topology.Change{{Kind: "subscription", Name: id, Action: topology.Updated, Detail: "ack_deadline_seconds"}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("dry run after drift (-want +got):\n%s", diff)
		}
	}
}
