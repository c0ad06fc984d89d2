package bqemu

import (
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestPackedJobsReadAsBefore checks that a finished job keeps its query parameters apart
// (compressed), that a job finished for packAge is packed, and that jobs.get, jobs.list and
// jobs.getQueryResults answer a packed job byte for byte as they did before (and jobs.get
// as jobs.insert did): a query with parameters (one of them NULL, one an array of structs), a DML
// statement, a DDL statement, a failed query and a load, the statistics' zero counts
// included.
func TestPackedJobsReadAsBefore(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s, err := New(Options{Projects: []string{"p"}, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	send := func(req *http.Request) string {
		t.Helper()
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s %s: %s\n%s", req.Method, req.URL.Path, resp.Status, b)
		}
		return string(b)
	}
	call := func(method, path, body string) string {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+"/bigquery/v2/projects/p"+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		return send(req)
	}
	inserted := map[string]string{}
	query := func(id, sql, params string) {
		t.Helper()
		inserted[id] = call("POST", "/jobs", fmt.Sprintf(`{"jobReference": {"jobId": %q}, "configuration": {"query": {"query": %q, "useLegacySql": false, "parameterMode": "NAMED", "queryParameters": [%s]}}}`, id, sql, params))
	}

	call("POST", "/datasets", `{"datasetReference": {"datasetId": "ds"}}`)
	query("ddl", "CREATE TABLE ds.t (n INT64, s STRING)", "")
	query("dml", "INSERT INTO ds.t (n, s) VALUES (1, 'a'), (2, NULL)", "")
	query("empty-dml", "DELETE FROM ds.t WHERE n > 10", "")
	query("params", "SELECT @n AS n, @s AS s, @players AS players", `
		{"name": "n", "parameterType": {"type": "INT64"}, "parameterValue": {"value": "7"}},
		{"name": "s", "parameterType": {"type": "STRING"}, "parameterValue": {"value": null}},
		{"name": "players", "parameterType": {"type": "ARRAY", "arrayType": {"type": "STRUCT", "structTypes": [
			{"name": "id", "type": {"type": "INT64"}}, {"name": "name", "type": {"type": "STRING"}}]}},
		 "parameterValue": {"arrayValues": [{"structValues": {"id": {"value": "1"}, "name": {"value": "A"}}}]}}`)
	query("failed", "SELECT * FROM ds.missing", "")

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	part, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"application/json"}})
	fmt.Fprint(part, `{"jobReference": {"jobId": "load"}, "configuration": {"load": {"destinationTable": {"projectId": "p", "datasetId": "ds", "tableId": "t"}, "sourceFormat": "NEWLINE_DELIMITED_JSON", "writeDisposition": "WRITE_APPEND"}}}`)
	part, _ = mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"application/octet-stream"}})
	fmt.Fprint(part, `{"n": 3, "s": "c"}`+"\n")
	_ = mw.Close()
	req, err := http.NewRequest("POST", srv.URL+"/upload/bigquery/v2/projects/p/jobs?uploadType=multipart", &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "multipart/related; boundary="+mw.Boundary())
	inserted["load"] = send(req)

	ids := []string{"ddl", "dml", "empty-dml", "params", "failed", "load"}
	listed := fmt.Sprintf("/jobs?projection=full&maxCreationTime=%d", now.UnixMilli())
	read := func() map[string]string {
		t.Helper()
		out := map[string]string{"list": call("GET", listed, "")}
		for _, id := range ids {
			out["get "+id] = call("GET", "/jobs/"+id, "")
			if id != "failed" && id != "load" {
				out["wait "+id] = call("GET", "/queries/"+id+"?maxResults=0", "")
				out["rows "+id] = call("GET", "/queries/"+id, "")
			}
		}
		return out
	}
	packed := func() []string {
		s.mu.Lock()
		defer s.mu.Unlock()
		var out []string
		for _, id := range ids {
			if s.projects["p"].jobs[id].packed != nil {
				out = append(out, id)
			}
		}
		return out
	}

	query("within", "SELECT 1 AS x", "") // a job stored within packAge packs nothing
	before := read()
	for _, id := range ids {
		if inserted[id] != before["get "+id] {
			t.Errorf("job %s: jobs.insert answered\n%s\nand jobs.get\n%s", id, inserted[id], before["get "+id])
		}
	}
	if got := packed(); len(got) > 0 {
		t.Errorf("jobs %v packed before they were finished for %v", got, packAge)
	}
	s.mu.Lock()
	if rec := s.projects["p"].jobs["params"]; rec.job.Configuration.Query.QueryParameters != nil || len(rec.params) == 0 {
		t.Errorf("a finished job keeps its query parameters decoded (%d bytes kept apart): %+v", len(rec.params), rec.job.Configuration.Query.QueryParameters)
	}
	s.mu.Unlock()
	mu.Lock()
	now = now.Add(packAge)
	mu.Unlock()
	query("after", "SELECT 2 AS x", "") // storing a job packs those finished for packAge
	if got := packed(); !cmp.Equal(got, ids) {
		t.Fatalf("jobs packed after %v: %v, want %v", packAge, got, ids)
	}
	if !strings.Contains(before["get params"], `"structValues"`) || !strings.Contains(before["get dml"], `"deletedRowCount":"0"`) || !strings.Contains(before["get load"], `"badRecords":"0"`) {
		t.Fatalf("the jobs do not show what this test checks survives packing: %s\n%s", before["get params"], before["get dml"])
	}
	if diff := cmp.Diff(before, read()); diff != "" {
		t.Errorf("the API's answers changed when the jobs were packed (-before +after):\n%s", diff)
	}
}
