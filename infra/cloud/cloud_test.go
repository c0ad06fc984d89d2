package cloud_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
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

// recorder is a real HTTP server that answers one listing and remembers the paths asked.
func recorder(t *testing.T, body string) (*httptest.Server, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(paths)
	}
}

// Both forms of BIGQUERY_EMULATOR_HOST reach the emulator: host:port (what Go users
// write) and the URL the local stack prints for the clients of other languages.
func TestBigQueryOptionsAcceptHostAndURL(t *testing.T) {
	t.Parallel()
	srv, paths := recorder(t, `{"datasets":[{"datasetReference":{"projectId":"p","datasetId":"nba_raw"}}]}`)
	hostPort := strings.TrimPrefix(srv.URL, "http://")
	for _, host := range []string{hostPort, srv.URL, srv.URL + "/"} {
		c, err := cloud.BigQuery(context.Background(), "p", host)
		if err != nil {
			t.Fatalf("%s: %v", host, err)
		}
		ds, err := c.Datasets(context.Background()).Next()
		_ = c.Close()
		if err != nil || ds.DatasetID != "nba_raw" {
			t.Errorf("BIGQUERY_EMULATOR_HOST=%s: dataset %v, err %v", host, ds, err)
		}
	}
	for _, p := range paths() {
		if p != "/bigquery/v2/projects/p/datasets" {
			t.Errorf("client asked %s, want /bigquery/v2/projects/p/datasets", p)
		}
	}
	if len(paths()) != 3 {
		t.Errorf("emulator saw %d requests, want 3: %v", len(paths()), paths())
	}
}

func TestStorageAcceptsHostAndURL(t *testing.T) {
	t.Parallel()
	srv, paths := recorder(t, `{"items":[{"bucket":"b","name":"_ledger/x.json"}]}`)
	for _, host := range []string{strings.TrimPrefix(srv.URL, "http://"), srv.URL} {
		c, err := cloud.Storage(context.Background(), host)
		if err != nil {
			t.Fatalf("%s: %v", host, err)
		}
		o, err := c.Bucket("b").Objects(context.Background(), nil).Next()
		_ = c.Close()
		if err != nil || o.Name != "_ledger/x.json" {
			t.Errorf("STORAGE_EMULATOR_HOST=%s: object %v, err %v", host, o, err)
		}
	}
	for _, p := range paths() {
		if p != "/storage/v1/b/b/o" {
			t.Errorf("client asked %s, want /storage/v1/b/b/o", p)
		}
	}
}
