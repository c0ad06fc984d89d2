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

func TestApplyNeedsProject(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"apply"}, &out, &errb, envconfig.MapLookuper(nil))
	if code == 0 || !strings.Contains(errb.String(), "set GOOGLE_CLOUD_PROJECT") {
		t.Errorf("exit %d, stderr %q", code, errb.String())
	}
}
