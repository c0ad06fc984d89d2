package bqemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	bq "google.golang.org/api/bigquery/v2"
)

// project holds one project's metadata. DuckDB attaches one database per project
// (see doc.go): datasets are schemas, tables are tables.
type project struct {
	id       string
	datasets map[string]*dataset
	jobs     map[string]*jobRecord
	jobOrder []string
	// packedTo is how many of the oldest jobs (in jobOrder) were looked at for packing:
	// packed, or left as they were because they did not encode.
	packedTo int
	// resultBytes is the estimated size of the results the jobs keep.
	resultBytes int64
}

type dataset struct {
	meta   *bq.Dataset
	tables map[string]*bq.Table
}

var (
	datasetIDRe = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
	tableIDRe   = regexp.MustCompile(`^[\p{L}\p{M}\p{N}\p{Pc}\p{Pd}\p{Zs}]+$`)
	projectIDRe = regexp.MustCompile(`^[A-Za-z0-9_.:\-]{1,128}$`)
	decoratorRe = regexp.MustCompile(`^(.+)\$(\d{4}|\d{6}|\d{8}|\d{10}|__NULL__|__UNPARTITIONED__)$`)
)

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func quoteString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func tableFQN(p, d, t string) string {
	return quoteIdent(p) + "." + quoteIdent(d) + "." + quoteIdent(t)
}

// project returns the project, attaching its DuckDB database on first use.
func (s *Server) project(ctx context.Context, id string) (*project, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.projectLocked(ctx, id)
}

func (s *Server) projectLocked(ctx context.Context, id string) (*project, error) {
	if p, ok := s.projects[id]; ok {
		return p, nil
	}
	if !projectIDRe.MatchString(id) {
		return nil, errInvalid("Invalid project ID %q", id)
	}
	if err := s.attach(ctx, id); err != nil {
		return nil, err
	}
	p := &project{id: id, datasets: map[string]*dataset{}, jobs: map[string]*jobRecord{}}
	s.projects[id] = p
	return p, nil
}

func (s *Server) attach(ctx context.Context, id string) error {
	target := ":memory:"
	if s.opts.DuckDBPath != "" {
		target = filepath.Join(s.opts.DuckDBPath, id+".duckdb")
	}
	q := fmt.Sprintf("ATTACH IF NOT EXISTS %s AS %s", quoteString(target), quoteIdent(id))
	if _, err := s.db.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("bqemu: attach project %s: %w", id, err)
	}
	return nil
}

// dataset returns the dataset's metadata holder; the caller must hold s.mu.
func (s *Server) datasetLocked(ctx context.Context, p, d string) (*dataset, error) {
	pr, err := s.projectLocked(ctx, p)
	if err != nil {
		return nil, err
	}
	ds, ok := pr.datasets[d]
	if !ok {
		return nil, errNotFound("Not found: Dataset %s:%s", p, d)
	}
	return ds, nil
}

// tableRef is a resolved table id with an optional partition decorator.
type tableRef struct {
	project, dataset, table string
	decorator               string // "20241022", "__NULL__", or ""
}

func (r tableRef) fqn() string   { return tableFQN(r.project, r.dataset, r.table) }
func (r tableRef) label() string { return r.project + ":" + r.dataset + "." + r.table }

func parseTableRef(p, d, t string) tableRef {
	r := tableRef{project: p, dataset: d, table: t}
	if m := decoratorRe.FindStringSubmatch(t); m != nil {
		r.table, r.decorator = m[1], m[2]
	}
	return r
}

// lookupTable returns a shallow copy of the table's metadata (nested values are replaced,
// never mutated, so the copy is safe to read without the lock).
func (s *Server) lookupTable(ctx context.Context, r tableRef) (*bq.Table, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ds, err := s.datasetLocked(ctx, r.project, r.dataset)
	if err != nil {
		return nil, err
	}
	t, ok := ds.tables[r.table]
	if !ok {
		return nil, errNotFound("Not found: Table %s", r.label())
	}
	c := *t
	return &c, nil
}

// putTable stores table metadata and persists it.
func (s *Server) putTable(ctx context.Context, r tableRef, t *bq.Table) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ds, err := s.datasetLocked(ctx, r.project, r.dataset)
	if err != nil {
		return err
	}
	ds.tables[r.table] = t
	return s.saveLocked()
}

func (s *Server) removeTable(r tableRef) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if pr, ok := s.projects[r.project]; ok {
		if ds, ok := pr.datasets[r.dataset]; ok {
			delete(ds.tables, r.table)
		}
	}
	delete(s.seenIDs, r.project+":"+r.dataset+"."+r.table)
	return s.saveLocked()
}

// persisted is the metadata sidecar written next to the DuckDB files, by project and
// dataset. It is read with each table decoded (T is *bq.Table) and written with each
// table already encoded (T is json.RawMessage).
type persisted[T any] struct {
	Projects map[string]map[string]persistedDataset[T] `json:"projects"`
}

type persistedDataset[T any] struct {
	Dataset *bq.Dataset  `json:"dataset"`
	Tables  map[string]T `json:"tables"`
}

// saveLocked writes the metadata sidecar; the caller holds s.mu.
func (s *Server) saveLocked() error {
	path := s.metadataPath()
	if path == "" {
		return nil
	}
	encoded := make(map[*bq.Table]json.RawMessage, len(s.tableJSON))
	out := persisted[json.RawMessage]{Projects: map[string]map[string]persistedDataset[json.RawMessage]{}}
	for pid, p := range s.projects {
		m := map[string]persistedDataset[json.RawMessage]{}
		for did, d := range p.datasets {
			tables := make(map[string]json.RawMessage, len(d.tables))
			for tid, t := range d.tables {
				b, ok := s.tableJSON[t]
				if !ok {
					var err error
					if b, err = json.Marshal(t); err != nil {
						return fmt.Errorf("bqemu: encode metadata of table %s.%s: %w", did, tid, err)
					}
				}
				tables[tid], encoded[t] = b, b
			}
			m[did] = persistedDataset[json.RawMessage]{Dataset: d.meta, Tables: tables}
		}
		out.Projects[pid] = m
	}
	s.tableJSON = encoded
	b, err := json.Marshal(out)
	if err != nil {
		return fmt.Errorf("bqemu: encode metadata: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("bqemu: write metadata: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("bqemu: write metadata: %w", err)
	}
	return nil
}

func (s *Server) loadMetadata(ctx context.Context) error {
	path := s.metadataPath()
	if path == "" {
		return nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("bqemu: read metadata: %w", err)
	}
	var in persisted[*bq.Table]
	if err := json.Unmarshal(b, &in); err != nil {
		return fmt.Errorf("bqemu: metadata %s is corrupt (delete the directory to start afresh): %w", path, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for pid, dsets := range in.Projects {
		p, err := s.projectLocked(ctx, pid)
		if err != nil {
			return err
		}
		for did, d := range dsets {
			if d.Tables == nil {
				d.Tables = map[string]*bq.Table{}
			}
			p.datasets[did] = &dataset{meta: d.Dataset, tables: d.Tables}
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// syncCatalog reconciles the metadata of project p with DuckDB after DDL: new schemas become
// datasets, new tables and views are registered with their columns, dropped ones removed and
// altered ones re-described.
func (s *Server) syncCatalog(ctx context.Context, p string, st *statement) error {
	type tinfo struct {
		view   bool
		fields []*bq.TableFieldSchema
	}
	schemas := map[string]bool{}
	rows, err := s.db.QueryContext(ctx, `SELECT schema_name FROM duckdb_schemas() WHERE database_name = ? AND NOT internal`, p)
	if err != nil {
		return fmt.Errorf("sync catalog: %w", err)
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return err
		}
		schemas[n] = true
	}
	rows.Close()
	tables := map[string]map[string]*tinfo{}
	rows, err = s.db.QueryContext(ctx, `
		SELECT c.schema_name, c.table_name, c.column_name, c.data_type, c.is_nullable,
		       EXISTS (SELECT 1 FROM duckdb_views() v WHERE v.database_name = c.database_name AND v.schema_name = c.schema_name AND v.view_name = c.table_name)
		FROM duckdb_columns() c WHERE c.database_name = ? ORDER BY c.schema_name, c.table_name, c.column_index`, p)
	if err != nil {
		return fmt.Errorf("sync catalog: %w", err)
	}
	for rows.Next() {
		var sch, tbl, col, typ string
		var nullable, view bool
		if err := rows.Scan(&sch, &tbl, &col, &typ, &nullable, &view); err != nil {
			rows.Close()
			return err
		}
		if strings.HasPrefix(tbl, tmpPrefix) {
			continue
		}
		f, err := fieldFromDuckType(col, typ)
		if err != nil {
			rows.Close()
			return err
		}
		if !nullable && f.Mode == "NULLABLE" {
			f.Mode = "REQUIRED"
		}
		if tables[sch] == nil {
			tables[sch] = map[string]*tinfo{}
		}
		ti := tables[sch][tbl]
		if ti == nil {
			ti = &tinfo{view: view}
			tables[sch][tbl] = ti
		}
		ti.fields = append(ti.fields, f)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	pr, err := s.projectLocked(ctx, p)
	if err != nil {
		return err
	}
	now := msString(s.now())
	for sch := range schemas {
		if sch == "main" {
			continue
		}
		if _, ok := pr.datasets[sch]; !ok {
			pr.datasets[sch] = &dataset{tables: map[string]*bq.Table{}, meta: &bq.Dataset{
				Kind: "bigquery#dataset", Id: p + ":" + sch, DatasetReference: &bq.DatasetReference{ProjectId: p, DatasetId: sch},
				Location: s.opts.DefaultLocation, CreationTime: now, LastModifiedTime: now, Etag: strconv.FormatInt(now, 36), Type: "DEFAULT",
			}}
		}
	}
	for did, ds := range pr.datasets {
		if !schemas[did] {
			delete(pr.datasets, did)
			continue
		}
		for tid, t := range ds.tables {
			if physical(t) && tables[did][tid] == nil {
				delete(ds.tables, tid)
			}
		}
		for tid, ti := range tables[did] {
			t, ok := ds.tables[tid]
			if !ok {
				t = &bq.Table{
					Kind: "bigquery#table", Id: p + ":" + did + "." + tid,
					TableReference: &bq.TableReference{ProjectId: p, DatasetId: did, TableId: tid},
					Type:           "TABLE", CreationTime: now, Location: ds.meta.Location,
				}
				if ti.view {
					t.Type = "VIEW"
				}
				if st.PartitionField != "" {
					if _, f := findField(ti.fields, st.PartitionField); f != nil {
						typ := st.PartitionType
						if typ == "" {
							typ = "DAY"
						}
						t.TimePartitioning = &bq.TimePartitioning{Type: typ, Field: f.Name}
					}
				}
				if len(st.Clustering) > 0 {
					t.Clustering = &bq.Clustering{Fields: st.Clustering}
				}
				t.Description = st.Description
			} else {
				c := *t
				t = &c
				if schemaEqual(t.Schema, ti.fields) {
					continue
				}
			}
			t.Schema = &bq.TableSchema{Fields: mergeDescriptions(t.Schema, ti.fields)}
			t.LastModifiedTime = uint64(now)
			t.Etag = strconv.FormatInt(now, 36)
			ds.tables[tid] = t
		}
	}
	return s.saveLocked()
}

func schemaEqual(old *bq.TableSchema, fields []*bq.TableFieldSchema) bool {
	if old == nil || len(old.Fields) != len(fields) {
		return false
	}
	for i, f := range fields {
		o := old.Fields[i]
		if o.Name != f.Name || duckType(o) != duckType(f) || (o.Mode == "REQUIRED") != (f.Mode == "REQUIRED") {
			return false
		}
	}
	return true
}

// mergeDescriptions keeps the descriptions (and exact types such as BIGNUMERIC, GEOGRAPHY)
// of fields whose storage did not change.
func mergeDescriptions(old *bq.TableSchema, fields []*bq.TableFieldSchema) []*bq.TableFieldSchema {
	if old == nil {
		return fields
	}
	for i, f := range fields {
		if _, o := findField(old.Fields, f.Name); o != nil && duckType(o) == duckType(f) {
			c := *o
			c.Mode = f.Mode
			fields[i] = &c
		}
	}
	return fields
}
