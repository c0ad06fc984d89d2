package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/nba-props/pipeline/infra/emulators"
	"github.com/sethvargo/go-envconfig"
)

func TestApplyTwice(t *testing.T) {
	t.Parallel()
	env := emulators.StartTest(t)
	for i, want := range []string{" created, 0 updated, 0 unchanged", "0 created, 0 updated, "} {
		var out, errb bytes.Buffer
		code := run(context.Background(), []string{"apply"}, &out, &errb, envconfig.MapLookuper(env.Vars(map[string]string{"GCS_BUCKET": env.Bucket + "-new"})))
		if code != 0 {
			t.Fatalf("apply %d: exit %d: %s", i+1, code, errb.String())
		}
		if !strings.Contains(out.String(), want) {
			t.Errorf("apply %d output lacks %q:\n%s", i+1, want, out.String())
		}
	}
}

func TestApplyRefusesABadEnvironment(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		vars map[string]string
		want string
	}{
		{"nothing", nil, "set GOOGLE_CLOUD_PROJECT and GCS_BUCKET"},
		{"half local", map[string]string{"PUBSUB_EMULATOR_HOST": "127.0.0.1:8085"}, "PUBSUB_EMULATOR_HOST is set but STORAGE_EMULATOR_HOST is not"},
		{"real project without bucket", map[string]string{"GOOGLE_CLOUD_PROJECT": "prod"}, "GOOGLE_CLOUD_PROJECT=prod with no emulator needs GCS_BUCKET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out, errb bytes.Buffer
			code := run(context.Background(), []string{"apply"}, &out, &errb, envconfig.MapLookuper(tt.vars))
			if code != 2 || !strings.Contains(errb.String(), tt.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, errb.String(), tt.want)
			}
		})
	}
}

func TestApplyHelpListsTheEnvironment(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"apply", "--help"}, &out, &errb, envconfig.MapLookuper(nil))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, v := range []string{"GOOGLE_CLOUD_PROJECT", "PUBSUB_EMULATOR_HOST", "STORAGE_EMULATOR_HOST", "BIGQUERY_EMULATOR_HOST", "GCS_BUCKET", "NBA_ENV_PREFIX", "--location"} {
		if !strings.Contains(out.String(), v) {
			t.Errorf("apply --help lacks %s:\n%s", v, out.String())
		}
	}
}

func TestApplyPushSubscriptions(t *testing.T) {
	t.Parallel()
	env := emulators.StartTest(t)
	vars := envconfig.MapLookuper(env.Vars(map[string]string{"GCS_BUCKET": env.Bucket + "-push"}))
	var out, errb bytes.Buffer
	args := []string{"apply", "--push-url", "https://consumers.example.run.app,raw=https://raw.example.run.app", "--push-account", "push@p.iam.gserviceaccount.com"}
	if code := run(context.Background(), args, &out, &errb, vars); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	// A pull apply afterwards turns push off again on every subscription.
	out.Reset()
	if code := run(context.Background(), []string{"apply"}, &out, &errb, vars); code != 0 || !strings.Contains(out.String(), "push_config") {
		t.Errorf("pull after push (exit %d) did not update push_config:\n%s%s", code, out.String(), errb.String())
	}
	for _, bad := range [][]string{
		{"apply", "--push-url", "https://x.run.app"},
		{"apply", "--push-account", "a@b"},
		{"apply", "--push-url", "raw=https://x.run.app", "--push-account", "a@b"},
		{"apply", "--push-url", "silver=https://x.run.app,https://y", "--push-account", "a@b"},
	} {
		errb.Reset()
		if code := run(context.Background(), bad, &out, &errb, vars); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", bad, code, errb.String())
		}
	}
}
