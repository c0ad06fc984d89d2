package main

import (
	"context"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/storage"
	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/infra/cloud"
	"github.com/nba-props/pipeline/messages"
	"github.com/sethvargo/go-envconfig"
)

// config is the producer's environment: where to publish and which ledger to read
// (README: environment table). The producer uses no BigQuery.
type config struct {
	cloud.Env
}

func loadConfig(ctx context.Context, l envconfig.Lookuper) (config, error) {
	var c config
	if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: &c, Lookuper: l}); err != nil {
		return c, usagef("reading the environment: %w", err)
	}
	if err := c.Resolve(); err != nil {
		return c, usageError{err}
	}
	c.BigQueryEmulatorHost = "" // not used here: not dialled either
	// The emulators must answer before a client is made: the clients would retry forever.
	if err := c.Reach(ctx); err != nil {
		return c, err
	}
	return c, nil
}

// clients are what one command opens: its configuration, the connections and the ledger.
type clients struct {
	cfg     config
	pubsub  *pubsub.Client // nil unless opened withPubSub
	storage *storage.Client
	ledger  *ledger.Ledger
}

func (c *clients) Close() {
	if c.pubsub != nil {
		_ = c.pubsub.Close()
	}
	if c.storage != nil {
		_ = c.storage.Close()
	}
}

// open reads the environment and opens the storage client and the ledger, and the
// Pub/Sub client when withPubSub (a command that publishes). The emulator hosts come from
// the config, not the process environment, so tests run in-process. Close releases them.
func open(ctx context.Context, e *env, withPubSub bool) (*clients, error) {
	cfg, err := loadConfig(ctx, e.lookuper)
	if err != nil {
		return nil, err
	}
	cl := clients{cfg: cfg}
	if cl.storage, err = cloud.Storage(ctx, cfg.StorageEmulatorHost); err != nil {
		return nil, err
	}
	cl.ledger = ledger.New(cl.storage, cfg.Bucket, ledger.Options{})
	if !withPubSub {
		return &cl, nil
	}
	if cl.pubsub, err = cloud.PubSubAt(ctx, cfg.Project, cfg.PubSubEmulatorHost); err != nil {
		cl.Close()
		return nil, err
	}
	return &cl, nil
}

// today is the US Eastern game date now; availability checks are relative to it.
func today() string { return messages.GameDate(time.Now()) }
