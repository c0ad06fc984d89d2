package sourcesim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const statsPath = "/bdl/v1/stats?dates[]=2024-11-05&per_page=100"

func TestFaultKinds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		fault  Fault
		path   string
		status int
		check  func(t *testing.T, g got)
	}{
		{"rate limit with Retry-After", Fault{Source: SourceBDL, Kind: FaultRateLimit, RetryAfter: 7}, statsPath, 429,
			func(t *testing.T, g got) {
				if g.header.Get("Retry-After") != "7" {
					t.Errorf("Retry-After %q, want 7", g.header.Get("Retry-After"))
				}
			}},
		{"server error default 503", Fault{Source: SourceNBAStats, Kind: FaultServerError}, leagueLogPath("11/05/2024"), 503, nil},
		{"server error 502", Fault{Kind: FaultServerError, Status: 502}, "/nbacdn/static/json/staticData/scheduleLeagueV2.json", 502, nil},
		{"truncated JSON", Fault{Dataset: DatasetBDLStats, Kind: FaultTruncated}, statsPath, 200,
			func(t *testing.T, g got) {
				if json.Valid(g.body) || len(g.body) < 100 {
					t.Errorf("body of %d bytes is valid JSON or too short", len(g.body))
				}
			}},
		{"empty BDL stats on a date with games", Fault{Source: SourceBDL, Dataset: DatasetBDLStats, Date: "2024-11-05", Kind: FaultEmpty}, statsPath, 200,
			func(t *testing.T, g got) {
				if string(g.body) != `{"data":[],"meta":{"per_page":100}}` {
					t.Errorf("body %s", g.body)
				}
			}},
		{"empty leaguegamelog", Fault{Source: SourceNBAStats, Kind: FaultEmpty}, leagueLogPath("11/05/2024"), 200,
			func(t *testing.T, g got) {
				if !bytes.Contains(g.body, []byte(`"rowSet":[]`)) {
					t.Errorf("body %.300s", g.body)
				}
			}},
		{"empty schedule", Fault{Source: SourceNBACDN, Kind: FaultEmpty}, "/nbacdn/static/json/staticData/scheduleLeagueV2.json?season=2024", 200,
			func(t *testing.T, g got) {
				if !bytes.Contains(g.body, []byte(`"gameDates":[]`)) {
					t.Errorf("body %.300s", g.body)
				}
			}},
		{"empty odds events", Fault{Source: SourceOdds, Dataset: DatasetOddsEvents, Kind: FaultEmpty}, "/odds/v4/historical/sports/basketball_nba/events?date=2024-11-05T16:00:00Z", 200,
			func(t *testing.T, g got) {
				if !bytes.Contains(g.body, []byte(`"data":[]`)) || g.header.Get("x-requests-last") != "0" {
					t.Errorf("body %.300s, x-requests-last %q", g.body, g.header.Get("x-requests-last"))
				}
			}},
		{"credits exhausted", Fault{Source: SourceOdds, Kind: FaultCreditsExhausted}, "/odds/v4/historical/sports/basketball_nba/events?date=2024-11-05T16:00:00Z", 401,
			func(t *testing.T, g got) {
				if !bytes.Contains(g.body, []byte("OUT_OF_USAGE_CREDITS")) || g.header.Get("x-requests-remaining") != "0" {
					t.Errorf("body %s, x-requests-remaining %q", g.body, g.header.Get("x-requests-remaining"))
				}
			}},
		{"fault on another date does not match", Fault{Source: SourceBDL, Date: "2024-11-06", Kind: FaultServerError}, statsPath, 200, nil},
		{"fault on another dataset does not match", Fault{Source: SourceBDL, Dataset: DatasetBDLGames, Kind: FaultServerError}, statsPath, 200, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, srv := newTestSim(t, Config{Seed: 9, Faults: []Fault{tc.fault}})
			g := fetch(t, srv, tc.path)
			if g.status != tc.status {
				t.Fatalf("status %d, want %d: %.200s", g.status, tc.status, g.body)
			}
			if tc.check != nil {
				tc.check(t, g)
			}
			recs := s.Requests()
			if len(recs) != 1 || recs[0].Status != tc.status {
				t.Errorf("request log %+v", recs)
			}
			// Without faults the same request succeeds.
			if err := s.SetFaults(nil); err != nil {
				t.Fatal(err)
			}
			if g := fetch(t, srv, tc.path); g.status != 200 || !json.Valid(g.body) {
				t.Errorf("after clearing faults: %d %.200s", g.status, g.body)
			}
		})
	}
}

func leagueLogPath(date string) string {
	return "/nbastats/stats/leaguegamelog?PlayerOrTeam=P&DateFrom=" + date + "&DateTo=" + date + "&Season=2024-25&SeasonType=Regular+Season"
}

func TestFaultFirstN(t *testing.T) {
	t.Parallel()
	s, srv := newTestSim(t, Config{Seed: 9, Faults: []Fault{{Source: SourceBDL, Kind: FaultRateLimit, First: 2}}})
	var statuses []int
	for range 4 {
		statuses = append(statuses, fetch(t, srv, statsPath).status)
	}
	if diff := cmp.Diff([]int{429, 429, 200, 200}, statuses); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]FaultStatus{{Fault: Fault{Source: SourceBDL, Kind: FaultRateLimit, First: 2}, Matched: 4, Hit: 2}}, s.Faults()); diff != "" {
		t.Errorf("fault counters (-want +got):\n%s", diff)
	}
}

func TestFaultShareIsSeeded(t *testing.T) {
	t.Parallel()
	run := func(seed int64) []int {
		_, srv := newTestSim(t, Config{Seed: seed, Faults: []Fault{{Source: SourceNBAStats, Kind: FaultServerError, Share: 0.5}}})
		var out []int
		for range 40 {
			out = append(out, fetch(t, srv, leagueLogPath("11/05/2024")).status)
		}
		return out
	}
	a, b := run(1), run(1)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("same seed, different fault pattern:\n%s", diff)
	}
	hits := 0
	for _, st := range a {
		if st == 503 {
			hits++
		}
	}
	if hits < 8 || hits > 32 {
		t.Errorf("share 0.5 hit %d of 40 requests", hits)
	}
}

// TestFaultSeedVariesTheShareNotTheLeague: a fault's own seed picks other requests for its
// share while the league (the simulator seed) and its answers stay the same.
func TestFaultSeedVariesTheShareNotTheLeague(t *testing.T) {
	t.Parallel()
	run := func(faultSeed int64) (statuses []int, body string) {
		_, srv := newTestSim(t, Config{Seed: 1, Faults: []Fault{{Source: SourceNBAStats, Kind: FaultServerError, Share: 0.5, Seed: faultSeed}}})
		for range 40 {
			r := fetch(t, srv, leagueLogPath("11/05/2024"))
			statuses = append(statuses, r.status)
			if r.status == 200 && body == "" {
				body = string(r.body)
			}
		}
		return statuses, body
	}
	league, leagueBody := run(0)
	seven, sevenBody := run(7)
	again, _ := run(7)
	if diff := cmp.Diff(seven, again); diff != "" {
		t.Errorf("same fault seed, different fault pattern:\n%s", diff)
	}
	if cmp.Equal(league, seven) {
		t.Errorf("fault seed 7 hit the same requests as the simulator seed: %v", seven)
	}
	if leagueBody == "" || leagueBody != sevenBody {
		t.Error("the fault seed changed what the source answers")
	}
}

func TestFaultLatencyHonoursContext(t *testing.T) {
	t.Parallel()
	_, srv := newTestSim(t, Config{Seed: 9, Faults: []Fault{{Source: SourceBDL, Kind: FaultLatency, LatencyMS: 60_000}}})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+statsPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = srv.Client().Do(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want the client's deadline to expire while the simulator waits", err)
	}
}

func TestFaultsOverHTTP(t *testing.T) {
	t.Parallel()
	_, srv := newTestSim(t, Config{Seed: 9})
	post := func(body string) *http.Response {
		resp, err := srv.Client().Post(srv.URL+"/_sim/faults", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := post(`[{"kind":"explode"}]`); resp.StatusCode != 400 {
		t.Errorf("bad fault kind: status %d, want 400", resp.StatusCode)
	}
	if resp := post(`[{"source":"bdl","dataset":"stats","kind":"server_error","status":500,"first":1}]`); resp.StatusCode != 200 {
		t.Fatalf("POST faults: %d", resp.StatusCode)
	}
	if g := fetch(t, srv, statsPath); g.status != 500 {
		t.Errorf("first request after POST: %d, want 500", g.status)
	}
	if g := fetch(t, srv, statsPath); g.status != 200 {
		t.Errorf("second request: %d, want 200", g.status)
	}
	fs := decode[[]FaultStatus](t, fetch(t, srv, "/_sim/faults"))
	if len(fs) != 1 || fs[0].Hit != 1 || fs[0].Matched != 2 {
		t.Errorf("GET /_sim/faults = %+v", fs)
	}
	req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/_sim/faults", nil)
	if resp, err := srv.Client().Do(req); err != nil || resp.StatusCode != 204 {
		t.Fatalf("DELETE: %v", err)
	}
	if fs := decode[[]FaultStatus](t, fetch(t, srv, "/_sim/faults")); len(fs) != 0 {
		t.Errorf("after DELETE: %+v", fs)
	}
	recs := decode[[]RequestRecord](t, fetch(t, srv, "/_sim/requests"))
	if len(recs) != 2 || recs[0].Fault != FaultServerError || recs[1].Fault != "" || recs[0].Dataset != DatasetBDLStats {
		t.Errorf("GET /_sim/requests = %+v", recs)
	}
}

// TestFaultsRefuseUnknownFields: a field the simulator does not have is a 400 that names
// it, not a fault silently installed without its limit.
func TestFaultsRefuseUnknownFields(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body, want string
	}{
		{"count for first", `[{"source":"bdl","dataset":"stats","date":"2024-10-24","kind":"server_error","count":3}]`,
			`fault 0: unknown field "count": a fault has source, dataset, date, kind, status, retry_after, latency_ms, first, share, game_id, seed`},
		{"two unknown, second fault", `[{"kind":"empty"},{"kind":"latency","delay":5,"Latency":1}]`, `fault 1: unknown field "Latency", "delay"`},
		{"wrong type", `[{"kind":"server_error","first":"3"}]`, `fault 0: json: cannot unmarshal string`},
		{"not an array", `{"kind":"empty"}`, "body must be a JSON array of faults"},
		{"not an object", `[3]`, "fault 0: want a JSON object"},
		{"trailing data", `[{"kind":"empty"}] [{"kind":"empty"}]`, "nothing after it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, srv := newTestSim(t, Config{Seed: 9})
			resp, err := srv.Client().Post(srv.URL+"/_sim/faults", "application/json", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			msg, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 400 || !strings.Contains(string(msg), tt.want) {
				t.Errorf("status %d, body %q; want 400 saying %q", resp.StatusCode, msg, tt.want)
			}
			if fs := decode[[]FaultStatus](t, fetch(t, srv, "/_sim/faults")); len(fs) != 0 {
				t.Errorf("a refused body installed faults: %+v", fs)
			}
		})
	}
}

// TestReadmeFaultExampleWorks posts the README's fault example exactly as written: it is
// accepted, fails the first three matching requests and then stops.
func TestReadmeFaultExampleWorks(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "curl -X POST localhost:8090/_sim/faults -d '")
	if !ok {
		t.Fatal("README has no curl example for /_sim/faults")
	}
	body, _, _ := strings.Cut(rest, "'")
	_, srv := newTestSim(t, Config{Seed: 9})
	resp, err := srv.Client().Post(srv.URL+"/_sim/faults", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("README example %s: status %d: %s", body, resp.StatusCode, msg)
	}
	var statuses []int
	for range 5 {
		statuses = append(statuses, fetch(t, srv, "/bdl/v1/stats?dates[]=2024-10-24&per_page=100").status)
	}
	if diff := cmp.Diff([]int{503, 503, 503, 200, 200}, statuses); diff != "" {
		t.Errorf("statuses after the README's fault (-want +got):\n%s", diff)
	}
	if g := fetch(t, srv, statsPath); g.status != 200 {
		t.Errorf("another date got %d, want 200: the fault is for 2024-10-24 only", g.status)
	}
}

func TestFaultDropGame(t *testing.T) {
	t.Parallel()
	s, srv := newTestSim(t, Config{Seed: 9})
	tr, err := s.Truth("2024-11-05")
	if err != nil {
		t.Fatal(err)
	}
	last := tr.Games[len(tr.Games)-1]
	named := tr.Games[0]
	if err := s.SetFaults([]Fault{
		{Source: SourceBDL, Date: "2024-11-05", Kind: FaultDropGame},
		{Source: SourceNBAStats, Kind: FaultDropGame, GameID: named.GameID},
		{Source: SourceOdds, Dataset: DatasetOddsEventOdds, Kind: FaultDropGame, GameID: named.GameID},
	}); err != nil {
		t.Fatal(err)
	}
	rowsOf := func(gameID string) (n int) {
		for _, g := range tr.Games {
			if g.GameID == gameID {
				return g.BDLStatRows
			}
		}
		return 0
	}
	total := 0
	for _, g := range tr.Games {
		total += g.BDLStatRows
	}
	bdl := bdlAllStats(t, srv, "2024-11-05", 100)
	if len(bdl.Data) != total-rowsOf(last.GameID) {
		t.Errorf("BDL served %d rows, want %d without %s", len(bdl.Data), total-rowsOf(last.GameID), last.GameID)
	}
	for _, r := range bdl.Data {
		if r.Game.ID == last.BDLGameID {
			t.Errorf("BDL served a row of the dropped game %s", last.GameID)
		}
	}
	lg := decode[leagueLogDoc](t, fetch(t, srv, leagueLogPath("11/05/2024")))
	for _, row := range lg.ResultSets[0].RowSet {
		if lg.col(row, "GAME_ID") == named.NBAGameID {
			t.Fatalf("leaguegamelog served the dropped game %s", named.GameID)
		}
	}
	if len(lg.ResultSets[0].RowSet) == 0 {
		t.Error("leaguegamelog dropped everything")
	}
	r := fetch(t, srv, "/odds/v4/historical/sports/basketball_nba/events/"+named.OddsEventID+"/odds?markets=player_points&regions=us&date="+named.StartUTC.Add(-time.Hour).Format(time.RFC3339))
	if r.status != 404 {
		t.Errorf("event odds of the dropped game: %d, want 404", r.status)
	}
	if err := (Fault{Kind: FaultEmpty, GameID: named.GameID}).Validate(); err == nil {
		t.Error("game_id accepted on an empty fault")
	}
}

func TestRateLimitPerMinute(t *testing.T) {
	t.Parallel()
	_, srv := newTestSim(t, Config{Seed: 9, RateLimits: map[string]int{SourceBDL: 3}})
	var statuses []int
	var retry string
	for range 5 {
		g := fetch(t, srv, statsPath)
		statuses = append(statuses, g.status)
		if g.status == 429 {
			retry = g.header.Get("Retry-After")
		}
	}
	if diff := cmp.Diff([]int{200, 200, 200, 429, 429}, statuses); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if n, err := strconv.Atoi(retry); err != nil || n < 1 || n > 60 {
		t.Errorf("Retry-After %q, want 1..60 seconds", retry)
	}
	if g := fetch(t, srv, leagueLogPath("11/05/2024")); g.status != 200 {
		t.Errorf("another source limited too: %d", g.status)
	}
}
