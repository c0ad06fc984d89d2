package emulators

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/nba-props/pipeline/infra/cloud"
)

// TestStoppedConsumersKeepNoMessagesOnGcloud: consumers that stop (their streaming pulls
// cancelled, as on SIGTERM) leave nothing behind on the official emulator. What they had
// pulled and not started, and everything published after them, goes to the consumer that
// runs next at once, not to streams that no longer exist (see grpcPatchClass).
func TestStoppedConsumersKeepNoMessagesOnGcloud(t *testing.T) {
	t.Parallel()
	g := startGcloud(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := cloud.PubSubAt(ctx, TestProject, g.Host())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	topic, sub := "projects/"+TestProject+"/topics/streams", "projects/"+TestProject+"/subscriptions/streams"
	if _, err := c.TopicAdminClient.CreateTopic(ctx, &pb.Topic{Name: topic}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SubscriptionAdminClient.CreateSubscription(ctx, &pb.Subscription{Name: sub, Topic: topic, AckDeadlineSeconds: 10}); err != nil {
		t.Fatal(err)
	}
	const n = 40
	pub := c.Publisher(topic)
	defer pub.Stop()
	publish := func(prefix string) {
		t.Helper()
		for i := range n {
			if _, err := pub.Publish(ctx, &pubsub.Message{Data: []byte(fmt.Sprint(prefix, i))}).Get(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	publish("before-")
	// Three consumers of eight streams each come and go. The emulator pushes every message
	// to the first stream that pulls, whatever the client's flow control; each consumer
	// starts two and holds them until it stops.
	held := map[string]bool{}
	var mu sync.Mutex
	for range 3 {
		s := c.Subscriber(sub)
		s.ReceiveSettings.NumGoroutines = 8
		s.ReceiveSettings.MaxOutstandingMessages = 2
		s.ReceiveSettings.ShutdownOptions = &pubsub.ShutdownOptions{Behavior: pubsub.ShutdownBehaviorWaitForProcessing, Timeout: time.Second}
		rctx, rcancel := context.WithTimeout(ctx, 3*time.Second)
		err := s.Receive(rctx, func(hctx context.Context, m *pubsub.Message) {
			mu.Lock()
			held[string(m.Data)] = true
			mu.Unlock()
			<-hctx.Done()
		})
		rcancel()
		if err != nil {
			t.Fatal(err)
		}
	}
	publish("after-")
	want := map[string]bool{}
	for i := range n {
		want[fmt.Sprint("after-", i)] = true
		if b := fmt.Sprint("before-", i); !held[b] {
			want[b] = true
		}
	}
	// The next consumer, with one stream, gets all of them well within the 60 s stream ack
	// deadline the Go client asks for.
	got := map[string]bool{}
	s := c.Subscriber(sub)
	rctx, rcancel := context.WithTimeout(ctx, 30*time.Second)
	defer rcancel()
	if err := s.Receive(rctx, func(_ context.Context, m *pubsub.Message) {
		m.Ack()
		mu.Lock()
		defer mu.Unlock()
		if want[string(m.Data)] {
			got[string(m.Data)] = true
		}
		if len(got) == len(want) {
			rcancel()
		}
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		var missing []string
		for m := range want {
			if !got[m] {
				missing = append(missing, m)
			}
		}
		t.Errorf("the consumer after three stopped ones received %d of the %d messages they had not started or that came after them, in 30 s; missing %s",
			len(got), len(want), strings.Join(missing, " "))
	}
}
