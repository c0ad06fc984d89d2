package sourcesim

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestKeysRequired(t *testing.T) {
	t.Parallel()
	_, srv := newTestSim(t, Config{Seed: 2, Keys: Keys{BDLKey: testBDLKey, OddsKey: "odds-key"}})
	events := "/odds/v4/historical/sports/basketball_nba/events?date=2024-11-05T16:00:00Z"
	tests := []struct {
		name   string
		path   string
		header []string
		want   int
	}{
		{"bdl without key", statsPath, nil, 401},
		{"bdl wrong key", statsPath, []string{"Authorization", "nope"}, 401},
		{"bdl right key", statsPath, []string{"Authorization", testBDLKey}, 200},
		{"bdl injuries without key", "/bdl/v1/player_injuries", nil, 401},
		{"odds without key", events, nil, 401},
		{"odds wrong key", events + "&apiKey=nope", nil, 401},
		{"odds right key", events + "&apiKey=odds-key", nil, 200},
		{"nba.com needs no key", leagueLogPath("11/05/2024"), nil, 200},
	}
	for _, tc := range tests {
		if g := fetch(t, srv, tc.path, tc.header...); g.status != tc.want {
			t.Errorf("%s: status %d, want %d: %.200s", tc.name, g.status, tc.want, g.body)
		}
	}
}

func TestRequestLogRedactsKey(t *testing.T) {
	t.Parallel()
	s, srv := newTestSim(t, Config{Seed: 2, Keys: Keys{OddsKey: "secret-odds-key"}})
	fetch(t, srv, "/odds/v4/historical/sports/basketball_nba/events?date=2024-11-05T16:00:00Z&apiKey=secret-odds-key")
	recs := s.Requests()
	if len(recs) != 1 || recs[0].Query != "apiKey=REDACTED&date=2024-11-05T16%3A00%3A00Z" || recs[0].Cost != 1 {
		t.Errorf("request log %+v", recs)
	}
	s.ResetRequests()
	if n := len(s.Requests()); n != 0 {
		t.Errorf("%d records after reset", n)
	}
}

func TestOddsCreditsDecreaseAndRunOut(t *testing.T) {
	t.Parallel()
	s, srv := newTestSim(t, Config{Seed: 2, OddsCredits: 25})
	games, err := s.GamesOn("2024-11-05")
	if err != nil {
		t.Fatal(err)
	}
	snap := games[0].Start.Add(-15 * time.Minute).Format(time.RFC3339)
	events := fetch(t, srv, "/odds/v4/historical/sports/basketball_nba/events?date="+snap)
	odds := func() got {
		return fetch(t, srv, "/odds/v4/historical/sports/basketball_nba/events/"+games[0].OddsEventID+"/odds?markets=player_points&regions=us&date="+snap)
	}
	first, second, third := odds(), odds(), odds()
	type credits struct{ Status, Remaining, Used, Last int }
	read := func(g got) credits {
		n := func(h string) int { v, _ := strconv.Atoi(g.header.Get(h)); return v }
		return credits{g.status, n("x-requests-remaining"), n("x-requests-used"), n("x-requests-last")}
	}
	gotCredits := []credits{read(events), read(first), read(second), read(third)}
	want := []credits{{200, 24, 1, 1}, {200, 14, 11, 10}, {200, 4, 21, 10}, {401, 4, 21, 0}}
	if diff := cmp.Diff(want, gotCredits); diff != "" {
		t.Errorf("credits (-want +got):\n%s\n%s", diff, third.body)
	}
	if rem, used := s.OddsCredits(); rem != 4 || used != 21 {
		t.Errorf("OddsCredits() = %d, %d", rem, used)
	}
}

func TestOddsEventNotListed(t *testing.T) {
	t.Parallel()
	s, srv := newTestSim(t, Config{Seed: 2})
	games, err := s.GamesOn("2024-11-05")
	if err != nil {
		t.Fatal(err)
	}
	g := games[0]
	path := func(at time.Time) string {
		return "/odds/v4/historical/sports/basketball_nba/events/" + g.OddsEventID + "/odds?markets=player_points&regions=us&date=" + at.UTC().Format(time.RFC3339)
	}
	for _, tc := range []struct {
		at   time.Time
		want int
	}{
		{g.Start.Add(-10 * 24 * time.Hour), 404},
		{g.Start.Add(-time.Hour), 200},
		{g.Start.Add(5 * time.Hour), 404},
	} {
		if r := fetch(t, srv, path(tc.at)); r.status != tc.want {
			t.Errorf("at %s: %d, want %d: %.200s", tc.at, r.status, tc.want, r.body)
		}
	}
	if r := fetch(t, srv, "/odds/v4/historical/sports/basketball_nba/events/ffffffffffffffffffffffffffffffff/odds?markets=player_points&regions=us&date=2024-11-05T16:00:00Z"); r.status != 404 {
		t.Errorf("unknown event: %d", r.status)
	}
}

func TestOddsSnapshotsOnFiveMinuteBoundaries(t *testing.T) {
	t.Parallel()
	_, srv := newTestSim(t, Config{Seed: 2})
	doc := decode[eventsDoc](t, fetch(t, srv, "/odds/v4/historical/sports/basketball_nba/events?date=2024-11-05T16:07:31Z"))
	if doc.Timestamp != "2024-11-05T16:05:00Z" {
		t.Errorf("timestamp %s, want 2024-11-05T16:05:00Z", doc.Timestamp)
	}
}

func TestOddsPropsStartDate(t *testing.T) {
	t.Parallel()
	s, srv := newTestSim(t, Config{Seed: 2})
	for _, date := range []string{"2023-03-01", "2023-11-01"} {
		games, err := s.GamesOn(date)
		if err != nil || len(games) == 0 {
			t.Fatalf("GamesOn(%s): %d, %v", date, len(games), err)
		}
		g := games[0]
		r := fetch(t, srv, "/odds/v4/historical/sports/basketball_nba/events/"+g.OddsEventID+"/odds?markets=player_points&regions=us&date="+g.Start.Add(-time.Hour).UTC().Format(time.RFC3339))
		doc := decode[eventOddsDoc](t, r)
		if has := len(doc.Data.Bookmakers) > 0; has != (date >= PropsStart) {
			t.Errorf("%s: %d bookmakers", date, len(doc.Data.Bookmakers))
		}
	}
}

func TestScheduleETag(t *testing.T) {
	t.Parallel()
	now := time.Date(2024, 11, 5, 20, 0, 0, 0, time.UTC)
	s, srv := newTestSim(t, Config{Seed: 2, Now: func() time.Time { return now }})
	path := "/nbacdn/static/json/staticData/scheduleLeagueV2.json"
	first := fetch(t, srv, path)
	etag := first.header.Get("ETag")
	if first.status != 200 || etag == "" {
		t.Fatalf("status %d, ETag %q", first.status, etag)
	}
	if again := fetch(t, srv, path, "If-None-Match", etag); again.status != http.StatusNotModified || len(again.body) != 0 {
		t.Errorf("If-None-Match: %d with %d bytes, want 304 and no body", again.status, len(again.body))
	}
	if other := fetch(t, srv, path, "If-None-Match", `"stale"`); other.status != 200 {
		t.Errorf("stale If-None-Match: %d", other.status)
	}
	// Later that night games finish: the document and its ETag change.
	now = time.Date(2024, 11, 6, 9, 0, 0, 0, time.UTC)
	later := fetch(t, srv, path, "If-None-Match", etag)
	if later.status != 200 || later.header.Get("ETag") == etag {
		t.Errorf("after games ended: %d, ETag %s (was %s)", later.status, later.header.Get("ETag"), etag)
	}
	// Other seasons by query or path, both the same document.
	q := fetch(t, srv, path+"?season=2022-23")
	p := fetch(t, srv, "/nbacdn/static/json/staticData/scheduleLeagueV2_2022.json")
	if q.status != 200 || string(q.body) != string(p.body) || decode[cdnDoc](t, q).LeagueSchedule.SeasonYear != "2022-23" {
		t.Errorf("season 2022 by query (%d) and path (%d) differ or are wrong", q.status, p.status)
	}
	_ = s
}

func TestBDLCursorPaging(t *testing.T) {
	t.Parallel()
	_, srv := newTestSim(t, Config{Seed: 2})
	all := bdlAllStats(t, srv, "2025-01-15", 100)
	for _, perPage := range []int{1, 7, 25, 99} {
		paged := bdlAllStats(t, srv, "2025-01-15", perPage)
		var a, b []int
		for _, r := range all.Data {
			a = append(a, r.ID)
		}
		seen := map[int]bool{}
		for _, r := range paged.Data {
			if seen[r.ID] {
				t.Errorf("per_page %d: row %d twice", perPage, r.ID)
			}
			seen[r.ID] = true
			b = append(b, r.ID)
		}
		if diff := cmp.Diff(a, b); diff != "" {
			t.Errorf("per_page %d rows differ from per_page 100 (-want +got):\n%s", perPage, diff)
		}
	}
	if len(all.Data) < 100 {
		t.Errorf("only %d rows: paging not exercised", len(all.Data))
	}
	if r := fetch(t, srv, "/bdl/v1/stats?dates[]=2025-01-15&per_page=500"); decode[bdlStatsDoc](t, r).Meta.PerPage != 100 {
		t.Errorf("per_page above 100 not capped: %.100s", r.body)
	}
}

func TestGamesNotFinalHaveNoStats(t *testing.T) {
	t.Parallel()
	s, srv := newTestSim(t, Config{Seed: 2, Now: func() time.Time { return time.Date(2024, 11, 5, 12, 0, 0, 0, time.UTC) }})
	if doc := bdlAllStats(t, srv, "2024-11-05", 100); len(doc.Data) != 0 {
		t.Errorf("%d stats rows before the games", len(doc.Data))
	}
	tr, err := s.Truth("2024-11-05")
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range tr.Games {
		if g.Status != 1 {
			t.Errorf("%s status %d, want 1", g.GameID, g.Status)
		}
	}
	if len(tr.Players) != 0 {
		t.Errorf("%d truth rows before the games", len(tr.Players))
	}
	games := decode[struct {
		Data []struct{ Status string } `json:"data"`
	}](t, fetch(t, srv, "/bdl/v1/games?dates[]=2024-11-05"))
	for _, g := range games.Data {
		if _, err := time.Parse(time.RFC3339, g.Status); err != nil {
			t.Errorf("scheduled game status %q, want its tip-off instant", g.Status)
		}
	}
}

func TestInjuryReportFollowsNow(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 1, 10, 17, 0, 0, 0, time.UTC)
	s, srv := newTestSim(t, Config{Seed: 2, Now: func() time.Time { return now }})
	type injDoc struct {
		Data []struct {
			Player struct{ ID int } `json:"player"`
			Status string           `json:"status"`
		} `json:"data"`
		Meta struct {
			NextCursor *int `json:"next_cursor"`
		} `json:"meta"`
	}
	var ids []int
	cursor := ""
	for {
		doc := decode[injDoc](t, fetch(t, srv, "/bdl/v1/player_injuries?per_page=10"+cursor))
		for _, d := range doc.Data {
			ids = append(ids, d.Player.ID)
		}
		if doc.Meta.NextCursor == nil {
			break
		}
		cursor = fmt.Sprintf("&cursor=%d", *doc.Meta.NextCursor)
	}
	var want []int
	for _, in := range s.InjuryReport() {
		want = append(want, in.BDLPlayerID)
		if in.ReportDate != "2025-01-10" {
			t.Errorf("report date %s", in.ReportDate)
		}
	}
	if len(want) == 0 || !cmp.Equal(want, ids) {
		t.Errorf("served %v, report %v", ids, want)
	}
	// An injured player does not play on the report's date.
	out := map[int]bool{}
	for _, in := range s.InjuryReport() {
		out[in.BDLPlayerID] = in.Status == "Out"
	}
	now = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	tr, err := s.Truth("2025-01-10")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range tr.Players {
		if out[p.BDLPlayerID] {
			t.Errorf("%s is out on the report but played", p.FullName)
		}
	}
}
