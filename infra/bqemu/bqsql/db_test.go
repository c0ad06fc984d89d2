package bqsql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"math/big"
	"testing"
	"time"

	"github.com/duckdb/duckdb-go/v2"
)

// newDB opens an in-memory DuckDB configured like the emulator (see Setup), with the
// compatibility macros installed.
func newDB(t testing.TB) *sql.DB {
	t.Helper()
	conn, err := duckdb.NewConnector("", func(execer driver.ExecerContext) error {
		for _, s := range []string{"SET TimeZone='UTC'", "SET default_null_order='nulls_first_on_asc_last_on_desc'"} {
			if _, err := execer.ExecContext(context.Background(), s, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("duckdb connector: %v", err)
	}
	db := sql.OpenDB(conn)
	t.Cleanup(func() { db.Close() })
	if err := Setup(context.Background(), db); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	return db
}

// run translates bq with parameter types pt, runs it and returns all rows with values normalized by norm.
func run(ctx context.Context, db interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, bq string, pt ParamTypes, args ...any) ([][]any, error) {
	st, err := TranslateWithParams(bq, pt)
	if err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, st.SQL, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		for i := range vals {
			vals[i] = norm(vals[i])
		}
		out = append(out, vals)
	}
	return out, rows.Err()
}

// norm maps driver values to the few Go types the tests compare: int64 for every
// non-HUGEINT integer width, float64 for decimals, and the same inside lists and structs.
// HUGEINT stays *big.Int so that tests notice it.
func norm(v any) any {
	switch x := v.(type) {
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case duckdb.Decimal:
		return x.Float64()
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = norm(e)
		}
		return out
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[k] = norm(e)
		}
		return out
	case *big.Int:
		return x
	}
	return v
}

// day returns a DATE value as the driver returns it.
func day(s string) time.Time {
	d, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return d
}

// ts returns a TIMESTAMP value (UTC) as the driver returns it.
func ts(s string) time.Time {
	d, err := time.Parse("2006-01-02 15:04:05.999999", s)
	if err != nil {
		panic(err)
	}
	return d
}
