package cloud_test

import (
	"context"
	"testing"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"github.com/nba-props/pipeline/infra/cloud"
)

func TestPubSubAtReachesTheEmulatorGiven(t *testing.T) {
	t.Parallel()
	srv := pstest.NewServer()
	t.Cleanup(func() { _ = srv.Close() })
	ctx := context.Background()
	c, err := cloud.PubSubAt(ctx, "p", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	const topic = "projects/p/topics/t"
	if _, err := c.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: topic}); err != nil {
		t.Fatalf("create topic on emulator %s: %v", srv.Addr, err)
	}
	// The topic exists on this emulator, not merely in the client.
	if _, err := srv.GServer.GetTopic(ctx, &pubsubpb.GetTopicRequest{Topic: topic}); err != nil {
		t.Fatalf("emulator does not hold %s: %v", topic, err)
	}
}
