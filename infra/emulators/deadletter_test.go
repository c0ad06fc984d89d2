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
	_, s, ctx, dead, conn := pstestDeadLetters(t)
	s.publish(t, "lapsed")
	st := openStreamingPull(ctx, t, conn, &pb.StreamingPullRequest{Subscription: s.sub, StreamAckDeadlineSeconds: 1})
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
				nack(t, st, rm.AckId)
			} // the fifth is never settled: the consumer died
		}
	}
	got := dead.settled(t, 1, 10*time.Second)
	if diff := cmp.Diff([]string{"lapsed case=lapsed from nba-props-test/work after 5 deliveries, publish time ok (5 attributes)"}, got); diff != "" {
		t.Errorf("dead letters (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int32{1, 2, 3, 4, 5}, attempts); diff != "" {
		t.Errorf("delivery attempts (-want +got):\n%s", diff)
	}
}

// pstestDeadLetters starts the wrapped pstest with the dead-letter setup, a receiver of its
// dead letters and a connection for raw streaming pulls, all ending with the test.
func pstestDeadLetters(t *testing.T) (*PubSub, dlSetup, context.Context, *deadLetters, *grpc.ClientConn) {
	t.Helper()
	ps := startPstest(t)
	host := ps.Host()
	s := newDLSetup(t, host)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	conn, err := grpc.NewClient(host, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return ps, s, ctx, s.receiveDeadLetters(ctx), conn
}

// openStreamingPull opens a raw streaming pull with its first request.
func openStreamingPull(ctx context.Context, t *testing.T, conn *grpc.ClientConn, first *pb.StreamingPullRequest) pb.Subscriber_StreamingPullClient {
	t.Helper()
	st, err := pb.NewSubscriberClient(conn).StreamingPull(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(first); err != nil {
		t.Fatal(err)
	}
	return st
}

// nack hands a delivery back on its stream.
func nack(t *testing.T, st pb.Subscriber_StreamingPullClient, ackID string) {
	t.Helper()
	if err := st.Send(&pb.StreamingPullRequest{ModifyDeadlineAckIds: []string{ackID}, ModifyDeadlineSeconds: []int32{0}}); err != nil {
		t.Fatal(err)
	}
}

// settled waits a minute at most for n dead letters, then for more as long as linger (pstest
// runs a delivery pass every 10 ms: a loop shows within it), and returns them sorted.
func (d *deadLetters) settled(t *testing.T, n int, linger time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for len(d.snapshot()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("dead-lettered %q within a minute, want %d", d.snapshot(), n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(linger)
	got := d.snapshot()
	slices.Sort(got)
	return got
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
	ps, s, ctx, dead, conn := pstestDeadLetters(t)
	for _, c := range []string{"a", "b", "c"} {
		s.publish(t, c)
	}
	// A client without a limit nacks the first three attempts and keeps the fourth.
	actx, acancel := context.WithCancel(ctx)
	defer acancel()
	a := openStreamingPull(actx, t, conn, &pb.StreamingPullRequest{Subscription: s.sub, StreamAckDeadlineSeconds: 10, ClientId: "a"})
	var fourth []string
	for len(fourth) < 3 {
		res, err := a.Recv()
		if err != nil {
			t.Fatalf("first client, %d fourth attempts: %v", len(fourth), err)
		}
		for _, rm := range res.ReceivedMessages {
			if rm.DeliveryAttempt >= 4 {
				fourth = append(fourth, rm.AckId)
				continue
			}
			nack(t, a, rm.AckId)
		}
	}
	// A client taking one message at a time comes and the first goes; then the fourth
	// attempts are nacked on a unary call (the Go client settles a stream's deliveries so).
	// pstest sends the fifth attempts to the one stream left: the second client gets one,
	// and the other two wait in its queue. It goes without settling anything.
	bctx, bcancel := context.WithCancel(ctx)
	defer bcancel()
	b := openStreamingPull(bctx, t, conn, &pb.StreamingPullRequest{Subscription: s.sub, StreamAckDeadlineSeconds: 1, ClientId: "b", MaxOutstandingMessages: 1})
	acancel()
	waitFor(t, "the first client's stream to end", func() bool {
		ps.final.mu.Lock()
		defer ps.final.mu.Unlock()
		return ps.final.budgets[flowKey{s.sub, "a"}] == nil // dropped once pstest let the stream go
	})
	if _, err := pb.NewSubscriberClient(conn).ModifyAckDeadline(ctx, &pb.ModifyAckDeadlineRequest{Subscription: s.sub, AckIds: fourth}); err != nil {
		t.Fatal(err)
	}
	res, err := b.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if len(res.ReceivedMessages) != 1 || res.ReceivedMessages[0].DeliveryAttempt != 5 {
		t.Fatalf("second client got %v, want one message on its fifth attempt", res.ReceivedMessages)
	}
	waitFor(t, "two messages queued for the second client", func() bool {
		ps.final.mu.Lock()
		defer ps.final.mu.Unlock()
		queued := 0
		if bq := ps.final.budgets[flowKey{s.sub, "b"}]; bq != nil {
			bq.mu.Lock()
			for _, q := range bq.queue {
				queued += len(q.ids)
			}
			bq.mu.Unlock()
		}
		return queued == 2
	})
	bcancel()

	var want []string
	for _, c := range []string{"a", "b", "c"} {
		want = append(want, c+" case="+c+" from nba-props-test/work after 5 deliveries, publish time ok (5 attributes)")
	}
	if diff := cmp.Diff(want, dead.settled(t, 3, 3*time.Second)); diff != "" {
		t.Errorf("dead letters (-want +got):\n%s", diff)
	}
}

// waitFor polls cond every 10 ms for a minute at most.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s", what)
		}
	}
}
