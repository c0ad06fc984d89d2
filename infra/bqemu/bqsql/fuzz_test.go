package bqsql

import (
	"errors"
	"strings"
	"testing"
)

// FuzzTranslate checks that the lexer is lossless and that Translate never panics: any
// input gives a statement or a typed error.
func FuzzTranslate(f *testing.F) {
	for _, s := range []string{
		"SELECT 1",
		"SELECT `p.d.t`.x, 'a\\'b', \"c\", r'\\d', b'\\x00', '''x''' # c\n FROM `p.d.t` WHERE d = @d",
		"SELECT DATE_DIFF(a, b, WEEK(MONDAY)), ARRAY_AGG(x IGNORE NULLS ORDER BY y LIMIT 2) FROM t, UNNEST(arr) AS x WITH OFFSET o",
		"MERGE t USING s ON FALSE WHEN NOT MATCHED BY SOURCE THEN DELETE WHEN NOT MATCHED THEN INSERT ROW",
		"CREATE TABLE t (a ARRAY<STRUCT<b INT64>>) PARTITION BY DATE(ts) CLUSTER BY a OPTIONS(x=1)",
		"SELECT CASE WHEN a / b > 1 THEN [1][OFFSET(0)] END, STRUCT(1 AS a), x IN UNNEST(@arr) FROM t QUALIFY 1 = 1",
		"SELECT * EXCEPT(a) FROM t; DELETE t WHERE TRUE",
		"SELECT INTERVAL -1 DAY, SAFE.PARSE_DATE('%F', s), CAST(x AS NUMERIC(10, 2))",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if toks, err := lex(s); err == nil {
			var b strings.Builder
			for _, tk := range toks {
				b.WriteString(tk.text)
			}
			if b.String() != s {
				t.Fatalf("lex is lossy: %q became %q", s, b.String())
			}
		}
		st, err := Translate(s)
		if errors.Is(err, errInternal) {
			t.Fatalf("Translate(%q) panicked: %v", s, err)
		}
		if err == nil && st == nil {
			t.Fatalf("Translate(%q) returned neither a statement nor an error", s)
		}
		var se *SyntaxError
		var ue *UnsupportedError
		if err != nil && !errors.As(err, &se) && !errors.As(err, &ue) {
			t.Fatalf("Translate(%q) error %v is neither a SyntaxError nor an UnsupportedError", s, err)
		}
	})
}

// TestTranslateCallShapes calls every rewritten function with odd argument lists: each
// must translate or fail with a typed error, never panic.
func TestTranslateCallShapes(t *testing.T) {
	t.Parallel()
	names := strings.Fields(`APPROX_QUANTILES ARRAY_AGG ARRAY_CONCAT ARRAY_FIRST ARRAY_INCLUDES ARRAY_LAST
		ARRAY_LENGTH ARRAY_REVERSE BYTE_LENGTH CAST CONCAT CONTAINS_SUBSTR COUNTIF CURRENT_DATE CURRENT_DATETIME
		CURRENT_TIME CURRENT_TIMESTAMP DATE DATETIME DATETIME_ADD DATETIME_DIFF DATETIME_SUB DATETIME_TRUNC
		DATE_ADD DATE_DIFF DATE_SUB DATE_TRUNC DIV EDIT_DISTANCE EXTRACT FORMAT FORMAT_DATE FORMAT_DATETIME
		FORMAT_TIME FORMAT_TIMESTAMP FROM_HEX GENERATE_ARRAY GENERATE_DATE_ARRAY GENERATE_TIMESTAMP_ARRAY
		GREATEST IEEE_DIVIDE IS_INF IS_NAN JSON_EXTRACT JSON_EXTRACT_ARRAY JSON_EXTRACT_SCALAR
		JSON_EXTRACT_STRING_ARRAY JSON_QUERY JSON_QUERY_ARRAY JSON_VALUE JSON_VALUE_ARRAY LAST_DAY LEAST LOG
		LOGICAL_AND LOGICAL_OR LPAD MD5 MOD NORMALIZE PARSE_DATE PARSE_DATETIME PARSE_JSON PARSE_TIME
		PARSE_TIMESTAMP PERCENTILE_CONT PERCENTILE_DISC RAND REGEXP_CONTAINS REGEXP_EXTRACT REGEXP_EXTRACT_ALL
		REGEXP_REPLACE REGEXP_SUBSTR RPAD SAFE_ADD SAFE_CAST SAFE_DIVIDE SAFE_MULTIPLY SAFE_NEGATE SAFE_SUBTRACT
		SPLIT STRING_AGG TIME TIMESTAMP TIMESTAMP_ADD TIMESTAMP_DIFF TIMESTAMP_SUB TIMESTAMP_TRUNC TIME_ADD
		TIME_DIFF TIME_SUB TO_HEX UNNEST UNIX_SECONDS TIMESTAMP_MILLIS TO_JSON_STRING STRUCT ARRAY`)
	shapes := []string{"()", "(a)", "(a, b)", "(a, b, c)", "(a, b, c, d, e, f)", "(a, )", "(DAY)", "(a, DAY)",
		"(a, b, WEEK(SUNDAY))", "(a, b, WEEK(x))", "(a, WEEK())", "(a AS b)", "(AS)", "(a AS)", "(FROM a)", "(DAY FROM)",
		"(a, INTERVAL)", "(a, INTERVAL 1)", "(a, INTERVAL 1 DAY)", "('%F', a)", "('%F', a, 'UTC')", "(a, '(x)')",
		"(a ORDER BY)", "(a LIMIT)", "(IGNORE NULLS)", "(DISTINCT)", "(a, 2)", "(a, 0)", "(a, -1)", "(a, 'x')",
		"(a IGNORE NULLS ORDER BY b LIMIT 1)", "(a, b ORDER BY c LIMIT 2)", "(a AT TIME ZONE 'UTC')", "(MD5(a))"}
	for _, n := range names {
		for _, sh := range shapes {
			for _, q := range []string{"SELECT " + n + sh, "SELECT " + n + sh + " OVER ()", "SELECT SAFE." + n + sh} {
				st, err := Translate(q)
				if errors.Is(err, errInternal) {
					t.Errorf("Translate(%q) panicked: %v", q, err)
				}
				if err == nil && st == nil {
					t.Errorf("Translate(%q) returned neither a statement nor an error", q)
				}
			}
		}
	}
}

// TestTranslatePrefixes translates every token prefix of some complete statements:
// truncated input must give a typed error or a statement, never a panic.
func TestTranslatePrefixes(t *testing.T) {
	t.Parallel()
	for _, full := range []string{
		"CREATE OR REPLACE TEMP TABLE IF NOT EXISTS `p.d.t` (a INT64 NOT NULL OPTIONS(description='x'), b ARRAY<STRUCT<c NUMERIC(10, 2)>>, PRIMARY KEY (a) NOT ENFORCED) PARTITION BY DATE_TRUNC(a, MONTH) CLUSTER BY a, b OPTIONS(x=1, y='z')",
		"CREATE SCHEMA IF NOT EXISTS p.d OPTIONS(location='US')",
		"CREATE VIEW v (a) OPTIONS(description='v') AS SELECT 1 AS a",
		"DROP SCHEMA IF EXISTS d CASCADE",
		"ALTER TABLE IF EXISTS t ADD COLUMN IF NOT EXISTS c STRUCT<x INT64>",
		"ALTER TABLE t RENAME COLUMN a TO b",
		"MERGE INTO d.t AS T USING (SELECT 1 AS a) S ON T.a = S.a WHEN MATCHED AND S.a > 0 THEN UPDATE SET a = S.a WHEN NOT MATCHED BY SOURCE THEN DELETE WHEN NOT MATCHED THEN INSERT ROW",
		"INSERT my-proj.d.t (a, b) VALUES (1, STRUCT(2 AS x)), (3, NULL)",
		"DELETE d.t AS x WHERE x.a IN UNNEST(@arr)",
		"UPDATE t SET a = a / 2 WHERE CASE WHEN a > 1 THEN TRUE ELSE FALSE END",
		"TRUNCATE TABLE d.t",
		"BEGIN TRANSACTION; DELETE t WHERE TRUE; COMMIT TRANSACTION;",
		"SELECT AS STRUCT a, b FROM t WHERE x LIKE 'a\\\\_%' ORDER BY 1 LIMIT 2",
		"SELECT x, o FROM t, UNNEST(arr) AS x WITH OFFSET AS o LEFT JOIN UNNEST(b) y WHERE x[SAFE_OFFSET(0)] IS NULL",
		"SELECT EXTRACT(WEEK(MONDAY) FROM d AT TIME ZONE 'UTC'), INTERVAL -(1 + 2) DAY, ARRAY<STRUCT<a INT64>>[(1)]",
	} {
		toks, err := lex(full)
		if err != nil {
			t.Fatalf("lex(%q): %v", full, err)
		}
		for _, tk := range toks {
			q := full[:tk.pos]
			st, err := Translate(q)
			if errors.Is(err, errInternal) {
				t.Errorf("Translate(%q) panicked: %v", q, err)
			}
			if err == nil && st == nil {
				t.Errorf("Translate(%q) returned neither a statement nor an error", q)
			}
		}
		if _, err := Translate(full); err != nil {
			t.Errorf("Translate(%q): %v", full, err)
		}
	}
}

// BenchmarkTranslate measures translating a typical analytics query.
func BenchmarkTranslate(b *testing.B) {
	q := `WITH games AS (
	  SELECT player_lookup, game_date, points, minutes,
	    ROW_NUMBER() OVER (PARTITION BY player_lookup ORDER BY game_date DESC) AS rn
	  FROM ` + "`nba_raw.box`" + `
	  WHERE game_date < @game_date AND game_date >= DATE_SUB(@game_date, INTERVAL 60 DAY)
	)
	SELECT player_lookup, @game_date AS game_date, COUNT(*) AS games, ROUND(AVG(points), 2) AS pts_avg,
	  ROUND(SAFE_DIVIDE(SUM(points), SUM(minutes)), 3) AS pts_per_min,
	  ARRAY_AGG(points IGNORE NULLS ORDER BY game_date DESC LIMIT 2) AS last2,
	  DATE_DIFF(@game_date, MAX(game_date), DAY) AS rest_days, COUNTIF(points >= 20) AS games_20plus,
	  SUM(points) / COUNT(*) AS ppg
	FROM games WHERE rn <= 10 GROUP BY player_lookup ORDER BY player_lookup`
	b.SetBytes(int64(len(q)))
	for b.Loop() {
		if _, err := Translate(q); err != nil {
			b.Fatal(err)
		}
	}
}
