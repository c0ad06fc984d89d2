package cloud

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// LocalProject is the project and the bucket of the local stack. A binary pointed at
// emulators without GOOGLE_CLOUD_PROJECT or GCS_BUCKET uses it, so the lines `make up`
// prints and a shell that exports only the emulator hosts reach the same data.
const LocalProject = "nba-props-local"

// Names of the variables of Env, for code that sets them (the local stack, tests). They
// equal Env's struct tags (a test checks it).
const (
	ProjectEnv          = "GOOGLE_CLOUD_PROJECT"
	PubSubEmulatorEnv   = "PUBSUB_EMULATOR_HOST"
	StorageEmulatorEnv  = "STORAGE_EMULATOR_HOST"
	BigQueryEmulatorEnv = "BIGQUERY_EMULATOR_HOST"
	BucketEnv           = "GCS_BUCKET"
	PrefixEnv           = "NBA_ENV_PREFIX"
)

// Env is where a binary's clients point: a real project, or the emulators of the local
// stack. Every binary embeds it in its own config struct, so these variables, their local
// defaults and the refusal of a half-configured environment are written once. The help
// tags feed EnvUsage, so a command's --help lists exactly these variables ({local} there
// stands for LocalProject).
//
// PUBSUB_EMULATOR_HOST is host:port (Pub/Sub speaks gRPC). STORAGE_EMULATOR_HOST and
// BIGQUERY_EMULATOR_HOST may be host:port or a URL such as http://127.0.0.1:9050: Go
// accepts both, and the clients of other languages want the URL, which is what the local
// stack prints.
type Env struct {
	Project              string `env:"GOOGLE_CLOUD_PROJECT" help:"project of topics, bucket and datasets (default with emulators: {local})"`
	PubSubEmulatorHost   string `env:"PUBSUB_EMULATOR_HOST" help:"Pub/Sub emulator host:port; unset means real Pub/Sub"`
	StorageEmulatorHost  string `env:"STORAGE_EMULATOR_HOST" help:"GCS emulator URL or host:port, set with PUBSUB_EMULATOR_HOST"`
	BigQueryEmulatorHost string `env:"BIGQUERY_EMULATOR_HOST" help:"BigQuery emulator URL or host:port"`
	Bucket               string `env:"GCS_BUCKET" help:"bucket of raw files and the ledger (default with emulators: {local}; else required)"`
	Prefix               string `env:"NBA_ENV_PREFIX" help:"prefix of topic and subscription names (dev-, ...)"`
}

// ErrEnv marks an environment the operator must fix; the message says what to set.
// Binaries map it to their usage exit code.
var ErrEnv = errors.New("environment")

func envErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrEnv, fmt.Sprintf(format, args...))
}

// Local reports whether e points at emulators rather than at Google Cloud.
func (e Env) Local() bool { return e.PubSubEmulatorHost != "" || e.StorageEmulatorHost != "" }

// Resolve rejects an environment that is missing or half-configured, which would publish to
// an emulator while reading the ledger of a real bucket (or the reverse), and fills the
// local project and bucket when only emulators are set. It dials nothing; see Reach.
func (e *Env) Resolve() error {
	ps, gcs, bq := e.PubSubEmulatorHost != "", e.StorageEmulatorHost != "", e.BigQueryEmulatorHost != ""
	switch {
	case !ps && !gcs && !bq && e.Project == "":
		return envErr("no Google Cloud project or emulator configured: set GOOGLE_CLOUD_PROJECT and GCS_BUCKET " +
			"(with application default credentials) for a real project, or PUBSUB_EMULATOR_HOST and " +
			"STORAGE_EMULATOR_HOST for the local stack (`make up` prints the lines to export)")
	case ps && !gcs:
		return envErr("PUBSUB_EMULATOR_HOST is set but STORAGE_EMULATOR_HOST is not: set both for the local stack " +
			"(`make up` prints them), or neither for a real project")
	case !ps && gcs:
		return envErr("STORAGE_EMULATOR_HOST is set but PUBSUB_EMULATOR_HOST is not: set both for the local stack " +
			"(`make up` prints them), or neither for a real project")
	case !ps && bq:
		return envErr("BIGQUERY_EMULATOR_HOST is set but PUBSUB_EMULATOR_HOST and STORAGE_EMULATOR_HOST are not: " +
			"set all three for the local stack (`make up` prints them), or none for a real project")
	}
	if ps {
		if strings.Contains(e.PubSubEmulatorHost, "://") {
			return envErr("PUBSUB_EMULATOR_HOST=%s: the Pub/Sub emulator speaks gRPC: give host:port without a scheme, such as 127.0.0.1:8085",
				e.PubSubEmulatorHost)
		}
		if _, _, err := net.SplitHostPort(e.PubSubEmulatorHost); err != nil {
			return envErr("PUBSUB_EMULATOR_HOST=%s: want host:port, such as 127.0.0.1:8085", e.PubSubEmulatorHost)
		}
	}
	for _, h := range []struct{ env, host, example string }{
		{StorageEmulatorEnv, e.StorageEmulatorHost, "http://127.0.0.1:4443"},
		{BigQueryEmulatorEnv, e.BigQueryEmulatorHost, "http://127.0.0.1:9050"},
	} {
		if h.host == "" {
			continue
		}
		if _, err := hostPort(h.host); err != nil {
			return envErr("%s=%s: want a URL or host:port, such as %s", h.env, h.host, h.example)
		}
	}
	if e.Local() {
		if e.Project == "" {
			e.Project = LocalProject
		}
		if e.Bucket == "" {
			e.Bucket = LocalProject
		}
		return nil
	}
	if e.Bucket == "" {
		return envErr("GOOGLE_CLOUD_PROJECT=%s with no emulator needs GCS_BUCKET: set it to the bucket of the raw files and the ledger in that project",
			e.Project)
	}
	return nil
}

// hostPort is the dialable address of an emulator given as host:port or as a URL.
func hostPort(s string) (string, error) {
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", err
	}
	if u.Host == "" || u.Port() == "" {
		return "", errors.New("no host:port")
	}
	return u.Host, nil
}

// emulatorBase is the URL of an emulator given as host:port or as a URL.
func emulatorBase(s string) string {
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	return strings.TrimRight(s, "/")
}

// Reach dials every emulator e names and says which one does not answer. The client
// libraries retry a refused connection until their context ends, so an emulator that is
// not running would otherwise hang a command instead of failing it.
func (e Env) Reach(ctx context.Context) error {
	for _, h := range []struct{ name, env, host string }{
		{"Pub/Sub", PubSubEmulatorEnv, e.PubSubEmulatorHost},
		{"GCS", StorageEmulatorEnv, e.StorageEmulatorHost},
		{"BigQuery", BigQueryEmulatorEnv, e.BigQueryEmulatorHost},
	} {
		if h.host == "" {
			continue
		}
		addr, err := hostPort(h.host)
		if err != nil {
			return envErr("%s=%s: want a URL or host:port", h.env, h.host)
		}
		d := net.Dialer{Timeout: 3 * time.Second}
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return fmt.Errorf("cannot reach the %s emulator at %s=%s (is `make up` running?): %w", h.name, h.env, h.host, err)
		}
		_ = conn.Close()
	}
	return nil
}

// envField is one variable of Env with its value and its help.
type envField struct{ name, value, help string }

func (e Env) fields() []envField {
	v := reflect.ValueOf(e)
	t := v.Type()
	out := make([]envField, 0, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("env"), ",")
		out = append(out, envField{name: strings.TrimSpace(name), value: v.Field(i).String(), help: t.Field(i).Tag.Get("help")})
	}
	return out
}

// Vars returns the variables of e that are set, as name and value in declaration order:
// the lines to export in another shell so that a process reaches the same place.
func (e Env) Vars() [][2]string {
	var out [][2]string
	for _, f := range e.fields() {
		if f.value != "" {
			out = append(out, [2]string{f.name, f.value})
		}
	}
	return out
}

// EnvUsage is the "Environment:" section of a command's help: every variable of Env with
// its meaning, except those in omit (variables the command does not read).
func EnvUsage(omit ...string) string {
	var b strings.Builder
	b.WriteString("Environment:\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, f := range (Env{}).fields() {
		if !slices.Contains(omit, f.name) {
			fmt.Fprintf(tw, "  %s\t%s\n", f.name, strings.ReplaceAll(f.help, "{local}", LocalProject))
		}
	}
	_ = tw.Flush()
	return b.String()
}
