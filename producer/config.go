package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/storage"
	"github.com/nba-props/pipeline/infra/cloud"
	"github.com/nba-props/pipeline/messages"
	"github.com/sethvargo/go-envconfig"
)

// localProject is the project of the local stack when only emulators are configured.
const localProject = "nba-props-local"

// config is the producer's environment (README: environment table).
type config struct {
	Project             string `env:"GOOGLE_CLOUD_PROJECT"`
	PubSubEmulatorHost  string `env:"PUBSUB_EMULATOR_HOST"`
	StorageEmulatorHost string `env:"STORAGE_EMULATOR_HOST"`
	Bucket              string `env:"GCS_BUCKET, default=nba-props-local"`
	Prefix              string `env:"NBA_ENV_PREFIX"`
}

// errNotConfigured says the producer does not know where to publish.
var errNotConfigured = errors.New("no Google Cloud project or emulator configured: " +
	"set GOOGLE_CLOUD_PROJECT (and credentials) for a real project, or PUBSUB_EMULATOR_HOST and " +
	"STORAGE_EMULATOR_HOST for the local stack (`make up` prints the lines to export)")

func loadConfig(ctx context.Context, l envconfig.Lookuper) (config, error) {
	var c config
	if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: &c, Lookuper: l}); err != nil {
		return c, fmt.Errorf("reading the environment: %w", err)
	}
	return c, nil
}

// check fills the local project and rejects half-configured environments, which would
// publish to an emulator while reading the ledger of a real bucket (or the reverse).
func (c *config) check() error {
	switch {
	case c.PubSubEmulatorHost == "" && c.StorageEmulatorHost == "" && c.Project == "":
		return usageError{errNotConfigured}
	case c.PubSubEmulatorHost != "" && c.StorageEmulatorHost == "":
		return usageError{errors.New("PUBSUB_EMULATOR_HOST is set but STORAGE_EMULATOR_HOST is not: set both for the local stack, or neither for a real project")}
	case c.PubSubEmulatorHost == "" && c.StorageEmulatorHost != "":
		return usageError{errors.New("STORAGE_EMULATOR_HOST is set but PUBSUB_EMULATOR_HOST is not: set both for the local stack, or neither for a real project")}
	}
	if c.Project == "" {
		c.Project = localProject
	}
	// The client libraries retry a refused connection until their context ends, so an
	// emulator that is not running would hang the command instead of failing it.
	for _, h := range []struct{ name, env, host string }{
		{"Pub/Sub", "PUBSUB_EMULATOR_HOST", c.PubSubEmulatorHost},
		{"GCS", "STORAGE_EMULATOR_HOST", c.StorageEmulatorHost},
	} {
		if h.host == "" {
			continue
		}
		addr := strings.TrimPrefix(strings.TrimPrefix(h.host, "http://"), "https://")
		conn, err := net.DialTimeout("tcp", addr, 3*time.Second)
		if err != nil {
			return fmt.Errorf("cannot reach the %s emulator at %s=%s (is `make up` running?): %w", h.name, h.env, h.host, err)
		}
		conn.Close()
	}
	return nil
}

// clients are the connections one command uses.
type clients struct {
	pubsub  *pubsub.Client
	storage *storage.Client
}

func (c *clients) Close() {
	if c.pubsub != nil {
		_ = c.pubsub.Close()
	}
	if c.storage != nil {
		_ = c.storage.Close()
	}
}

// connect opens the storage client and, when withPubSub, the Pub/Sub client. The emulator
// hosts come from the config, not the process environment, so tests run in-process.
func connect(ctx context.Context, cfg config, withPubSub bool) (*clients, error) {
	var cl clients
	var err error
	if cl.storage, err = cloud.Storage(ctx, cfg.StorageEmulatorHost); err != nil {
		return nil, err
	}
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
