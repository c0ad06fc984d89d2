package bqemu

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	bq "google.golang.org/api/bigquery/v2"
)

func (s *Server) insertTable(r *http.Request) (any, error) {
	var in bq.Table
	if _, err := decodeBody(r, &in); err != nil {
		return nil, err
	}
	if in.TableReference == nil || in.TableReference.TableId == "" {
		return nil, errInvalid("Required parameter is missing: tableReference.tableId")
	}
	ref := tableRef{project: r.PathValue("p"), dataset: r.PathValue("d"), table: in.TableReference.TableId}
	return s.createTable(r.Context(), ref, &in, false)
}

// createTable validates the metadata, creates the DuckDB table (or view) and registers it.
// With ifNotExists an existing table is returned unchanged.
func (s *Server) createTable(ctx context.Context, ref tableRef, in *bq.Table, ifNotExists bool) (*bq.Table, error) {
	if !tableIDRe.MatchString(ref.table) || len(ref.table) > 1024 || strings.Contains(ref.table, "$") {
		return nil, errInvalid("Invalid table ID %q", ref.table)
	}
	meta := *in
	if meta.Schema != nil {
		fields, err := normalizeSchema(meta.Schema.Fields)
		if err != nil {
			return nil, err
		}
		meta.Schema = &bq.TableSchema{Fields: fields}
	}
	if tp := meta.TimePartitioning; tp != nil {
		c := *tp
		if c.Type == "" {
			c.Type = "DAY"
		}
		if c.Field != "" {
			var f *bq.TableFieldSchema
			if meta.Schema != nil {
				_, f = findField(meta.Schema.Fields, c.Field)
			}
			if f == nil || f.Mode == "REPEATED" || (f.Type != "DATE" && f.Type != "TIMESTAMP" && f.Type != "DATETIME") {
				return nil, errInvalid("The field specified for time partitioning can only be of type TIMESTAMP, DATE or DATETIME. The type found is: %s.", fieldTypeName(f))
			}
			c.Field = f.Name
		}
		meta.TimePartitioning = &c
	}
	if meta.RangePartitioning != nil {
		return nil, errInvalid("Emulator: range partitioning is not supported")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ds, err := s.datasetLocked(ctx, ref.project, ref.dataset)
	if err != nil {
		return nil, err
	}
	if old, ok := ds.tables[ref.table]; ok {
		if ifNotExists {
			return old, nil
		}
		return nil, errDuplicate("Already Exists: Table %s", ref.label())
	}
	meta.Type = "TABLE"
	switch {
	case meta.View != nil && meta.View.Query != "":
		st, err := translate(meta.View.Query)
		if err != nil {
			return nil, err
		}
		conn, release, err := s.scopedConn(ctx, ref.project, ref.dataset)
		if err != nil {
			return nil, err
		}
		defer release()
		if _, err := conn.ExecContext(ctx, "CREATE VIEW "+ref.fqn()+" AS "+st.SQL); err != nil {
			return nil, err
		}
		fields, err := s.describe(ctx, ref)
		if err != nil {
			return nil, err
		}
		meta.Schema = &bq.TableSchema{Fields: fields}
		meta.Type = "VIEW"
	case meta.Schema != nil && len(meta.Schema.Fields) > 0:
		if _, err := s.db.ExecContext(ctx, createTableSQL(ref.fqn(), meta.Schema.Fields, false)); err != nil {
			return nil, fmt.Errorf("create table %s: %w", ref.label(), err)
		}
	}
	now := msString(s.now())
	meta.Kind = "bigquery#table"
	meta.Id = ref.project + ":" + ref.dataset + "." + ref.table
	meta.TableReference = &bq.TableReference{ProjectId: ref.project, DatasetId: ref.dataset, TableId: ref.table}
	meta.CreationTime = now
	meta.LastModifiedTime = uint64(now)
	meta.Etag = strconv.FormatInt(now, 36)
	meta.Location = ds.meta.Location
	meta.SelfLink = "/projects/" + ref.project + "/datasets/" + ref.dataset + "/tables/" + ref.table
	meta.NumRows = 0
	meta.NumBytes = 0
	meta.ForceSendFields = append(meta.ForceSendFields, "NumRows", "NumBytes")
	ds.tables[ref.table] = &meta
	if err := s.saveLocked(); err != nil {
		return nil, err
	}
	return &meta, nil
}

func fieldTypeName(f *bq.TableFieldSchema) string {
	if f == nil {
		return "(missing field)"
	}
	if f.Mode == "REPEATED" {
		return "ARRAY<" + f.Type + ">"
	}
	return f.Type
}

// physical reports whether DuckDB holds a table or view for the metadata.
func physical(t *bq.Table) bool {
	return t.Schema != nil && len(t.Schema.Fields) > 0
}

func (s *Server) getTable(r *http.Request) (any, error) {
	ctx := r.Context()
	ref := parseTableRef(r.PathValue("p"), r.PathValue("d"), r.PathValue("t"))
	t, err := s.lookupTable(ctx, ref)
	if err != nil {
		return nil, err
	}
	if physical(t) && t.Type == "TABLE" {
		where := ""
		if ref.decorator != "" {
			pred, err := partitionPredicate(t, ref.decorator)
			if err != nil {
				return nil, err
			}
			where = " WHERE " + pred
		}
		rows, bytes, err := s.tableSize(ctx, ref, t.Schema.Fields, strings.TrimPrefix(where, " WHERE "))
		if err != nil {
			return nil, err
		}
		t.NumRows, t.NumBytes, t.NumTotalLogicalBytes = uint64(rows), bytes, bytes
		t.ForceSendFields = append(slices.Clone(t.ForceSendFields), "NumRows", "NumBytes", "NumTotalLogicalBytes")
	}
	return t, nil
}

func (s *Server) listTables(r *http.Request) (any, error) {
	s.mu.Lock()
	ds, err := s.datasetLocked(r.Context(), r.PathValue("p"), r.PathValue("d"))
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	var all []*bq.TableListTables
	for _, id := range sortedKeys(ds.tables) {
		t := ds.tables[id]
		all = append(all, &bq.TableListTables{
			Kind: "bigquery#table", Id: t.Id, TableReference: t.TableReference, Type: t.Type,
			TimePartitioning: t.TimePartitioning, Clustering: t.Clustering, CreationTime: t.CreationTime,
			Labels: t.Labels, FriendlyName: t.FriendlyName, ExpirationTime: t.ExpirationTime,
		})
	}
	s.mu.Unlock()
	page, next, err := pageSlice(all, r, 0)
	if err != nil {
		return nil, err
	}
	return &bq.TableList{Kind: "bigquery#tableList", Tables: page, NextPageToken: next, TotalItems: int64(len(all))}, nil
}

func (s *Server) patchTable(r *http.Request) (any, error) {
	ctx := r.Context()
	ref := parseTableRef(r.PathValue("p"), r.PathValue("d"), r.PathValue("t"))
	var in bq.Table
	raw, err := decodeBody(r, &in)
	if err != nil {
		return nil, err
	}
	// PATCH sends only the changed fields, and false or "" can be a change: look at the keys.
	var present map[string]json.RawMessage
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &present); err != nil {
			return nil, errInvalid("Invalid JSON payload received: %v", err)
		}
	}
	has := func(k string) bool { _, ok := present[k]; return ok }
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	t, err := s.lookupTable(ctx, ref)
	if err != nil {
		return nil, err
	}
	if m := r.Header.Get("If-Match"); m != "" && m != t.Etag {
		return nil, &apiError{code: http.StatusPreconditionFailed, reason: "conditionNotMet", message: "Precondition check failed."}
	}
	if has("description") {
		t.Description = in.Description
	}
	if has("friendlyName") {
		t.FriendlyName = in.FriendlyName
	}
	if has("labels") {
		labels, err := mergeLabels(t.Labels, present["labels"])
		if err != nil {
			return nil, err
		}
		t.Labels = labels
	}
	if has("expirationTime") {
		t.ExpirationTime = in.ExpirationTime
	}
	if has("requirePartitionFilter") {
		t.RequirePartitionFilter = in.RequirePartitionFilter
	}
	if in.TimePartitioning != nil && t.TimePartitioning != nil {
		tp := *t.TimePartitioning
		if in.TimePartitioning.ExpirationMs != 0 {
			tp.ExpirationMs = in.TimePartitioning.ExpirationMs
		}
		t.TimePartitioning = &tp
	}
	if in.Clustering != nil {
		t.Clustering = in.Clustering
	}
	if in.Schema != nil {
		fields, err := s.evolveSchema(ctx, ref, t, in.Schema.Fields, true)
		if err != nil {
			return nil, err
		}
		t.Schema = &bq.TableSchema{Fields: fields}
	}
	now := msString(s.now())
	t.LastModifiedTime = uint64(now)
	t.Etag = strconv.FormatInt(now, 36)
	if err := s.putTable(ctx, ref, t); err != nil {
		return nil, err
	}
	return t, nil
}

// evolveSchema applies a new schema to an existing table: only added NULLABLE/REPEATED
// columns and REQUIRED → NULLABLE relaxations are allowed, as in BigQuery. With allowAdd false,
// added columns are an error.
func (s *Server) evolveSchema(ctx context.Context, ref tableRef, t *bq.Table, newFields []*bq.TableFieldSchema, allowAdd bool) ([]*bq.TableFieldSchema, error) {
	fields, err := normalizeSchema(newFields)
	if err != nil {
		return nil, err
	}
	if !physical(t) {
		if len(fields) > 0 {
			if _, err := s.db.ExecContext(ctx, createTableSQL(ref.fqn(), fields, false)); err != nil {
				return nil, fmt.Errorf("create table %s: %w", ref.label(), err)
			}
		}
		return fields, nil
	}
	old := t.Schema.Fields
	var stmts []string
	for _, of := range old {
		_, nf := findField(fields, of.Name)
		if nf == nil {
			return nil, errInvalid("Provided Schema does not match Table %s. Field %s is missing in new schema", ref.label(), of.Name)
		}
		if nf.Type != of.Type || duckType(nf) != duckType(of) {
			return nil, errInvalid("Provided Schema does not match Table %s. Field %s has changed type from %s to %s", ref.label(), of.Name, of.Type, nf.Type)
		}
		if of.Mode != nf.Mode {
			if of.Mode == "REQUIRED" && nf.Mode == "NULLABLE" {
				stmts = append(stmts, "ALTER TABLE "+ref.fqn()+" ALTER COLUMN "+quoteIdent(of.Name)+" DROP NOT NULL")
			} else {
				return nil, errInvalid("Provided Schema does not match Table %s. Field %s has changed mode from %s to %s", ref.label(), of.Name, of.Mode, nf.Mode)
			}
		}
	}
	for _, nf := range fields {
		if _, of := findField(old, nf.Name); of != nil {
			continue
		}
		if !allowAdd {
			return nil, errInvalid("Invalid schema update. Cannot add fields (field: %s)", nf.Name)
		}
		if nf.Mode == "REQUIRED" {
			return nil, errInvalid("Provided Schema does not match Table %s. Cannot add required field %s", ref.label(), nf.Name)
		}
		stmts = append(stmts, "ALTER TABLE "+ref.fqn()+" ADD COLUMN "+quoteIdent(nf.Name)+" "+duckType(nf))
	}
	for _, q := range stmts {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			return nil, fmt.Errorf("alter table %s: %w", ref.label(), err)
		}
	}
	return fields, nil
}

func (s *Server) deleteTable(r *http.Request) (any, error) {
	ctx := r.Context()
	ref := parseTableRef(r.PathValue("p"), r.PathValue("d"), r.PathValue("t"))
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	t, err := s.lookupTable(ctx, ref)
	if err != nil {
		return nil, err
	}
	if ref.decorator != "" {
		pred, err := partitionPredicate(t, ref.decorator)
		if err != nil {
			return nil, err
		}
		if _, err := s.db.ExecContext(ctx, "DELETE FROM "+ref.fqn()+" WHERE "+pred); err != nil {
			return nil, fmt.Errorf("delete partition %s$%s: %w", ref.label(), ref.decorator, err)
		}
		if err := s.touchTables(ref); err != nil {
			return nil, err
		}
		return noContent{}, nil
	}
	if physical(t) {
		kind := "TABLE"
		if t.Type == "VIEW" {
			kind = "VIEW"
		}
		if _, err := s.db.ExecContext(ctx, "DROP "+kind+" IF EXISTS "+ref.fqn()); err != nil {
			return nil, fmt.Errorf("delete table %s: %w", ref.label(), err)
		}
	}
	if err := s.removeTable(ref); err != nil {
		return nil, err
	}
	return noContent{}, nil
}

// describe reads a DuckDB table's or view's columns as a BigQuery schema.
func (s *Server) describe(ctx context.Context, ref tableRef) ([]*bq.TableFieldSchema, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT column_name, data_type, is_nullable FROM duckdb_columns()
		 WHERE database_name = ? AND schema_name = ? AND table_name = ? ORDER BY column_index`,
		ref.project, ref.dataset, ref.table)
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", ref.label(), err)
	}
	defer rows.Close()
	var fields []*bq.TableFieldSchema
	for rows.Next() {
		var name, typ string
		var nullable bool
		if err := rows.Scan(&name, &typ, &nullable); err != nil {
			return nil, fmt.Errorf("describe %s: %w", ref.label(), err)
		}
		f, err := fieldFromDuckType(name, typ)
		if err != nil {
			return nil, err
		}
		if !nullable && f.Mode == "NULLABLE" {
			f.Mode = "REQUIRED"
		}
		fields = append(fields, f)
	}
	return fields, rows.Err()
}

// mergeLabels applies a labels patch: a null value deletes the label.
func mergeLabels(old map[string]string, raw json.RawMessage) (map[string]string, error) {
	var patch map[string]*string
	if err := json.Unmarshal(raw, &patch); err != nil {
		return nil, errInvalid("Invalid labels: %v", err)
	}
	out := map[string]string{}
	for k, v := range old {
		out[k] = v
	}
	for k, v := range patch {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = *v
		}
	}
	return out, nil
}
