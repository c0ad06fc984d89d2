package bqemu

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	bq "google.golang.org/api/bigquery/v2"
)

func (s *Server) listProjects(r *http.Request) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := &bq.ProjectList{Kind: "bigquery#projectList"}
	for _, id := range sortedKeys(s.projects) {
		out.Projects = append(out.Projects, &bq.ProjectListProjects{
			Id: id, Kind: "bigquery#project", FriendlyName: id,
			ProjectReference: &bq.ProjectReference{ProjectId: id},
		})
	}
	out.TotalItems = int64(len(out.Projects))
	return out, nil
}

func (s *Server) insertDataset(r *http.Request) (any, error) {
	p := r.PathValue("p")
	var in bq.Dataset
	if _, err := decodeBody(r, &in); err != nil {
		return nil, err
	}
	if in.DatasetReference == nil || in.DatasetReference.DatasetId == "" {
		return nil, errInvalid("Required parameter is missing: datasetReference.datasetId")
	}
	return s.createDataset(r, p, &in, false)
}

// createDataset registers a dataset and creates its DuckDB schema. ifNotExists makes an
// existing dataset a success (CREATE SCHEMA IF NOT EXISTS).
func (s *Server) createDataset(r *http.Request, p string, in *bq.Dataset, ifNotExists bool) (*bq.Dataset, error) {
	ctx := r.Context()
	d := in.DatasetReference.DatasetId
	if !datasetIDRe.MatchString(d) || len(d) > 1024 {
		return nil, errInvalid("Invalid dataset ID %q. Dataset IDs must be alphanumeric (plus underscores) and must be at most 1024 characters long.", d)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	pr, err := s.projectLocked(ctx, p)
	if err != nil {
		return nil, err
	}
	if _, isProject := s.projects[d]; isProject {
		return nil, errInvalid("Dataset ID %q equals a project ID; the emulator cannot resolve two-part names for it", d)
	}
	if old, ok := pr.datasets[d]; ok {
		if ifNotExists {
			return old.meta, nil
		}
		return nil, errDuplicate("Already Exists: Dataset %s:%s", p, d)
	}
	if _, err := s.db.ExecContext(ctx, "CREATE SCHEMA IF NOT EXISTS "+quoteIdent(p)+"."+quoteIdent(d)); err != nil {
		return nil, fmt.Errorf("create dataset %s:%s: %w", p, d, err)
	}
	now := msString(s.now())
	meta := *in
	meta.Kind = "bigquery#dataset"
	meta.Id = p + ":" + d
	meta.DatasetReference = &bq.DatasetReference{ProjectId: p, DatasetId: d}
	if meta.Location == "" {
		meta.Location = s.opts.DefaultLocation
	}
	meta.CreationTime = now
	meta.LastModifiedTime = now
	meta.Etag = strconv.FormatInt(now, 36)
	meta.SelfLink = "/projects/" + p + "/datasets/" + d
	if meta.Type == "" {
		meta.Type = "DEFAULT"
	}
	pr.datasets[d] = &dataset{meta: &meta, tables: map[string]*bq.Table{}}
	if err := s.saveLocked(); err != nil {
		return nil, err
	}
	return &meta, nil
}

func (s *Server) getDataset(r *http.Request) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ds, err := s.datasetLocked(r.Context(), r.PathValue("p"), r.PathValue("d"))
	if err != nil {
		return nil, err
	}
	return ds.meta, nil
}

func (s *Server) listDatasets(r *http.Request) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pr, err := s.projectLocked(r.Context(), r.PathValue("p"))
	if err != nil {
		return nil, err
	}
	var all []*bq.DatasetListDatasets
	for _, id := range sortedKeys(pr.datasets) {
		m := pr.datasets[id].meta
		all = append(all, &bq.DatasetListDatasets{
			Kind: "bigquery#dataset", Id: m.Id, DatasetReference: m.DatasetReference,
			Location: m.Location, Labels: m.Labels, FriendlyName: m.FriendlyName,
		})
	}
	page, next, err := pageSlice(all, r, 0)
	if err != nil {
		return nil, err
	}
	return &bq.DatasetList{Kind: "bigquery#datasetList", Datasets: page, NextPageToken: next, Etag: "0"}, nil
}

func (s *Server) patchDataset(r *http.Request) (any, error) {
	var in bq.Dataset
	raw, err := decodeBody(r, &in)
	if err != nil {
		return nil, err
	}
	var present map[string]json.RawMessage
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &present); err != nil {
			return nil, errInvalid("Invalid JSON payload received: %v", err)
		}
	}
	has := func(k string) bool { _, ok := present[k]; return ok }
	s.mu.Lock()
	defer s.mu.Unlock()
	ds, err := s.datasetLocked(r.Context(), r.PathValue("p"), r.PathValue("d"))
	if err != nil {
		return nil, err
	}
	m := *ds.meta
	if has("description") {
		m.Description = in.Description
	}
	if has("friendlyName") {
		m.FriendlyName = in.FriendlyName
	}
	if has("labels") {
		labels, err := mergeLabels(m.Labels, present["labels"])
		if err != nil {
			return nil, err
		}
		m.Labels = labels
	}
	if has("defaultTableExpirationMs") {
		m.DefaultTableExpirationMs = in.DefaultTableExpirationMs
	}
	now := msString(s.now())
	m.LastModifiedTime = now
	m.Etag = strconv.FormatInt(now, 36)
	ds.meta = &m
	if err := s.saveLocked(); err != nil {
		return nil, err
	}
	return &m, nil
}

func (s *Server) deleteDataset(r *http.Request) (any, error) {
	p, d := r.PathValue("p"), r.PathValue("d")
	ctx := r.Context()
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	ds, err := s.datasetLocked(ctx, p, d)
	if err != nil {
		return nil, err
	}
	if len(ds.tables) > 0 && r.URL.Query().Get("deleteContents") != "true" {
		return nil, errResourceInUse("Dataset %s:%s is still in use", p, d)
	}
	if _, err := s.db.ExecContext(ctx, "DROP SCHEMA IF EXISTS "+quoteIdent(p)+"."+quoteIdent(d)+" CASCADE"); err != nil {
		return nil, fmt.Errorf("delete dataset %s:%s: %w", p, d, err)
	}
	delete(s.projects[p].datasets, d)
	for t := range ds.tables {
		delete(s.seenIDs, p+":"+d+"."+t)
	}
	if err := s.saveLocked(); err != nil {
		return nil, err
	}
	return noContent{}, nil
}

// pageSlice applies maxResults/pageToken (a decimal offset) to a listing.
func pageSlice[T any](all []T, r *http.Request, def int) ([]T, string, error) {
	q := r.URL.Query()
	off := 0
	if tok := q.Get("pageToken"); tok != "" {
		n, err := strconv.Atoi(tok)
		if err != nil || n < 0 {
			return nil, "", errInvalid("Invalid page token %q", tok)
		}
		off = n
	}
	limit := def
	if m := q.Get("maxResults"); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil || n < 0 {
			return nil, "", errInvalid("Invalid maxResults %q", m)
		}
		limit = n
	}
	if off > len(all) {
		off = len(all)
	}
	end := len(all)
	if limit > 0 && off+limit < end {
		end = off + limit
	}
	next := ""
	if end < len(all) {
		next = strconv.Itoa(end)
	}
	return all[off:end], next, nil
}
