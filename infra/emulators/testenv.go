package emulators

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/storage"
	"github.com/nba-props/pipeline/infra/cloud"
	"github.com/nba-props/pipeline/messages"
)

// TestProject is the project ID tests use on the emulators.
const TestProject = "nba-props-test"

// RequireGcloudPubSubEnv, when set to anything, makes NeedGcloudPubSub fail a test instead
// of skipping it. CI sets it, because its machines have the official emulator: there, a
// test on it that stopped running would otherwise go unnoticed.
const RequireGcloudPubSubEnv = "NBA_TEST_REQUIRE_GCLOUD_PUBSUB"

// NeedGcloudPubSub skips a test that needs Google's official Pub/Sub emulator where it is
// not installed, saying what is missing and how to install it (or fails it, when
// RequireGcloudPubSubEnv is set).
func NeedGcloudPubSub(tb testing.TB) {
	tb.Helper()
	ok, why := GcloudPubSubAvailable()
	if ok {
		return
	}
	if os.Getenv(RequireGcloudPubSubEnv) != "" {
		tb.Fatalf("%s is set, but %s", RequireGcloudPubSubEnv, why)
	}
	tb.Skip(why)
}

// Env is one test's view of the emulators: its own servers on random ports, a fresh bucket
// and a random topic prefix, with clients already connected.
type Env struct {
	Project    string
	PubSubHost string
	GCSHost    string
	// Bucket exists and is empty.
	Bucket string
	// Prefix is the random topic prefix of this test; Names uses it.
	Prefix string
	Names  messages.Names

	PubSub  *pubsub.Client
	Storage *storage.Client

	// PubSubServer and GCSServer expose the fakes for assertions and fault injection.
	PubSubServer *PubSub
	GCSServer    *GCS
}

// StartTest starts a Pub/Sub and a GCS emulator for one test and stops them when it ends.
// Nothing touches the process environment, so tests using it may run in parallel.
func StartTest(tb testing.TB) *Env {
	tb.Helper()
	ps, err := StartPubSub("127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = ps.Close() })

	suffix := randomHex(tb, 4)
	bucket := "test-" + suffix
	root, err := ScratchDir("nba-props-test-gcs-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = os.RemoveAll(root) })
	gcs, err := StartGCS(GCSOptions{Addr: "127.0.0.1:0", Root: root, Buckets: []string{bucket}})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = gcs.Close() })

	ctx := context.Background()
	psc, err := cloud.PubSubAt(ctx, TestProject, ps.Host())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = psc.Close() })
	sc, err := cloud.Storage(ctx, gcs.Host())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = sc.Close() })

	prefix := "t" + suffix + "-"
	return &Env{
		Project:      TestProject,
		PubSubHost:   ps.Host(),
		GCSHost:      gcs.Host(),
		Bucket:       bucket,
		Prefix:       prefix,
		Names:        messages.Names{Prefix: prefix},
		PubSub:       psc,
		Storage:      sc,
		PubSubServer: ps,
		GCSServer:    gcs,
	}
}

// Vars returns the environment a binary under test would see for this Env (for
// envconfig.MapLookuper), plus extra entries.
func (e *Env) Vars(extra map[string]string) map[string]string {
	m := map[string]string{
		"GOOGLE_CLOUD_PROJECT":   e.Project,
		cloud.PubSubEmulatorEnv:  e.PubSubHost,
		cloud.StorageEmulatorEnv: e.GCSHost,
		"GCS_BUCKET":             e.Bucket,
		"NBA_ENV_PREFIX":         e.Prefix,
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func randomHex(tb testing.TB, n int) string {
	tb.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return hex.EncodeToString(b)
}
