package bqsql

import (
	"context"
	"database/sql"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type rows = [][]any

// A rowCase runs setup and then query (all BigQuery SQL) on a fresh DuckDB and compares
// the rows with what BigQuery returns.
type rowCase struct {
	name    string
	setup   []string
	query   string
	args    []any
	types   map[string]string // declared parameter types (DuckDB)
	want    rows
	wantErr string // a substring of the DuckDB error the query must fail with
}

func TestTranslateResults(t *testing.T) {
	t.Parallel()
	const games = `CREATE TABLE games (d DATE, team STRING, pts INT64, tags ARRAY<STRING>)`
	const gamesRows = `INSERT games (d, team, pts, tags) VALUES
		('2024-01-06', 'BOS', 110, ['a', 'b']),
		('2024-01-06', 'NYK', NULL, []),
		('2024-01-07', 'BOS', 99, ['c']),
		('2024-01-07', 'LAL', 120, NULL)`
	cases := []rowCase{
		// Lexical.
		{name: "string literals", query: `SELECT 'It\'s', "dq", '''tri'ple''', r'\d+', """a
"b""", 'tab\tend', '\u00e9', R"x\y"`,
			want: rows{{"It's", "dq", "tri'ple", `\d+`, "a\n\"b", "tab\tend", "é", `x\y`}}},
		{name: "bytes literal", query: `SELECT b'\x00a\'', BYTE_LENGTH(b'abc')`, want: rows{{[]byte{0, 'a', '\''}, int64(3)}}},
		{name: "comments", query: "SELECT 1 # hash comment\n, /* block */ 2 -- dash\n", want: rows{{int64(1), int64(2)}}},
		{name: "backtick names", setup: []string{"CREATE SCHEMA `ds`", "CREATE TABLE `ds.t` (`x` INT64)", "INSERT `ds`.`t` VALUES (1)"},
			query: "SELECT `x`, t.x, `t.x`, `t`.`x` FROM `ds.t` AS t", want: rows{{int64(1), int64(1), int64(1), int64(1)}}},
		{name: "duckdb reserved words as names", query: "SELECT show, t.unique, `column` FROM (SELECT 1 AS show, 2 AS unique, 3 AS column) AS t",
			want: rows{{int64(1), int64(2), int64(3)}}},
		{name: "float literal is FLOAT64", query: "SELECT 1.5 * 2, 1e2, .5", want: rows{{3.0, 100.0, 0.5}}},
		{name: "hex literal", query: "SELECT 0x1F", want: rows{{int64(31)}}},

		// NULL semantics and ordering.
		{name: "null ordering asc first desc last", query: `SELECT ARRAY_AGG(x ORDER BY x), ARRAY_AGG(x ORDER BY x DESC) FROM UNNEST([2, NULL, 1]) AS x`,
			want: rows{{[]any{nil, int64(1), int64(2)}, []any{int64(2), int64(1), nil}}}},
		{name: "order by nulls first", setup: []string{games, gamesRows}, query: `SELECT pts FROM games ORDER BY pts`,
			want: rows{{nil}, {int64(99)}, {int64(110)}, {int64(120)}}},
		{name: "concat with null", query: `SELECT CONCAT('a', NULL), CONCAT('a', 'b', 'c'), CONCAT('x')`, want: rows{{nil, "abc", "x"}}},
		{name: "greatest least with null", query: `SELECT GREATEST(1, NULL, 3), LEAST(4, 2, 3), GREATEST('a', 'b')`, want: rows{{nil, int64(2), "b"}}},

		// Arithmetic.
		{name: "division", query: `SELECT 6 / 4, -6 / 4 * 2, 1 + 9 / 3, (1 + 9) / 2`, want: rows{{1.5, -3.0, 4.0, 5.0}}},
		{name: "integer literal arithmetic is 64-bit", query: `SELECT 24 * 60 * 60 * 1000000, 2147483647 + 1, -2147483648 - 1, 7 % 3, 2147483647 * -2`,
			want: rows{{int64(86400000000), int64(2147483648), int64(-2147483649), int64(1), int64(-4294967294)}}},
		{name: "date minus integer", query: `SELECT DATE '2024-01-01' - 1 FROM (SELECT 1) ORDER BY 1`, want: rows{{day("2023-12-31")}}},
		{name: "division by zero is an error", query: `SELECT 1 / 0`, wantErr: "division by zero"},
		{name: "division by zero column", setup: []string{"CREATE TABLE n (a INT64, b INT64)", "INSERT n VALUES (1, 1), (2, 0)"},
			query: `SELECT a / b FROM n`, wantErr: "division by zero"},
		{name: "division guarded by where", setup: []string{"CREATE TABLE n (a INT64, b INT64)", "INSERT n VALUES (1, 2), (2, 0)"},
			query: `SELECT SUM(a) / COUNT(*), MAX(a / b) FROM n WHERE b != 0`, want: rows{{1.0, 0.5}}},
		{name: "safe divide", query: `SELECT SAFE_DIVIDE(1, 0), SAFE_DIVIDE(3, 2), SAFE_DIVIDE(NULL, 1), IEEE_DIVIDE(1, 0) > 1e308`,
			want: rows{{nil, 1.5, nil, true}}},
		{name: "div mod", query: `SELECT DIV(7, 2), DIV(-7, 2), MOD(7, 3)`, want: rows{{int64(3), int64(-3), int64(1)}}},
		{name: "div by zero", query: `SELECT DIV(1, 0)`, wantErr: "division by zero"},
		{name: "countif and sum are BIGINT", setup: []string{games, gamesRows},
			query: `SELECT COUNTIF(pts > 100), COUNT(*), COUNTIF(pts > 100) OVER () FROM games GROUP BY pts ORDER BY pts LIMIT 1`,
			want:  rows{{int64(0), int64(1), int64(2)}}},

		// Conditionals and casts.
		{name: "if ifnull safe_cast", query: `SELECT IF(1 > 2, 'a', 'b'), IFNULL(NULL, 5), SAFE_CAST('x' AS INT64), CAST('12' AS INT64), CAST(1 AS FLOAT64), CAST(3 AS STRING)`,
			want: rows{{"b", int64(5), nil, int64(12), 1.0, "3"}}},
		{name: "cast to int64 rounds half away from zero", query: `SELECT CAST(2.5 AS INT64), CAST(-2.5 AS INT64), CAST('42' AS INT64), CAST(TRUE AS INT64), SAFE_CAST('4x' AS INT64), CAST(9223372036854775807 AS INT64)`,
			want: rows{{int64(3), int64(-3), int64(42), int64(1), nil, int64(9223372036854775807)}}},
		{name: "numeric and bignumeric", query: `SELECT CAST('1.25' AS NUMERIC), NUMERIC '2.5', CAST('3' AS BIGNUMERIC)`, want: rows{{1.25, 2.5, 3.0}}},
		{name: "array and struct types", query: `SELECT CAST([1, 2] AS ARRAY<INT64>), ARRAY<FLOAT64>[1, 2], SAFE_CAST(STRUCT(1 AS a) AS STRUCT<a STRING>)`,
			want: rows{{[]any{int64(1), int64(2)}, []any{1.0, 2.0}, map[string]any{"a": "1"}}}},

		// Dates.
		{name: "date_diff argument order", query: `SELECT DATE_DIFF(DATE '2024-01-10', DATE '2024-01-01', DAY), DATE_DIFF(DATE '2024-01-01', DATE '2024-01-10', DAY), DATE_DIFF('2024-03-01', '2023-12-31', MONTH)`,
			want: rows{{int64(9), int64(-9), int64(3)}}},
		{name: "week boundaries saturday sunday", query: `SELECT
				DATE_DIFF(DATE '2024-01-07', DATE '2024-01-06', WEEK),
				DATE_DIFF(DATE '2024-01-08', DATE '2024-01-07', WEEK),
				DATE_DIFF(DATE '2024-01-08', DATE '2024-01-07', ISOWEEK),
				DATE_DIFF(DATE '2024-01-08', DATE '2024-01-07', WEEK(MONDAY)),
				DATE_TRUNC(DATE '2024-01-06', WEEK),
				DATE_TRUNC(DATE '2024-01-07', WEEK),
				DATE_TRUNC(DATE '2024-01-07', ISOWEEK),
				EXTRACT(WEEK FROM DATE '2024-01-06'),
				EXTRACT(WEEK FROM DATE '2024-01-07'),
				EXTRACT(DAYOFWEEK FROM DATE '2024-01-07'),
				EXTRACT(DAYOFWEEK FROM DATE '2024-01-06')`,
			want: rows{{int64(1), int64(0), int64(1), int64(1), day("2023-12-31"), day("2024-01-07"), day("2024-01-01"),
				int64(0), int64(1), int64(1), int64(7)}}},
		{name: "date_add sub trunc give dates", query: `SELECT DATE_ADD(DATE '2024-01-31', INTERVAL 1 MONTH), DATE_SUB(DATE '2024-03-01', INTERVAL 1 DAY),
				DATE_ADD(DATE '2024-01-01', INTERVAL @n DAY), DATE_TRUNC(DATE '2024-05-17', MONTH), DATE_TRUNC(DATE '2024-05-17', YEAR)`,
			args: []any{sql.Named("n", 3)},
			want: rows{{day("2024-02-29"), day("2024-02-29"), day("2024-01-04"), day("2024-05-01"), day("2024-01-01")}}},
		{name: "format and parse date", query: `SELECT FORMAT_DATE('%Y%m%d', DATE '2024-01-05'), FORMAT_DATE('%F', DATE '2024-01-05'), PARSE_DATE('%Y%m%d', '20240105'), PARSE_DATE('%F', '2024-01-05'), SAFE.PARSE_DATE('%Y%m%d', 'junk')`,
			want: rows{{"20240105", "2024-01-05", day("2024-01-05"), day("2024-01-05"), nil}}},
		{name: "date constructors", query: `SELECT DATE(2024, 2, 29), DATE(TIMESTAMP '2024-01-01 23:30:00'), DATE(TIMESTAMP '2024-01-02 01:00:00', 'America/New_York'), CURRENT_DATE() IS NOT NULL, LAST_DAY(DATE '2024-02-10')`,
			want: rows{{day("2024-02-29"), day("2024-01-01"), day("2024-01-01"), true, day("2024-02-29")}}},
		{name: "unnest generated dates", query: `SELECT d, FORMAT_DATE('%a', d) FROM UNNEST(GENERATE_DATE_ARRAY(@start, DATE_ADD(@start, INTERVAL 2 DAY))) AS d ORDER BY d DESC LIMIT 2`,
			types: map[string]string{"start": "DATE"}, args: []any{sql.Named("start", "2024-01-06")},
			want: rows{{day("2024-01-08"), "Mon"}, {day("2024-01-07"), "Sun"}}},
		{name: "generate_date_array", query: `SELECT GENERATE_DATE_ARRAY('2024-01-30', '2024-02-01'), GENERATE_ARRAY(1, 5, 2)`,
			want: rows{{[]any{day("2024-01-30"), day("2024-01-31"), day("2024-02-01")}, []any{int64(1), int64(3), int64(5)}}}},

		// Timestamps.
		{name: "timestamp functions", query: `SELECT
				TIMESTAMP_DIFF(TIMESTAMP '2001-02-01 01:00:00', TIMESTAMP '2001-02-01 00:00:01', HOUR),
				TIMESTAMP_DIFF(TIMESTAMP '2024-01-01 00:01:30', TIMESTAMP '2024-01-01 00:00:00', SECOND),
				TIMESTAMP_ADD(TIMESTAMP '2024-01-01 00:00:00', INTERVAL 90 MINUTE),
				TIMESTAMP_SUB(TIMESTAMP '2024-01-01 00:00:00', INTERVAL 1 HOUR),
				TIMESTAMP_TRUNC(TIMESTAMP '2024-05-17 13:45:00', DAY),
				TIMESTAMP_TRUNC(TIMESTAMP '2024-05-17 13:45:00', HOUR),
				TIMESTAMP_TRUNC(TIMESTAMP '2024-05-17 02:00:00', DAY, 'America/New_York')`,
			want: rows{{int64(0), int64(90), ts("2024-01-01 01:30:00"), ts("2023-12-31 23:00:00"), ts("2024-05-17 00:00:00"),
				ts("2024-05-17 13:00:00"), ts("2024-05-16 04:00:00")}}},
		{name: "unix conversions", query: `SELECT UNIX_SECONDS(TIMESTAMP '2024-01-01 00:00:01.9'), UNIX_MILLIS(TIMESTAMP '2024-01-01 00:00:00.0015'),
				UNIX_MICROS(TIMESTAMP '1970-01-01 00:00:00.000002'), TIMESTAMP_SECONDS(1704067200), TIMESTAMP_MILLIS(1704067200001),
				TIMESTAMP_MICROS(5), UNIX_DATE(DATE '1970-01-11'), DATE_FROM_UNIX_DATE(10)`,
			want: rows{{int64(1704067201), int64(1704067200001), int64(2), ts("2024-01-01 00:00:00"), ts("2024-01-01 00:00:00.001"),
				ts("1970-01-01 00:00:00.000005"), int64(10), day("1970-01-11")}}},
		{name: "format timestamp", query: `SELECT FORMAT_TIMESTAMP('%Y-%m-%dT%H:%M:%E6SZ', TIMESTAMP '2024-01-05 10:11:12.123456'), FORMAT_TIMESTAMP('%F %T', TIMESTAMP '2024-01-05 10:11:12', 'America/New_York'), PARSE_TIMESTAMP('%Y-%m-%d %H:%M', '2024-01-05 10:11')`,
			want: rows{{"2024-01-05T10:11:12.123456Z", "2024-01-05 05:11:12", ts("2024-01-05 10:11:00")}}},
		{name: "timestamp literal and function are UTC", query: `SELECT TIMESTAMP '2024-01-01 10:00:00', TIMESTAMP('2024-01-01 10:00:00+02'), TIMESTAMP('2024-01-01 10:00:00', 'America/New_York'), DATETIME '2024-01-01 10:00:00'`,
			want: rows{{ts("2024-01-01 10:00:00"), ts("2024-01-01 08:00:00"), ts("2024-01-01 15:00:00"), ts("2024-01-01 10:00:00")}}},
		{name: "extract", query: `SELECT EXTRACT(YEAR FROM DATE '2024-03-02'), EXTRACT(HOUR FROM TIMESTAMP '2024-03-02 13:04:05'), EXTRACT(MILLISECOND FROM TIMESTAMP '2024-03-02 13:04:05.678'),
				EXTRACT(DATE FROM TIMESTAMP '2024-03-02 13:04:05'), EXTRACT(DAYOFYEAR FROM DATE '2024-02-01'), EXTRACT(HOUR FROM TIMESTAMP '2024-03-02 13:04:05' AT TIME ZONE 'America/New_York')`,
			want: rows{{int64(2024), int64(13), int64(678), day("2024-03-02"), int64(32), int64(8)}}},
		{name: "current_timestamp with parens", query: `SELECT CURRENT_TIMESTAMP() <= CURRENT_TIMESTAMP, CURRENT_DATETIME() IS NOT NULL`, want: rows{{true, true}}},

		// Arrays, structs, UNNEST.
		{name: "array_agg order by limit", setup: []string{games, gamesRows},
			query: `SELECT team, ARRAY_AGG(pts IGNORE NULLS ORDER BY d DESC LIMIT 1) FROM games GROUP BY team ORDER BY team`,
			want:  rows{{"BOS", []any{int64(99)}}, {"LAL", []any{int64(120)}}, {"NYK", nil}}},
		{name: "array_agg distinct and string_agg", setup: []string{games, gamesRows},
			query: `SELECT ARRAY_AGG(DISTINCT team ORDER BY team), STRING_AGG(team, '|' ORDER BY team DESC), STRING_AGG(team ORDER BY team LIMIT 2) FROM games`,
			want:  rows{{[]any{"BOS", "LAL", "NYK"}, "NYK|LAL|BOS|BOS", "BOS,BOS"}}},
		{name: "array_agg distinct ignore nulls ordered by itself", setup: []string{games, gamesRows,
			`INSERT games (d, team, pts, tags) VALUES ('2024-01-08', 'BOS', 99, []), ('2024-01-08', 'BOS', NULL, []), ('2024-01-09', 'BOS', 105, [])`},
			query: `SELECT team, ARRAY_AGG(DISTINCT pts IGNORE NULLS ORDER BY pts), ARRAY_AGG(DISTINCT pts IGNORE NULLS ORDER BY pts DESC),
				ARRAY_AGG(DISTINCT IF(pts > 100, pts, NULL) IGNORE NULLS ORDER BY IF(pts > 100, pts, NULL) ASC)
				FROM games GROUP BY team ORDER BY team`,
			want: rows{
				{"BOS", []any{int64(99), int64(105), int64(110)}, []any{int64(110), int64(105), int64(99)}, []any{int64(105), int64(110)}},
				{"LAL", []any{int64(120)}, []any{int64(120)}, []any{int64(120)}},
				{"NYK", nil, nil, nil}}},
		{name: "array_agg ordered by itself keeps duplicates and sorts NULLs as BigQuery does", setup: []string{games, gamesRows,
			`INSERT games (d, team, pts, tags) VALUES ('2024-01-08', 'BOS', 99, []), ('2024-01-08', 'BOS', NULL, [])`},
			query: `SELECT team, ARRAY_AGG(pts ORDER BY pts)[OFFSET(0)], ARRAY_AGG(pts ORDER BY pts)[SAFE_OFFSET(1)],
				ARRAY_AGG(pts ORDER BY pts DESC)[OFFSET(0)], ARRAY_LENGTH(ARRAY_AGG(pts ORDER BY pts DESC)),
				ARRAY_AGG(pts IGNORE NULLS ORDER BY pts DESC)
				FROM games GROUP BY team ORDER BY team`,
			want: rows{
				{"BOS", nil, int64(99), int64(110), int64(4), []any{int64(110), int64(99), int64(99)}},
				{"LAL", int64(120), nil, int64(120), int64(1), []any{int64(120)}},
				{"NYK", nil, nil, nil, int64(1), nil}}},
		{name: "struct constructors", query: `SELECT STRUCT(1 AS a, 'x' AS b), STRUCT<a INT64, b STRING>(2, 'y'), STRUCT(1 AS a).a`,
			want: rows{{map[string]any{"a": int64(1), "b": "x"}, map[string]any{"a": int64(2), "b": "y"}, int64(1)}}},
		{name: "anonymous struct fields", setup: []string{`CREATE TABLE p (s STRUCT<name STRING, pts INT64>)`, `INSERT p VALUES (STRUCT('a', 1))`},
			query: `SELECT STRUCT(1, 'x'), [STRUCT('a' AS name, 1 AS pts), STRUCT('b', 2)], s, [STRUCT(1), STRUCT(2)] FROM p`,
			want: rows{{map[string]any{"_field_1": int64(1), "_field_2": "x"},
				[]any{map[string]any{"name": "a", "pts": int64(1)}, map[string]any{"name": "b", "pts": int64(2)}},
				map[string]any{"name": "a", "pts": int64(1)},
				[]any{map[string]any{"_field_1": int64(1)}, map[string]any{"_field_1": int64(2)}}}}},
		{name: "offset and ordinal", query: `SELECT [10, 20, 30][OFFSET(1)], [10, 20, 30][ORDINAL(1)], [10, 20][SAFE_OFFSET(5)], [10, 20][SAFE_ORDINAL(0)], ARRAY_LENGTH([1, 2])`,
			want: rows{{int64(20), int64(10), nil, nil, int64(2)}}},
		{name: "offset out of range is an error", query: `SELECT [1][OFFSET(1)]`, wantErr: "out of bounds"},
		{name: "unnest alias", setup: []string{games, gamesRows},
			query: `SELECT team, tag FROM games, UNNEST(tags) AS tag ORDER BY tag`,
			want:  rows{{"BOS", "a"}, {"BOS", "b"}, {"BOS", "c"}}},
		{name: "unnest structs without alias", query: `SELECT a, b FROM UNNEST([STRUCT(1 AS a, 'x' AS b), STRUCT(2 AS a, 'y' AS b)]) ORDER BY a`,
			want: rows{{int64(1), "x"}, {int64(2), "y"}}},
		{name: "correlated unnest of structs", setup: []string{
			`CREATE TABLE teams (team STRING, players ARRAY<STRUCT<name STRING, pts INT64>>)`,
			`INSERT teams VALUES ('BOS', [STRUCT('a' AS name, 1 AS pts), STRUCT('b', 2)]), ('NYK', [])`},
			query: `SELECT team, name, pts, (SELECT SUM(p.pts) FROM UNNEST(players) AS p) FROM teams, UNNEST(players) ORDER BY name`,
			want:  rows{{"BOS", "a", int64(1), big.NewInt(3)}, {"BOS", "b", int64(2), big.NewInt(3)}}},
		{name: "cross join unnest alias", setup: []string{
			`CREATE TABLE teams (team STRING, players ARRAY<STRUCT<name STRING, pts INT64>>)`,
			`INSERT teams VALUES ('BOS', [STRUCT('a' AS name, 1 AS pts), STRUCT('b', 2)]), ('NYK', [])`},
			query: `SELECT t.team, p.name FROM teams AS t CROSS JOIN UNNEST(t.players) AS p WHERE p.pts > 1`,
			want:  rows{{"BOS", "b"}}},
		{name: "unnest with offset", query: `SELECT x, o FROM UNNEST(['a', 'b']) AS x WITH OFFSET AS o ORDER BY o`,
			want: rows{{"a", int64(0)}, {"b", int64(1)}}},
		{name: "left join unnest without on", setup: []string{games, gamesRows},
			query: `SELECT team, tag FROM games LEFT JOIN UNNEST(tags) tag WHERE d = '2024-01-07' ORDER BY team`,
			want:  rows{{"BOS", "c"}, {"LAL", nil}}},
		{name: "unnest array param", query: `SELECT x * 2 FROM UNNEST(@arr) AS x ORDER BY x`, args: []any{sql.Named("arr", []int64{3, 1})},
			want: rows{{int64(2)}, {int64(6)}}},
		{name: "in unnest param", setup: []string{games, gamesRows},
			query: `SELECT team FROM games WHERE team IN UNNEST(@teams) AND team NOT IN UNNEST(['NYK']) ORDER BY team, d`,
			args:  []any{sql.Named("teams", []string{"BOS", "NYK"})},
			want:  rows{{"BOS"}, {"BOS"}}},
		{name: "select as struct", query: `SELECT ARRAY(SELECT AS STRUCT x, x * 2 AS y FROM UNNEST([2, 1]) AS x ORDER BY x), (SELECT AS VALUE 5), (SELECT AS STRUCT 1 AS a, 'b' AS b)`,
			want: rows{{[]any{map[string]any{"x": int64(1), "y": int64(2)}, map[string]any{"x": int64(2), "y": int64(4)}}, int64(5),
				map[string]any{"a": int64(1), "b": "b"}}}},
		{name: "array subquery and exists", query: `SELECT ARRAY(SELECT x * 2 FROM UNNEST([1, 2]) AS x ORDER BY x), EXISTS(SELECT 1)`,
			want: rows{{[]any{int64(2), int64(4)}, true}}},

		// Query shapes.
		{name: "select except", setup: []string{games, gamesRows},
			query: `SELECT * EXCEPT(tags, d) FROM games WHERE pts > 100 ORDER BY pts`,
			want:  rows{{"BOS", int64(110)}, {"LAL", int64(120)}}},
		{name: "select replace", query: `SELECT * REPLACE (x * 2 AS x) FROM (SELECT 1 AS x, 2 AS y)`, want: rows{{int64(2), int64(2)}}},
		{name: "qualify row_number", setup: []string{games, gamesRows},
			query: `SELECT team, d FROM games WHERE TRUE QUALIFY ROW_NUMBER() OVER (PARTITION BY team ORDER BY d DESC) = 1 ORDER BY team`,
			want:  rows{{"BOS", day("2024-01-07")}, {"LAL", day("2024-01-07")}, {"NYK", day("2024-01-06")}}},
		{name: "median with percentile_cont", setup: []string{games, gamesRows},
			query: `SELECT DISTINCT PERCENTILE_CONT(pts, 0.5) OVER () FROM games`, want: rows{{110.0}}},
		{name: "percentile_cont partitioned", setup: []string{games, gamesRows},
			query: `SELECT DISTINCT team, PERCENTILE_CONT(pts, 0.5) OVER (PARTITION BY team) FROM games ORDER BY team`,
			want:  rows{{"BOS", 104.5}, {"LAL", 120.0}, {"NYK", nil}}},
		{name: "approx functions", setup: []string{games, gamesRows},
			query: `SELECT APPROX_COUNT_DISTINCT(team), APPROX_QUANTILES(pts, 2)[OFFSET(1)], LOGICAL_AND(pts > 0), LOGICAL_OR(pts > 115) FROM games`,
			want:  rows{{int64(3), int64(110), true, true}}},
		{name: "named params case-insensitive", query: `SELECT @Team || '!', @team IS NULL, @d`,
			args: []any{sql.Named("team", "BOS"), sql.Named("d", day("2024-01-05"))},
			want: rows{{"BOS!", false, day("2024-01-05")}}},
		{name: "regexp", query: `SELECT REGEXP_CONTAINS('abc', r'^a'), REGEXP_EXTRACT('ab12', r'b(\d+)'), REGEXP_EXTRACT('ab', r'\d'), REGEXP_REPLACE('a.a', r'\.', '-'), REGEXP_REPLACE('aaa', 'a', 'b')`,
			want: rows{{true, "12", nil, "a-a", "bbb"}}},
		{name: "strings", query: `SELECT SPLIT('a,b'), FORMAT('%d-%s', 3, 'x'), STARTS_WITH('abc', 'a'), SUBSTR('abcdef', 2, 3), UPPER('a'), TO_HEX(MD5('a')), LENGTH('héllo')`,
			want: rows{{[]any{"a", "b"}, "3-x", true, "bcd", "A", "0cc175b9c0f1b6a831c399e269772661", int64(5)}}},
		{name: "math", query: `SELECT LOG(EXP(2)), LOG(8, 2), LOG10(100), POW(2, 3), IS_NAN(CAST('NaN' AS FLOAT64)), ROUND(2.5), ROUND(-2.5), TRUNC(2.7), SIGN(-3)`,
			want: rows{{2.0, 3.0, 2.0, 8.0, true, 3.0, -3.0, 2.0, int64(-1)}}},
		{name: "array helpers", query: `SELECT ARRAY_CONCAT([1], [2], [3]), ARRAY_TO_STRING(['a', NULL, 'b'], '-'), ARRAY_REVERSE([1, 2]), ARRAY_FIRST([4, 5]), ARRAY_LAST([4, 5]), ARRAY_INCLUDES([1, 2], 2)`,
			want: rows{{[]any{int64(1), int64(2), int64(3)}, "a-b", []any{int64(2), int64(1)}, int64(4), int64(5), true}}},
		{name: "padding and normalize", query: `SELECT LPAD('7', 3), RPAD('7', 3, '0'), NORMALIZE('e\u0301') = '\u00e9', CONTAINS_SUBSTR('Hello', 'ELL'), EDIT_DISTANCE('kitten', 'sitting')`,
			want: rows{{"  7", "700", true, true, int64(3)}}},
		{name: "substr positions", query: `SELECT SUBSTR('abcdef', 2, 3), SUBSTR('abcdef', 0, 2), SUBSTR('abcdef', -2), SUBSTR('abc', -5, 2), SUBSTR('abc', 5), SUBSTRING('héllo', 2, 2), SUBSTR(NULL, 1)`,
			want: rows{{"bcd", "ab", "ef", "ab", "", "él", nil}}},
		{name: "like with escapes", query: `SELECT 'a_b' LIKE 'a\\_b', 'axb' LIKE 'a\\_b', 'axb' LIKE 'a_b', 'a%' LIKE r'a\%', 'ab' NOT LIKE 'a%'`,
			want: rows{{true, false, true, true, false}}},
		{name: "json", query: `SELECT JSON_EXTRACT_SCALAR('{"a": {"b": "x"}}', '$.a.b'), JSON_VALUE('{"n": 1}', '$.n'), TO_JSON_STRING(STRUCT(1 AS a)),
				JSON_EXTRACT('{"a": {"b": "x"}}', '$.a'), JSON_EXTRACT_SCALAR('{"a": 1}', '$.z'), JSON_EXTRACT_ARRAY('{"a": [1, "x", {"c": 2}]}', '$.a'),
				JSON_VALUE_ARRAY('{"a": [1, "x"]}', '$.a')`,
			want: rows{{"x", "1", `{"a":1}`, `{"b":"x"}`, nil, []any{"1", `"x"`, `{"c":2}`}, []any{"1", "x"}}}},
		{name: "with cte and union", query: `WITH a AS (SELECT 1 AS x), b AS (SELECT 2 AS x) SELECT x FROM a UNION ALL SELECT x FROM b ORDER BY x`,
			want: rows{{int64(1)}, {int64(2)}}},
		{name: "case expression", query: `SELECT CASE WHEN x > 1 THEN x / 2 ELSE CASE x WHEN 1 THEN -1 END END FROM UNNEST([1, 4]) AS x ORDER BY x`,
			want: rows{{-1.0}, {2.0}}},

		{name: "analytics rolling window", setup: []string{
			`CREATE SCHEMA nba_raw`,
			`CREATE TABLE nba_raw.box (game_date DATE, player_lookup STRING, points INT64, minutes FLOAT64) PARTITION BY game_date CLUSTER BY player_lookup`,
			`INSERT INTO ` + "`nba_raw.box`" + ` (game_date, player_lookup, points, minutes) VALUES
			   ('2024-01-01', 'jdoe', 20, 30.0), ('2024-01-03', 'jdoe', 10, 20.0), ('2024-01-05', 'jdoe', 30, 40.0),
			   ('2024-01-06', 'jdoe', 99, 1.0), ('2024-01-02', 'asmith', NULL, 0.0)`},
			query: `-- rolling form before @game_date
			WITH games AS (
			  SELECT player_lookup, game_date, points, minutes,
			    ROW_NUMBER() OVER (PARTITION BY player_lookup ORDER BY game_date DESC) AS rn
			  FROM ` + "`nba_raw.box`" + `
			  WHERE game_date < @game_date AND game_date >= DATE_SUB(@game_date, INTERVAL 60 DAY)
			)
			SELECT
			  player_lookup,
			  @game_date AS game_date,
			  COUNT(*) AS games,
			  ROUND(AVG(points), 2) AS pts_avg,
			  ROUND(SAFE_DIVIDE(SUM(points), SUM(minutes)), 3) AS pts_per_min,
			  ARRAY_AGG(points IGNORE NULLS ORDER BY game_date DESC LIMIT 2) AS last2,
			  DATE_DIFF(@game_date, MAX(game_date), DAY) AS rest_days,
			  COUNTIF(points >= 20) AS games_20plus,
			  CAST(SUM(points) AS INT64) AS pts_total
			FROM games
			WHERE rn <= 10
			GROUP BY player_lookup
			ORDER BY player_lookup`,
			types: map[string]string{"game_date": "DATE"},
			args:  []any{sql.Named("game_date", "2024-01-06")},
			want: rows{
				{"asmith", day("2024-01-06"), int64(1), nil, nil, nil, int64(4), int64(0), nil},
				{"jdoe", day("2024-01-06"), int64(3), 20.0, 0.667, []any{int64(30), int64(10)}, int64(1), int64(2), int64(60)},
			}},

		// DML.
		{name: "merge replaces a partition", setup: []string{
			`CREATE TABLE box (d DATE, player STRING, pts INT64) PARTITION BY d`,
			`INSERT box VALUES ('2024-01-06', 'a', 1), ('2024-01-07', 'a', 2), ('2024-01-07', 'b', 3)`,
			`MERGE box T USING (SELECT DATE '2024-01-07' AS d, 'c' AS player, 9 AS pts) S ON FALSE
			 WHEN NOT MATCHED BY SOURCE AND T.d = '2024-01-07' THEN DELETE
			 WHEN NOT MATCHED THEN INSERT ROW`},
			query: `SELECT d, player, pts FROM box ORDER BY d, player`,
			want:  rows{{day("2024-01-06"), "a", int64(1)}, {day("2024-01-07"), "c", int64(9)}}},
		{name: "merge update and insert", setup: []string{
			`CREATE TABLE box (player STRING, pts INT64)`,
			`INSERT INTO box (player, pts) VALUES ('a', 1)`,
			`MERGE INTO box AS T USING (SELECT 'a' AS player, 5 AS pts UNION ALL SELECT 'b', 7) AS S ON T.player = S.player
			 WHEN MATCHED THEN UPDATE SET pts = S.pts
			 WHEN NOT MATCHED BY TARGET THEN INSERT (player, pts) VALUES (S.player, S.pts)`},
			query: `SELECT * FROM box ORDER BY player`,
			want:  rows{{"a", int64(5)}, {"b", int64(7)}}},
		{name: "delete update without from", setup: []string{
			`CREATE TABLE box (player STRING, pts INT64)`,
			`INSERT box (player, pts) VALUES ('a', 1), ('b', 2)`,
			`DELETE box WHERE player = 'a'`,
			`UPDATE box SET pts = pts * 10 WHERE TRUE`},
			query: `SELECT * FROM box`, want: rows{{"b", int64(20)}}},
		{name: "script with transaction", setup: []string{
			`CREATE TABLE box (player STRING, pts INT64); INSERT box VALUES ('x', 1)`,
			`BEGIN TRANSACTION; DELETE box WHERE TRUE; INSERT box VALUES ('y', 2); COMMIT TRANSACTION;`},
			query: `SELECT * FROM box`, want: rows{{"y", int64(2)}}},
		{name: "create table as select and view", setup: []string{
			`CREATE OR REPLACE TABLE t1 PARTITION BY d CLUSTER BY x OPTIONS(description="d") AS SELECT DATE '2024-01-01' AS d, 1 AS x`,
			`CREATE VIEW v1 OPTIONS(description='v') AS SELECT d, x + 1 AS y FROM t1`},
			query: `SELECT * FROM v1`, want: rows{{day("2024-01-01"), int64(2)}}},
		{name: "alter truncate drop", setup: []string{
			`CREATE SCHEMA IF NOT EXISTS ds OPTIONS(location="US")`,
			`CREATE TABLE ds.a (x INT64)`,
			`ALTER TABLE ds.a ADD COLUMN IF NOT EXISTS tags ARRAY<STRING>`,
			`INSERT ds.a (x, tags) VALUES (1, ['t'])`,
			`CREATE TABLE ds.b (y INT64)`,
			`INSERT ds.b VALUES (2)`,
			`TRUNCATE TABLE ds.b`,
			`DROP TABLE IF EXISTS ds.missing`,
			`ALTER TABLE ds.a RENAME COLUMN x TO z`},
			query: `SELECT z, tags, (SELECT COUNT(*) FROM ds.b) FROM ds.a`, want: rows{{int64(1), []any{"t"}, int64(0)}}},
		{name: "ddl column types", setup: []string{
			`CREATE TABLE typed (a INT64 NOT NULL, b FLOAT64, c NUMERIC, d BIGNUMERIC, e BOOL, f STRING(10), g BYTES, h TIMESTAMP, i DATETIME,
			  j DATE, k TIME, l JSON, m ARRAY<STRUCT<x INT64, y ARRAY<STRING>>> OPTIONS(description="m"), n STRUCT<p NUMERIC(10, 2)>,
			  PRIMARY KEY (a) NOT ENFORCED)`},
			query: `SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'typed' ORDER BY ordinal_position`,
			want: rows{{"a", "BIGINT"}, {"b", "DOUBLE"}, {"c", "DECIMAL(38,9)"}, {"d", "DECIMAL(38,9)"}, {"e", "BOOLEAN"}, {"f", "VARCHAR"},
				{"g", "BLOB"}, {"h", "TIMESTAMP WITH TIME ZONE"}, {"i", "TIMESTAMP"}, {"j", "DATE"}, {"k", "TIME"}, {"l", "JSON"},
				{"m", `STRUCT(x BIGINT, y VARCHAR[])[]`}, {"n", "STRUCT(p DECIMAL(10,2))"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := newDB(t)
			for _, s := range tc.setup {
				st, err := Translate(s)
				if err != nil {
					t.Fatalf("translate setup %q: %v", s, err)
				}
				parts := []*Statement{st}
				if st.Statements != nil {
					parts = st.Statements
				}
				for _, p := range parts {
					if _, err := db.ExecContext(ctx, p.SQL); err != nil {
						t.Fatalf("setup %q\nas %s: %v", s, p.SQL, err)
					}
				}
			}
			got, err := run(ctx, db, tc.query, ParamTypes{Named: tc.types}, tc.args...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("query error = %v, want one containing %q (rows %v)", err, tc.wantErr, got)
				}
				return
			}
			if err != nil {
				st, _ := Translate(tc.query)
				if st != nil {
					t.Fatalf("query: %v\nDuckDB SQL: %s", err, st.SQL)
				}
				t.Fatalf("query: %v", err)
			}
			if diff := cmp.Diff(tc.want, got, bigIntEqual); diff != "" {
				st, _ := Translate(tc.query)
				t.Errorf("rows mismatch (-want +got):\n%s\nDuckDB SQL: %s", diff, st.SQL)
			}
		})
	}
}

func TestTranslateUnsupported(t *testing.T) {
	t.Parallel()
	for _, q := range []string{
		"SELECT @@project_id",
		"DECLARE x INT64 DEFAULT 1",
		"SET x = 1",
		"SELECT * FROM t FOR SYSTEM_TIME AS OF TIMESTAMP '2024-01-01'",
		"SELECT _TABLE_SUFFIX FROM `ds.t_*`",
		"SELECT * FROM `ds.events_*`",
		"SELECT _PARTITIONTIME FROM t",
		"SELECT FARM_FINGERPRINT('a')",
		"SELECT * FROM t PIVOT(SUM(x) FOR y IN ('a'))",
		"CREATE TEMP FUNCTION f(x INT64) AS (x + 1)",
		"CREATE TABLE t (x INT64) PARTITION BY RANGE_BUCKET(x, GENERATE_ARRAY(0, 10, 1))",
		"CREATE TABLE t (x INT64) PARTITION BY _PARTITIONDATE",
		"SELECT AS PROTO_TYPE 1 AS a",
		"SELECT x FROM t TABLESAMPLE SYSTEM (10 PERCENT)",
		"SELECT ST_GEOGPOINT(1, 2)",
		"SELECT CAST('2024' AS DATE FORMAT 'YYYY')",
		"SELECT PARSE_DATE(@f, '2024')",
		"EXPORT DATA OPTIONS(uri='gs://b/*') AS SELECT 1",
		"SELECT CAST(x AS RANGE<DATE>) FROM t",
		"SELECT CAST(x AS GEOMETRY) FROM t",
	} {
		t.Run(q, func(t *testing.T) {
			t.Parallel()
			st, err := Translate(q)
			var ue *UnsupportedError
			if !errors.As(err, &ue) {
				t.Fatalf("Translate(%q) = %+v, %v; want an *UnsupportedError", q, st, err)
			}
			if ue.Construct == "" || !strings.Contains(err.Error(), ue.Construct) {
				t.Errorf("error %q does not name the construct", err)
			}
		})
	}
}

func TestTranslateSyntaxErrors(t *testing.T) {
	t.Parallel()
	for _, q := range []string{
		"SELEC 1",
		"WHERE x = 1",
		"'a'",
		"SELECT 'unterminated",
		"SELECT `unterminated",
		"SELECT (1",
		"SELECT 1)",
		"SELECT [1, 2)",
		"SELECT '\\q'",
		"SELECT 'a\nb'",
		"SELECT /* open",
		"SELECT @",
		"SELECT 1 $ 2",
		"SELECT DATE_DIFF(a, b)",
		"SELECT DATE_DIFF(a, b, FORTNIGHT)",
		"SELECT CASE WHEN x THEN 1",
		"",
		" ; ",
		"CREATE TABLE t",
		"SELECT 12abc",
		"SELECT @a, ?",
		"SELECT NORMALIZE(a, )",
		"SELECT CONCAT(a,,b)",
		"SELECT " + strings.Repeat("CASE WHEN TRUE THEN ", 2000) + "1" + strings.Repeat(" END", 2000),
		"SELECT " + strings.Repeat("(", 2000) + "1" + strings.Repeat(")", 2000),
	} {
		t.Run(q, func(t *testing.T) {
			t.Parallel()
			st, err := Translate(q)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Translate(%q) = %+v, %v; want a *SyntaxError", q, st, err)
			}
		})
	}
}

func TestSyntaxErrorPosition(t *testing.T) {
	t.Parallel()
	_, err := Translate("SELECT 1,\n  `é`, (2")
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("got %v, want a *SyntaxError", err)
	}
	if se.Line != 2 || se.Column != 8 || !strings.Contains(err.Error(), "[2:8]") {
		t.Errorf("error %q at line %d column %d, want [2:8]", err, se.Line, se.Column)
	}
}

func TestUnexpectedFirstWord(t *testing.T) {
	t.Parallel()
	for q, want := range map[string]string{
		"SELEC 1":     `syntax error at [1:1]: Unexpected identifier "SELEC"`,
		"\n  WHERE 1": `syntax error at [2:3]: Unexpected keyword WHERE`,
		"1.5":         `syntax error at [1:1]: Unexpected floating point literal "1.5"`,
		"'a'":         `syntax error at [1:1]: Unexpected string literal 'a'`,
	} {
		if _, err := Translate(q); err == nil || err.Error() != want {
			t.Errorf("Translate(%q) error = %v, want %s", q, err, want)
		}
	}
}

func TestTranslateStatementInfo(t *testing.T) {
	t.Parallel()
	cases := []struct {
		sql  string
		want Statement
	}{
		{sql: "SELECT @b, @A, @b", want: Statement{Kind: "SELECT", Params: []string{"b", "a"}}},
		{sql: "SELECT ?, ?", want: Statement{Kind: "SELECT", Positional: 2}},
		{sql: "(SELECT 1)", want: Statement{Kind: "SELECT"}},
		{sql: "INSERT `my-proj.ds.t` (a) VALUES (1)", want: Statement{Kind: "INSERT", Target: []string{"my-proj", "ds", "t"}}},
		{sql: "DELETE FROM my-proj.ds.t WHERE TRUE", want: Statement{Kind: "DELETE", Target: []string{"my-proj", "ds", "t"}}},
		{sql: "UPDATE ds.t SET a = 1 WHERE TRUE", want: Statement{Kind: "UPDATE", Target: []string{"ds", "t"}}},
		{sql: "MERGE `ds`.t USING s ON FALSE WHEN NOT MATCHED THEN INSERT ROW", want: Statement{Kind: "MERGE", Target: []string{"ds", "t"}}},
		{sql: "TRUNCATE TABLE ds.t", want: Statement{Kind: "TRUNCATE_TABLE", Target: []string{"ds", "t"}}},
		{sql: "CREATE SCHEMA IF NOT EXISTS `p.ds` OPTIONS(location='US')", want: Statement{Kind: "CREATE_SCHEMA", Target: []string{"p", "ds"},
			DDL: &DDL{Name: []string{"p", "ds"}, IfNotExists: true, Options: map[string]string{"location": "US"}}}},
		{sql: "CREATE OR REPLACE TABLE ds.t (d DATE OPTIONS(description=\"day\"), ts TIMESTAMP, x INT64) PARTITION BY DATE(ts) CLUSTER BY x, `d` OPTIONS(description=\"games\", partition_expiration_days=3, labels=[(\"a\", \"b\")])",
			want: Statement{Kind: "CREATE_TABLE", Target: []string{"ds", "t"}, DDL: &DDL{Name: []string{"ds", "t"}, OrReplace: true,
				PartitionBy: "DATE(ts)", PartitionField: "ts", PartitionType: "DAY", ClusterBy: []string{"x", "d"},
				Options:       map[string]string{"description": "games", "partition_expiration_days": "3", "labels": `[("a", "b")]`},
				ColumnOptions: map[string]map[string]string{"d": {"description": "day"}}}}},
		{sql: "CREATE TABLE t PARTITION BY TIMESTAMP_TRUNC(ts, HOUR) AS SELECT CURRENT_TIMESTAMP() AS ts",
			want: Statement{Kind: "CREATE_TABLE_AS_SELECT", Target: []string{"t"}, DDL: &DDL{Name: []string{"t"},
				PartitionBy: "TIMESTAMP_TRUNC(ts, HOUR)", PartitionField: "ts", PartitionType: "HOUR"}}},
		{sql: "CREATE TABLE IF NOT EXISTS t (d DATE) PARTITION BY DATE_TRUNC(d, MONTH)",
			want: Statement{Kind: "CREATE_TABLE", Target: []string{"t"}, DDL: &DDL{Name: []string{"t"}, IfNotExists: true,
				PartitionBy: "DATE_TRUNC(d, MONTH)", PartitionField: "d", PartitionType: "MONTH"}}},
		{sql: "CREATE VIEW ds.v AS SELECT 1 AS x", want: Statement{Kind: "CREATE_VIEW", Target: []string{"ds", "v"}, DDL: &DDL{Name: []string{"ds", "v"}}}},
		{sql: "DROP TABLE IF EXISTS `p.ds.t`", want: Statement{Kind: "DROP_TABLE", Target: []string{"p", "ds", "t"}, DDL: &DDL{Name: []string{"p", "ds", "t"}, IfNotExists: true}}},
		{sql: "DROP SCHEMA ds CASCADE", want: Statement{Kind: "DROP_SCHEMA", Target: []string{"ds"}, DDL: &DDL{Name: []string{"ds"}}}},
		{sql: "DROP VIEW v", want: Statement{Kind: "DROP_VIEW", Target: []string{"v"}, DDL: &DDL{Name: []string{"v"}}}},
		{sql: "ALTER TABLE t ADD COLUMN IF NOT EXISTS x ARRAY<INT64>", want: Statement{Kind: "ALTER_TABLE", Target: []string{"t"}, DDL: &DDL{Name: []string{"t"}}}},
	}
	for _, tc := range cases {
		t.Run(tc.sql, func(t *testing.T) {
			t.Parallel()
			st, err := Translate(tc.sql)
			if err != nil {
				t.Fatalf("Translate: %v", err)
			}
			if diff := cmp.Diff(&tc.want, st, cmpIgnoreSQL); diff != "" {
				t.Errorf("statement mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// bigIntEqual compares HUGEINT values.
var bigIntEqual = cmp.Comparer(func(a, b *big.Int) bool { return a.Cmp(b) == 0 })

// cmpIgnoreSQL compares statement info without the SQL, the parts of a script and the
// reads (TestReadsAndFilterNames covers those).
var cmpIgnoreSQL = cmp.FilterPath(func(p cmp.Path) bool {
	switch p.Last().String() {
	case ".SQL", ".Statements", ".Reads", ".FilterNames":
		return true
	}
	return false
}, cmp.Ignore())

func TestTranslateScript(t *testing.T) {
	t.Parallel()
	st, err := Translate("DELETE ds.t WHERE d = @d; INSERT ds.t SELECT @d, @x;")
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	var params [][]string
	for _, s := range st.Statements {
		kinds = append(kinds, s.Kind)
		params = append(params, s.Params)
	}
	if diff := cmp.Diff([][]string{{"d"}, {"d", "x"}}, params); diff != "" {
		t.Errorf("script part params (-want +got):\n%s", diff)
	}
	want := Statement{Kind: "SCRIPT", Params: []string{"d", "x"}}
	if diff := cmp.Diff(&want, st, cmpIgnoreSQL); diff != "" {
		t.Errorf("script mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"DELETE", "INSERT"}, kinds); diff != "" {
		t.Errorf("script parts (-want +got):\n%s", diff)
	}
}

func TestTranslateParamTypes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := newDB(t)
	st, err := TranslateWithParams("SELECT @d, @n IS NULL, @i + 1, x FROM UNNEST(@arr) AS x",
		ParamTypes{Named: map[string]string{"D": "DATE", "n": "BIGINT", "i": "BIGINT", "arr": "VARCHAR[]"}})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := db.QueryContext(ctx, st.SQL, sql.Named("d", "2024-01-05"), sql.Named("n", nil), sql.Named("arr", []string{"q"}), sql.Named("i", "41"))
	if err != nil {
		t.Fatalf("%s: %v", st.SQL, err)
	}
	defer rs.Close()
	var got rows
	for rs.Next() {
		var a, b, c, d any
		if err := rs.Scan(&a, &b, &c, &d); err != nil {
			t.Fatal(err)
		}
		got = append(got, []any{a, b, c, d})
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rows{{day("2024-01-05"), true, int64(42), "q"}}, got); diff != "" {
		t.Errorf("rows (-want +got):\n%s\nSQL: %s", diff, st.SQL)
	}

	st, err = TranslateWithParams("SELECT ? + 1, ?", ParamTypes{Positional: []string{"BIGINT", "DATE"}})
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	var d any
	if err := db.QueryRowContext(ctx, st.SQL, "1", "2024-02-03").Scan(&n, &d); err != nil {
		t.Fatalf("%s: %v", st.SQL, err)
	}
	if n != 2 || d != day("2024-02-03") {
		t.Errorf("positional params = %d, %v; want 2, 2024-02-03", n, d)
	}
}

func TestDuckDBType(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"INT64":                                  "BIGINT",
		"INTEGER":                                "BIGINT",
		"FLOAT":                                  "DOUBLE",
		"BOOLEAN":                                "BOOLEAN",
		"TIMESTAMP":                              "TIMESTAMPTZ",
		"DATETIME":                               "TIMESTAMP",
		"NUMERIC":                                "DECIMAL(38,9)",
		"NUMERIC(10, 2)":                         "DECIMAL(10,2)",
		"BIGNUMERIC":                             "DECIMAL(38,9)",
		"ARRAY<STRING>":                          "VARCHAR[]",
		"STRUCT<a INT64, b ARRAY<DATE>>":         `STRUCT("a" BIGINT, "b" DATE[])`,
		"ARRAY<STRUCT<`x y` STRING, BYTES>>":     `STRUCT("x y" VARCHAR, "_field_2" BLOB)[]`,
		"STRUCT<a STRUCT<b JSON>, c STRING>":     `STRUCT("a" STRUCT("b" JSON), "c" VARCHAR)`,
		"string":                                 "VARCHAR",
		"GEOGRAPHY":                              "VARCHAR",
		"STRUCT<a INT64 NOT NULL, b STRING>":     `STRUCT("a" BIGINT, "b" VARCHAR)`,
		"STRUCT<a INT64 OPTIONS(x='y'), b DATE>": `STRUCT("a" BIGINT, "b" DATE)`,
	} {
		got, err := DuckDBType(in)
		if err != nil || got != want {
			t.Errorf("DuckDBType(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"ARRAY<ARRAY<INT64>>", "RECORD", "WIDGET", "ARRAY<INT64", "INT64 INT64", "RANGE<DATE>"} {
		if got, err := DuckDBType(bad); err == nil {
			t.Errorf("DuckDBType(%q) = %q, want an error", bad, got)
		}
	}
}

func TestSetupIsIdempotent(t *testing.T) {
	t.Parallel()
	db := newDB(t) // runs Setup once
	if err := Setup(context.Background(), db); err != nil {
		t.Fatalf("second Setup: %v", err)
	}
	got, err := run(context.Background(), db, "SELECT SAFE_DIVIDE(4, 2)", ParamTypes{})
	if err != nil || !cmp.Equal(got, rows{{2.0}}) {
		t.Errorf("after a second Setup: %v, %v", got, err)
	}
}

// TestSearchPath checks the layout the emulator uses: after USE of a project catalog, the
// macros in memory.main are found through search_path.
func TestSearchPath(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := newDB(t)
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, s := range []string{`ATTACH ':memory:' AS "my-proj"`, `CREATE SCHEMA "my-proj".ds`, `USE "my-proj".ds`,
		`SET search_path='"my-proj".ds,memory.main'`} {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	for _, s := range []string{"CREATE TABLE `my-proj.ds.t` (x INT64)", "INSERT my-proj.ds.t VALUES (1), (0)"} {
		st, err := Translate(s)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(ctx, st.SQL); err != nil {
			t.Fatalf("%s: %v", st.SQL, err)
		}
	}
	got, err := run(ctx, conn, "SELECT SAFE_DIVIDE(1, x), DATE_TRUNC(DATE '2024-01-06', WEEK), SUBSTR('abc', -2, 1) FROM t ORDER BY x", ParamTypes{})
	if err != nil {
		t.Fatal(err)
	}
	want := rows{{nil, day("2023-12-31"), "b"}, {1.0, day("2023-12-31"), "b"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}

// TestTranslatePipelineSQL translates the pipeline's own query files: any construct they
// use must be translated, not rejected. (Their results are checked by the consumers'
// tests against the emulator.)
func TestTranslatePipelineSQL(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("..", "..", "..", "consumers", "*", "*.sql"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Skip("no pipeline SQL files found")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Translate(string(b)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// TestColumnNames checks that result columns are named as BigQuery names them.
func TestColumnNames(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := newDB(t)
	for q, want := range map[string][]string{
		"SELECT 1, 'a' AS b, COUNT(*), x, t.x, x y, CASE WHEN TRUE THEN 1 END, NULL FROM (SELECT 1 AS x) AS t GROUP BY x":                       {"f0_", "b", "f1_", "x", "x", "y", "f2_", "f3_"},
		"WITH c AS (SELECT 1 AS x, 2 AS z) SELECT DISTINCT SUM(x) OVER (), * EXCEPT (x), * REPLACE (2 AS x) FROM c UNION ALL SELECT 1, 2, 3, 4": {"f0_", "z", "x", "z"},
	} {
		st, err := Translate(q)
		if err != nil {
			t.Fatalf("Translate(%q): %v", q, err)
		}
		rs, err := db.QueryContext(ctx, st.SQL)
		if err != nil {
			t.Fatalf("%s: %v", st.SQL, err)
		}
		got, err := rs.Columns()
		rs.Close()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("columns of %q (-want +got):\n%s\nSQL: %s", q, diff, st.SQL)
		}
	}
}

// An ARRAY_AGG ordered by the aggregated value itself becomes a sorted list (DuckDB's
// ordered aggregates cost several times as much); any other order, a LIMIT, a window, or
// DISTINCT with NULLs kept keep the ordered aggregate, which the list form would not match.
func TestArrayAggSortedByItselfIsAList(t *testing.T) {
	t.Parallel()
	for q, fast := range map[string]bool{
		`SELECT ARRAY_AGG(DISTINCT team IGNORE NULLS ORDER BY team) FROM games`:            true,
		`SELECT ARRAY_AGG(DISTINCT team IGNORE NULLS ORDER BY team DESC) FROM games`:       true,
		`SELECT ARRAY_AGG(team ORDER BY team) FROM games`:                                  true,
		`SELECT ARRAY_AGG(team IGNORE NULLS ORDER BY team DESC) FROM games`:                true,
		`SELECT ARRAY_AGG(team ORDER BY team desc) FROM games`:                             true,
		`SELECT ARRAY_AGG(team ORDER BY team || 'x') FROM games`:                           false,
		`SELECT ARRAY_AGG(DISTINCT team ORDER BY team) FROM games`:                         false,
		`SELECT ARRAY_AGG(DISTINCT team IGNORE NULLS ORDER BY d) FROM games`:               false,
		`SELECT ARRAY_AGG(DISTINCT team IGNORE NULLS ORDER BY team LIMIT 2) FROM games`:    false,
		`SELECT ARRAY_AGG(team ORDER BY team) OVER () FROM games`:                          false,
		`SELECT ARRAY_AGG(DISTINCT team IGNORE NULLS ORDER BY team NULLS LAST) FROM games`: false,
		`SELECT STRING_AGG(team ORDER BY team) FROM games`:                                 false,
	} {
		st, err := Translate(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if got := strings.Contains(st.SQL, "list_sort("); got != fast {
			t.Errorf("%s\n  translated to %s\n  list form: %v, want %v", q, st.SQL, got, fast)
		}
	}
}
