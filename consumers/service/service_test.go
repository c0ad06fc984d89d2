package service_test

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/consumers/service"
	"github.com/nba-props/pipeline/infra/cloud"
	"github.com/nba-props/pipeline/infra/emulators"
	"github.com/nba-props/pipeline/messages"
	"github.com/sethvargo/go-envconfig"
)

func load(t *testing.T, vars map[string]string) service.Config {
	t.Helper()
	c, err := service.Load(context.Background(), envconfig.MapLookuper(vars))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSelect(t *testing.T) {
	t.Parallel()
	cat := messages.DefaultCatalog()
	tests := []struct {
		name    string
		vars    map[string]string
		want    []string
		wantErr string
	}{
		{name: "default is everything", vars: nil, want: refs(cat.Jobs())},
		{name: "one phase", vars: map[string]string{"CONSUMER_PHASES": "reference"}, want: []string{"reference/player_registry", "reference/gamebook_registry"}},
		{name: "jobs", vars: map[string]string{"CONSUMER_JOBS": "raw/nbac_schedule, scrapers/bdl_games"},
			want: []string{"scrapers/bdl_games", "raw/nbac_schedule"}},
		{name: "unknown phase", vars: map[string]string{"CONSUMER_PHASES": "raw,nope"}, wantErr: "CONSUMER_PHASES=raw,nope: unknown phase"},
		{name: "unknown job", vars: map[string]string{"CONSUMER_JOBS": "raw/nope"}, wantErr: "CONSUMER_JOBS: raw/nope is not in the catalogue"},
		{name: "bare job name", vars: map[string]string{"CONSUMER_JOBS": "bdl_games"}, wantErr: `CONSUMER_JOBS: "bdl_games"`},
		{name: "job outside phases", vars: map[string]string{"CONSUMER_PHASES": "raw", "CONSUMER_JOBS": "scrapers/bdl_games"},
			wantErr: "CONSUMER_PHASES excludes phase scrapers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := service.Select(load(t, tt.vars), cat)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, service.ErrConfig) {
					t.Fatalf("err = %v, want ErrConfig saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, r := range got {
				names = append(names, r.String())
			}
			if diff := cmp.Diff(tt.want, names); diff != "" {
				t.Errorf("selected (-want +got):\n%s", diff)
			}
		})
	}
}

func refs(specs []messages.JobSpec) []string {
	var out []string
	for _, s := range specs {
		out = append(out, s.Ref().String())
	}
	return out
}

// noop is a phase whose jobs do nothing, for tests of the wiring itself.
func noop(p messages.Phase, names ...string) service.Phase {
	return service.Phase{Phase: p, Jobs: func(service.Config, service.Deps) (map[string]runner.Job, error) {
		m := map[string]runner.Job{}
		for _, n := range names {
			m[n] = runner.JobFunc(func(context.Context, messages.Request) (runner.Result, error) { return runner.Result{Empty: true}, nil })
		}
		return m, nil
	}}
}

func TestNewRefusesJobWithoutImplementation(t *testing.T) {
	t.Parallel()
	env := emulators.StartTest(t)
	ctx := context.Background()
	tests := []struct {
		name   string
		vars   map[string]string
		phases []service.Phase
		want   string
	}{
		{"phase not wired", map[string]string{"CONSUMER_JOBS": "scrapers/bdl_games"}, []service.Phase{noop(messages.PhaseRaw, "nbac_schedule")},
			"no implementation for scrapers/bdl_games"},
		{"job missing from its phase", map[string]string{"CONSUMER_PHASES": "scrapers"}, []service.Phase{noop(messages.PhaseScrapers, "bdl_games")},
			"no implementation for scrapers/nbac_schedule, scrapers/nbac_player_boxscores"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := service.New(ctx, load(t, env.Vars(tt.vars)), service.Options{Phases: tt.phases, PubSub: env.PubSub, Storage: env.Storage})
			if !errors.Is(err, service.ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want ErrConfig naming %q", err, tt.want)
			}
		})
	}
}

func TestNewAvailableOnlyKeepsImplemented(t *testing.T) {
	t.Parallel()
	env := emulators.StartTest(t)
	svc, err := service.New(context.Background(), load(t, env.Vars(map[string]string{"CONSUMER_AVAILABLE_ONLY": "true"})),
		service.Options{Phases: []service.Phase{noop(messages.PhaseScrapers, "bdl_games", "nbac_schedule")}, PubSub: env.PubSub, Storage: env.Storage})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	var got []string
	for _, r := range svc.Selected {
		got = append(got, r.String())
	}
	if diff := cmp.Diff([]string{"scrapers/nbac_schedule", "scrapers/bdl_games"}, got); diff != "" {
		t.Errorf("selected (-want +got):\n%s", diff)
	}
}

func TestNewNeedsBigQueryLocally(t *testing.T) {
	t.Parallel()
	env := emulators.StartTest(t)
	_, err := service.New(context.Background(), load(t, env.Vars(map[string]string{"CONSUMER_PHASES": "raw"})), service.Options{})
	if !errors.Is(err, service.ErrConfig) || !strings.Contains(err.Error(), "the raw jobs need BigQuery: set BIGQUERY_EMULATOR_HOST") {
		t.Errorf("err = %v", err)
	}
}

func TestNewRefusesABadEnvironment(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		vars map[string]string
		want string
	}{
		{"nothing", map[string]string{"CONSUMER_PHASES": "scrapers"}, "set GOOGLE_CLOUD_PROJECT and GCS_BUCKET"},
		{"half local", map[string]string{"CONSUMER_PHASES": "scrapers", "STORAGE_EMULATOR_HOST": "127.0.0.1:4443"},
			"STORAGE_EMULATOR_HOST is set but PUBSUB_EMULATOR_HOST is not"},
		{"real project without bucket", map[string]string{"CONSUMER_PHASES": "scrapers", "GOOGLE_CLOUD_PROJECT": "prod"},
			"GOOGLE_CLOUD_PROJECT=prod with no emulator needs GCS_BUCKET"},
		{"attempts below the partial rule", map[string]string{"CONSUMER_MAX_ATTEMPTS": "2"},
			"CONSUMER_MAX_ATTEMPTS=2: at least 3"},
		{"negative attempts", map[string]string{"CONSUMER_MAX_ATTEMPTS": "-1"},
			"CONSUMER_MAX_ATTEMPTS=-1: at least 3"},
		{"negative streams", map[string]string{"CONSUMER_STREAMS": "-4"},
			"CONSUMER_STREAMS=-4: want a positive count, or leave it unset for 4"},
		{"negative lease", map[string]string{"CONSUMER_LEASE": "-30s"},
			"CONSUMER_LEASE=-30s: want a positive duration, or leave it unset for 1m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := service.New(context.Background(), load(t, tt.vars), service.Options{})
			if !errors.Is(err, service.ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want ErrConfig saying %q", err, tt.want)
			}
		})
	}
}

// An emulator that is not running is named, instead of the clients retrying forever.
func TestNewSaysWhichEmulatorIsDown(t *testing.T) {
	t.Parallel()
	env := emulators.StartTest(t)
	vars := env.Vars(map[string]string{"CONSUMER_PHASES": "scrapers", "PUBSUB_EMULATOR_HOST": "127.0.0.1:1"})
	_, err := service.New(context.Background(), load(t, vars), service.Options{})
	if err == nil || !strings.Contains(err.Error(), "cannot reach the Pub/Sub emulator at PUBSUB_EMULATOR_HOST=127.0.0.1:1") {
		t.Errorf("err = %v", err)
	}
}

// TestReadmeEnvironmentTableMatchesConfig keeps the README's environment table and the
// struct tags of Config (with cloud.Env and each phase's part) the same set of variables,
// with the same defaults: a tag's default, or for the runtime's settings, which have none
// in their tags, the runner's (Config.Runtime).
func TestReadmeEnvironmentTableMatchesConfig(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n### Environment\n")
	if !ok {
		t.Fatal("README has no ### Environment section")
	}
	section, _, _ = strings.Cut(section, "\n#")
	documented := map[string]bool{}
	documentedDefault := map[string]string{} // only rows whose default column is backquoted values, one per variable
	value := regexp.MustCompile("`([^`]*)`")
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cols := strings.Split(line, "|")
		var names []string
		for _, name := range strings.Split(cols[1], ",") {
			names = append(names, strings.Trim(strings.TrimSpace(name), "`"))
			documented[names[len(names)-1]] = true
		}
		defs := value.FindAllStringSubmatch(cols[3], -1)
		if rest := strings.Trim(value.ReplaceAllString(cols[3], ""), " ,"); rest != "" || len(defs) != len(names) {
			continue
		}
		for i, name := range names {
			documentedDefault[name] = defs[i][1]
		}
	}

	read := map[string]bool{}
	defaults := map[string]string{}
	var walk func(reflect.Type)
	walk = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			if name, opts, _ := strings.Cut(f.Tag.Get("env"), ","); name != "" {
				name = strings.TrimSpace(name)
				read[name] = true
				if _, def, ok := strings.Cut(opts, "default="); ok {
					defaults[name] = def
				}
			} else if f.Type.Kind() == reflect.Struct {
				walk(f.Type)
			}
		}
	}
	walk(reflect.TypeOf(service.Config{}))
	if len(read) < 10 {
		t.Fatalf("found only %d variables in Config: %v", len(read), read)
	}
	rt := load(t, nil).Runtime()
	for name, v := range map[string]string{
		"CONSUMER_SHUTDOWN_GRACE":  rt.ShutdownGrace.String(),
		"CONSUMER_STREAMS":         strconv.Itoa(rt.Streams),
		"CONSUMER_LEASE":           rt.Lease.String(),
		"CONSUMER_MAX_ATTEMPTS":    strconv.Itoa(rt.MaxAttempts),
		"CONSUMER_SOFT_WAIT":       rt.SoftWait.String(),
		"CONSUMER_RECONCILE_EVERY": rt.ReconcileEvery.String(),
		"CONSUMER_RETRY_WITHIN":    rt.RetryWithin.String(),
	} {
		if def, ok := defaults[name]; ok {
			t.Errorf("%s has a default in its tag (%s) besides the runner's (%s): the runner's alone must decide", name, def, v)
		}
		defaults[name] = v
	}

	for name := range read {
		if !documented[name] {
			t.Errorf("Config reads %s, which the README's environment table does not list", name)
		}
	}
	for name := range documented {
		if !read[name] {
			t.Errorf("the README's environment table lists %s, which Config does not read", name)
		}
	}
	if len(documentedDefault) < 10 {
		t.Fatalf("found only %d defaults in the README's table: %v", len(documentedDefault), documentedDefault)
	}
	for name, doc := range documentedDefault {
		def, ok := defaults[name]
		if !ok {
			t.Errorf("the README's environment table gives %s the default %q, which Config does not have", name, doc)
			continue
		}
		if !sameSetting(doc, def) {
			t.Errorf("the README's environment table gives %s the default %q; it is %q", name, doc, def)
		}
	}
}

// sameSetting says whether two written settings are the same value: durations however
// written (1m, 1m0s), anything else as written.
func sameSetting(a, b string) bool {
	da, errA := time.ParseDuration(a)
	db, errB := time.ParseDuration(b)
	if errA == nil && errB == nil {
		return da == db
	}
	return a == b
}

// Every phase's implementations and the catalogue name the same jobs, in every phase: a job
// declared without an implementation, or implemented without a declaration, is caught here.
func TestPhasesImplementTheCatalogue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// Clients pointed at a closed port: building the jobs only wires them.
	gcs, err := cloud.Storage(ctx, "127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	bq, err := cloud.BigQuery(ctx, "p", "127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	deps := service.Deps{Storage: gcs, BigQuery: bq, HTTP: http.DefaultClient, Bucket: "b"}
	cat := messages.DefaultCatalog()
	wired := map[messages.Phase]bool{}
	for _, p := range service.Phases() {
		wired[p.Phase] = true
		jobs, err := p.Jobs(load(t, nil), deps)
		if err != nil {
			t.Fatalf("%s: %v", p.Phase, err)
		}
		var want []string
		for _, s := range cat.InPhase(p.Phase) {
			want = append(want, s.Name)
		}
		got := slices.Collect(maps.Keys(jobs))
		if diff := cmp.Diff(want, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
			t.Errorf("%s: the catalogue (-) and the implementations (+) differ:\n%s", p.Phase, diff)
		}
	}
	for _, p := range messages.Phases() {
		if len(cat.InPhase(p)) > 0 && !wired[p] {
			t.Errorf("the catalogue has %s jobs, and service.Phases does not wire that phase", p)
		}
	}
}
