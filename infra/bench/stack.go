package main

import (
	"context"
	"io"
	"os"
	"time"

	"github.com/nba-props/pipeline/infra/cloud"
	"github.com/nba-props/pipeline/infra/emulators"
	"github.com/nba-props/pipeline/infra/local"
)

// simNow puts the simulator after the 2024-25 season, so every game of it is final.
var simNow = time.Date(2025, 6, 30, 16, 0, 0, 0, time.UTC)

// stack is the local stack of `make run` without its in-process consumers (local.Start
// with NoConsumers), on free ports, with data in a fresh scratch directory. The consumers run
// beside it as a separate process (the consumers binary), so that their memory is
// measured on its own.
type stack struct {
	*local.Stack
	dir string
}

// pubsubEmulator is --pubsub: the Pub/Sub emulator of every row's stack.
var pubsubEmulator = local.PubSubPstest

// startStack starts a fresh stack; latency is added to every simulator request.
func startStack(ctx context.Context, seed int64, latency time.Duration, logs io.Writer) (*stack, error) {
	dir, err := emulators.ScratchDir("nba-props-bench-")
	if err != nil {
		return nil, err
	}
	free := "127.0.0.1:0"
	ls, err := local.Start(ctx, local.Options{PubSubAddr: free, GCSAddr: free, BigQueryAddr: free, SimAddr: free,
		DataDir: dir, PubSub: pubsubEmulator, Project: cloud.LocalProject, Bucket: cloud.LocalProject, NoConsumers: true,
		SimSeed: seed, SimNow: simNow, SimLatency: latency, Logs: logs})
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return &stack{Stack: ls, dir: dir}, nil
}

// vars is the environment that points a process (producer, consumers) at the stack.
func (s *stack) vars() map[string]string {
	out := map[string]string{}
	for _, kv := range s.Vars() {
		out[kv[0]] = kv[1]
	}
	return out
}

func (s *stack) close() {
	_ = s.Stack.Close()
	_ = os.RemoveAll(s.dir)
}
