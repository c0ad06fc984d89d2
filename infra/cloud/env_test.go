package cloud_test

import (
	"context"
	"errors"
	"net"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nba-props/pipeline/infra/cloud"
	"github.com/sethvargo/go-envconfig"
)

// config is how a binary uses Env: embedded in its own config struct.
type config struct {
	cloud.Env
	Streams int `env:"CONSUMER_STREAMS, default=16"`
}

func load(t *testing.T, vars map[string]string) config {
	t.Helper()
	var c config
	if err := envconfig.ProcessWith(context.Background(), &envconfig.Config{Target: &c, Lookuper: envconfig.MapLookuper(vars)}); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestResolve(t *testing.T) {
	t.Parallel()
	local := map[string]string{"PUBSUB_EMULATOR_HOST": "127.0.0.1:8085", "STORAGE_EMULATOR_HOST": "http://127.0.0.1:4443"}
	tests := []struct {
		name    string
		vars    map[string]string
		want    cloud.Env // after Resolve
		wantErr string
	}{
		{name: "local stack fills project and bucket", vars: local,
			want: cloud.Env{Project: cloud.LocalProject, PubSubEmulatorHost: "127.0.0.1:8085", StorageEmulatorHost: "http://127.0.0.1:4443", Bucket: cloud.LocalProject}},
		{name: "local stack keeps what is set", vars: merge(local, map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "GCS_BUCKET": "b", "NBA_ENV_PREFIX": "dev-",
			"BIGQUERY_EMULATOR_HOST": "127.0.0.1:9050"}),
			want: cloud.Env{Project: "p", PubSubEmulatorHost: "127.0.0.1:8085", StorageEmulatorHost: "http://127.0.0.1:4443",
				BigQueryEmulatorHost: "127.0.0.1:9050", Bucket: "b", Prefix: "dev-"}},
		{name: "real project", vars: map[string]string{"GOOGLE_CLOUD_PROJECT": "prod", "GCS_BUCKET": "prod-nba"},
			want: cloud.Env{Project: "prod", Bucket: "prod-nba"}},
		{name: "nothing", vars: nil,
			wantErr: "no Google Cloud project or emulator configured: set GOOGLE_CLOUD_PROJECT and GCS_BUCKET"},
		{name: "real project without bucket", vars: map[string]string{"GOOGLE_CLOUD_PROJECT": "prod"},
			wantErr: "GOOGLE_CLOUD_PROJECT=prod with no emulator needs GCS_BUCKET"},
		{name: "pubsub only", vars: map[string]string{"PUBSUB_EMULATOR_HOST": "127.0.0.1:8085"},
			wantErr: "PUBSUB_EMULATOR_HOST is set but STORAGE_EMULATOR_HOST is not: set both for the local stack"},
		{name: "storage only", vars: map[string]string{"STORAGE_EMULATOR_HOST": "127.0.0.1:4443", "GOOGLE_CLOUD_PROJECT": "prod"},
			wantErr: "STORAGE_EMULATOR_HOST is set but PUBSUB_EMULATOR_HOST is not"},
		{name: "bigquery only", vars: map[string]string{"BIGQUERY_EMULATOR_HOST": "127.0.0.1:9050", "GOOGLE_CLOUD_PROJECT": "prod", "GCS_BUCKET": "b"},
			wantErr: "BIGQUERY_EMULATOR_HOST is set but PUBSUB_EMULATOR_HOST and STORAGE_EMULATOR_HOST are not"},
		{name: "pubsub as URL", vars: merge(local, map[string]string{"PUBSUB_EMULATOR_HOST": "http://127.0.0.1:8085"}),
			wantErr: "PUBSUB_EMULATOR_HOST=http://127.0.0.1:8085: the Pub/Sub emulator speaks gRPC: give host:port without a scheme"},
		{name: "pubsub without port", vars: merge(local, map[string]string{"PUBSUB_EMULATOR_HOST": "localhost"}),
			wantErr: "PUBSUB_EMULATOR_HOST=localhost: want host:port"},
		{name: "bigquery without port", vars: merge(local, map[string]string{"BIGQUERY_EMULATOR_HOST": "http://localhost"}),
			wantErr: "BIGQUERY_EMULATOR_HOST=http://localhost: want a URL or host:port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := load(t, tt.vars)
			err := c.Resolve()
			if tt.wantErr != "" {
				if !errors.Is(err, cloud.ErrEnv) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Resolve() = %v, want ErrEnv saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, c.Env); diff != "" {
				t.Errorf("resolved env (-want +got):\n%s", diff)
			}
			if c.Streams != 16 {
				t.Errorf("the embedding struct's own field was not read: %d", c.Streams)
			}
		})
	}
}

func merge(a, b map[string]string) map[string]string {
	m := map[string]string{}
	for k, v := range a {
		m[k] = v
	}
	for k, v := range b {
		m[k] = v
	}
	return m
}

// The exported names are the struct tags, so code that sets a variable and code that reads
// it cannot disagree.
func TestNamesAreTheTags(t *testing.T) {
	t.Parallel()
	var tags []string
	typ := reflect.TypeOf(cloud.Env{})
	for i := range typ.NumField() {
		tags = append(tags, typ.Field(i).Tag.Get("env"))
	}
	want := []string{cloud.ProjectEnv, cloud.PubSubEmulatorEnv, cloud.StorageEmulatorEnv, cloud.BigQueryEmulatorEnv, cloud.BucketEnv, cloud.PrefixEnv}
	if diff := cmp.Diff(want, tags); diff != "" {
		t.Errorf("constants (-) and tags (+) differ:\n%s", diff)
	}
}

func TestVarsSkipsEmpty(t *testing.T) {
	t.Parallel()
	e := cloud.Env{Project: "p", PubSubEmulatorHost: "127.0.0.1:1", StorageEmulatorHost: "http://127.0.0.1:2", Bucket: "b"}
	want := [][2]string{{"GOOGLE_CLOUD_PROJECT", "p"}, {"PUBSUB_EMULATOR_HOST", "127.0.0.1:1"}, {"STORAGE_EMULATOR_HOST", "http://127.0.0.1:2"}, {"GCS_BUCKET", "b"}}
	if diff := cmp.Diff(want, e.Vars()); diff != "" {
		t.Errorf("Vars (-want +got):\n%s", diff)
	}
}

func TestEnvUsage(t *testing.T) {
	t.Parallel()
	u := cloud.EnvUsage(cloud.BigQueryEmulatorEnv)
	for _, name := range []string{"GOOGLE_CLOUD_PROJECT", "PUBSUB_EMULATOR_HOST", "STORAGE_EMULATOR_HOST", "GCS_BUCKET", "NBA_ENV_PREFIX"} {
		if !strings.Contains(u, "\n  "+name+" ") {
			t.Errorf("usage lacks %s:\n%s", name, u)
		}
	}
	if strings.Contains(u, "BIGQUERY") {
		t.Errorf("usage lists an omitted variable:\n%s", u)
	}
}

func TestReachNamesTheEmulatorThatIsDown(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	up := ln.Addr().String()
	down, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	downAddr := down.Addr().String()
	_ = down.Close()
	t.Cleanup(func() { _ = ln.Close() })

	ok := cloud.Env{PubSubEmulatorHost: up, StorageEmulatorHost: "http://" + up}
	if err := ok.Reach(context.Background()); err != nil {
		t.Errorf("both emulators listen, Reach = %v", err)
	}
	bad := cloud.Env{PubSubEmulatorHost: up, StorageEmulatorHost: up, BigQueryEmulatorHost: "http://" + downAddr}
	err = bad.Reach(context.Background())
	if want := "cannot reach the BigQuery emulator at BIGQUERY_EMULATOR_HOST=http://" + downAddr + " (is `make up` running?)"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Reach = %v, want %q", err, want)
	}
}
