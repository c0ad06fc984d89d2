package messages_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nba-props/pipeline/messages"
)

func TestDefaultCatalog(t *testing.T) {
	c := messages.DefaultCatalog()
	if got := len(c.Jobs()); got != 18 {
		t.Errorf("jobs = %d, want 18", got)
	}
	got := c.Downstream(messages.Ref(messages.PhaseRaw, "nbac_player_boxscores"))
	want := []messages.JobRef{
		messages.Ref(messages.PhaseReference, "player_registry"),
		messages.Ref(messages.PhaseAnalytics, "team_offense_game_summary"),
		messages.Ref(messages.PhaseAnalytics, "team_defense_game_summary"),
		messages.Ref(messages.PhaseAnalytics, "player_game_summary"),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("downstream of raw/nbac_player_boxscores (-want +got):\n%s", diff)
	}
	seen := map[messages.JobRef]bool{}
	for _, s := range c.Jobs() {
		for _, u := range s.Upstreams() {
			if !seen[u] {
				t.Errorf("%s listed before its upstream %s", s.Ref(), u)
			}
		}
		seen[s.Ref()] = true
		if d := s.AckDeadline(); d <= s.Timeout || d > 600e9 {
			t.Errorf("%s: ack deadline %v does not cover timeout %v within 600 s", s.Ref(), d, s.Timeout)
		}
	}
}

func TestNewCatalogRejects(t *testing.T) {
	a := messages.JobSpec{Phase: messages.PhaseRaw, Name: "a", Hard: []messages.JobRef{messages.Ref(messages.PhaseRaw, "b")}}
	b := messages.JobSpec{Phase: messages.PhaseRaw, Name: "b", Hard: []messages.JobRef{messages.Ref(messages.PhaseRaw, "a")}}
	tests := map[string][]messages.JobSpec{
		"cycle":           {a, b},
		"missing":         {a},
		"duplicate":       {{Phase: messages.PhaseRaw, Name: "x"}, {Phase: messages.PhaseRaw, Name: "x"}},
		"bad name":        {{Phase: messages.PhaseRaw, Name: "../x"}},
		"bad phase":       {{Phase: "nope", Name: "x"}},
		"later upstream":  {{Phase: messages.PhaseAnalytics, Name: "x"}, {Phase: messages.PhaseRaw, Name: "y", Hard: []messages.JobRef{messages.Ref(messages.PhaseAnalytics, "x")}}},
		"bad backfill":    {{Phase: messages.PhaseRaw, Name: "x", BackfillFrom: "2023-13-01"}},
		"self dependency": {{Phase: messages.PhaseRaw, Name: "x", Soft: []messages.JobRef{messages.Ref(messages.PhaseRaw, "x")}}},
	}
	for name, specs := range tests {
		if _, err := messages.NewCatalog(specs...); err == nil {
			t.Errorf("%s: NewCatalog succeeded, want an error", name)
		}
	}
}

func valid() messages.Request {
	return messages.Request{Version: 1, Phase: messages.PhaseRaw, Job: "bdl_player_boxscores", Date: "2024-10-22",
		RunID: "r1", Trigger: messages.Trigger{Kind: messages.TriggerProducer}, Lane: messages.LaneBackfill}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	c := messages.DefaultCatalog()
	body, attrs, err := messages.Encode(valid(), c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := messages.Decode(body, attrs, c)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(valid(), got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if attrs["job"] != "bdl_player_boxscores" || attrs["date"] != "2024-10-22" || attrs["phase"] != "raw" || attrs["version"] != "1" {
		t.Errorf("attributes = %v", attrs)
	}
}

func TestDecodeRejects(t *testing.T) {
	c := messages.DefaultCatalog()
	body := func(edit func(m map[string]any)) []byte {
		m := map[string]any{"version": 1, "phase": "raw", "job": "bdl_player_boxscores", "date": "2024-10-22",
			"run_id": "r1", "trigger": map[string]any{"kind": "producer"}, "force": false, "stop_after": "", "lane": "backfill"}
		edit(m)
		var sb strings.Builder
		sb.WriteString("{")
		first := true
		for k, v := range m {
			if !first {
				sb.WriteString(",")
			}
			first = false
			fmt.Fprintf(&sb, "%q:", k)
			switch v := v.(type) {
			case string:
				fmt.Fprintf(&sb, "%q", v)
			case map[string]any:
				fmt.Fprintf(&sb, `{"kind":%q}`, v["kind"])
			default:
				fmt.Fprintf(&sb, "%v", v)
			}
		}
		sb.WriteString("}")
		return []byte(sb.String())
	}
	tests := []struct {
		name  string
		body  []byte
		attrs map[string]string
		want  error
		code  string
	}{
		{"not json", []byte("{oops"), nil, messages.ErrMalformed, "malformed"},
		{"empty", nil, nil, messages.ErrMalformed, "malformed"},
		{"unknown field", body(func(m map[string]any) { m["jobb"] = "x" }), nil, messages.ErrMalformed, "malformed"},
		{"version 2", body(func(m map[string]any) { m["version"] = 2 }), nil, messages.ErrUnknownVersion, "unknown_version"},
		{"unknown phase", body(func(m map[string]any) { m["phase"] = "silver" }), nil, messages.ErrUnknownPhase, "unknown_phase"},
		{"unknown job", body(func(m map[string]any) { m["job"] = "espn_scores" }), nil, messages.ErrUnknownJob, "unknown_job"},
		{"path in job", body(func(m map[string]any) { m["job"] = "../../etc" }), nil, messages.ErrUnknownJob, "unknown_job"},
		{"wrong phase", body(func(m map[string]any) { m["job"] = "bdl_games" }), nil, messages.ErrJobNotInPhase, "job_not_in_phase"},
		{"TODAY", body(func(m map[string]any) { m["date"] = "TODAY" }), nil, messages.ErrBadDate, "invalid_date"},
		{"Feb 30", body(func(m map[string]any) { m["date"] = "2024-02-30" }), nil, messages.ErrBadDate, "invalid_date"},
		{"short date", body(func(m map[string]any) { m["date"] = "2024-2-3" }), nil, messages.ErrBadDate, "invalid_date"},
		{"no run id", body(func(m map[string]any) { m["run_id"] = "" }), nil, messages.ErrMalformed, "malformed"},
		{"bad trigger", body(func(m map[string]any) { m["trigger"] = map[string]any{"kind": "cron"} }), nil, messages.ErrMalformed, "malformed"},
		{"bad stop", body(func(m map[string]any) { m["stop_after"] = "gold" }), nil, messages.ErrUnknownPhase, "unknown_phase"},
		{"attr disagrees", body(func(map[string]any) {}), map[string]string{"job": "bdl_games"}, messages.ErrMalformed, "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := messages.Decode(tt.body, tt.attrs, c)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Decode error = %v, want %v", err, tt.want)
			}
			if got := messages.Reason(err); got != tt.code {
				t.Errorf("Reason = %q, want %q", got, tt.code)
			}
		})
	}
}

func TestCheckDate(t *testing.T) {
	c := messages.DefaultCatalog()
	today := "2024-11-05"
	tests := []struct {
		ref  messages.JobRef
		date string
		ok   bool
	}{
		{messages.Ref(messages.PhaseScrapers, "bdl_injuries"), today, true},
		{messages.Ref(messages.PhaseScrapers, "bdl_injuries"), "2024-11-04", false},
		{messages.Ref(messages.PhaseRaw, "bdl_injuries"), "2024-11-04", false},
		{messages.Ref(messages.PhaseScrapers, "odds_api_player_props"), "2023-05-02", false},
		{messages.Ref(messages.PhaseRaw, "odds_api_player_points_props"), "2023-05-02", false},
		{messages.Ref(messages.PhaseScrapers, "odds_api_player_props"), "2023-05-03", true},
		{messages.Ref(messages.PhaseAnalytics, "player_game_summary"), "2021-01-01", true},
	}
	for _, tt := range tests {
		err := c.CheckDate(tt.ref, tt.date, today)
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, messages.ErrNotBackfillable)) {
			t.Errorf("CheckDate(%s, %s) = %v, want ok=%v", tt.ref, tt.date, err, tt.ok)
		}
	}
}

// TestCheckDateRefusesOutsideTheSourceHistory: a request for a date before a job's
// BackfillFrom (or after its BackfillTo) is refused, for that job and for every job that
// needs it as a hard upstream, with an error that names the first date the source has; the
// first date itself is served. Jobs never repeat these bounds: the catalogue is the one
// place that says them, and the consumer runtime and the producer both ask CheckDate.
func TestCheckDateRefusesOutsideTheSourceHistory(t *testing.T) {
	c := messages.DefaultCatalog()
	const today = "2025-03-01"
	// needs reports whether r depends on u through hard edges.
	var needs func(r, u messages.JobRef) bool
	needs = func(r, u messages.JobRef) bool {
		s, _ := c.Lookup(r)
		for _, h := range s.Hard {
			if h == u || needs(h, u) {
				return true
			}
		}
		return false
	}
	bounded := 0
	for _, s := range c.Jobs() {
		if s.BackfillFrom == "" && s.BackfillTo == "" {
			continue
		}
		bounded++
		var cases []struct{ refused, served, bound string }
		if s.BackfillFrom != "" {
			cases = append(cases, struct{ refused, served, bound string }{shift(t, s.BackfillFrom, -1), s.BackfillFrom, s.BackfillFrom})
		}
		if s.BackfillTo != "" {
			cases = append(cases, struct{ refused, served, bound string }{shift(t, s.BackfillTo, 1), s.BackfillTo, s.BackfillTo})
		}
		for _, tc := range cases {
			for _, r := range c.Jobs() {
				if r.Ref() != s.Ref() && !needs(r.Ref(), s.Ref()) {
					continue
				}
				err := c.CheckDate(r.Ref(), tc.refused, today)
				if !errors.Is(err, messages.ErrNotBackfillable) || messages.Reason(err) != "not_backfillable" || !strings.Contains(err.Error(), tc.bound) {
					t.Errorf("CheckDate(%s, %s) = %v; want not_backfillable naming %s (the bound of %s)", r.Ref(), tc.refused, err, tc.bound, s.Ref())
				}
				if err := c.CheckDate(r.Ref(), tc.served, today); err != nil {
					t.Errorf("CheckDate(%s, %s) = %v; want the bound itself served", r.Ref(), tc.served, err)
				}
			}
		}
	}
	if bounded == 0 {
		t.Fatal("no job of the catalogue has a BackfillFrom or BackfillTo: the test checks nothing")
	}
}

func shift(t *testing.T, date string, days int) string {
	t.Helper()
	d, err := messages.ParseDate(date)
	if err != nil {
		t.Fatal(err)
	}
	return d.AddDate(0, 0, days).Format(messages.DateLayout)
}

func TestReaches(t *testing.T) {
	r := valid()
	r.StopAfter = messages.PhaseRaw
	if !r.Reaches(messages.PhaseRaw) || r.Reaches(messages.PhaseReference) || r.Reaches(messages.PhaseAnalytics) {
		t.Errorf("stop_after raw: reaches raw=%v reference=%v analytics=%v", r.Reaches(messages.PhaseRaw), r.Reaches(messages.PhaseReference), r.Reaches(messages.PhaseAnalytics))
	}
	r.StopAfter = ""
	if !r.Reaches(messages.PhasePrecompute) {
		t.Error("no stop_after must reach every phase")
	}
}

func TestNames(t *testing.T) {
	n := messages.Names{Prefix: "dev-"}
	ref := messages.Ref(messages.PhaseRaw, "nbac_schedule")
	if got := n.Subscription(ref); got != "dev-nba-phase2-raw.nbac_schedule" {
		t.Errorf("Subscription = %q", got)
	}
	if got := n.DeadLetterTopic(); got != "dev-nba-deadletter" {
		t.Errorf("DeadLetterTopic = %q", got)
	}
	if got := messages.Filter(ref, messages.LaneDaily); got != `attributes.job = "nbac_schedule" AND attributes.lane = "daily"` {
		t.Errorf("daily filter = %s", got)
	}
	if got := messages.Filter(ref, messages.LaneBackfill); got != `attributes.job = "nbac_schedule" AND NOT attributes.lane = "daily"` {
		t.Errorf("Filter = %q", got)
	}
}

func ExampleDateRange() {
	dates, err := messages.DateRange("2024-02-27", "2024-03-01")
	fmt.Println(dates, err)
	_, err = messages.DateRange("2024-03-01", "2024-02-27")
	fmt.Println(err)
	// Output:
	// [2024-02-27 2024-02-28 2024-02-29 2024-03-01] <nil>
	// invalid date: end date 2024-02-27 is before start date 2024-03-01
}

// TestGameDateAroundMidnight: the game date of an instant is its US Eastern calendar date,
// from 23:00 to 05:00 Eastern and on both nights the clocks change, whatever zone the
// instant is written in. A late West Coast tip-off is already the next day in UTC.
func TestGameDateAroundMidnight(t *testing.T) {
	for _, tc := range []struct{ at, want string }{
		{"2024-10-23T03:00:00Z", "2024-10-22"},      // 23:00 EDT
		{"2024-10-23T03:59:59Z", "2024-10-22"},      // 23:59:59 EDT
		{"2024-10-23T04:00:00Z", "2024-10-23"},      // 00:00 EDT
		{"2024-10-23T09:00:00Z", "2024-10-23"},      // 05:00 EDT
		{"2024-10-22T22:30:00-07:00", "2024-10-23"}, // 22:30 in Los Angeles is 01:30 EDT
		{"2024-11-03T05:30:00Z", "2024-11-03"},      // 01:30 EDT, the first of two 01:30s
		{"2024-11-03T06:30:00Z", "2024-11-03"},      // 01:30 EST, the second
		{"2024-11-04T04:59:00Z", "2024-11-03"},      // 23:59 EST, the night after DST ends
		{"2024-11-04T05:00:00Z", "2024-11-04"},      // 00:00 EST
		{"2025-03-09T04:59:00Z", "2025-03-08"},      // 23:59 EST, the night DST starts
		{"2025-03-09T07:30:00Z", "2025-03-09"},      // 03:30 EDT, just after the skipped hour
		{"2025-03-10T03:59:00Z", "2025-03-09"},      // 23:59 EDT
		{"2025-03-10T04:00:00Z", "2025-03-10"},      // 00:00 EDT
	} {
		at, err := time.Parse(time.RFC3339, tc.at)
		if err != nil {
			t.Fatal(err)
		}
		if got := messages.GameDate(at); got != tc.want {
			t.Errorf("GameDate(%s) = %s, want %s", tc.at, got, tc.want)
		}
	}
}

func ExampleGameDate() {
	tip, _ := time.Parse(time.RFC3339, "2024-10-23T00:30:00Z")
	fmt.Println(messages.GameDate(tip))
	// Output: 2024-10-22
}
