package bqemu_test

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"testing"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"
	"github.com/google/go-cmp/cmp"
)

// insertErrorIndexes returns "index:reason" of every insertErrors entry of a REST answer;
// an entry without an index shows as "missing:reason".
func insertErrorIndexes(t *testing.T, body map[string]any) []string {
	t.Helper()
	var out []string
	entries, _ := body["insertErrors"].([]any)
	for _, en := range entries {
		m := en.(map[string]any)
		idx := "missing"
		if v, ok := m["index"]; ok {
			idx = fmt.Sprint(v)
		}
		reason := ""
		if errs, _ := m["errors"].([]any); len(errs) > 0 {
			reason, _ = errs[0].(map[string]any)["reason"].(string)
		}
		out = append(out, idx+":"+reason)
	}
	sort.Strings(out)
	return out
}

func TestInsertAllErrorsCarryEveryIndex(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.gamesTable(t, "games")
	path := "/projects/" + testProject + "/datasets/ds/tables/games/insertAll"
	rows := `"rows":[
		{"json":{"game_date":"2024-10-22","player":"a","pts":1,"foo":"x"}},
		{"json":{"game_date":"2024-10-22","player":"b","pts":2}},
		{"json":{"game_date":"not a date","player":"c","pts":3}}]`

	status, body := e.rest(t, http.MethodPost, path, "{"+rows+"}")
	if status != http.StatusOK {
		t.Fatalf("insertAll: %d %v", status, body)
	}
	if got, want := insertErrorIndexes(t, body), []string{"0:invalid", "1:stopped", "2:invalid"}; !cmp.Equal(got, want) {
		t.Errorf("insertErrors = %v, want %v", got, want)
	}
	if n := e.countRows(t, "games", ""); n != 0 {
		t.Errorf("rows after a refused batch = %d, want 0", n)
	}

	status, body = e.rest(t, http.MethodPost, path, `{"skipInvalidRows":true,`+rows+"}")
	if status != http.StatusOK {
		t.Fatalf("insertAll: %d %v", status, body)
	}
	if got, want := insertErrorIndexes(t, body), []string{"0:invalid", "2:invalid"}; !cmp.Equal(got, want) {
		t.Errorf("insertErrors with skipInvalidRows = %v, want %v", got, want)
	}
	if n := e.countRows(t, "games", ""); n != 1 {
		t.Errorf("rows after skipInvalidRows = %d, want the 1 valid row", n)
	}
}

func TestInsertAllErrorsThroughTheClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tbl := e.gamesTable(t, "games")
	day := civil.Date{Year: 2024, Month: 10, Day: 22}
	withFoo := append(append(bigquery.Schema{}, gamesSchema...), &bigquery.FieldSchema{Name: "foo", Type: bigquery.StringFieldType})
	err := tbl.Inserter().Put(ctx5(t), []*bigquery.ValuesSaver{
		{Schema: withFoo, Row: []bigquery.Value{day, "a", 1, "x"}},
		{Schema: gamesSchema, Row: []bigquery.Value{day, "b", 2}},
	})
	var pme bigquery.PutMultiError
	if !errors.As(err, &pme) {
		t.Fatalf("put: %v, want a PutMultiError", err)
	}
	var got []string
	for _, re := range pme {
		reason := ""
		var be *bigquery.Error
		if len(re.Errors) > 0 && errors.As(re.Errors[0], &be) {
			reason = be.Reason
		}
		got = append(got, fmt.Sprintf("%d:%s", re.RowIndex, reason))
	}
	sort.Strings(got)
	if want := []string{"0:invalid", "1:stopped"}; !cmp.Equal(got, want) {
		t.Errorf("row errors = %v, want %v", got, want)
	}
}
