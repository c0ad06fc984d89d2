package bqemu

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	bq "google.golang.org/api/bigquery/v2"
)

type tableDataList struct {
	Kind      string `json:"kind"`
	Etag      string `json:"etag"`
	TotalRows string `json:"totalRows"`
	PageToken string `json:"pageToken,omitempty"`
	Rows      []row  `json:"rows,omitempty"`
}

// listTableData is tabledata.list: it reads the table at request time, in insertion order,
// restricted to a decorator's partition.
func (s *Server) listTableData(r *http.Request) (any, error) {
	ctx := r.Context()
	ref := parseTableRef(r.PathValue("p"), r.PathValue("d"), r.PathValue("t"))
	t, err := s.lookupTable(ctx, ref)
	if err != nil {
		return nil, err
	}
	out := &tableDataList{Kind: "bigquery#tableDataList", Etag: t.Etag, TotalRows: "0"}
	if !physical(t) {
		return out, nil
	}
	if t.Type == "VIEW" {
		return nil, errInvalid("Cannot list a view: %s", ref.label())
	}
	q := r.URL.Query()
	fields := t.Schema.Fields
	if sel := q.Get("selectedFields"); sel != "" {
		var picked []*bq.TableFieldSchema
		for _, name := range strings.Split(sel, ",") {
			_, f := findField(fields, strings.TrimSpace(name))
			if f == nil {
				return nil, errInvalid("Invalid selectedFields: no such field %s", name)
			}
			picked = append(picked, f)
		}
		fields = picked
	}
	where := ""
	if ref.decorator != "" {
		pred, err := partitionPredicate(t, ref.decorator)
		if err != nil {
			return nil, err
		}
		where = " WHERE " + pred
	}
	start := 0
	if v := q.Get("startIndex"); v != "" {
		n, err := strconv.ParseUint(v, 10, 63)
		if err != nil {
			return nil, errInvalid("Invalid startIndex %q", v)
		}
		start = int(n)
	}
	if tok := q.Get("pageToken"); tok != "" {
		n, err := strconv.Atoi(tok)
		if err != nil || n < 0 {
			return nil, errInvalid("Invalid page token %q", tok)
		}
		start = n
	}
	limit := s.opts.MaxPageRows
	if v := q.Get("maxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, errInvalid("Invalid maxResults %q", v)
		}
		limit = min(n, s.opts.MaxPageRows)
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var total int
	var rs *resultSet
	// One transaction gives the count and the page the same snapshot.
	err = inTx(ctx, conn, func() error {
		if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM "+ref.fqn()+where).Scan(&total); err != nil {
			return fmt.Errorf("count %s: %w", ref.label(), err)
		}
		cols := make([]string, len(fields))
		for i, f := range fields {
			cols[i] = quoteIdent(f.Name)
		}
		var err error
		rs, err = readResult(ctx, conn, fmt.Sprintf("SELECT %s FROM %s%s ORDER BY rowid LIMIT %d OFFSET %d",
			strings.Join(cols, ", "), ref.fqn(), where, limit, start))
		return err
	})
	if err != nil {
		return nil, err
	}
	int64TS := q.Get("formatOptions.useInt64Timestamp") == "true"
	out.TotalRows = strconv.Itoa(total)
	out.Rows = make([]row, 0, len(rs.rows))
	for _, vals := range rs.rows {
		out.Rows = append(out.Rows, encodeRow(fields, vals, int64TS))
	}
	if end := start + len(rs.rows); end < total && limit > 0 {
		out.PageToken = strconv.Itoa(end)
	}
	return out, nil
}

type insertAllRequest struct {
	Rows []struct {
		InsertID string         `json:"insertId"`
		JSON     map[string]any `json:"json"`
	} `json:"rows"`
	SkipInvalidRows     bool   `json:"skipInvalidRows"`
	IgnoreUnknownValues bool   `json:"ignoreUnknownValues"`
	TemplateSuffix      string `json:"templateSuffix"`
}

// insertAllResponse is tabledata.insertAll's answer. Its entries are not the bq package's,
// whose index is omitted when it is 0: a caller that keeps only the entries with an index
// would lose an error of the first row. Every entry here carries its index.
type insertAllResponse struct {
	Kind         string            `json:"kind"`
	InsertErrors []insertRowErrors `json:"insertErrors,omitempty"`
}

// insertRowErrors are the errors of the row at Index (0-based) of an insertAll request.
type insertRowErrors struct {
	Index  int64            `json:"index"`
	Errors []*bq.ErrorProto `json:"errors"`
}

// insertAll is tabledata.insertAll with per-row errors and insertId de-duplication (a row
// whose insertId the table has seen is dropped silently). It always answers 200 unless the
// request itself is bad.
func (s *Server) insertAll(r *http.Request) (any, error) {
	ctx := r.Context()
	ref := parseTableRef(r.PathValue("p"), r.PathValue("d"), r.PathValue("t"))
	var in insertAllRequest
	b, err := decodeBody(r, &struct{}{})
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	if err := dec.Decode(&in); err != nil {
		return nil, errInvalid("Invalid JSON payload received: %v", err)
	}
	if in.TemplateSuffix != "" {
		return nil, errInvalid("Emulator: templateSuffix is not supported")
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	t, err := s.lookupTable(ctx, ref)
	if err != nil {
		return nil, err
	}
	if !physical(t) || t.Type == "VIEW" {
		return nil, errInvalid("Table %s has no schema; give it one before streaming rows", ref.label())
	}
	fields := t.Schema.Fields
	key := ref.project + ":" + ref.dataset + "." + ref.table
	var insertErrors []insertRowErrors
	var good [][]any
	var goodIdx []int
	var ids []string
	s.mu.Lock()
	seen := s.seenIDs[key]
	s.mu.Unlock()
	batch := map[string]bool{}
	for i, rw := range in.Rows {
		if rw.InsertID != "" {
			if _, dup := seen[rw.InsertID]; dup || batch[rw.InsertID] {
				continue
			}
		}
		vals, rowErr := coerceRow(fields, rw.JSON, in.IgnoreUnknownValues)
		if rowErr == nil && ref.decorator != "" {
			tp := t.TimePartitioning
			if tp == nil {
				rowErr = &rowError{message: "Partition decorators need a partitioned table"}
			} else if pi, _ := findField(fields, tp.Field); pi < 0 || partitionID(vals[pi], tp.Type) != ref.decorator {
				rowErr = &rowError{field: tp.Field, message: fmt.Sprintf("The row does not belong to partition %s.", ref.decorator)}
			}
		}
		if rowErr != nil {
			msg := rowErr.message
			if strings.HasPrefix(msg, "No such field: ") {
				msg = "no such field: " + strings.TrimPrefix(msg, "No such field: ")
			}
			insertErrors = append(insertErrors, insertRowErrors{
				Index: int64(i), Errors: []*bq.ErrorProto{{Reason: "invalid", Location: rowErr.field, Message: msg}},
			})
			continue
		}
		if rw.InsertID != "" {
			batch[rw.InsertID] = true
		}
		good = append(good, vals)
		goodIdx = append(goodIdx, i)
		ids = append(ids, rw.InsertID)
	}
	if len(insertErrors) > 0 && !in.SkipInvalidRows {
		for _, i := range goodIdx {
			insertErrors = append(insertErrors, insertRowErrors{
				Index: int64(i), Errors: []*bq.ErrorProto{{Reason: "stopped"}},
			})
		}
		return &insertAllResponse{Kind: "bigquery#tableDataInsertAllResponse", InsertErrors: insertErrors}, nil
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	base := tableRef{project: ref.project, dataset: ref.dataset, table: ref.table}
	if err := inTx(ctx, conn, func() error { return appendRows(conn, base, good) }); err != nil {
		return nil, err
	}
	if len(good) > 0 {
		if err := s.touchTables(base); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	if s.seenIDs[key] == nil {
		s.seenIDs[key] = map[string]struct{}{}
	}
	for _, id := range ids {
		if id != "" {
			s.seenIDs[key][id] = struct{}{}
		}
	}
	s.mu.Unlock()
	return &insertAllResponse{Kind: "bigquery#tableDataInsertAllResponse", InsertErrors: insertErrors}, nil
}
