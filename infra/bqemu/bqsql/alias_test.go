package bqsql

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// queryColumns runs DuckDB SQL on db and returns the result's column names and its rows,
// normalized as run does.
func queryColumns(ctx context.Context, db *sql.DB, sqlText string) ([]string, rows, error) {
	rs, err := db.QueryContext(ctx, sqlText)
	if err != nil {
		return nil, nil, err
	}
	defer rs.Close()
	cols, err := rs.Columns()
	if err != nil {
		return nil, nil, err
	}
	var out rows
	for rs.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			return nil, nil, err
		}
		for i := range vals {
			vals[i] = norm(vals[i])
		}
		out = append(out, vals)
	}
	return cols, out, rs.Err()
}

func TestImplicitAliasesThatAreDuckDBKeywords(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	ctx := context.Background()
	for _, s := range []string{
		`CREATE TABLE games (d DATE, team STRING, pts INT64, tags ARRAY<STRING>)`,
		`INSERT games (d, team, pts, tags) VALUES ('2024-01-07', 'BOS', 99, ['c', 'd'])`,
	} {
		st, err := Translate(s)
		if err != nil {
			t.Fatalf("setup %q: %v", s, err)
		}
		if _, err := db.ExecContext(ctx, st.SQL); err != nil {
			t.Fatalf("setup %q: %v", s, err)
		}
	}
	cases := []struct {
		name      string
		query     string
		wantCols  []string
		wantRows  rows
		wantError bool
	}{
		{name: "date parts of EXTRACT", query: `SELECT EXTRACT(YEAR FROM d) year, EXTRACT(MONTH FROM d) month, EXTRACT(DAY FROM d) day, EXTRACT(HOUR FROM TIMESTAMP '2024-01-07 13:00:00') hour FROM games`,
			wantCols: []string{"year", "month", "day", "hour"}, wantRows: rows{{int64(2024), int64(1), int64(7), int64(13)}}},
		{name: "columns renamed", query: `SELECT pts value, team type, tags names, d date, team key, 'en' language, 3 level, 1 row, 'x' time FROM games`,
			wantCols: []string{"value", "type", "names", "date", "key", "language", "level", "row", "time"},
			wantRows: rows{{int64(99), "BOS", []any{"c", "d"}, day("2024-01-07"), "BOS", "en", int64(3), int64(1), "x"}}},
		{name: "after calls, CASE, subscripts and parameters", query: `SELECT ANY_VALUE(pts) year, CASE WHEN MAX(pts) > 50 THEN 'hi' END level, ANY_VALUE(tags)[OFFSET(1)] value, UPPER(ANY_VALUE(team)) name FROM games`,
			wantCols: []string{"year", "level", "value", "name"}, wantRows: rows{{int64(99), "hi", "d", "BOS"}}},
		{name: "case kept", query: `SELECT pts Year, team TYPE FROM games`, wantCols: []string{"Year", "TYPE"}, wantRows: rows{{int64(99), "BOS"}}},
		{name: "table and subquery aliases", query: `SELECT year.pts, value.n FROM games year, (SELECT 5 AS n) value`,
			wantCols: []string{"pts", "n"}, wantRows: rows{{int64(99), int64(5)}}},
		{name: "aliases used by ORDER BY and an outer query", query: `SELECT year, month FROM (SELECT EXTRACT(YEAR FROM d) year, 2 month FROM games) ORDER BY year, month`,
			wantCols: []string{"year", "month"}, wantRows: rows{{int64(2024), int64(2)}}},
		{name: "AT TIME ZONE inside EXTRACT is not an alias", query: `SELECT EXTRACT(HOUR FROM TIMESTAMP '2024-01-07 13:00:00' AT TIME ZONE 'America/New_York') hour`,
			wantCols: []string{"hour"}, wantRows: rows{{int64(8)}}},
	}
	for _, c := range cases {
		st, err := Translate(c.query)
		if err != nil {
			t.Errorf("%s: translate: %v", c.name, err)
			continue
		}
		cols, got, err := queryColumns(ctx, db, st.SQL)
		if err != nil {
			t.Errorf("%s: %v\nDuckDB SQL: %s", c.name, err, st.SQL)
			continue
		}
		if !cmp.Equal(cols, c.wantCols) {
			t.Errorf("%s: columns %v, want %v", c.name, cols, c.wantCols)
		}
		if diff := cmp.Diff(c.wantRows, got); diff != "" {
			t.Errorf("%s: rows (-want +got):\n%s\nDuckDB SQL: %s", c.name, diff, st.SQL)
		}
	}
}

// bigQueryReserved are BigQuery's reserved keywords, which cannot be names unquoted.
var bigQueryReserved = wordSet(`ALL AND ANY ARRAY AS ASC ASSERT_ROWS_MODIFIED AT BETWEEN BY CASE CAST COLLATE
	CONTAINS CREATE CROSS CUBE CURRENT DEFAULT DEFINE DESC DISTINCT ELSE END ENUM ESCAPE EXCEPT EXCLUDE EXISTS
	EXTRACT FALSE FETCH FOLLOWING FOR FROM FULL GROUP GROUPING GROUPS HASH HAVING IF IGNORE IN INNER INTERSECT
	INTERVAL INTO IS JOIN LATERAL LEFT LIKE LIMIT LOOKUP MERGE NATURAL NEW NO NOT NULL NULLS OF ON OR ORDER
	OUTER OVER PARTITION PRECEDING PROTO QUALIFY RANGE RECURSIVE RESPECT RIGHT ROLLUP ROWS SELECT SET SOME
	STRUCT TABLESAMPLE THEN TO TREAT TRUE UNBOUNDED UNION UNNEST USING WHEN WHERE WINDOW WITH WITHIN`)

// TestEveryDuckDBKeywordWorksAsAName checks, for every keyword of the linked DuckDB that is a
// plain name in BigQuery, that it works as an implicit column alias, a column and a table
// alias. It fails when a DuckDB upgrade reserves a word the translator does not quote.
// Words the translator itself reads as syntax (statement and clause words such as VALUES,
// OFFSET or TABLE) are left out: BigQuery accepts them as names only where they cannot be
// read as syntax, which a token rewriter does not tell apart.
func TestEveryDuckDBKeywordWorksAsAName(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	ctx := context.Background()
	rs, err := db.QueryContext(ctx, "SELECT keyword_name FROM duckdb_keywords() ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	var words []string
	for rs.Next() {
		var w string
		if err := rs.Scan(&w); err != nil {
			t.Fatal(err)
		}
		if u := strings.ToUpper(w); !bigQueryReserved[u] && !keywords[u] {
			words = append(words, w)
		}
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	if len(words) < 300 {
		t.Fatalf("duckdb_keywords() gave %d usable words; expected several hundred", len(words))
	}
	for _, w := range words {
		for _, q := range []string{
			"SELECT 1 " + w,
			"SELECT " + w + " FROM (SELECT 1 AS " + w + ")",
			"SELECT " + w + ".x FROM (SELECT 1 AS x) " + w,
		} {
			st, err := Translate(q)
			if err != nil {
				t.Errorf("Translate(%q): %v", q, err)
				continue
			}
			cols, got, err := queryColumns(ctx, db, st.SQL)
			if err != nil {
				t.Errorf("%s: %v\nDuckDB SQL: %s", q, err, st.SQL)
				continue
			}
			if !cmp.Equal(got, rows{{int64(1)}}) || (strings.HasPrefix(q, "SELECT 1 ") && !cmp.Equal(cols, []string{w})) {
				t.Errorf("%s: columns %v rows %v, want one column %s holding 1", q, cols, got, w)
			}
		}
	}
}
