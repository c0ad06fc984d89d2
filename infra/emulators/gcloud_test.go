package emulators

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/nba-props/pipeline/infra/cloud"
)

// startGcloud starts the official emulator for one test (see NeedGcloudPubSub for where it
// is not installed).
func startGcloud(t *testing.T) *GcloudPubSub {
	t.Helper()
	NeedGcloudPubSub(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	g, err := StartGcloudPubSub(ctx, GcloudPubSubOptions{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := g.Close(); err != nil {
			t.Error(err)
		}
	})
	return g
}

// TestRoundTripAndStopOnGcloud: the official emulator answers the Go client, and Close
// leaves no process of it behind and nothing listening.
func TestRoundTripAndStopOnGcloud(t *testing.T) {
	t.Parallel()
	g := startGcloud(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := cloud.PubSubAt(ctx, TestProject, g.Host())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	topic, sub := "projects/"+TestProject+"/topics/roundtrip", "projects/"+TestProject+"/subscriptions/roundtrip"
	if _, err := c.TopicAdminClient.CreateTopic(ctx, &pb.Topic{Name: topic}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SubscriptionAdminClient.CreateSubscription(ctx, &pb.Subscription{Name: sub, Topic: topic}); err != nil {
		t.Fatal(err)
	}
	pub := c.Publisher(topic)
	if _, err := pub.Publish(ctx, &pubsub.Message{Data: []byte("hello")}).Get(ctx); err != nil {
		t.Fatal(err)
	}
	pub.Stop()
	got := ""
	rctx, rcancel := context.WithCancel(ctx)
	if err := c.Subscriber(sub).Receive(rctx, func(_ context.Context, m *pubsub.Message) {
		m.Ack()
		got = string(m.Data)
		rcancel()
	}); err != nil {
		t.Fatal(err)
	}
	if got != "hello" {
		t.Errorf("received %q, want hello", got)
	}

	pid := g.cmd.Process.Pid
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process group %d still there after Close (kill 0: %v)", pid, err)
	}
	if conn, err := net.DialTimeout("tcp", g.Host(), time.Second); err == nil {
		conn.Close()
		t.Errorf("something still listens on %s after Close", g.Host())
	}
}

// TestGcloudPubSubMissingSaysHowToInstall: where no Google Cloud CLI has the emulator, the
// error names where it looked, how to install it, and that the default needs nothing.
func TestGcloudPubSubMissingSaysHowToInstall(t *testing.T) {
	t.Parallel()
	empty := t.TempDir()
	_, err := findGcloudPubSub([]string{empty})
	if !errors.Is(err, ErrGcloudPubSubNotInstalled) {
		t.Fatalf("error %v, want ErrGcloudPubSubNotInstalled", err)
	}
	for _, want := range []string{empty, "gcloud components install pubsub-emulator beta",
		"apt-get install google-cloud-cli-pubsub-emulator", "Java 8", "pstest, is built in and needs nothing installed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// TestGcloudPubSubThatDiesAtStartIsReported: an emulator that exits before it answers (its
// port taken, say) fails the start at once with the end of its output.
func TestGcloudPubSubThatDiesAtStartIsReported(t *testing.T) {
	t.Parallel()
	launcher := filepath.Join(t.TempDir(), "cloud-pubsub-emulator")
	script := "#!/bin/sh\necho \"java.net.BindException: Address already in use ($*)\" >&2\nexit 1\n"
	if err := os.WriteFile(launcher, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := startLauncher(context.Background(), launcher, GcloudPubSubOptions{Addr: "127.0.0.1:0"})
	if err == nil {
		t.Fatal("started, want an error")
	}
	for _, want := range []string{"exited before it answered", "Address already in use (--host=127.0.0.1 --port="} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}
