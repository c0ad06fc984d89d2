package bqemu

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// resolvePath resolves a table path as written in SQL (1 to 3 parts) against the job's
// project p and default dataset defDS. ok is false for a one-part name without a default
// dataset.
func resolvePath(p, defDS string, path []string) (r tableRef, ok bool) {
	switch len(path) {
	case 3:
		return tableRef{project: path[0], dataset: path[1], table: path[2]}, true
	case 2:
		return tableRef{project: p, dataset: path[0], table: path[1]}, true
	case 1:
		return tableRef{project: p, dataset: defDS, table: path[0]}, defDS != ""
	}
	return tableRef{}, false
}

// queryer is a *sql.DB or *sql.Conn.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// explainError words DuckDB's error from running sqlText, st's statement, the way BigQuery
// does: a syntax error at the end of the text (explainSyntax) or a missing table or dataset
// (explainMissing). Any other error is returned unchanged.
func (s *Server) explainError(ctx context.Context, q queryer, p, defDS string, st *statement, sqlText string, err error) error {
	if e := s.explainSyntax(ctx, sqlText, err); e != err {
		return e
	}
	return s.explainMissing(ctx, q, p, defDS, st, err)
}

// explainMissing words DuckDB's error about a missing table or schema the way BigQuery
// does: 404 notFound "Not found: Table p:d.t was not found in location US", or "Not found:
// Dataset p:d ..." when the dataset is missing, or 400 when a one-part table name has no
// default dataset to resolve in. It checks, on the connection q that ran the statement (so
// that a script's temporary tables count), the tables st reads and writes and the datasets
// it creates in, and names the first that does not exist. Any other error, or a catalog
// error whose missing entry is none of them (a function, say), is returned unchanged.
func (s *Server) explainMissing(ctx context.Context, q queryer, p, defDS string, st *statement, err error) error {
	var de *duckdb.Error
	if !errors.As(err, &de) || de.Type != duckdb.ErrorTypeCatalog || strings.Contains(de.Msg, "already exists") {
		return err
	}
	ctx = context.WithoutCancel(ctx)
	// A use is a table the statement needs, or only its dataset; a one-part path that
	// cannot be resolved keeps its name in bare.
	type use struct {
		ref       tableRef
		bare      string
		needTable bool
	}
	var uses []use
	add := func(path []string, needTable bool) {
		r, ok := resolvePath(p, defDS, path)
		switch {
		case ok:
			uses = append(uses, use{ref: r, needTable: needTable})
		case len(path) == 1:
			uses = append(uses, use{bare: path[0]})
		}
	}
	for _, r := range st.Reads {
		add(r, true)
	}
	switch t := st.Target; {
	case t == nil || st.Kind == "CREATE_SCHEMA":
	case strings.HasSuffix(st.Kind, "_SCHEMA"): // DROP SCHEMA ds or p.ds
		r := tableRef{project: p, dataset: t[len(t)-1]}
		if len(t) == 2 {
			r.project = t[0]
		}
		uses = append(uses, use{ref: r})
	case strings.HasPrefix(st.Kind, "CREATE"):
		add(t, false)
	default:
		add(t, true)
	}
	loc := s.opts.DefaultLocation
	for _, u := range uses {
		if u.bare != "" {
			if !tempTableExists(ctx, q, u.bare) {
				return errInvalidQuery("Table %q must be qualified with a dataset (e.g. dataset.table).", u.bare)
			}
			continue
		}
		hasSchema, hasTable, e := s.catalogHas(ctx, q, u.ref)
		if e != nil {
			return err
		}
		switch {
		case !hasSchema:
			return notFoundInQuery("Not found: Dataset %s:%s was not found in location %s", u.ref.project, u.ref.dataset, loc)
		case u.needTable && !hasTable && !tempTableExists(ctx, q, u.ref.table):
			return notFoundInQuery("Not found: Table %s was not found in location %s", u.ref.label(), loc)
		}
	}
	return err
}

// catalogHas reports whether r's schema and table (or view) exist, asking q first and the
// pool if q cannot answer (a connection whose transaction an error aborted).
func (s *Server) catalogHas(ctx context.Context, q queryer, r tableRef) (schema, table bool, err error) {
	const check = `SELECT
		EXISTS (SELECT 1 FROM duckdb_schemas() WHERE lower(database_name) = lower($1) AND lower(schema_name) = lower($2)),
		EXISTS (SELECT 1 FROM duckdb_tables() WHERE lower(database_name) = lower($1) AND lower(schema_name) = lower($2) AND lower(table_name) = lower($3))
		OR EXISTS (SELECT 1 FROM duckdb_views() WHERE lower(database_name) = lower($1) AND lower(schema_name) = lower($2) AND lower(view_name) = lower($3))`
	for _, qq := range []queryer{q, s.db} {
		if err = qq.QueryRowContext(ctx, check, r.project, r.dataset, r.table).Scan(&schema, &table); err == nil {
			return schema, table, nil
		}
	}
	return false, false, err
}

func notFoundInQuery(format string, args ...any) *apiError {
	e := errNotFound(format, args...)
	e.location = "query"
	return e
}

// tempTableExists reports whether q's connection has a temporary table of that name.
func tempTableExists(ctx context.Context, q queryer, name string) bool {
	var ok bool
	err := q.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM duckdb_tables() WHERE temporary AND lower(table_name) = lower(?))`, name).Scan(&ok)
	return err == nil && ok
}
