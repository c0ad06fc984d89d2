package service_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/consumers/service"
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
		{name: "one phase", vars: map[string]string{"CONSUMER_PHASES": "reference"}, want: []string{"reference/player_registry"}},
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

func TestNewNeedsProject(t *testing.T) {
	t.Parallel()
	_, err := service.New(context.Background(), load(t, map[string]string{"CONSUMER_PHASES": "scrapers"}), service.Options{})
	if !errors.Is(err, service.ErrConfig) || !strings.Contains(err.Error(), "set GOOGLE_CLOUD_PROJECT") {
		t.Errorf("err = %v", err)
	}
}
