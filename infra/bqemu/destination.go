package bqemu

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	bq "google.golang.org/api/bigquery/v2"
)

// tmpPrefix names the scratch tables that hold a query result before it is written to its
// destination: a temporary table of the job's own connection, dropped when the job ends.
const tmpPrefix = "__bqemu_result_"

// destination is a resolved write target of a load or query job.
type destination struct {
	ref     tableRef
	meta    *bq.Table // nil when the table does not exist yet
	pred    string    // partition predicate for a decorator, "" otherwise
	created bool
}

// resolveDestination checks that the dataset exists (a request error otherwise) and looks the
// table up.
func (s *Server) resolveDestination(ctx context.Context, p string, tr *bq.TableReference) (*destination, error) {
	dp := tr.ProjectId
	if dp == "" {
		dp = p
	}
	if tr.DatasetId == "" || tr.TableId == "" {
		return nil, &requestError{errInvalid("The destination table needs a datasetId and a tableId")}
	}
	ref := parseTableRef(dp, tr.DatasetId, tr.TableId)
	s.mu.Lock()
	_, err := s.datasetLocked(ctx, ref.project, ref.dataset)
	s.mu.Unlock()
	if err != nil {
		return nil, &requestError{asAPIError(err)}
	}
	d := &destination{ref: ref}
	t, err := s.lookupTable(ctx, ref)
	if err == nil {
		d.meta = t
	}
	return d, nil
}

// prepare creates a missing table (per createDisposition) from schema and computes the
// partition predicate of a decorator. The caller holds writeMu.
func (s *Server) prepareDestination(ctx context.Context, d *destination, create string, schema []*bq.TableFieldSchema, tp *bq.TimePartitioning, cl *bq.Clustering) error {
	if d.meta == nil {
		if create == "CREATE_NEVER" {
			return errNotFound("Not found: Table %s", d.ref.label())
		}
		if len(schema) == 0 {
			return errInvalid("No schema specified on job or table.")
		}
		if d.ref.decorator != "" && tp == nil {
			return errInvalid("Cannot write to partition $%s of %s: the table does not exist and the job sets no timePartitioning", d.ref.decorator, d.ref.label())
		}
		t, err := s.createTable(ctx, d.ref, &bq.Table{Schema: &bq.TableSchema{Fields: schema}, TimePartitioning: tp, Clustering: cl}, true)
		if err != nil {
			return err
		}
		d.meta = t
		d.created = true
	} else if !physical(d.meta) {
		if len(schema) == 0 {
			return errInvalid("No schema specified on job or table.")
		}
		fields, err := s.evolveSchema(ctx, d.ref, d.meta, schema, true)
		if err != nil {
			return err
		}
		d.meta.Schema = &bq.TableSchema{Fields: fields}
		if err := s.putTable(ctx, d.ref, d.meta); err != nil {
			return err
		}
	}
	if d.meta.Type == "VIEW" {
		return errInvalid("Cannot write to view %s", d.ref.label())
	}
	if d.ref.decorator != "" {
		pred, err := partitionPredicate(d.meta, d.ref.decorator)
		if err != nil {
			return err
		}
		d.pred = pred
	}
	return nil
}

// applyDisposition runs the WRITE_* semantics inside the caller's transaction.
func applyDisposition(ctx context.Context, conn *sql.Conn, d *destination, write string) error {
	where := ""
	if d.pred != "" {
		where = " WHERE " + d.pred
	}
	switch write {
	case "WRITE_TRUNCATE", "WRITE_TRUNCATE_DATA":
		if _, err := conn.ExecContext(ctx, "DELETE FROM "+d.ref.fqn()+where); err != nil {
			return fmt.Errorf("truncate %s: %w", d.ref.label(), err)
		}
	case "WRITE_EMPTY":
		var one int
		err := conn.QueryRowContext(ctx, "SELECT 1 FROM "+d.ref.fqn()+where+" LIMIT 1").Scan(&one)
		if err == nil {
			return errDuplicate("Already Exists: Table %s", d.ref.label())
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
	case "WRITE_APPEND", "":
	default:
		return errInvalid("Invalid writeDisposition %q", write)
	}
	return nil
}

// inTx runs fn between BEGIN and COMMIT on conn, rolling back on error.
func inTx(ctx context.Context, conn *sql.Conn, fn func() error) error {
	if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(); err != nil {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		return err
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// queryToDestination runs a SELECT into a destination table with BigQuery's dispositions and
// decorator rules, atomically: a failed job writes nothing. The SELECT itself runs beside
// other reads, into a temporary table of its own connection (DuckDB keeps temporary tables
// out of the shared catalogue); only writing the destination takes the write lock, so a
// long query does not hold every other job's write back. The query reads the tables as
// they were when it ran, as BigQuery's do.
func (s *Server) queryToDestination(ctx context.Context, p, defDS string, job *bq.Job, st *statement, sqlText string) (*resultSet, error) {
	cfg := job.Configuration.Query
	if _, err := s.resolveDestination(ctx, p, cfg.DestinationTable); err != nil {
		return nil, err // a bad destination is reported before the query runs
	}
	write := cfg.WriteDisposition
	if write == "" {
		write = "WRITE_EMPTY"
	}
	conn, release, err := s.scopedConn(ctx, p, defDS)
	if err != nil {
		return nil, err
	}
	defer release()
	tmp := "temp.main." + quoteIdent(tmpPrefix+job.JobReference.JobId)
	res, err := func() (*resultSet, error) {
		s.writeMu.RLock()
		defer s.writeMu.RUnlock()
		if _, err := conn.ExecContext(ctx, "CREATE TEMP TABLE "+tmp+" AS "+sqlText); err != nil {
			return nil, s.explainError(ctx, conn, p, defDS, st, sqlText, err)
		}
		return readResult(ctx, conn, "SELECT * FROM "+tmp)
	}()
	defer func() { _, _ = conn.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+tmp) }()
	if err != nil {
		return nil, err
	}
	d, err := s.writeQueryResult(ctx, conn, p, cfg, write, tmp, res.schema)
	if err != nil {
		return nil, err
	}
	// Moving the table's modification time changes no data: it needs no write lock.
	if err := s.touchTables(d.ref); err != nil {
		return nil, err
	}
	dt := d.meta.TableReference
	cfg.DestinationTable = &bq.TableReference{ProjectId: dt.ProjectId, DatasetId: dt.DatasetId, TableId: cfg.DestinationTable.TableId}
	return res, nil
}

// writeQueryResult writes a query's result, held in the temporary table tmp of conn, to
// the job's destination under the write lock, and returns the destination.
func (s *Server) writeQueryResult(ctx context.Context, conn *sql.Conn, p string, cfg *bq.JobConfigurationQuery, write, tmp string, schema []*bq.TableFieldSchema) (*destination, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	d, err := s.resolveDestination(ctx, p, cfg.DestinationTable)
	if err != nil {
		return nil, err
	}
	if err := s.prepareDestination(ctx, d, cfg.CreateDisposition, schema, cfg.TimePartitioning, cfg.Clustering); err != nil {
		return nil, err
	}
	var newSchema []*bq.TableFieldSchema
	err = inTx(ctx, conn, func() error {
		if d.pred != "" {
			var bad int64
			if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM "+tmp+" WHERE ("+d.pred+") IS NOT TRUE").Scan(&bad); err != nil {
				return fmt.Errorf("check destination partition: %w", err)
			}
			if bad > 0 {
				return errInvalid("Some rows belong to different partitions rather than destination partition %s", d.ref.decorator)
			}
		}
		fields := d.meta.Schema.Fields
		if write == "WRITE_TRUNCATE" && d.pred == "" && !d.created {
			// BigQuery replaces the schema with the result's; partitioning stays.
			if _, err := conn.ExecContext(ctx, createTableSQL(d.ref.fqn(), schema, true)); err != nil {
				return err
			}
			fields = schema
			newSchema = schema
		} else {
			if err := applyDisposition(ctx, conn, d, write); err != nil {
				return err
			}
			var added []*bq.TableFieldSchema
			for _, rf := range schema {
				if _, tf := findField(fields, rf.Name); tf == nil {
					if !slices.Contains(cfg.SchemaUpdateOptions, "ALLOW_FIELD_ADDITION") {
						return errInvalid("Invalid schema update. Cannot add fields (field: %s)", rf.Name)
					}
					c := *rf
					if c.Mode == "REQUIRED" {
						c.Mode = "NULLABLE"
					}
					added = append(added, &c)
				}
			}
			for _, f := range added {
				if _, err := conn.ExecContext(ctx, "ALTER TABLE "+d.ref.fqn()+" ADD COLUMN "+quoteIdent(f.Name)+" "+duckType(f)); err != nil {
					return err
				}
			}
			if len(added) > 0 {
				fields = append(slices.Clone(fields), added...)
				newSchema = fields
			}
		}
		var cols, exprs []string
		for _, rf := range schema {
			_, tf := findField(fields, rf.Name)
			cols = append(cols, quoteIdent(tf.Name))
			exprs = append(exprs, "CAST("+quoteIdent(rf.Name)+" AS "+duckType(tf)+")")
		}
		if len(cols) > 0 {
			q := "INSERT INTO " + d.ref.fqn() + " (" + strings.Join(cols, ", ") + ") SELECT " + strings.Join(exprs, ", ") + " FROM " + tmp
			if _, err := conn.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.dropCreated(ctx, d)
		return nil, err
	}
	if newSchema != nil {
		t := *d.meta
		t.Schema = &bq.TableSchema{Fields: newSchema}
		now := msString(s.now())
		t.LastModifiedTime = uint64(now)
		t.Etag = strconv.FormatInt(now, 36)
		if err := s.putTable(ctx, d.ref, &t); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// dropCreated removes a destination table that a failed job created.
func (s *Server) dropCreated(ctx context.Context, d *destination) {
	if !d.created {
		return
	}
	if _, err := s.db.ExecContext(ctx, "DROP TABLE IF EXISTS "+d.ref.fqn()); err != nil {
		s.log.Warn("bqemu: drop table of failed job", "table", d.ref.label(), "err", err)
	}
	if err := s.removeTable(d.ref); err != nil {
		s.log.Warn("bqemu: drop table of failed job", "table", d.ref.label(), "err", err)
	}
}
