// Package bqemu is a BigQuery REST emulator backed by DuckDB, good enough for the official
// Go client (cloud.google.com/go/bigquery) to run this pipeline's loads and queries locally
// and in tests without changing a line. The verified specification is
// shared/reference/bigquery-emulator.md; section numbers below refer to it.
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
//     partition; a row outside it fails the job and nothing is written (§3.7, §3.8).
//   - Loads parse NDJSON in Go with BigQuery's rules: unknown fields fail unless
//     ignoreUnknownValues, maxBadRecords, gzip objects, one '*' wildcard per URI.
//   - Query parameters are inlined as typed literals (§3.9); TIMESTAMP cells are int64
//     microseconds when the client asks (§0.1); type names are the legacy ones (§0.2).
//   - Deterministic failures are 4xx (invalid, invalidQuery, notFound, duplicate) and panics
//     are recovered to 400, so the client never retries them until its deadline (§0.4).
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
