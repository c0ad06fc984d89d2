package bqemu_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestLegacySQLIsRefusedUnlessTurnedOff(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, c := range []struct {
		name   string
		fields string
		ok     bool
	}{
		{"useLegacySql left out", `"query":"SELECT 1"`, false},
		{"useLegacySql null", `"query":"SELECT 1","useLegacySql":null`, false},
		{"useLegacySql true", `"query":"SELECT 1","useLegacySql":true`, false},
		{"useLegacySql false", `"query":"SELECT 1","useLegacySql":false`, true},
	} {
		for way, r := range e.restQuery(t, c.fields) {
			switch {
			case c.ok && (r.status != http.StatusOK || len(r.rows) != 1):
				t.Errorf("%s through %s: %d %s %q; want one row", c.name, way, r.status, r.reason, r.message)
			case !c.ok && (r.status != http.StatusBadRequest || r.reason != "invalidQuery" || !strings.Contains(r.message, "legacy SQL is not supported")):
				t.Errorf("%s through %s: %d %s %q; want 400 invalidQuery refusing legacy SQL", c.name, way, r.status, r.reason, r.message)
			}
		}
	}
}

func TestLegacySQLThroughTheClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := ctx5(t)
	// The client sends "useLegacySql": false unless told otherwise.
	if got := e.query(t, "SELECT 1"); len(got) != 1 || got[0][0] != int64(1) {
		t.Errorf("standard SQL query = %v, want [[1]]", got)
	}
	q := e.bq.Query("SELECT 1")
	q.UseLegacySQL = true
	_, err := q.Read(ctx)
	apiErr(t, err, http.StatusBadRequest, "invalidQuery")
	_, err = q.Run(ctx)
	apiErr(t, err, http.StatusBadRequest, "invalidQuery")
}
