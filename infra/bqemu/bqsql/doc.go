// Package bqsql translates BigQuery Standard SQL into DuckDB SQL for the DuckDB-backed
// BigQuery emulator (package bqemu).
//
// It is a lossless tokenizer plus a rewriting pass over bracket-nested tokens, not a full
// parser: it rewrites literals, names, types, and the function and statement shapes that
// differ between the dialects, and fails with *UnsupportedError for constructs it knows
// it cannot reproduce (scripting, wildcard tables, FARM_FINGERPRINT, ...), so that a query
// never silently returns different results. Anything else passes through to DuckDB, whose
// error the server reports as invalidQuery.
//
// # Running translated SQL
//
// The translated SQL assumes this session:
//
//	SET TimeZone='UTC';
//	SET default_null_order='nulls_first_on_asc_last_on_desc';
//	SET search_path='"<project>".<dataset>,memory.main';  -- after USE, for the bq_* macros
//
// and Setup run once on the database. Named parameters become $name with the name lower
// cased (bind sql.Named(strings.ToLower(name), v)); positional ? stay ?. With
// TranslateWithParams every reference is wrapped in CAST(... AS <declared type>), which
// is how the server should give NULL and string-encoded parameters their BigQuery types.
// A query mixing named and positional parameters is rejected.
//
// A SCRIPT (statements separated by ';', including BEGIN TRANSACTION / COMMIT) carries
// its parts in Statement.Statements; run them one by one on one connection.
//
// # Semantics the translation keeps
//
//   - "..." and '...' are strings; backtick paths `p.d.t` become "p"."d"."t"; # comments.
//   - a / b, DIV and MOD fail on a zero divisor ("division by zero: 1 / 0") instead of
//     giving +Inf or NULL; SAFE_DIVIDE gives NULL.
//   - CONCAT, GREATEST and LEAST are NULL if any argument is NULL.
//   - DATE_DIFF(end, start, part) argument order; WEEK means Sunday weeks (WEEK(<day>)
//     and ISOWEEK too); DATE_ADD/SUB/TRUNC return DATE; TIMESTAMP_DIFF counts whole
//     units while DATE_DIFF and DATETIME_DIFF count boundaries, as in BigQuery.
//   - Literals with a point or exponent are FLOAT64 (DOUBLE), not DECIMAL; arithmetic
//     between integer literals is BIGINT, so 24 * 60 * 60 * 1000000 does not overflow.
//   - COUNTIF returns BIGINT and 0 over no rows.
//   - CAST(x AS INT64) rounds halves away from zero (DuckDB alone rounds to even).
//   - arr[OFFSET(i)] out of range is an error; SAFE_OFFSET gives NULL.
//   - REGEXP_EXTRACT returns the first group and NULL when nothing matches;
//     REGEXP_REPLACE replaces every match; LIKE honours backslash escapes; LOG(x) is ln.
//   - UNNEST(arr) AS x binds x to the element; UNNEST of structs without an alias makes
//     the fields columns; x IN UNNEST(arr) has SQL IN semantics; WITH OFFSET is 0-based.
//   - Unaliased expression columns of the main SELECT are named f0_, f1_, ... .
//   - An alias given without AS (SELECT EXTRACT(YEAR FROM d) year, FROM t value) is quoted,
//     and so are names DuckDB reserves but BigQuery does not (pivot, semi, glob, ...), so
//     DuckDB's keywords work as names as they do in BigQuery.
//
// # Known gaps the server must cover
//
//   - SUM (and other aggregates) over integers return HUGEINT in DuckDB: map HUGEINT
//     result columns to INTEGER (int64, "Integer overflow" if out of range).
//   - A bare integer literal (SELECT 1) is a 32-bit INTEGER column: map INTEGER results
//     to INTEGER (int64) as usual.
//   - BigQuery fails a query whose result (or written row) holds an array with a NULL
//     element ("Array cannot have a null element"); DuckDB keeps it. Check on output.
//   - LENGTH on BYTES fails (use BYTE_LENGTH); DATE_TRUNC on a TIMESTAMP returns a DATE;
//     PARSE_DATE/PARSE_TIMESTAMP need a literal format.
package bqsql
