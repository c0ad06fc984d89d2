package emulators

import (
	"fmt"
	"net"
	"sync"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/grpc"
)

// PubSub is a running Pub/Sub emulator.
type PubSub struct {
	// Server gives tests direct access to the fake (published messages, injected errors).
	Server *pstest.Server
	grpc   *grpc.Server
	lis    net.Listener
}

// StartPubSub serves the Pub/Sub emulator on addr ("host:port"; port 0 picks a free one).
//
// pstest's own server answers a StreamingPull keep-alive ping with a blocking send while
// it holds its one server-wide lock; when the client closes that stream at the same moment
// (it does so when pings go unanswered for a while under load), nothing ever receives, and
// every publish, ack and pull of every subscription waits forever. Seen here in a season
// backfill. So the fake is served by our own gRPC server, whose interceptor answers the
// pings itself and never passes them to pstest.
func StartPubSub(addr string) (*PubSub, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("pubsub emulator on %s: %w", addr, err)
	}
	fake := pstest.NewServer() // its own listener on a spare port stays unused
	g := grpc.NewServer(grpc.StreamInterceptor(answerPings))
	pb.RegisterPublisherServer(g, &fake.GServer)
	pb.RegisterSubscriberServer(g, &fake.GServer)
	pb.RegisterSchemaServiceServer(g, &fake.GServer)
	go func() { _ = g.Serve(lis) }()
	fake.Addr = lis.Addr().String()
	return &PubSub{Server: fake, grpc: g, lis: lis}, nil
}

// Host is the "host:port" to put in PUBSUB_EMULATOR_HOST.
func (p *PubSub) Host() string { return p.lis.Addr().String() }

// Close stops the server; open streams are cut.
func (p *PubSub) Close() error {
	p.grpc.Stop()
	if err := p.Server.Close(); err != nil {
		return fmt.Errorf("stop pubsub emulator: %w", err)
	}
	return nil
}

const streamingPull = "/google.pubsub.v1.Subscriber/StreamingPull"

func answerPings(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if info.FullMethod != streamingPull {
		return handler(srv, ss)
	}
	return handler(srv, &pingAnswerer{ServerStream: ss})
}

// pingAnswerer answers keep-alive pings (requests with nothing to ack or modify, after the
// first) on the stream itself. gRPC allows one sender at a time, and pstest sends from its
// own goroutine, so sends are serialised.
type pingAnswerer struct {
	grpc.ServerStream
	sendMu  sync.Mutex
	started bool
}

func (p *pingAnswerer) SendMsg(m any) error {
	p.sendMu.Lock()
	defer p.sendMu.Unlock()
	return p.ServerStream.SendMsg(m)
}

func (p *pingAnswerer) RecvMsg(m any) error {
	for {
		if err := p.ServerStream.RecvMsg(m); err != nil {
			return err
		}
		req, ok := m.(*pb.StreamingPullRequest)
		if !ok || !p.started {
			p.started = true
			return nil
		}
		if len(req.AckIds) > 0 || len(req.ModifyDeadlineAckIds) > 0 {
			return nil
		}
		if err := p.SendMsg(&pb.StreamingPullResponse{}); err != nil {
			return err
		}
	}
}
