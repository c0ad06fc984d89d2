package bqsql

import (
	"context"
	"database/sql"
	"fmt"
)

// macros are the bq_* compatibility functions that translated SQL calls. They live in
// memory.main, so each job connection needs memory.main on its search_path.
var macros = []string{
	`bq_div(a, b) AS CASE WHEN b = 0 THEN error('division by zero: ' || CAST(a AS VARCHAR) || ' / ' || CAST(b AS VARCHAR)) ELSE a / b END`,
	`bq_safe_divide(a, b) AS CASE WHEN b = 0 THEN NULL ELSE a / b END`,
	`bq_intdiv(a, b) AS CASE WHEN b = 0 THEN error('division by zero: ' || CAST(a AS VARCHAR) || ' / ' || CAST(b AS VARCHAR)) ELSE a // b END`,
	`bq_mod(a, b) AS CASE WHEN b = 0 THEN error('division by zero: ' || CAST(a AS VARCHAR) || ' / ' || CAST(b AS VARCHAR)) ELSE a % b END`,
	`bq_offset(arr, i) AS CASE WHEN i < 0 OR i >= len(arr) THEN error('Array index ' || CAST(i AS VARCHAR) || ' is out of bounds (overflow)') ELSE arr[i + 1] END`,
	`bq_safe_offset(arr, i) AS CASE WHEN i < 0 OR i >= len(arr) THEN NULL ELSE arr[i + 1] END`,
	`bq_substr_start(s, p) AS CASE WHEN p > 0 THEN p WHEN p = 0 THEN 1 ELSE greatest(length(s) + p + 1, 1) END`,
	`bq_substr(s, p) AS substring(s, memory.main.bq_substr_start(s, p))`,
	`bq_substr_len(s, p, n) AS CASE WHEN n < 0 THEN error('SUBSTR length cannot be negative') ELSE substring(s, memory.main.bq_substr_start(s, p), n) END`,
	`bq_format(f, x) AS strftime(x, replace(replace(f, '%F', '%Y-%m-%d'), '%T', '%H:%M:%S'))`,
	`bq_unix_seconds(ts) AS CAST(floor(epoch_us(ts) / 1000000) AS BIGINT)`,
	`bq_unix_millis(ts) AS CAST(floor(epoch_us(ts) / 1000) AS BIGINT)`,
	`bq_unix_micros(ts) AS epoch_us(ts)`,
	`bq_unix_date(d) AS date_diff('day', DATE '1970-01-01', d)`,
	`bq_timestamp_seconds(n) AS make_timestamptz(CAST(n AS BIGINT) * 1000000)`,
	`bq_timestamp_millis(n) AS make_timestamptz(CAST(n AS BIGINT) * 1000)`,
	`bq_timestamp_micros(n) AS make_timestamptz(CAST(n AS BIGINT))`,
	`bq_date_from_unix_date(n) AS CAST(DATE '1970-01-01' + INTERVAL (n) DAY AS DATE)`,
	`bq_generate_uuid() AS CAST(gen_random_uuid() AS VARCHAR)`,
	`bq_to_json_string(x) AS CAST(to_json(x) AS VARCHAR)`,
}

// Setup installs the bq_* compatibility macros into memory.main. Run it once per
// database before the first translated statement; it is idempotent. Connections that
// USE another catalog must keep memory.main on their search_path, for example
// SET search_path='"proj".ds,memory.main'.
func Setup(ctx context.Context, db *sql.DB) error {
	for _, m := range macros {
		if _, err := db.ExecContext(ctx, "CREATE OR REPLACE MACRO memory.main."+m); err != nil {
			return fmt.Errorf("install bigquery compatibility macro %.40s: %w", m, err)
		}
	}
	return nil
}
