package bqemu

import (
	"context"
	"fmt"
	"strings"

	bq "google.golang.org/api/bigquery/v2"
)

// touchTables records that the data of the tables changed now: BigQuery moves a table's
// lastModifiedTime on every load, query write, DML statement and streamed batch, not only
// on metadata changes. Tables the catalog does not know are skipped. The etag is left
// alone: it versions the metadata that tables.patch guards with If-Match, and a load must
// not make a concurrent metadata update fail.
func (s *Server) touchTables(refs ...tableRef) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := uint64(msString(s.now()))
	changed := false
	for _, r := range refs {
		pr := s.projects[r.project]
		if pr == nil {
			continue
		}
		ds := foldLookup(pr.datasets, r.dataset)
		if ds == nil {
			continue
		}
		for id, t := range ds.tables {
			if strings.EqualFold(id, r.table) {
				// Stored tables are replaced, never mutated: lookupTable hands out shallow copies.
				c := *t
				c.LastModifiedTime = now
				ds.tables[id] = &c
				changed = true
			}
		}
	}
	if !changed {
		return nil
	}
	return s.saveLocked()
}

// touchTarget touches the table a DML or DDL statement wrote, if it names one.
func (s *Server) touchTarget(p, defDS string, st *statement) error {
	if st.Target == nil || st.Kind == "CREATE_SCHEMA" || strings.HasPrefix(st.Kind, "DROP") {
		return nil
	}
	r, ok := resolvePath(p, defDS, st.Target)
	if !ok {
		return nil
	}
	return s.touchTables(r)
}

// tableSize counts the rows of a table (restricted by where, a SQL condition or "") and
// estimates its size in bytes the way BigQuery bills storage: each value's logical size
// (see logicalBytes) summed over every column of every row. It scans the table, which
// is cheap at an emulator's sizes.
func (s *Server) tableSize(ctx context.Context, ref tableRef, fields []*bq.TableFieldSchema, where string) (rows, bytes int64, err error) {
	sizes := make([]string, len(fields))
	for i, f := range fields {
		sizes[i] = logicalBytes(f, quoteIdent(f.Name), 0)
	}
	sum := "0"
	if len(sizes) > 0 {
		sum = strings.Join(sizes, " + ")
	}
	q := "SELECT count(*), CAST(coalesce(sum(" + sum + "), 0) AS BIGINT) FROM " + ref.fqn()
	if where != "" {
		q += " WHERE " + where
	}
	if err := s.db.QueryRowContext(ctx, q).Scan(&rows, &bytes); err != nil {
		return 0, 0, fmt.Errorf("size of %s: %w", ref.label(), err)
	}
	return rows, bytes, nil
}

// logicalBytes is a DuckDB expression for the logical size of the value x of field f, by
// BigQuery's data size rules: NULL is 0 bytes; INT64, FLOAT64, DATE, DATETIME, TIME and
// TIMESTAMP 8; BOOL 1; NUMERIC 16; BIGNUMERIC 32; INTERVAL 16; STRING and BYTES 2 plus
// their length in bytes; JSON its text's length; GEOGRAPHY is estimated from its text as
// a STRING; a STRUCT is the sum of its fields and an ARRAY the sum of its elements.
func logicalBytes(f *bq.TableFieldSchema, x string, depth int) string {
	if f.Mode == "REPEATED" {
		e := fmt.Sprintf("e%d", depth)
		elem := *f
		elem.Mode = "NULLABLE"
		return fmt.Sprintf("coalesce(list_sum(list_transform(%s, lambda %s: %s)), 0)", x, e, logicalBytes(&elem, e, depth+1))
	}
	fixed := func(n int) string { return fmt.Sprintf("(CASE WHEN %s IS NULL THEN 0 ELSE %d END)", x, n) }
	switch f.Type {
	case "INTEGER", "INT64", "FLOAT", "FLOAT64", "DATE", "DATETIME", "TIME", "TIMESTAMP":
		return fixed(8)
	case "BOOLEAN", "BOOL":
		return fixed(1)
	case "NUMERIC":
		return fixed(16)
	case "BIGNUMERIC":
		return fixed(32)
	case "INTERVAL":
		return fixed(16)
	case "BYTES":
		return fmt.Sprintf("coalesce(2 + octet_length(%s), 0)", x)
	case "JSON":
		return fmt.Sprintf("coalesce(strlen(CAST(%s AS VARCHAR)), 0)", x)
	case "RECORD", "STRUCT":
		if len(f.Fields) == 0 {
			return "0"
		}
		parts := make([]string, len(f.Fields))
		for i, sf := range f.Fields {
			parts[i] = logicalBytes(sf, fmt.Sprintf("struct_extract(%s, %s)", x, quoteString(sf.Name)), depth)
		}
		return "(" + strings.Join(parts, " + ") + ")"
	}
	return fmt.Sprintf("coalesce(2 + strlen(CAST(%s AS VARCHAR)), 0)", x)
}
