package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"github.com/google/go-cmp/cmp"
	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/infra/cloud"
	"github.com/nba-props/pipeline/infra/emulators"
	"github.com/nba-props/pipeline/infra/local"
	"github.com/nba-props/pipeline/infra/testlog"
	"github.com/nba-props/pipeline/messages"
	"github.com/sethvargo/go-envconfig"
)

// TestStackRunsThePipeline starts the whole stack on random ports, publishes one scrape,
// and sees the raw job that follows it load rows into the BigQuery emulator; then the stack
// stops cleanly.
//
// Not parallel: the stack installs its consumers' telemetry as the process's global
// providers, and the test reads the trace view and the metrics of this stack.
func TestStackRunsThePipeline(t *testing.T) {
	stackRunsThePipeline(t, local.PubSubPstest)
}

// TestStackRunsThePipelineOnGcloud is TestStackRunsThePipeline on the official Pub/Sub
// emulator, as `make up ARGS=--pubsub=gcloud` runs it. Not parallel either.
func TestStackRunsThePipelineOnGcloud(t *testing.T) {
	emulators.NeedGcloudPubSub(t)
	stackRunsThePipeline(t, local.PubSubGcloud)
}

func stackRunsThePipeline(t *testing.T, backend string) {
	var stdout, stderr testlog.Buffer
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	ready := make(chan *local.Stack, 1)
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"--pubsub-port", "0", "--gcs-port", "0", "--bigquery-port", "0", "--sim-port", "0",
			"--status-port", "0", "--traces-port", "0", "--metrics-port", "0",
			"--data", t.TempDir(), "--prefix", "ls-", "--sim-now", "2025-06-30T12:00:00Z", "--pubsub", backend},
			&stdout, &stderr, envconfig.MapLookuper(map[string]string{"CONSUMER_STREAMS": "2"}), ready)
	}()
	var s *local.Stack
	select {
	case s = <-ready:
	case c := <-code:
		t.Fatalf("stack exited with %d before it was up: %s", c, stderr.String())
	case <-time.After(2 * time.Minute):
		t.Fatal("stack not up")
	}
	for _, want := range []string{"pubsub: " + backend + ", ", "export PUBSUB_EMULATOR_HOST=127.0.0.1:", "export STORAGE_EMULATOR_HOST=http://127.0.0.1:",
		"export BIGQUERY_EMULATOR_HOST=http://127.0.0.1:", "export NBA_ENV_PREFIX=ls-"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("printed environment lacks %q:\n%s", want, stdout.String())
		}
	}
	// The status page answers at the printed URL, over the default range.
	_, rest, ok := strings.Cut(stdout.String(), "status page: ")
	pageURL, _, _ := strings.Cut(rest, " ")
	if !ok || !strings.HasPrefix(pageURL, "http://127.0.0.1:") {
		t.Errorf("no status page URL printed:\n%s", stdout.String())
	} else if resp, err := http.Get(pageURL + "api/grid"); err != nil {
		t.Errorf("status page: %v", err)
	} else {
		var grid struct{ Dates []string }
		err := json.NewDecoder(resp.Body).Decode(&grid)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || err != nil || len(grid.Dates) != 14 {
			t.Errorf("GET %sapi/grid: %d, %d dates, %v; want 200 with the 14 dates of the default range", pageURL, resp.StatusCode, len(grid.Dates), err)
		}
	}
	// The consumers run inside the stack: the simulator's URLs are not the user's business.
	if strings.Contains(stdout.String(), "BASE_URL") {
		t.Errorf("printed environment has the scrapers' URLs although the consumers run in the stack:\n%s", stdout.String())
	}
	// What was printed works: a producer given exactly those lines reads the ledger.
	vars := map[string]string{}
	for _, line := range strings.Split(stdout.String(), "\n") {
		if kv, ok := strings.CutPrefix(strings.TrimSpace(line), "export "); ok {
			k, v, _ := strings.Cut(kv, "=")
			vars[k] = v
		}
	}
	var env struct{ cloud.Env }
	if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: &env, Lookuper: envconfig.MapLookuper(vars)}); err != nil {
		t.Fatal(err)
	}
	if err := env.Resolve(); err != nil {
		t.Errorf("the printed environment does not resolve: %v", err)
	}
	if err := env.Reach(ctx); err != nil {
		t.Errorf("the printed environment does not reach the stack: %v", err)
	}
	bq, err := cloud.BigQuery(ctx, env.Project, env.BigQueryEmulatorHost)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bq.Dataset("nba_raw").Metadata(ctx); err != nil {
		t.Errorf("BIGQUERY_EMULATOR_HOST=%s as printed: %v", env.BigQueryEmulatorHost, err)
	}
	_ = bq.Close()

	cat := messages.DefaultCatalog()
	body, attrs, err := messages.Encode(messages.Request{Version: messages.Version, Phase: messages.PhaseScrapers, Job: "nbac_schedule",
		Date: "2024-10-23", RunID: "stack-test", Trigger: messages.Trigger{Kind: messages.TriggerProducer}, Lane: messages.LaneBackfill}, cat)
	if err != nil {
		t.Fatal(err)
	}
	pub := s.PubSub.Publisher(messages.Names{Prefix: "ls-"}.Topic(messages.PhaseScrapers))
	if _, err := pub.Publish(ctx, &pubsub.Message{Data: body, Attributes: attrs}).Get(ctx); err != nil {
		t.Fatal(err)
	}
	pub.Stop()

	l := ledger.New(s.Storage, cloud.LocalProject, ledger.Options{})
	ref := messages.Ref(messages.PhaseRaw, "nbac_schedule")
	deadline := time.Now().Add(2 * time.Minute)
	for {
		rec, _, err := l.Get(ctx, ref, "2024-10-23")
		if err == nil && rec.State.Done() {
			if rec.State != ledger.StateSucceeded || rec.Output.TotalRows() == 0 {
				t.Errorf("raw/nbac_schedule ended %s with %d rows, want succeeded with rows", rec.State, rec.Output.TotalRows())
			}
			sums, err := l.List(ctx, ref, "2024-10-23", "2024-10-23")
			if err != nil || len(sums) != 1 {
				t.Fatalf("listing the record: %v, %d summaries", err, len(sums))
			}
			checkTelemetry(t, stdout.String(), stderr.String(), sums[0].TraceID)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("raw/nbac_schedule never finished 2024-10-23 (last %+v, %v)\nlogs:\n%s", rec, err, stderr.String())
		}
		time.Sleep(200 * time.Millisecond)
	}

	stop()
	select {
	case c := <-code:
		if c != 0 {
			t.Errorf("exit %d after Ctrl-C, want 0: %s", c, stderr.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("stack did not stop")
	}
}

// checkTelemetry sees what make up prints about telemetry work: the record's trace opens in
// the trace view, the consumers' metrics are Prometheus text, and their log lines carry
// trace ids.
func checkTelemetry(t *testing.T, stdout, logs, traceID string) {
	t.Helper()
	printed := func(prefix string) string {
		_, rest, ok := strings.Cut(stdout, prefix)
		u, _, _ := strings.Cut(rest, " ")
		if !ok {
			t.Errorf("make up printed no %q line:\n%s", prefix, stdout)
		}
		return u
	}
	if traceID == "" {
		t.Error("the ledger record keeps no trace id")
	} else if u := printed("traces: "); u != "" {
		var body string
		for range 50 { // the spans are exported in batches, every 5 s
			resp, err := http.Get(u + traceID)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if body = string(b); resp.StatusCode == http.StatusOK {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		for _, want := range []string{"nbac_schedule", "ledger"} {
			if !strings.Contains(body, want) {
				t.Errorf("GET %s%s lacks %q:\n%.2000s", u, traceID, want, body)
			}
		}
		if !strings.Contains(stdout, "export OTEL_EXPORTER_OTLP_ENDPOINT="+strings.TrimSuffix(u, "/traces/")) {
			t.Errorf("make up does not export the trace view as the OTLP endpoint:\n%s", stdout)
		}
	}
	if u := printed("metrics: "); u != "" {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), "pipeline_messages_total{") {
			t.Errorf("GET %s lacks pipeline_messages_total:\n%.2000s", u, b)
		}
	}
	if !strings.Contains(logs, `"logging.googleapis.com/trace":"projects/`+cloud.LocalProject+`/traces/`+traceID) {
		t.Errorf("no consumer log line carries the trace %s:\n%.3000s", traceID, logs)
	}
}

// TestReadmeShowsTheExportsAsPrinted compares the export lines of the README's local stack
// section with what `make up` prints with its default flags.
func TestReadmeShowsTheExportsAsPrinted(t *testing.T) {
	t.Parallel()
	var f upFlags
	if err := upFlagSet(&f).Parse(nil); err != nil {
		t.Fatal(err)
	}
	o, err := f.options()
	if err != nil {
		t.Fatal(err)
	}
	// make up's consumers send their spans to the trace view, and the producer is told to.
	o.Traces = (&stackTelemetry{tracesURL: "http://" + net.JoinHostPort(f.host, strconv.Itoa(f.tracesPort))}).tracesVars()
	var printed bytes.Buffer
	printExports(&printed, local.ExportsAt(o, nil))
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(readme), "\n## The local stack\n")
	section, _, _ = strings.Cut(section, "\n## ")
	var inReadme, got []string
	for _, line := range strings.Split(section, "\n") {
		if strings.HasPrefix(line, "export ") {
			inReadme = append(inReadme, line)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(printed.String()), "\n") {
		got = append(got, strings.TrimSpace(line))
	}
	if diff := cmp.Diff(inReadme, got); diff != "" {
		t.Errorf("README (-) and make up (+) disagree:\n%s", diff)
	}

	// With --no-consumers the user runs the consumers, which need the simulator's URLs.
	o.NoConsumers = true
	printed.Reset()
	printExports(&printed, local.ExportsAt(o, [][2]string{{"BDL_BASE_URL", "http://127.0.0.1:8090/bdl"}}))
	if !strings.Contains(printed.String(), "export BDL_BASE_URL=http://127.0.0.1:8090/bdl") {
		t.Errorf("--no-consumers does not print the simulator's URLs:\n%s", printed.String())
	}
}

// TestHelpListsBothCommands asks for help every way a newcomer would: each shows both
// subcommands with their flags on stdout and exits 0.
func TestHelpListsBothCommands(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"up", "--help"}, {"run", "--help"}, {"run", "-h"}, {"up", "--fresh", "--help"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			var out, errb bytes.Buffer
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // if help ever started the stack, it would stop at once and the exit code would say so
			code := run(ctx, args, &out, &errb, envconfig.MapLookuper(nil), nil)
			if code != 0 {
				t.Errorf("exit %d, want 0; stderr %q", code, errb.String())
			}
			for _, want := range []string{"localstack [up] [flags]", "localstack run [flags]", "flags of up", "flags of run",
				"--fresh", "--sim-now time", "--no-consumers", "--start-date date", "--keep", "--again", "--pubsub emulator"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("help lacks %q:\n%s", want, out.String())
				}
			}
			if errb.Len() > 0 {
				t.Errorf("help wrote to stderr: %q", errb.String())
			}
		})
	}
}

// TestBadCommandLines fail before anything starts, with exit 2, the reason and the usage.
func TestBadCommandLines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
		// usage: a malformed command line shows the usage; a flag's bad value (or a bad
		// pair of flags) is named with what to do instead.
		usage bool
	}{
		{[]string{"upp", "--sim-now", "garbage"}, `unknown command "upp" (did you mean up?)`, true},
		{[]string{"fresh"}, `unknown command "fresh"`, true},
		{[]string{"up", "--fresh", "extra"}, `localstack up: unexpected argument "extra": up takes flags only`, true},
		{[]string{"--fresh", "extra"}, `localstack up: unexpected argument "extra"`, true},
		{[]string{"run", "--keep", "now"}, `localstack run: unexpected argument "now": run takes flags only`, true},
		{[]string{"up", "--bogus"}, "localstack up: flag provided but not defined: -bogus", true},
		{[]string{"run", "--timeout", "soon"}, `localstack run: invalid value "soon" for flag -timeout`, true},
		{[]string{"--sim-now", "yesterday"}, "want RFC 3339", false},
		{[]string{"up", "--pubsub", "kafka"}, `--pubsub "kafka": want pstest (built in) or gcloud (Google's official emulator)`, false},
		{[]string{"run", "--pubsub=emulator"}, `localstack run: --pubsub "emulator": want pstest`, false},
		{[]string{"run", "--push", "--pubsub=gcloud"}, "--push with --pubsub=gcloud: the official emulator pushes to the consumers' endpoints itself", false},
		{[]string{"up", "--pubsub=gcloud", "--push"}, "each push is refused with a 401; run --push on pstest", false},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			var out, errb bytes.Buffer
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			code := run(ctx, tt.args, &out, &errb, envconfig.MapLookuper(nil), nil)
			if code != 2 || !strings.Contains(errb.String(), tt.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, errb.String(), tt.want)
			}
			if tt.usage && !strings.Contains(errb.String(), "localstack run [flags]") {
				t.Errorf("stderr lacks the usage:\n%s", errb.String())
			}
			if out.Len() > 0 {
				t.Errorf("something started: stdout %q", out.String())
			}
		})
	}
}

// TestBackfillWeekMatchesGroundTruth is `make run` over a week, pulling and by push:
// every (job, date) finishes, every table equals the simulator's ground truth, BigQuery
// sees at most one job per table and date, and the same backfill again with the scrapers
// forced re-fetches identical bytes, so no later phase runs a BigQuery job or changes a
// row (docs/lessons.md: "redelivery adds nothing", "bookkeeping off the data plane").
func TestBackfillWeekMatchesGroundTruth(t *testing.T) {
	for _, mode := range []struct{ name, flag string }{{"pull", ""}, {"push", "--push"}} {
		t.Run(mode.name, func(t *testing.T) {
			if testing.Short() {
				t.Skip("end-to-end backfill")
			}
			t.Parallel()
			backfillWeek(t, local.PubSubPstest, mode.flag)
		})
	}
}

// TestBackfillWeekMatchesGroundTruthOnGcloud is the same on the official Pub/Sub emulator
// (`make run ARGS=--pubsub=gcloud`), pulling (the stack refuses push there): attempts
// counted per subscription, the retry policy's back-off, and no subscription filters, so
// every subscription of a phase gets every message of it.
func TestBackfillWeekMatchesGroundTruthOnGcloud(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end backfill")
	}
	t.Parallel()
	emulators.NeedGcloudPubSub(t)
	backfillWeek(t, local.PubSubGcloud)
}

// backfillWeek runs make run over a week on a Pub/Sub emulator, then again with the
// scrapers forced, and checks every table against the ground truth and that the second
// run wrote nothing.
func backfillWeek(t *testing.T, backend string, extra ...string) {
	var stdout, stderr testlog.Buffer
	args := []string{"run", "--start-date", "2024-10-22", "--end-date", "2024-10-28", "--again", "--data", t.TempDir(),
		"--timeout", "8m", "--pubsub", backend}
	for _, a := range extra {
		if a != "" {
			args = append(args, a)
		}
	}
	code := run(context.Background(), args, &stdout, &stderr, envconfig.MapLookuper(nil), nil)
	out := stdout.String()
	if code != 0 {
		t.Fatalf("run %v exited %d\nstdout:\n%s\nstderr:\n%s", args, code, out, stderr.String())
	}
	if !strings.Contains(out, "Pub/Sub on "+backend+", ") {
		t.Errorf("the run does not say it used %s:\n%s", backend, out)
	}
	for _, table := range []string{"nba_raw.nbac_schedule", "nba_raw.nbac_player_boxscores", "nba_raw.bdl_player_boxscores",
		"nba_raw.odds_api_player_points_props", "nba_reference.player_registry",
		"nba_analytics.team_offense_game_summary", "nba_analytics.player_game_summary"} {
		if strings.Count(out, table+" ") < 2 || strings.Contains(out, "MISMATCH") {
			t.Errorf("%s not compared (or mismatched) in both runs:\n%s", table, out)
		}
	}
	if !strings.Contains(out, "none: every (job, date) was already done with the same input") {
		t.Errorf("the second backfill ran BigQuery jobs:\n%s", out)
	}
}
