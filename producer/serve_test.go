package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/infra/emulators"
	"github.com/nba-props/pipeline/messages"
)

// seeded is a week of the whole catalogue in the ledger with one cell of every state.
type seeded struct {
	dates   []string
	special map[string]string // "phase/job date" → the state the page draws
	errs    map[string]string // "phase/job date" → last error
}

const (
	seedFailedError = `bdl GET /v1/stats: HTTP 503 Service Unavailable (source said: "upstream timed out")`
	seedDeadError   = `odds GET /v4/historical/sports/basketball_nba/events: HTTP 401 Unauthorized (INVALID_KEY): the source refused the credentials; check ODDS_API_KEY`
)

// The failed date is written under a trace, so the page links it.
var (
	seedTraceID   = trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	seedTracedKey = "scrapers/bdl_player_boxscores 2024-10-27"
)

// seedLedger writes, for 2024-10-22 to 2024-10-28, a succeeded record per job and date the
// sources serve (rows from the date's games), except a failed, a stalled, a running, a
// waiting, a dead, a partial, a cancelled and a LOW date, and nothing downstream of what
// did not finish.
func seedLedger(t testing.TB, l *ledger.Ledger) seeded {
	t.Helper()
	ctx := context.Background()
	cat := messages.DefaultCatalog()
	s := seeded{special: map[string]string{}, errs: map[string]string{}}
	var err error
	if s.dates, err = messages.DateRange("2024-10-22", "2024-10-28"); err != nil {
		t.Fatal(err)
	}
	games := map[string]int64{"2024-10-22": 2, "2024-10-23": 13, "2024-10-24": 7, "2024-10-25": 12, "2024-10-26": 9, "2024-10-27": 6, "2024-10-28": 11}
	perGame := map[string]int64{"raw/nbac_player_boxscores": 26, "raw/bdl_player_boxscores": 27, "raw/odds_api_player_points_props": 120,
		"reference/player_registry": 26, "analytics/team_offense_game_summary": 2, "analytics/player_game_summary": 26}
	special := map[string]string{
		"scrapers/bdl_player_boxscores 2024-10-27":       "failed",
		"scrapers/nbac_player_boxscores 2024-10-28":      "stalled",
		"raw/bdl_player_boxscores 2024-10-27":            "waiting",
		"scrapers/odds_api_player_props 2024-10-26":      "dead",
		"scrapers/nbac_player_boxscores 2024-10-26":      "partial",
		"analytics/player_game_summary 2024-10-28":       "cancelled",
		"analytics/team_offense_game_summary 2024-10-28": "running",
	}
	// Not run: what depends on a pair that did not finish.
	blocked := map[string]bool{
		"raw/nbac_player_boxscores 2024-10-28": true, "raw/odds_api_player_points_props 2024-10-26": true,
		"reference/player_registry 2024-10-28":     true,
		"analytics/player_game_summary 2024-10-27": true,
	}
	now := time.Now()
	i := 0
	for _, d := range s.dates {
		for _, spec := range cat.Jobs() {
			ref := spec.Ref()
			key := ref.String() + " " + d
			if blocked[key] || cat.CheckDate(ref, d, "2024-10-29") != nil {
				s.special[key] = "none"
				continue
			}
			i++
			at := now.Add(-time.Duration(400-i*3) * time.Second) // finished over the last few minutes
			base := ledger.Record{Phase: spec.Phase, Job: spec.Name, Date: d}
			run := base.Start("seed-consumer", "run-seed", time.Minute, at.Add(-2*time.Second))
			out := ledger.Output{Rows: map[string]int64{d: games[d] * perGame[ref.String()]}}
			switch {
			case spec.Phase == messages.PhaseScrapers:
				out = ledger.Output{Objects: []ledger.Object{{Name: "raw/" + spec.Name + "/" + d + ".json", Generation: 1}}}
			case ref.String() == "raw/nbac_schedule":
				out.Rows[d] = games[d]
			case key == "raw/nbac_player_boxscores 2024-10-25":
				out.Rows[d] = 40 // LOW: 12 games call for about 312
				special[key] = "low"
			}
			var rec ledger.Record
			switch special[key] {
			case "failed":
				rec = run.Fail(errors.New(seedFailedError), at)
				s.errs[key] = seedFailedError
			case "stalled":
				rec = base.Start("gone-consumer", "run-seed", time.Minute, at.Add(-4*time.Minute))
			case "running":
				rec = base.Start("live-consumer", "run-seed", time.Hour, at)
			case "waiting":
				rec = base.Wait([]string{"scrapers/bdl_player_boxscores"}, nil, at)
				rec.RunID = "run-seed"
			case "dead":
				rec = run.Die("job_error", errors.New(seedDeadError), at)
				s.errs[key] = seedDeadError
			case "partial":
				out.Missing = []string{"0022400071", "0022400072"}
				rec = run.Succeed(out, "fp-"+key, false, at)
			case "cancelled":
				rec = base.Cancel("run-seed", at)
			default:
				rec = run.Succeed(out, "fp-"+key, false, at)
			}
			wctx := ctx
			if key == seedTracedKey {
				// Written under a recorded trace, as the runtime writes when traces are on.
				wctx = trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
					TraceID: seedTraceID, SpanID: trace.SpanID{1}, TraceFlags: trace.FlagsSampled}))
			}
			if _, err := l.Write(wctx, rec, 0); err != nil {
				t.Fatalf("seed %s: %v", key, err)
			}
			st := special[key]
			if st == "" || st == "low" {
				st = "succeeded"
			}
			s.special[key] = st
		}
	}
	return s
}

// statusTestServer seeds a stack's ledger and serves the status page for it.
func statusTestServer(t testing.TB, traceURL string) (*httptest.Server, *emulators.Env, seeded) {
	t.Helper()
	env := emulators.StartTest(t)
	l := ledger.New(env.Storage, env.Bucket, ledger.Options{})
	s := seedLedger(t, l)
	st, err := newStatusServer(context.Background(), statusView{ledger: l, catalog: messages.DefaultCatalog(),
		specs: messages.DefaultCatalog().Jobs(), dates: s.dates, project: env.Project, traceURL: traceURL,
		today: func() string { return "2024-10-29" }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.close)
	srv := httptest.NewServer(st)
	t.Cleanup(srv.Close)
	return srv, env, s
}

func get(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestStatusPageJSONRecordAndMetrics(t *testing.T) {
	t.Parallel()
	srv, _, s := statusTestServer(t, "")
	code, body := get(t, srv.URL+"/api/grid")
	if code != http.StatusOK {
		t.Fatalf("GET /api/grid: %d %s", code, body)
	}
	var p gridPage
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Cells) != len(p.Dates)*len(p.Jobs) {
		t.Fatalf("%d cells for %d dates × %d jobs", len(p.Cells), len(p.Dates), len(p.Jobs))
	}
	for _, c := range p.Cells {
		key := c.Phase + "/" + c.Job + " " + c.Date
		if want := s.special[key]; c.Class != want {
			t.Errorf("%s drawn %q, want %q", key, c.Class, want)
		}
		if want := s.errs[key]; c.LastError != want {
			t.Errorf("%s last error %q, want %q", key, c.LastError, want)
		}
	}
	low := p.Cells[3*len(p.Jobs)+index(p.Jobs, "raw/nbac_player_boxscores")]
	if !low.RowsLow || low.ExpectedRows != 312 {
		t.Errorf("raw/nbac_player_boxscores 2024-10-25: low %v, expected rows %d; want LOW with 312 (12 games × 26)", low.RowsLow, low.ExpectedRows)
	}
	// 7 scrapers, 6 raw, 2 reference and 3 analytics jobs, of which 16 serve past dates
	// (bdl_injuries has no history), over 7 dates.
	if g := p.Progress; g.Total != 112 || g.Finished != 112-8 {
		t.Errorf("progress %d/%d, want 104/112 (failed, stalled, running, waiting and 4 not run yet)", g.Finished, g.Total)
	}
	if p.Progress.PerSecond <= 0 || p.Progress.ETA <= 0 {
		t.Errorf("throughput %.3f/s, ETA %s; want both from the records finished in the last minutes", p.Progress.PerSecond, p.Progress.ETA)
	}

	code, body = get(t, srv.URL+"/api/record?job=scrapers/odds_api_player_props&date=2024-10-26")
	var rec ledger.Record
	if err := json.Unmarshal([]byte(body), &rec); code != http.StatusOK || err != nil || rec.State != ledger.StateDead || rec.LastError != seedDeadError {
		t.Errorf("GET /api/record of the dead date: %d %s", code, body)
	}
	for _, tc := range []struct {
		query string
		code  int
		want  string
	}{
		{"job=analytics/player_game_summary&date=2024-10-27", http.StatusNotFound, "has no ledger record: it never ran"},
		{"job=bogus&date=2024-10-27", http.StatusBadRequest, `job="bogus"`},
		{"job=raw/nbac_schedule&date=2024-02-30", http.StatusBadRequest, `date="2024-02-30"`},
	} {
		if code, body := get(t, srv.URL+"/api/record?"+tc.query); code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("GET /api/record?%s: %d %q, want %d with %q", tc.query, code, body, tc.code, tc.want)
		}
	}

	code, body = get(t, srv.URL+"/metrics")
	for _, want := range []string{
		`pipeline_ledger_records{otel_scope_name="github.com/nba-props/pipeline",otel_scope_schema_url="",otel_scope_version="",pipeline_job="odds_api_player_props",pipeline_phase="scrapers",pipeline_state="dead"} 1`,
		`pipeline_backfill_pairs{kind="finished",otel_scope_name="github.com/nba-props/pipeline",otel_scope_schema_url="",otel_scope_version=""} 104`,
	} {
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("/metrics (%d) lacks %s:\n%s", code, want, body)
		}
	}
	if code, body := get(t, srv.URL+"/"); code != http.StatusOK || !strings.Contains(body, `<table id="grid">`) {
		t.Errorf("GET /: %d %s", code, body)
	}
}

func index(jobs []gridJob, ref string) int {
	for i, j := range jobs {
		if j.Ref == ref {
			return i
		}
	}
	panic(fmt.Sprintf("no job %s", ref))
}
