package bqemu_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/googleapi"
)

// queryErrorCases are bad queries and the error BigQuery answers them with, on a project
// whose dataset ds holds the table games.
var queryErrorCases = []struct {
	name       string
	query      string
	defaultDS  bool
	status     int
	reason     string
	wantPrefix string
}{
	{"misspelt keyword", "SELEC 1", false, http.StatusBadRequest, "invalidQuery", `Syntax error: Unexpected identifier "SELEC" at [1:1]`},
	{"reserved word first, on line 2", "\n  WHERE x = 1", false, http.StatusBadRequest, "invalidQuery", `Syntax error: Unexpected keyword WHERE at [2:3]`},
	{"literal first", "42", false, http.StatusBadRequest, "invalidQuery", `Syntax error: Unexpected integer literal "42" at [1:1]`},
	{"missing table, backtick path", "SELECT * FROM `test-proj.ds.nope`", false, http.StatusNotFound, "notFound", "Not found: Table test-proj:ds.nope"},
	{"missing table, dataset path", "SELECT COUNT(*) FROM ds.nope WHERE TRUE", false, http.StatusNotFound, "notFound", "Not found: Table test-proj:ds.nope"},
	{"missing table in the default dataset", "SELECT * FROM nope", true, http.StatusNotFound, "notFound", "Not found: Table test-proj:ds.nope"},
	{"missing table in a join", "SELECT * FROM ds.games AS g JOIN ds.nope AS n ON g.player = n.player", false, http.StatusNotFound, "notFound", "Not found: Table test-proj:ds.nope"},
	{"missing table in a subquery", "SELECT (SELECT COUNT(*) FROM ds.nope) AS n", false, http.StatusNotFound, "notFound", "Not found: Table test-proj:ds.nope"},
	{"missing dataset", "SELECT * FROM nods.t", false, http.StatusNotFound, "notFound", "Not found: Dataset test-proj:nods"},
	{"missing dataset, three parts", "SELECT * FROM `test-proj.nods.t`", false, http.StatusNotFound, "notFound", "Not found: Dataset test-proj:nods"},
	{"DML into a missing table", "INSERT INTO ds.nope (x) VALUES (1)", false, http.StatusNotFound, "notFound", "Not found: Table test-proj:ds.nope"},
	{"DELETE from a missing table", "DELETE FROM ds.nope WHERE TRUE", false, http.StatusNotFound, "notFound", "Not found: Table test-proj:ds.nope"},
	{"CREATE TABLE in a missing dataset", "CREATE TABLE nods.t (x INT64)", false, http.StatusNotFound, "notFound", "Not found: Dataset test-proj:nods"},
	{"DROP of a missing table", "DROP TABLE ds.nope", false, http.StatusNotFound, "notFound", "Not found: Table test-proj:ds.nope"},
	{"unknown function", "SELECT NOSUCHFN(1)", false, http.StatusBadRequest, "invalidQuery", "Function not found: nosuchfn"},
	{"unknown column", "SELECT nosuchcolumn FROM ds.games", false, http.StatusBadRequest, "invalidQuery", "Unrecognized name: nosuchcolumn"},
	{"unfinished query", "SELECT * FROM ds.games WHERE", false, http.StatusBadRequest, "invalidQuery", "Syntax error: Unexpected end of script"},
	{"unfinished expression", "SELECT 1 +", false, http.StatusBadRequest, "invalidQuery", "Syntax error: Unexpected end of script"},
	{"unfinished DML", "DELETE FROM ds.games WHERE", false, http.StatusBadRequest, "invalidQuery", "Syntax error: Unexpected end of script"},
	{"unexpected last token", "SELECT 1 1", false, http.StatusBadRequest, "invalidQuery", `Syntax error: Unexpected "1"`},
	{"unqualified table without a default dataset", "SELECT * FROM nope", false, http.StatusBadRequest, "invalidQuery", `Table "nope" must be qualified with a dataset (e.g. dataset.table).`},
}

func TestQueryErrorsThroughREST(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.gamesTable(t, "games")
	for _, c := range queryErrorCases {
		fields := fmt.Sprintf(`"query":%q,"useLegacySql":false`, c.query)
		if c.defaultDS {
			fields += `,"defaultDataset":{"projectId":"test-proj","datasetId":"ds"}`
		}
		for way, r := range e.restQuery(t, fields) {
			if r.status != c.status || r.reason != c.reason || !strings.HasPrefix(r.message, c.wantPrefix) {
				t.Errorf("%s through %s: %d %s %q; want %d %s starting %q", c.name, way, r.status, r.reason, r.message, c.status, c.reason, c.wantPrefix)
			}
		}
	}
}

func TestQueryErrorsThroughTheClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.gamesTable(t, "games")
	ctx := ctx5(t)
	for _, c := range queryErrorCases {
		q := e.bq.Query(c.query)
		if c.defaultDS {
			q.DefaultDatasetID = "ds"
		}
		_, err := q.Read(ctx) // jobs.query
		var ge *googleapi.Error
		if !errors.As(err, &ge) || ge.Code != c.status || len(ge.Errors) == 0 || ge.Errors[0].Reason != c.reason || !strings.HasPrefix(ge.Message, c.wantPrefix) {
			t.Errorf("%s through Read: %v; want %d %s starting %q", c.name, err, c.status, c.reason, c.wantPrefix)
		}
		job, err := q.Run(ctx) // jobs.insert: the job runs and fails
		if err != nil {
			t.Fatalf("%s: run: %v", c.name, err)
		}
		if _, err := job.Wait(ctx); !errors.As(err, &ge) || ge.Code != c.status || !strings.HasPrefix(ge.Message, c.wantPrefix) {
			t.Errorf("%s through Run and Wait: %v; want %d starting %q", c.name, err, c.status, c.wantPrefix)
		}
		st, err := job.Status(ctx) // jobs.get
		if err != nil {
			t.Fatalf("%s: job status: %v", c.name, err)
		}
		var be *bigquery.Error
		if !errors.As(st.Err(), &be) || be.Reason != c.reason || !strings.HasPrefix(be.Message, c.wantPrefix) {
			t.Errorf("%s: job status error %v; want %s starting %q", c.name, st.Err(), c.reason, c.wantPrefix)
		}
	}
}
