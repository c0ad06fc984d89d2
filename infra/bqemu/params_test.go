package bqemu_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"cloud.google.com/go/bigquery"
	"github.com/google/go-cmp/cmp"
)

// restResult is what a caller sees of one query sent through the REST API.
type restResult struct {
	status  int
	reason  string
	message string
	rows    [][]any
}

// restQuery sends the fields of a query request (JSON members such as "query",
// "useLegacySql" and "queryParameters", without braces) both ways BigQuery accepts them:
// as a jobs.query request, and as a jobs.insert query configuration followed by
// getQueryResults. It returns what each way gave, named "jobs.query" and "jobs.insert".
func (e *env) restQuery(t testing.TB, fields string) map[string]restResult {
	t.Helper()
	out := map[string]restResult{}
	status, body := e.rest(t, http.MethodPost, "/projects/"+testProject+"/queries", "{"+fields+"}")
	r := restResult{status: status, rows: cells(body)}
	r.reason, r.message = errorOf(body)
	out["jobs.query"] = r

	status, body = e.rest(t, http.MethodPost, "/projects/"+testProject+"/jobs", `{"configuration":{"query":{`+fields+`}}}`)
	r = restResult{status: status}
	r.reason, r.message = errorOf(body)
	if status == http.StatusOK {
		// A job that ran and failed reports its error in status.errorResult; getQueryResults
		// then answers with that error.
		ref, _ := body["jobReference"].(map[string]any)
		id, _ := ref["jobId"].(string)
		status, body = e.rest(t, http.MethodGet, "/projects/"+testProject+"/queries/"+id, "")
		r = restResult{status: status, rows: cells(body)}
		r.reason, r.message = errorOf(body)
	}
	out["jobs.insert"] = r
	return out
}

// param renders one named query parameter of the REST API.
func param(name, typ, value string) string {
	return fmt.Sprintf(`{"name":%q,"parameterType":%s,"parameterValue":%s}`, name, typ, value)
}

func TestQueryParameterValuesInEveryJSONForm(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const (
		int64T   = `{"type":"INT64"}`
		floatT   = `{"type":"FLOAT64"}`
		numericT = `{"type":"NUMERIC"}`
		boolT    = `{"type":"BOOL"}`
	)
	cases := []struct {
		name   string
		query  string
		params []string
	}{
		{"INT64 as a JSON number", "SELECT @x + 1 = 6", []string{param("x", int64T, `{"value":5}`)}},
		{"INT64 as a string", "SELECT @x + 1 = 6", []string{param("x", int64T, `{"value":"5"}`)}},
		{"INT64 beyond float precision", "SELECT @x - 9007199254740992 = 1", []string{param("x", int64T, `{"value":9007199254740993}`)}},
		{"negative INT64", "SELECT @x = -42", []string{param("x", int64T, `{"value":-42}`)}},
		{"FLOAT64 as a JSON number", "SELECT @x * 2 = 3.0", []string{param("x", floatT, `{"value":1.5}`)}},
		{"FLOAT64 with an exponent", "SELECT @x = 1500.0", []string{param("x", floatT, `{"value":1.5e3}`)}},
		{"FLOAT64 integral number", "SELECT @x / 2 = 2.5", []string{param("x", floatT, `{"value":5}`)}},
		{"FLOAT64 as a string", "SELECT @x = 0.25", []string{param("x", floatT, `{"value":"0.25"}`)}},
		{"NUMERIC as a JSON number", "SELECT @x = NUMERIC '1.25'", []string{param("x", numericT, `{"value":1.25}`)}},
		{"NUMERIC with an exponent", "SELECT @x = NUMERIC '1500'", []string{param("x", numericT, `{"value":1.5e3}`)}},
		{"NUMERIC as a string", "SELECT @x = NUMERIC '-0.5'", []string{param("x", numericT, `{"value":"-0.5"}`)}},
		{"BOOL true", "SELECT @x", []string{param("x", boolT, `{"value":true}`)}},
		{"BOOL false", "SELECT NOT @x", []string{param("x", boolT, `{"value":false}`)}},
		{"BOOL as strings", "SELECT @x AND NOT @y", []string{param("x", boolT, `{"value":"TRUE"}`), param("y", boolT, `{"value":"false"}`)}},
		{"NULL value", "SELECT @x IS NULL AND @y IS NULL", []string{param("x", int64T, `{"value":null}`), param("y", boolT, `{}`)}},
		{"ARRAY of numbers and strings", "SELECT ARRAY_LENGTH(@x) = 3 AND @x[OFFSET(0)] + @x[OFFSET(1)] + @x[OFFSET(2)] = 6",
			[]string{param("x", `{"type":"ARRAY","arrayType":`+int64T+`}`, `{"arrayValues":[{"value":1},{"value":"2"},{"value":3}]}`)}},
		{"ARRAY of booleans", "SELECT @x[OFFSET(0)] AND NOT @x[OFFSET(1)]",
			[]string{param("x", `{"type":"ARRAY","arrayType":`+boolT+`}`, `{"arrayValues":[{"value":true},{"value":"false"}]}`)}},
		{"empty ARRAY", "SELECT ARRAY_LENGTH(@x) = 0",
			[]string{param("x", `{"type":"ARRAY","arrayType":`+floatT+`}`, `{"arrayValues":[]}`)}},
		{"STRUCT of a number, a boolean and an array", "SELECT @s.a = 1 AND @s.b AND @s.c[OFFSET(1)] = 1.5 AND @s.d IS NULL",
			[]string{param("s", `{"type":"STRUCT","structTypes":[{"name":"a","type":`+int64T+`},{"name":"b","type":`+boolT+`},`+
				`{"name":"c","type":{"type":"ARRAY","arrayType":`+floatT+`}},{"name":"d","type":`+numericT+`}]}`,
				`{"structValues":{"a":{"value":1},"b":{"value":true},"c":{"arrayValues":[{"value":0.5},{"value":"1.5"}]}}}`)}},
		{"ARRAY of STRUCTs with nested STRUCT and ARRAY",
			"SELECT (SELECT SUM(s.n) FROM UNNEST(@x) AS s) = 3 AND @x[OFFSET(1)].inner.ok AND NOT @x[OFFSET(0)].inner.ok AND @x[OFFSET(0)].tags[OFFSET(1)] = 'b'",
			[]string{param("x", `{"type":"ARRAY","arrayType":{"type":"STRUCT","structTypes":[{"name":"n","type":`+int64T+`},`+
				`{"name":"tags","type":{"type":"ARRAY","arrayType":{"type":"STRING"}}},{"name":"inner","type":{"type":"STRUCT","structTypes":[{"name":"ok","type":`+boolT+`}]}}]}}`,
				`{"arrayValues":[{"structValues":{"n":{"value":1},"tags":{"arrayValues":[{"value":"a"},{"value":"b"}]},"inner":{"structValues":{"ok":{"value":false}}}}},`+
					`{"structValues":{"n":{"value":"2"},"tags":{"arrayValues":[]},"inner":{"structValues":{"ok":{"value":true}}}}}]}`)}},
		{"ARRAY of STRUCTs with strings, NULLs, a date and a NULL element",
			"SELECT ARRAY_LENGTH(@x) = 3 AND @x[OFFSET(0)].s = 'it''s' AND @x[OFFSET(1)].s IS NULL AND @x[OFFSET(1)].d = DATE '2024-10-22' " +
				"AND @x[OFFSET(0)].d IS NULL AND @x[OFFSET(2)] IS NULL AND (SELECT COUNT(*) FROM UNNEST(@x) AS r WHERE r.s = 'b') = 0",
			[]string{param("x", `{"type":"ARRAY","arrayType":{"type":"STRUCT","structTypes":[{"name":"s","type":{"type":"STRING"}},{"name":"d","type":{"type":"DATE"}}]}}`,
				`{"arrayValues":[{"structValues":{"s":{"value":"it's"}}},{"structValues":{"d":{"value":"2024-10-22"}}},{}]}`)}},
		{"ARRAY of floats with NaN and Infinity", "SELECT IS_NAN(@x[OFFSET(0)]) AND IS_INF(@x[OFFSET(1)]) AND @x[OFFSET(2)] = 2.5",
			[]string{param("x", `{"type":"ARRAY","arrayType":`+floatT+`}`, `{"arrayValues":[{"value":"NaN"},{"value":"-Infinity"},{"value":2.5}]}`)}},
		{"ARRAY of TIMESTAMPs", "SELECT @x[OFFSET(0)] = TIMESTAMP '2024-10-22 23:30:00+00' AND @x[OFFSET(1)] IS NULL",
			[]string{param("x", `{"type":"ARRAY","arrayType":{"type":"TIMESTAMP"}}`, `{"arrayValues":[{"value":"2024-10-22 23:30:00+00:00"},{}]}`)}},
		{"positional parameters", "SELECT ? + ? = 3 AND ?",
			[]string{`{"parameterType":` + int64T + `,"parameterValue":{"value":1}}`, `{"parameterType":` + int64T + `,"parameterValue":{"value":"2"}}`,
				`{"parameterType":` + boolT + `,"parameterValue":{"value":true}}`}},
	}
	for _, c := range cases {
		mode := "NAMED"
		if strings.Contains(c.query, "?") {
			mode = "POSITIONAL"
		}
		fields := fmt.Sprintf(`"query":%q,"useLegacySql":false,"parameterMode":%q,"queryParameters":[%s]`, c.query, mode, strings.Join(c.params, ","))
		for way, r := range e.restQuery(t, fields) {
			if r.status != http.StatusOK || !cmp.Equal(r.rows, [][]any{{"true"}}) {
				t.Errorf("%s through %s: %d %s %q, rows %v; want one row true", c.name, way, r.status, r.reason, r.message, r.rows)
			}
		}
	}
}

func TestQueryParameterValuesOfTheWrongKindAreRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cases := []struct {
		name        string
		param       string
		reason      string
		wantMessage string
	}{
		{"boolean for INT64", param("x", `{"type":"INT64"}`, `{"value":true}`), "invalidQuery", `Invalid value "true" for query parameter x of type INT64`},
		{"fraction for INT64", param("x", `{"type":"INT64"}`, `{"value":1.5}`), "invalidQuery", `Invalid value "1.5" for query parameter x of type INT64`},
		{"number for BOOL", param("x", `{"type":"BOOL"}`, `{"value":1}`), "invalidQuery", `Invalid value "1" for query parameter x of type BOOL`},
		{"word for FLOAT64", param("x", `{"type":"FLOAT64"}`, `{"value":"many"}`), "invalidQuery", `Invalid value "many" for query parameter x of type FLOAT64`},
		{"object as a value", param("x", `{"type":"INT64"}`, `{"value":{"n":1}}`), "invalid", "query parameter x: value must be a string, number or boolean, got an object"},
		{"arrayValues not a list", param("x", `{"type":"ARRAY","arrayType":{"type":"INT64"}}`, `{"arrayValues":{"value":1}}`), "invalid", "query parameter x: arrayValues must be a list, got an object"},
	}
	for _, c := range cases {
		fields := fmt.Sprintf(`"query":"SELECT @x","useLegacySql":false,"queryParameters":[%s]`, c.param)
		for way, r := range e.restQuery(t, fields) {
			if r.status != http.StatusBadRequest || r.reason != c.reason || !strings.Contains(r.message, c.wantMessage) {
				t.Errorf("%s through %s: %d %s %q; want 400 %s containing %q", c.name, way, r.status, r.reason, r.message, c.reason, c.wantMessage)
			}
		}
	}
}

// TestNestedParametersThroughTheClient sends ARRAY and STRUCT parameters nested in each other
// as the Go client builds them from Go values.
func TestNestedParametersThroughTheClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	type inner struct{ OK bool }
	type player struct {
		Name   string
		Points []int64
		Inner  inner
	}
	got := e.query(t, "SELECT p.Name, (SELECT SUM(x) FROM UNNEST(p.Points) AS x) AS total, p.Inner.OK, @team.City, ARRAY_LENGTH(@team.Players) "+
		"FROM UNNEST(@players) AS p ORDER BY p.Name",
		bigquery.QueryParameter{Name: "players", Value: []player{{"b", []int64{1, 2}, inner{true}}, {"a", []int64{}, inner{false}}}},
		bigquery.QueryParameter{Name: "team", Value: struct {
			City    string
			Players []player
		}{"Boston", []player{{"c", []int64{5}, inner{true}}}}},
	)
	want := [][]bigquery.Value{{"a", nil, false, "Boston", int64(1)}, {"b", int64(3), true, "Boston", int64(1)}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}
