package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/infra/emulators"
	"github.com/nba-props/pipeline/infra/sourcesim"
	"github.com/nba-props/pipeline/infra/testlog"
	"github.com/nba-props/pipeline/infra/topology"
	"github.com/nba-props/pipeline/messages"
	"github.com/sethvargo/go-envconfig"
)

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		vars map[string]string
		args []string
		want string
	}{
		{"nothing configured", nil, nil, "set GOOGLE_CLOUD_PROJECT"},
		{"unknown phase flag", map[string]string{"GOOGLE_CLOUD_PROJECT": "p"}, []string{"--phases", "nope"}, "unknown phase"},
		{"unknown job env", map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "CONSUMER_JOBS": "raw/nope"}, nil, "raw/nope is not in the catalogue"},
		{"bad flag", nil, []string{"--bogus"}, "flag provided but not defined: -bogus"},
		{"stray argument", nil, []string{"raw"}, `unexpected arguments ["raw"]`},
		{"bad duration", map[string]string{"CONSUMER_SHUTDOWN_GRACE": "soon"}, nil, `invalid duration "soon"`},
		{"negative streams env", map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "CONSUMER_STREAMS": "-4"}, nil, "CONSUMER_STREAMS=-4: want a positive count"},
		{"negative grace flag", map[string]string{"GOOGLE_CLOUD_PROJECT": "p"}, []string{"--shutdown-grace", "-1s"}, "CONSUMER_SHUTDOWN_GRACE=-1s: want a positive duration"},
		{"profile where none can be written", map[string]string{"GOOGLE_CLOUD_PROJECT": "p"}, []string{"--cpu-profile", "/nonexistent/cpu.pprof"},
			"--cpu-profile: open /nonexistent/cpu.pprof"},
		{"unknown traces exporter", map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "OTEL_TRACES_EXPORTER": "jaeger"}, nil,
			`OTEL_TRACES_EXPORTER="jaeger": use none, console, otlp or gcp`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out, errb bytes.Buffer
			code := run(context.Background(), tt.args, &out, &errb, envconfig.MapLookuper(tt.vars))
			if code != 2 || !strings.Contains(errb.String(), tt.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, errb.String(), tt.want)
			}
		})
	}
}

// TestServiceRunsScraperAndChains runs the service in-process for one scraper against the
// source simulator: a published request is scraped, recorded in the ledger, chained to the
// raw phase, and the service stops cleanly when its context ends.
func TestServiceRunsScraperAndChains(t *testing.T) {
	t.Parallel()
	env := emulators.StartTest(t)
	ctx := context.Background()
	if _, err := topology.Apply(ctx, topology.Clients{PubSub: env.PubSub}, topology.Options{Names: env.Names}); err != nil {
		t.Fatal(err)
	}
	sim := httptest.NewServer(sourcesim.New(sourcesim.Config{Seed: 3,
		Now: func() time.Time { return time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC) }}).Handler())
	defer sim.Close()

	var logs testlog.Buffer
	var stderr bytes.Buffer
	profile := filepath.Join(t.TempDir(), "cpu.pprof")
	runCtx, stop := context.WithCancel(ctx)
	code := make(chan int, 1)
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		code <- run(runCtx, []string{"--jobs", "scrapers/nbac_schedule", "--streams", "2", "--shutdown-grace", "2s", "--cpu-profile", profile}, &logs, &stderr,
			envconfig.MapLookuper(env.Vars(map[string]string{"NBA_CDN_BASE_URL": sim.URL + "/nbacdn"})))
	}()
	t.Cleanup(func() {
		stop()
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
		}
	})

	cat := messages.DefaultCatalog()
	ref := messages.Ref(messages.PhaseScrapers, "nbac_schedule")
	body, attrs, err := messages.Encode(messages.Request{Version: messages.Version, Phase: ref.Phase, Job: ref.Job, Date: "2024-10-22",
		RunID: "svc-test", Trigger: messages.Trigger{Kind: messages.TriggerProducer}, Lane: messages.LaneBackfill}, cat)
	if err != nil {
		t.Fatal(err)
	}
	pub := env.PubSub.Publisher(env.Names.Topic(ref.Phase))
	if _, err := pub.Publish(ctx, &pubsub.Message{Data: body, Attributes: attrs}).Get(ctx); err != nil {
		t.Fatal(err)
	}
	pub.Stop()

	l := ledger.New(env.Storage, env.Bucket, ledger.Options{})
	deadline := time.Now().Add(60 * time.Second)
	var rec ledger.Record
	for {
		rec, _, err = l.Get(ctx, ref, "2024-10-22")
		if err == nil && rec.State.Done() && rec.Emitted {
			break
		}
		if err != nil && !errors.Is(err, ledger.ErrNotFound) {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("ledger never showed the date done and emitted (last: %+v, err %v)\nstderr: %s\nlogs:\n%s", rec, err, stderr.String(), logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if rec.State != ledger.StateSucceeded || len(rec.Output.Objects) == 0 {
		t.Errorf("record %s with %d objects, want succeeded with the schedule object", rec.State, len(rec.Output.Objects))
	}

	// The chain: raw/nbac_schedule got its message.
	resp, err := env.PubSub.SubscriptionAdminClient.Pull(ctx, &pubsubpb.PullRequest{MaxMessages: 10,
		Subscription: "projects/" + env.Project + "/subscriptions/" + env.Names.Subscription(messages.Ref(messages.PhaseRaw, "nbac_schedule"))})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.ReceivedMessages) != 1 {
		t.Fatalf("raw/nbac_schedule received %d messages, want 1", len(resp.ReceivedMessages))
	}
	next, err := messages.Decode(resp.ReceivedMessages[0].Message.Data, resp.ReceivedMessages[0].Message.Attributes, cat)
	if err != nil || next.Date != "2024-10-22" || next.RunID != "svc-test" || next.Trigger.From != "scrapers/nbac_schedule" {
		t.Errorf("downstream message %+v, err %v", next, err)
	}

	stop()
	select {
	case c := <-code:
		if c != 0 {
			t.Errorf("exit code after shutdown %d, want 0; stderr: %s", c, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("service did not stop after its context was cancelled")
	}
	// --cpu-profile: a gzipped profile, written when the service stopped.
	if b, err := os.ReadFile(profile); err != nil || len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Errorf("--cpu-profile %s: %d bytes, err %v; want a gzipped pprof profile", profile, len(b), err)
	}

	// Logs are JSON lines in Cloud Logging's shape, one of them for the message handled.
	found := false
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if m["severity"] == nil || m["message"] == nil {
			t.Errorf("log line lacks severity or message: %q", line)
		}
		if m["job"] == "nbac_schedule" && m["date"] == "2024-10-22" {
			found = true
		}
	}
	if !found {
		t.Errorf("no log line for the handled message:\n%s", logs.String())
	}
}

func TestHelpNamesTheEnvironment(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"-h"}, &out, &errb, envconfig.MapLookuper(nil))
	if code != 0 {
		t.Errorf("-h: exit %d, want 0", code)
	}
	for _, want := range []string{"-phases", "Environment:", "GOOGLE_CLOUD_PROJECT", "PUBSUB_EMULATOR_HOST", "BIGQUERY_EMULATOR_HOST", "GCS_BUCKET"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, errb.String())
		}
	}
}
