package deploy_test

import (
	"maps"
	"strings"
	"testing"

	"github.com/nba-props/pipeline/infra/deploy"
	"github.com/nba-props/pipeline/messages"
)

func services(t *testing.T, env string) map[messages.Phase]deploy.Service {
	t.Helper()
	e, err := deploy.LoadEnvironment(env, messages.DefaultCatalog())
	if err != nil {
		t.Fatal(err)
	}
	s, err := deploy.Services(messages.DefaultCatalog(), e)
	if err != nil {
		t.Fatal(err)
	}
	out := map[messages.Phase]deploy.Service{}
	for _, x := range s {
		out[x.Phase] = x
	}
	return out
}

func TestSourceRateIsABudgetForTheWholeService(t *testing.T) {
	plans := deploy.SourceRates()
	want := map[string]float64{"BDL_RATE_PER_MINUTE": 600, "ODDS_API_RATE_PER_MINUTE": 120, "NBA_CDN_RATE_PER_MINUTE": 120,
		"NBA_STATS_RATE_PER_MINUTE": 30, "NBA_STATSDMZ_RATE_PER_MINUTE": 60}
	if !maps.Equal(plans, want) {
		t.Fatalf("plan rates from scrapers.Config = %v, want %v", plans, want)
	}
	scr := services(t, "prod")[messages.PhaseScrapers] // prod.json: two scraper instances
	if scr.MaxInstances != 2 {
		t.Fatalf("prod scrapers max instances = %d, want 2", scr.MaxInstances)
	}
	for v, plan := range plans {
		if got := scr.Rates[v] * float64(scr.MaxInstances); got != plan {
			t.Errorf("%s: %v per instance × %d instances = %v, want the plan's %v", v, scr.Rates[v], scr.MaxInstances, got, plan)
		}
	}
}

func TestEnvironmentOverrides(t *testing.T) {
	cat := messages.DefaultCatalog()
	for _, tc := range []struct {
		name, file, wantErr string
	}{
		{"raises concurrency", `"phases": {"raw": {"container_concurrency": 40}}`, ""},
		{"concurrency below the jobs' bounds", `"phases": {"raw": {"container_concurrency": 10}}`, "below 24, the sum of its jobs' MaxConcurrency"},
		{"timeout below a job's", `"jobs": {"scrapers/odds_api_player_props": {"request_timeout": "1m"}}`, "shorter than its timeout 5m0s plus the push slot wait"},
		{"min above max", `"phases": {"raw": {"min_instances": 3, "max_instances": 2}}`, "min instances 3"},
		{"a phase without jobs", `"phases": {"precompute": {"max_instances": 1}}`, "precompute has no jobs"},
		{"an unknown job", `"jobs": {"raw/nope": {"cpu": "2"}}`, "raw/nope is not in the catalogue"},
		{"a typo", `"phases": {"raw": {"max_instance": 2}}`, `unknown field "max_instance"`},
		{"half a CPU", `"phases": {"raw": {"cpu": "500m"}}`, "only one request at a time below 1 CPU"},
		{"two accounts in a phase", `"jobs": {"raw/bdl_injuries": {"service_account": "nba-injuries"}}`, "one service runs as one account"},
		{"an unknown source", `"source_rates": {"FOO_RATE_PER_MINUTE": 1}`, "not a source rate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := `{"staging_ttl_days": 3, "daily": {"schedule": "0 9 * * *", "time_zone": "America/New_York"},
				"producer": {"timeout": "30m"}, ` + tc.file + `}`
			e, err := deploy.ParseEnvironment("test", []byte(body), cat)
			if err == nil {
				_, err = deploy.Services(cat, e)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("err = %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("err = %v, want one saying %q", err, tc.wantErr)
			}
		})
	}
}

func TestLoadEnvironmentNamesTheFiles(t *testing.T) {
	_, err := deploy.LoadEnvironment("staging", messages.DefaultCatalog())
	if err == nil || !strings.Contains(err.Error(), "environments: dev, prod") {
		t.Errorf("err = %v, want the environments that exist", err)
	}
}

func TestParseImages(t *testing.T) {
	d := "sha256:" + strings.Repeat("0f", 32)
	got, err := deploy.ParseImages([]string{"consumers=" + d, "producer=eu.gcr.io/p/r/producer@" + d}, "us-west2-docker.pkg.dev/p/nba")
	if err != nil {
		t.Fatal(err)
	}
	if got["consumers"] != "us-west2-docker.pkg.dev/p/nba/consumers@"+d || got["producer"] != "eu.gcr.io/p/r/producer@"+d {
		t.Errorf("images = %v", got)
	}
	for _, bad := range []string{"consumers=latest", "worker=" + d, "consumers", "consumers=sha256:abc"} {
		if _, err := deploy.ParseImages([]string{bad}, "r"); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
