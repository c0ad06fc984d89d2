// Package bqemu is a BigQuery REST emulator backed by DuckDB, good enough for the official
// Go client (cloud.google.com/go/bigquery) to run this pipeline's loads and queries locally
// and in tests without changing a line, and for the bq CLI, which reads the discovery
// document the emulator serves.
//
// # Using it
//
// Tests start one per test with StartTest and connect with
//
//	bigquery.NewClient(ctx, project,
//		option.WithEndpoint("http://"+host+"/bigquery/v2/"), option.WithoutAuthentication())
//
// The local stack embeds New(Options{DuckDBPath: dir, GCS: StorageSource(gcs)}).Handler()
// or runs cmd/bqemu. Projects are created on first use.
//
// # Layout
//
// Each project is an attached DuckDB database (in memory, or dir/<project>.duckdb), each
// dataset a schema, each table a table, so the SQL translator (package bqsql) only has to
// quote `p.d.t` as "p"."d"."t". BigQuery metadata (schemas with legacy type names,
// partitioning, clustering, times) is kept in memory and, with DuckDBPath, in
// dir/metadata.json after every change. Jobs and their results live in memory only.
//
// # Behaviour that matters to callers
//
//   - Jobs run synchronously inside jobs.insert, jobs.query and uploads; every job the
//     client can see is DONE. jobs.query registers its job, so paging and JobFromID work.
//   - Partition decorators (t$YYYYMMDD) work for loads, query destinations, tabledata.list,
//     insertAll and partition deletes. WRITE_TRUNCATE on a decorator replaces only that
//     partition; a row outside it fails the job and nothing is written.
//   - Loads parse NDJSON in Go with BigQuery's rules: unknown fields fail unless
//     ignoreUnknownValues, maxBadRecords, gzip objects, one '*' wildcard per URI.
//   - Query parameters are inlined as typed literals. Their values may be JSON strings,
//     numbers or booleans, as the REST API's JSON mapping allows. TIMESTAMP cells are int64
//     microseconds when the client asks (formatOptions.useInt64Timestamp); type names are
//     the legacy ones (INTEGER, FLOAT, BOOLEAN, RECORD).
//   - A query request without "useLegacySql": false asks for legacy SQL, the REST API's
//     default, and is refused with 400 invalidQuery.
//   - Deterministic failures are 4xx (invalid, invalidQuery, notFound, duplicate) and panics
//     are recovered to 400, so the client never retries them until its deadline. Errors
//     carry BigQuery's wording where callers read it: "Syntax error: Unexpected identifier
//     "SELEC" at [1:1]", "Not found: Table p:d.t was not found in location US".
//   - tables.get reports numRows and numBytes (BigQuery's logical size rules, computed by a
//     scan) and lastModifiedTime, which every load, DML statement, query write and
//     insertAll moves.
//   - GET /$discovery/rest?version=v2 serves the BigQuery v2 discovery document with
//     rootUrl pointing at the emulator.
//   - Writes (loads, DML/DDL, destination queries, insertAll) are serialised; SELECTs run
//     concurrently on DuckDB snapshots.
//   - requirePartitionFilter is enforced on reads: a statement that reads such a table
//     (FROM, JOIN, a MERGE's USING, subqueries and CTEs included) fails with 400
//     invalidQuery "Cannot query over table 'p.d.t' without a filter over column(s)
//     'game_date' that can be used for partition elimination" unless the partitioning
//     column's name appears somewhere in a WHERE, ON or QUALIFY condition of the same
//     statement. This is a token-level approximation and more lenient than BigQuery: any
//     mention counts (game_date IS NOT NULL, a join ON a.game_date = b.game_date, a filter
//     on another table's column of that name), and a table read through a view is not
//     checked. Writes are exempt: DML and DDL targets, MERGE targets, query destinations
//     and partition decorators; CREATE VIEW reads nothing.
//
// Not supported: legacy SQL, CSV/Avro/Parquet loads, schema autodetection, copy and
// extract jobs, ingestion-time partitioning, the Storage Read API, dry runs.
package bqemu
