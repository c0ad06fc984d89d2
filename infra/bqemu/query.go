package bqemu

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"time"

	bq "google.golang.org/api/bigquery/v2"
)

// useDataset points a pinned connection at a project and optional default dataset and makes
// the memory.main compatibility macros visible through search_path.
func useDataset(ctx context.Context, conn *sql.Conn, p, d string) error {
	target := quoteIdent(p)
	path := quoteIdent(p) + ".main"
	if d != "" {
		target += "." + quoteIdent(d)
		path = quoteIdent(p) + "." + quoteIdent(d)
	}
	if _, err := conn.ExecContext(ctx, "USE "+target); err != nil {
		return fmt.Errorf("use %s: %w", target, err)
	}
	if _, err := conn.ExecContext(ctx, "SET search_path="+quoteString(path+",memory.main")); err != nil {
		return fmt.Errorf("set search_path: %w", err)
	}
	return nil
}

// scopedConn pins a connection pointed at project p and dataset d (see useDataset). release
// points it back at memory.main before returning it to the pool, or discards it.
func (s *Server) scopedConn(ctx context.Context, p, d string) (*sql.Conn, func(), error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("duckdb connection: %w", err)
	}
	if err := useDataset(ctx, conn, p, d); err != nil {
		conn.Close()
		return nil, nil, err
	}
	release := func() {
		bg := context.WithoutCancel(ctx)
		// A script may have left a transaction open; the error when none is open is moot.
		_, _ = conn.ExecContext(bg, "ROLLBACK")
		_, err := conn.ExecContext(bg, "USE memory.main")
		if err == nil {
			_, err = conn.ExecContext(bg, "RESET search_path")
		}
		if err != nil {
			// Drop the connection rather than reuse it with a stale default schema.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		conn.Close()
	}
	return conn, release, nil
}

var falseValue = false

// runQueryJob executes a query job's statement and fills its statistics.
func (s *Server) runQueryJob(ctx context.Context, p string, job *bq.Job, params []*queryParam) (*resultSet, error) {
	cfg := job.Configuration.Query
	// The REST API's default is legacy SQL: a request that leaves useLegacySql out (as the
	// bq CLI does without --nouse_legacy_sql) asks for it, and is refused like an explicit true.
	if cfg.UseLegacySql == nil || *cfg.UseLegacySql {
		return nil, &requestError{errInvalidQuery(`Emulator: legacy SQL is not supported, and a query request without "useLegacySql": false is legacy SQL; ` +
			`send "useLegacySql": false (the Go client does unless UseLegacySQL is set; bq: --use_legacy_sql=false)`)}
	}
	cfg.UseLegacySql = &falseValue
	if cfg.Priority == "" {
		cfg.Priority = "INTERACTIVE"
	}
	stats := &bq.JobStatistics2{}
	job.Statistics.Query = stats
	st, err := translate(cfg.Query)
	if err != nil {
		return nil, err
	}
	stats.StatementType = st.Kind
	defDS := ""
	if dd := cfg.DefaultDataset; dd != nil {
		defDS = dd.DatasetId
	}
	if err := s.checkPartitionFilters(p, defDS, st); err != nil {
		return nil, err
	}
	if len(st.Parts) > 0 {
		if cfg.DestinationTable != nil && cfg.DestinationTable.TableId != "" {
			return nil, &requestError{errInvalid("Cannot set destination table in jobs with scripts")}
		}
		return s.runScript(ctx, p, cfg, st, params)
	}
	sqlText, err := bindParams(strings.TrimRight(strings.TrimSpace(st.SQL), ";"), params)
	if err != nil {
		return nil, err
	}
	if dd := cfg.DefaultDataset; dd != nil && dd.DatasetId != "" {
		if dd.ProjectId != "" && dd.ProjectId != p {
			return nil, errInvalidQuery("Emulator: a default dataset in another project (%s) is not supported", dd.ProjectId)
		}
		s.mu.Lock()
		_, err := s.datasetLocked(ctx, p, defDS)
		s.mu.Unlock()
		if err != nil {
			return nil, err
		}
	}
	if dst := cfg.DestinationTable; dst != nil && dst.TableId != "" {
		if st.Kind != "SELECT" {
			return nil, &requestError{errInvalid("Cannot set destination table in jobs with DML/DDL statements")}
		}
		return s.queryToDestination(ctx, p, defDS, job, st, sqlText)
	}
	if st.Kind == "SELECT" {
		// Pointing a connection at the dataset, and back, reads and writes no table: a
		// writer waiting for the read lock need not wait for it.
		conn, release, err := s.scopedConn(ctx, p, defDS)
		if err != nil {
			return nil, err
		}
		defer release()
		s.writeMu.RLock()
		defer s.writeMu.RUnlock()
		res, err := readResult(ctx, conn, sqlText)
		if err != nil {
			return nil, s.explainError(ctx, conn, p, defDS, st, sqlText, err)
		}
		return res, nil
	}
	return s.runStatement(ctx, p, defDS, st, sqlText, stats)
}

// valuesSize estimates the memory a row of values holds: its slice and a slot per value,
// what each slot boxes (a number, a time, a string's or a slice's header) and what strings,
// bytes and nested values point to. Counting the slots alone, a season's results held
// two thirds more than Options.ResultMemory allowed.
func valuesSize(vals []any) int64 {
	n := int64(24 + 16*len(vals))
	for _, v := range vals {
		switch v := v.(type) {
		case nil:
		case string:
			n += 16 + int64(len(v))
		case []byte:
			n += 24 + int64(len(v))
		case []any:
			n += valuesSize(v)
		case map[string]any:
			n += 48
			for k, e := range v {
				n += 16 + int64(len(k)) + valuesSize([]any{e})
			}
		case time.Time:
			n += 24
		default:
			n += 8 // a boxed number or boolean
		}
	}
	return n
}

// resultSchemas are the schemas of the results read so far, by their columns' names and
// DuckDB types. Every job keeps its result's schema for as long as the job is kept (20,000
// jobs), and the pipeline's jobs run a few dozen statements over and over: with a schema of
// its own per result, the schemas were 8 MB of the local stack's 76 MB live heap at the end
// of a season. A schema is never changed once read: a table created from it keeps it as
// it is, and a changed table schema is a new slice.
var resultSchemas = newShared[[]*bq.TableFieldSchema]()

// resultSchema is the schema of a result with these columns.
func resultSchema(cols []*sql.ColumnType) ([]*bq.TableFieldSchema, error) {
	var key strings.Builder
	for _, col := range cols {
		key.WriteString(col.Name())
		key.WriteByte(0)
		key.WriteString(col.DatabaseTypeName())
		key.WriteByte(0)
	}
	if schema, ok := resultSchemas.get(key.String()); ok {
		return schema, nil
	}
	schema := make([]*bq.TableFieldSchema, len(cols))
	for i, col := range cols {
		f, err := fieldFromDuckType(col.Name(), col.DatabaseTypeName())
		if err != nil {
			return nil, err
		}
		schema[i] = f
	}
	return resultSchemas.share(key.String(), schema), nil
}

// readResult runs a SELECT and keeps its rows in memory.
func readResult(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, sqlText string) (*resultSet, error) {
	rows, err := q.QueryContext(ctx, sqlText)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	schema, err := resultSchema(cols)
	if err != nil {
		return nil, err
	}
	res := &resultSet{schema: schema}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		for i, v := range vals {
			// SUM and COUNTIF give HUGEINT; BigQuery's INT64 overflows instead.
			if b, ok := v.(*big.Int); ok && res.schema[i].Type == "INTEGER" {
				if !b.IsInt64() {
					return nil, errInvalidQuery("Integer overflow in column %s", res.schema[i].Name)
				}
				vals[i] = b.Int64()
			}
		}
		res.rows = append(res.rows, vals)
		res.size += valuesSize(vals)
	}
	return res, rows.Err()
}

// runStatement executes DML or DDL under the write lock and syncs the metadata. Only the
// statement and, after DDL, reading the catalogue back hold the lock: pointing the
// connection at the dataset and back, the statistics and the tables' modification times
// change no table. (A lone BEGIN TRANSACTION leaves a transaction open until the
// connection is released, but one that has written nothing.)
func (s *Server) runStatement(ctx context.Context, p, defDS string, st *statement, sqlText string, stats *bq.JobStatistics2) (*resultSet, error) {
	conn, release, err := s.scopedConn(ctx, p, defDS)
	if err != nil {
		return nil, err
	}
	defer release()
	n, err := func() (int64, error) {
		s.writeMu.Lock()
		defer s.writeMu.Unlock()
		res, err := conn.ExecContext(ctx, sqlText)
		if err != nil {
			return 0, s.explainError(ctx, conn, p, defDS, st, sqlText, err)
		}
		if isDML(st.Kind) {
			return res.RowsAffected()
		}
		return 0, s.syncCatalog(ctx, p, st)
	}()
	if err != nil {
		return nil, err
	}
	out := &resultSet{}
	switch st.Kind {
	case "INSERT", "UPDATE", "DELETE", "MERGE":
		out.dmlAffected = &n
		stats.NumDmlAffectedRows = n
		ds := &bq.DmlStatistics{}
		switch st.Kind {
		case "INSERT":
			ds.InsertedRowCount = n
		case "UPDATE":
			ds.UpdatedRowCount = n
		case "DELETE":
			ds.DeletedRowCount = n
		case "MERGE":
			ds.UpdatedRowCount = n
		}
		stats.DmlStats = ds
	default:
		switch {
		case strings.HasPrefix(st.Kind, "CREATE"):
			stats.DdlOperationPerformed = "CREATE"
		case strings.HasPrefix(st.Kind, "DROP"):
			stats.DdlOperationPerformed = "DROP"
		case st.Kind == "ALTER_TABLE":
			stats.DdlOperationPerformed = "ALTER"
		}
	}
	if out.dmlAffected == nil || *out.dmlAffected > 0 {
		if err := s.touchTarget(p, defDS, st); err != nil {
			return nil, err
		}
	}
	return out, nil
}

type queryResponse struct {
	Kind                string            `json:"kind"`
	JobReference        *bq.JobReference  `json:"jobReference"`
	Schema              *bq.TableSchema   `json:"schema,omitempty"`
	Rows                []row             `json:"rows,omitempty"`
	TotalRows           string            `json:"totalRows"`
	PageToken           string            `json:"pageToken,omitempty"`
	JobComplete         bool              `json:"jobComplete"`
	TotalBytesProcessed string            `json:"totalBytesProcessed"`
	CacheHit            bool              `json:"cacheHit"`
	NumDmlAffectedRows  string            `json:"numDmlAffectedRows,omitempty"`
	DmlStats            *bq.DmlStatistics `json:"dmlStats,omitempty"`
}

// query is jobs.query: it runs the statement as a registered job, so that
// getQueryResults, jobs.get and paging work on it as BigQuery's do, and returns the
// first page.
func (s *Server) query(r *http.Request) (any, error) {
	p := r.PathValue("p")
	b, err := decodeBody(r, &struct{}{})
	if err != nil {
		return nil, err
	}
	if b, err = normalizeParamValues(b, "queryParameters"); err != nil {
		return nil, err
	}
	var qr bq.QueryRequest
	var raw struct {
		QueryParameters []*queryParam `json:"queryParameters"`
	}
	if err := json.Unmarshal(b, &qr); err != nil {
		return nil, errInvalid("Invalid JSON payload received: %v", err)
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, errInvalid("Invalid JSON payload received: %v", err)
	}
	if qr.Query == "" {
		return nil, errInvalid("Required parameter is missing: query")
	}
	if qr.DryRun {
		return nil, errInvalid("Emulator: dry-run queries are not supported")
	}
	cfg := &bq.JobConfigurationQuery{
		Query: qr.Query, UseLegacySql: qr.UseLegacySql, DefaultDataset: qr.DefaultDataset,
		MaximumBytesBilled: qr.MaximumBytesBilled,
		UseQueryCache:      qr.UseQueryCache, CreateSession: qr.CreateSession,
	}
	if len(qr.QueryParameters) > 0 {
		cfg.QueryParameters = qr.QueryParameters
		if qr.ParameterMode != "" {
			cfg.ParameterMode = qr.ParameterMode
		}
	}
	paramsRaw, _ := json.Marshal(map[string]any{"configuration": map[string]any{"query": map[string]any{"queryParameters": raw.QueryParameters}}})
	job := &bq.Job{
		JobReference:  &bq.JobReference{ProjectId: p, Location: qr.Location},
		Configuration: &bq.JobConfiguration{Query: cfg, Labels: qr.Labels, JobType: "QUERY"},
	}
	// The first page comes from the result as it ran: the stored copy may already have been
	// dropped to keep within Options.ResultMemory.
	done, result, err := s.execJob(r.Context(), p, job, paramsRaw, nil)
	if err != nil {
		return nil, err
	}
	if done.Status.ErrorResult != nil {
		return nil, errorFromProto(done.Status.ErrorResult)
	}
	limit := -1
	if qr.MaxResults > 0 {
		limit = int(qr.MaxResults)
	}
	int64TS := qr.FormatOptions != nil && qr.FormatOptions.UseInt64Timestamp
	page := s.resultPage(done, result, 0, limit, int64TS)
	return &queryResponse{
		Kind: "bigquery#queryResponse", JobReference: done.JobReference, Schema: page.Schema, Rows: page.Rows,
		TotalRows: page.TotalRows, PageToken: page.PageToken, JobComplete: true, TotalBytesProcessed: "0",
		NumDmlAffectedRows: page.NumDmlAffectedRows, DmlStats: page.DmlStats,
	}, nil
}

// runScript runs the statements of a multi-statement query in order on one connection; the
// result is that of the last SELECT.
func (s *Server) runScript(ctx context.Context, p string, cfg *bq.JobConfigurationQuery, st *statement, params []*queryParam) (*resultSet, error) {
	defDS := ""
	if cfg.DefaultDataset != nil {
		defDS = cfg.DefaultDataset.DatasetId
	}
	out, wrote, err := s.runScriptLocked(ctx, p, defDS, st, params)
	if err != nil {
		return nil, err
	}
	// Moving the tables' modification times changes no data: it needs no write lock.
	for _, part := range wrote {
		if err := s.touchTarget(p, defDS, part); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// runScriptLocked runs the script's statements under the write lock and reads the catalogue
// back. It returns the result of the last SELECT and the statements that wrote. The
// connection is released under the lock too: a script may leave a transaction open, with
// its writes, that only the release rolls back.
func (s *Server) runScriptLocked(ctx context.Context, p, defDS string, st *statement, params []*queryParam) (*resultSet, []*statement, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	conn, release, err := s.scopedConn(ctx, p, defDS)
	if err != nil {
		return nil, nil, err
	}
	defer release()
	out := &resultSet{}
	ddl := &statement{}
	var wrote []*statement
	for _, part := range st.Parts {
		q, err := bindParams(strings.TrimRight(strings.TrimSpace(part.SQL), ";"), params)
		if err != nil {
			return nil, nil, err
		}
		if part.Kind == "SELECT" {
			if out, err = readResult(ctx, conn, q); err != nil {
				return nil, nil, s.explainError(ctx, conn, p, defDS, part, q, err)
			}
			continue
		}
		res, err := conn.ExecContext(ctx, q)
		if err != nil {
			return nil, nil, s.explainError(ctx, conn, p, defDS, part, q, err)
		}
		if part.PartitionField != "" || len(part.Clustering) > 0 {
			ddl = part
		}
		if n, err := res.RowsAffected(); err != nil || n > 0 || !isDML(part.Kind) {
			wrote = append(wrote, part)
		}
	}
	if err := s.syncCatalog(ctx, p, ddl); err != nil {
		return nil, nil, err
	}
	return out, wrote, nil
}

// isDML reports whether a statement kind changes rows and reports how many.
func isDML(kind string) bool {
	switch kind {
	case "INSERT", "UPDATE", "DELETE", "MERGE":
		return true
	}
	return false
}
