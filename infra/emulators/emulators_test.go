package emulators_test

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/storage"
	"github.com/nba-props/pipeline/infra/emulators"
)

func TestStartTestPubSubRoundTrip(t *testing.T) {
	t.Parallel()
	env := emulators.StartTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	topic := "projects/" + env.Project + "/topics/" + env.Prefix + "roundtrip"
	sub := "projects/" + env.Project + "/subscriptions/" + env.Prefix + "roundtrip"
	if _, err := env.PubSub.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: topic}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.PubSub.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{Name: sub, Topic: topic}); err != nil {
		t.Fatal(err)
	}
	pub := env.PubSub.Publisher(topic)
	defer pub.Stop()
	if _, err := pub.Publish(ctx, &pubsub.Message{Data: []byte("hello")}).Get(ctx); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	rctx, rcancel := context.WithCancel(ctx)
	err := env.PubSub.Subscriber(sub).Receive(rctx, func(_ context.Context, m *pubsub.Message) {
		m.Ack()
		select {
		case got <- string(m.Data):
		default:
		}
		rcancel()
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-got:
		if s != "hello" {
			t.Errorf("received %q, want %q", s, "hello")
		}
	default:
		t.Fatal("no message received")
	}
}

func TestStartTestGCSRoundTrip(t *testing.T) {
	t.Parallel()
	env := emulators.StartTest(t)
	ctx := context.Background()
	obj := env.Storage.Bucket(env.Bucket).Object("a/b.json")
	w := obj.NewWriter(ctx)
	w.ChunkSize = 0
	if _, err := io.WriteString(w, `{"ok":true}`); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// A create-if-absent on an existing object must fail with 412: the ledger relies on it.
	w2 := obj.If(storage.Conditions{DoesNotExist: true}).NewWriter(ctx)
	w2.ChunkSize = 0
	_, _ = io.WriteString(w2, "x")
	if err := w2.Close(); err == nil {
		t.Error("DoesNotExist overwrite succeeded; want precondition failure")
	}
	r, err := obj.NewReader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"ok":true}` {
		t.Errorf("read %q", b)
	}
}

func TestStartGCSLargeObjectResumable(t *testing.T) {
	t.Parallel()
	env := emulators.StartTest(t)
	ctx := context.Background()
	obj := env.Storage.Bucket(env.Bucket).Object("big.bin")
	w := obj.NewWriter(ctx)
	w.ChunkSize = 256 * 1024 // forces a resumable upload through ExternalURL
	data := make([]byte, 600*1024)
	for i := range data {
		data[i] = byte(i)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	attrs, err := obj.Attrs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if attrs.Size != int64(len(data)) {
		t.Errorf("size %d, want %d", attrs.Size, len(data))
	}
}

func TestStartOnBusyPortFails(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if ps, err := emulators.StartPubSub(ln.Addr().String()); err == nil {
		ps.Close()
		t.Error("StartPubSub on a busy port succeeded")
	}
	if g, err := emulators.StartGCS(emulators.GCSOptions{Addr: ln.Addr().String(), Root: t.TempDir()}); err == nil {
		g.Close()
		t.Error("StartGCS on a busy port succeeded")
	}
}

func TestGCSCloseStopsServing(t *testing.T) {
	t.Parallel()
	g, err := emulators.StartGCS(emulators.GCSOptions{Addr: "127.0.0.1:0", Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	c, err := net.DialTimeout("tcp", g.Host(), time.Second)
	if err == nil {
		c.Close()
		t.Error("GCS emulator still accepts connections after Close")
	}
}
