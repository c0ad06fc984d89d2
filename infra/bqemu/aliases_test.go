package bqemu_test

import (
	"fmt"
	"net/http"
	"testing"

	"cloud.google.com/go/bigquery"
	"github.com/google/go-cmp/cmp"
)

// aliasQuery names its columns, without AS, with words that DuckDB keeps as keywords and
// BigQuery does not reserve.
const aliasQuery = "SELECT EXTRACT(YEAR FROM game_date) year, EXTRACT(MONTH FROM game_date) month, " +
	"EXTRACT(DAY FROM game_date) day, pts value, player key, 'box' type FROM `test-proj.ds.games` WHERE game_date IS NOT NULL"

var aliasColumns = []string{"year", "month", "day", "value", "key", "type"}

func TestImplicitAliasesThroughREST(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.gamesTable(t, "games")
	e.putObject("g.json", ndjson("2024-10-22", 1, "p"))
	e.load(t, "gs://bucket/g.json", e.dataset(t).Table("games"), bigquery.WriteAppend, nil)
	status, body := e.rest(t, http.MethodPost, "/projects/"+testProject+"/queries", fmt.Sprintf(`{"query":%q,"useLegacySql":false}`, aliasQuery))
	if status != http.StatusOK {
		t.Fatalf("jobs.query: %d %v", status, body)
	}
	var names []string
	fields, _ := body["schema"].(map[string]any)["fields"].([]any)
	for _, f := range fields {
		names = append(names, f.(map[string]any)["name"].(string))
	}
	if !cmp.Equal(names, aliasColumns) {
		t.Errorf("columns = %v, want %v", names, aliasColumns)
	}
	if got, want := cells(body), [][]any{{"2024", "10", "22", "0", "p0", "box"}}; !cmp.Equal(got, want) {
		t.Errorf("rows = %v, want %v", got, want)
	}
}

func TestImplicitAliasesThroughTheClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.gamesTable(t, "games")
	e.putObject("g.json", ndjson("2024-10-22", 1, "p"))
	e.load(t, "gs://bucket/g.json", e.dataset(t).Table("games"), bigquery.WriteAppend, nil)
	it, err := e.bq.Query(aliasQuery).Read(ctx5(t))
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	row := map[string]bigquery.Value{}
	if err := it.Next(&row); err != nil {
		t.Fatalf("next: %v", err)
	}
	want := map[string]bigquery.Value{"year": int64(2024), "month": int64(10), "day": int64(22), "value": int64(0), "key": "p0", "type": "box"}
	if diff := cmp.Diff(want, row); diff != "" {
		t.Errorf("row (-want +got):\n%s", diff)
	}
}
