package emulators

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/google/go-cmp/cmp"
	"github.com/nba-props/pipeline/infra/cloud"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// startPstest starts the wrapped pstest for one test.
func startPstest(t *testing.T) *PubSub {
	t.Helper()
	ps, err := StartPubSub("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ps.Close(); err != nil {
			t.Error(err)
		}
	})
	return ps
}

// dlSetup is a topic whose one subscription dead-letters after five attempts into a
// topic with a subscription of its own.
type dlSetup struct {
	client                  *pubsub.Client
	topic, sub, dlTopic, dl string
}

func newDLSetup(t *testing.T, host string) dlSetup {
	t.Helper()
	ctx := context.Background()
	c, err := cloud.PubSubAt(ctx, TestProject, host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	p := "projects/" + TestProject
	s := dlSetup{client: c, topic: p + "/topics/work", sub: p + "/subscriptions/work", dlTopic: p + "/topics/dead", dl: p + "/subscriptions/dead"}
	for _, tp := range []string{s.topic, s.dlTopic} {
		if _, err := c.TopicAdminClient.CreateTopic(ctx, &pb.Topic{Name: tp}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.SubscriptionAdminClient.CreateSubscription(ctx, &pb.Subscription{Name: s.dl, Topic: s.dlTopic, AckDeadlineSeconds: 10}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SubscriptionAdminClient.CreateSubscription(ctx, &pb.Subscription{Name: s.sub, Topic: s.topic, AckDeadlineSeconds: 10,
		DeadLetterPolicy: &pb.DeadLetterPolicy{DeadLetterTopic: s.dlTopic, MaxDeliveryAttempts: 5}}); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s dlSetup) publish(t *testing.T, data string) {
	t.Helper()
	ctx := context.Background()
	pub := s.client.Publisher(s.topic)
	defer pub.Stop()
	if _, err := pub.Publish(ctx, &pubsub.Message{Data: []byte(data), Attributes: map[string]string{"case": data}}).Get(ctx); err != nil {
		t.Fatal(err)
	}
}

// deadLetters receives the dead-letter subscription until ctx ends, acking everything.
type deadLetters struct {
	mu   sync.Mutex
	got  []string
	done chan error
}

func (s dlSetup) receiveDeadLetters(ctx context.Context) *deadLetters {
	d := &deadLetters{done: make(chan error, 1)}
	go func() {
		d.done <- s.client.Subscriber(s.dl).Receive(ctx, func(_ context.Context, m *pubsub.Message) {
			d.mu.Lock()
			d.got = append(d.got, describeDeadLetter(m))
			d.mu.Unlock()
			m.Ack()
		})
	}()
	return d
}

// describeDeadLetter is a forwarded message's data, its own attribute and the attributes
// that say where it comes from, the publish time checked for its shape.
func describeDeadLetter(m *pubsub.Message) string {
	a := m.Attributes
	published := "publish time missing"
	if t, err := time.Parse(time.RFC3339Nano, a["CloudPubSubDeadLetterSourceTopicPublishTime"]); err == nil && !t.IsZero() {
		published = "publish time ok"
	}
	return fmt.Sprintf("%s case=%s from %s/%s after %s deliveries, %s (%d attributes)", m.Data, a["case"],
		a["CloudPubSubDeadLetterSourceSubscriptionProject"], a["CloudPubSubDeadLetterSourceSubscription"],
		a["CloudPubSubDeadLetterSourceDeliveryCount"], published, len(a))
}

func (d *deadLetters) snapshot() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.got...)
}

// TestDeadLetteredOnce: a message its consumer always nacks is forwarded to the
// dead-letter topic exactly once, however many delivery passes follow (pstest on its own
// forwards it again on each, about a hundred a second); one nacked until its last
// delivery and acked then is never forwarded. Each is delivered five times.
func TestDeadLetteredOnce(t *testing.T) {
	t.Parallel()
	deadLetteredOnce(t, startPstest(t).Host())
}

// TestDeadLetteredOnceOnGcloud is TestDeadLetteredOnce on the official emulator.
func TestDeadLetteredOnceOnGcloud(t *testing.T) {
	t.Parallel()
	deadLetteredOnce(t, startGcloud(t).Host())
}

func deadLetteredOnce(t *testing.T, host string) {
	s := newDLSetup(t, host)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dead := s.receiveDeadLetters(ctx)
	var mu sync.Mutex
	attempts := map[string][]int{}
	work := make(chan error, 1)
	go func() {
		work <- s.client.Subscriber(s.sub).Receive(ctx, func(_ context.Context, m *pubsub.Message) {
			n := 0
			if m.DeliveryAttempt != nil {
				n = *m.DeliveryAttempt
			}
			mu.Lock()
			attempts[string(m.Data)] = append(attempts[string(m.Data)], n)
			mu.Unlock()
			if string(m.Data) == "healed" && n >= 5 {
				m.Ack()
				return
			}
			m.Nack()
		})
	}()
	s.publish(t, "poison")
	s.publish(t, "healed")

	deadline := time.Now().Add(2 * time.Minute)
	for len(dead.snapshot()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("nothing was dead-lettered within two minutes")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Keep both subscriptions pulling: pstest runs a delivery pass every 10 ms.
	time.Sleep(10 * time.Second)
	cancel()
	if err := <-work; err != nil {
		t.Errorf("receiving the work subscription: %v", err)
	}
	if err := <-dead.done; err != nil {
		t.Errorf("receiving the dead-letter subscription: %v", err)
	}
	if diff := cmp.Diff([]string{"poison case=poison from nba-props-test/work after 5 deliveries, publish time ok (5 attributes)"}, dead.snapshot()); diff != "" {
		t.Errorf("dead letters (-want +got):\n%s", diff)
	}
	mu.Lock()
	defer mu.Unlock()
	want := map[string][]int{"poison": {1, 2, 3, 4, 5}, "healed": {1, 2, 3, 4, 5}}
	if diff := cmp.Diff(want, attempts); diff != "" {
		t.Errorf("delivery attempts on the work subscription (-want +got):\n%s", diff)
	}
}

// TestLapsedLastDeliveryIsDeadLetteredOnce: a consumer that nacks a message four times and
// dies with its fifth delivery unsettled lets that delivery's ack deadline lapse; then the
// message is forwarded once. pstest only: the official emulator takes a stream ack deadline of 10 s
// at least, which would make this a minute long.
func TestLapsedLastDeliveryIsDeadLetteredOnce(t *testing.T) {
	t.Parallel()
	host := startPstest(t).Host()
	s := newDLSetup(t, host)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dead := s.receiveDeadLetters(ctx)
	s.publish(t, "lapsed")

	conn, err := grpc.NewClient(host, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	st, err := pb.NewSubscriberClient(conn).StreamingPull(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&pb.StreamingPullRequest{Subscription: s.sub, StreamAckDeadlineSeconds: 1}); err != nil {
		t.Fatal(err)
	}
	var attempts []int32
	for len(attempts) < 5 {
		res, err := st.Recv()
		if err != nil {
			t.Fatalf("after %v: %v", attempts, err)
		}
		for _, rm := range res.ReceivedMessages {
			attempts = append(attempts, rm.DeliveryAttempt)
			if rm.DeliveryAttempt < 5 {
				// Nacked: letting the first four lapse too would only be slower (and trips
				// the race detector on pstest's own redelivery of a lapsed message).
				if err := st.Send(&pb.StreamingPullRequest{ModifyDeadlineAckIds: []string{rm.AckId}, ModifyDeadlineSeconds: []int32{0}}); err != nil {
					t.Fatal(err)
				}
			} // the fifth is never settled: the consumer died
		}
	}
	deadline := time.Now().Add(time.Minute)
	for len(dead.snapshot()) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("delivered %v, never dead-lettered", attempts)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(10 * time.Second)
	if diff := cmp.Diff([]string{"lapsed case=lapsed from nba-props-test/work after 5 deliveries, publish time ok (5 attributes)"}, dead.snapshot()); diff != "" {
		t.Errorf("dead letters (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int32{1, 2, 3, 4, 5}, attempts); diff != "" {
		t.Errorf("delivery attempts (-want +got):\n%s", diff)
	}
}

// TestQueuedLastDeliveryOfAStoppedClientIsDeadLetteredOnce: messages that pstest sends on
// their fifth and last attempt to a client taking one at a time wait in the client's
// flow-control queue; when the client's last stream ends they are handed back, and each is
// forwarded to the dead-letter topic once, as is the one the client had and never settled.
// Handed back to pstest as a nack, a message on its last attempt is forwarded again on
// every delivery pass, a hundred times a second, as long as the emulator runs (seen in
// make chaos: three such messages delivered 5,900 times each on the dead-letter
// subscription in 70 s).
func TestQueuedLastDeliveryOfAStoppedClientIsDeadLetteredOnce(t *testing.T) {
	t.Parallel()
	host := startPstest(t).Host()
	s := newDLSetup(t, host)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dead := s.receiveDeadLetters(ctx)
	for _, c := range []string{"a", "b", "c"} {
		s.publish(t, c)
	}
	conn, err := grpc.NewClient(host, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A client without a limit nacks the first three attempts and keeps the fourth, then
	// goes: the fourth deliveries lapse after its one-second deadline.
	actx, acancel := context.WithCancel(ctx)
	a, err := pb.NewSubscriberClient(conn).StreamingPull(actx)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Send(&pb.StreamingPullRequest{Subscription: s.sub, StreamAckDeadlineSeconds: 1, ClientId: "a"}); err != nil {
		t.Fatal(err)
	}
	fourth := map[string]bool{}
	for len(fourth) < 3 {
		res, err := a.Recv()
		if err != nil {
			t.Fatalf("first client, fourth attempts %v: %v", fourth, err)
		}
		for _, rm := range res.ReceivedMessages {
			if rm.DeliveryAttempt >= 4 {
				fourth[string(rm.Message.Data)] = true
				continue
			}
			if err := a.Send(&pb.StreamingPullRequest{ModifyDeadlineAckIds: []string{rm.AckId}, ModifyDeadlineSeconds: []int32{0}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	acancel()
	// A client taking one message at a time gets one fifth attempt; pstest sends it the
	// other two as well, which wait in its queue. It goes without settling anything.
	bctx, bcancel := context.WithCancel(ctx)
	b, err := pb.NewSubscriberClient(conn).StreamingPull(bctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Send(&pb.StreamingPullRequest{Subscription: s.sub, StreamAckDeadlineSeconds: 1, ClientId: "b", MaxOutstandingMessages: 1}); err != nil {
		t.Fatal(err)
	}
	res, err := b.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if len(res.ReceivedMessages) != 1 || res.ReceivedMessages[0].DeliveryAttempt != 5 {
		t.Fatalf("second client got %v, want one message on its fifth attempt", res.ReceivedMessages)
	}
	time.Sleep(200 * time.Millisecond) // pstest's passes put the other two in the queue
	bcancel()

	deadline := time.Now().Add(time.Minute)
	for len(dead.snapshot()) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("dead-lettered %v within a minute, want the three messages", dead.snapshot())
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(3 * time.Second) // pstest runs a delivery pass every 10 ms
	got := dead.snapshot()
	slices.Sort(got)
	var want []string
	for _, c := range []string{"a", "b", "c"} {
		want = append(want, c+" case="+c+" from nba-props-test/work after 5 deliveries, publish time ok (5 attributes)")
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("dead letters (-want +got):\n%s", diff)
	}
}
