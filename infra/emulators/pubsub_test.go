package emulators

import (
	"context"
	"testing"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// TestKeepAlivePingsAreAnswered: the interceptor takes pings away from pstest, so it must
// answer them itself, or the client library would think every idle stream dead and keep
// reopening it.
func TestKeepAlivePingsAreAnswered(t *testing.T) {
	t.Parallel()
	ps, err := StartPubSub("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	conn, err := grpc.NewClient(ps.Host(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pub, sub := pb.NewPublisherClient(conn), pb.NewSubscriberClient(conn)
	topic, subName := "projects/p/topics/t", "projects/p/subscriptions/s"
	if _, err := pub.CreateTopic(ctx, &pb.Topic{Name: topic}); err != nil {
		t.Fatal(err)
	}
	if _, err := sub.CreateSubscription(ctx, &pb.Subscription{Name: subName, Topic: topic, AckDeadlineSeconds: 10}); err != nil {
		t.Fatal(err)
	}
	st, err := sub.StreamingPull(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&pb.StreamingPullRequest{Subscription: subName, StreamAckDeadlineSeconds: 10, ProtocolVersion: 1}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := st.Send(&pb.StreamingPullRequest{}); err != nil {
			t.Fatal(err)
		}
		res, err := st.Recv()
		if err != nil {
			t.Fatalf("no answer to a keep-alive ping: %v", err)
		}
		if len(res.ReceivedMessages) != 0 {
			t.Fatalf("ping answered with messages: %v", res)
		}
	}
	// Messages still flow on the same stream after the pings.
	if _, err := pub.Publish(ctx, &pb.PublishRequest{Topic: topic, Messages: []*pb.PubsubMessage{{Data: []byte("x")}}}); err != nil {
		t.Fatal(err)
	}
	res, err := st.Recv()
	if err != nil || len(res.ReceivedMessages) != 1 || string(res.ReceivedMessages[0].Message.Data) != "x" {
		t.Fatalf("after pings: %v, %v; want the published message", res, err)
	}
}
