package bqemu

import (
	"strings"

	bq "google.golang.org/api/bigquery/v2"
)

// checkPartitionFilters fails a statement, as BigQuery does, when it reads a table whose
// requirePartitionFilter is set without filtering on the partitioning column. The test is
// the token-level one described in doc.go: the column's name must appear in a WHERE, ON or
// QUALIFY condition of the statement. Tables the catalog does not know are left to DuckDB.
func (s *Server) checkPartitionFilters(p, defDS string, st *statement) error {
	for _, part := range st.Parts {
		if err := s.checkPartitionFilters(p, defDS, part); err != nil {
			return err
		}
	}
	for _, path := range st.Reads {
		r, ok := resolvePath(p, defDS, path)
		if !ok {
			continue
		}
		t := s.knownTable(r)
		if t == nil || !(t.RequirePartitionFilter || (t.TimePartitioning != nil && t.TimePartitioning.RequirePartitionFilter)) {
			continue
		}
		cols := partitionColumns(t)
		filtered := len(cols) == 0
		for _, c := range cols {
			filtered = filtered || st.FilterNames[strings.ToLower(c)]
		}
		if !filtered {
			ref := t.TableReference
			return errInvalidQuery("Cannot query over table '%s.%s.%s' without a filter over column(s) '%s' that can be used for partition elimination",
				ref.ProjectId, ref.DatasetId, ref.TableId, strings.Join(cols, ", "))
		}
	}
	return nil
}

// knownTable returns the catalog entry of r, matching names case-insensitively as DuckDB
// resolves them, or nil. Unlike lookupTable it never attaches a project.
func (s *Server) knownTable(r tableRef) *bq.Table {
	s.mu.Lock()
	defer s.mu.Unlock()
	pr := s.projects[r.project]
	if pr == nil {
		return nil
	}
	ds := foldLookup(pr.datasets, r.dataset)
	if ds == nil {
		return nil
	}
	t := foldLookup(ds.tables, r.table)
	if t == nil || t.TableReference == nil {
		return nil
	}
	c := *t
	return &c
}

// foldLookup returns m[key], or else the value of a key equal to it under case folding.
func foldLookup[V any](m map[string]*V, key string) *V {
	if v, ok := m[key]; ok {
		return v
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return nil
}

// partitionColumns names the columns a filter can eliminate partitions with: the
// partitioning field, or the pseudo-columns of ingestion-time partitioning.
func partitionColumns(t *bq.Table) []string {
	switch {
	case t.TimePartitioning != nil && t.TimePartitioning.Field != "":
		return []string{t.TimePartitioning.Field}
	case t.TimePartitioning != nil:
		return []string{"_PARTITIONTIME", "_PARTITIONDATE"}
	case t.RangePartitioning != nil && t.RangePartitioning.Field != "":
		return []string{t.RangePartitioning.Field}
	}
	return nil
}
