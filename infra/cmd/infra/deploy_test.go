package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/sethvargo/go-envconfig"
)

func TestDeployPlanOffline(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"deploy", "--plan", "--offline", "--project", "demo-project", "--region", "us-west2", "--env", "dev"},
		&out, &errb, envconfig.MapLookuper(nil))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{
		"create    service          nba-scrapers", "create    service          nba-raw", "create    service          nba-reference",
		"create    service          nba-analytics", "create    job              nba-producer", "create    scheduler-job    nba-daily",
		"create    scheduler-job    nba-reconcile-raw", "create    service-account  nba-push@demo-project.iam.gserviceaccount.com",
		"create    subscription     nba-phase2-raw.bdl_player_boxscores", "create    bucket-lifecycle demo-project-nba-props",
		"create    iam-policy       service nba-raw", "create    dataset-access   nba_raw", "create    secret           odds-api-key",
		"push_endpoint = https://nba-raw-PROJECT_NUMBER.us-west2.run.app/push/raw/bdl_player_boxscores",
		"the project number is the placeholder PROJECT_NUMBER", " to create, 0 to update, 0 unchanged",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("offline plan lacks %q", want)
		}
	}
}

func TestDeployRefusesBadFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"deploy", "--plan", "--offline"}, "deploy needs --project, --region and --env"},
		{[]string{"deploy", "--offline", "--project", "p", "--region", "r", "--env", "dev"}, "--offline only plans: add --plan"},
		{[]string{"deploy", "--plan", "--offline", "--project", "p", "--region", "r", "--env", "qa"}, "no file infra/deploy/environments/qa.json"},
		{[]string{"deploy", "--plan", "--offline", "--project", "p", "--region", "r", "--env", "dev", "--image-digest", "consumers=latest"}, "is not a digest"},
	} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), tc.args, &out, &errb, envconfig.MapLookuper(nil)); code != 2 || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, errb.String(), tc.want)
		}
	}
}
