package emulators

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// prefixLister answers object listings (GET /storage/v1/b/<bucket>/o) by walking only the
// directory a prefix names instead of the whole bucket, and hands every other request to
// fake-gcs-server.
//
// fake-gcs-server's filesystem backend lists by walking every file of the bucket, stat-ing
// each and reading the metadata of each that matches the prefix, under its lock. The
// pipeline lists one date's objects (a scraper's prune, a raw job's read) or one job's
// ledger records, so each listing cost grew with everything the bucket held: a season
// meant thousands of files walked per listing, hundreds of listings per date. Here the
// walk covers the prefix's directory, and each object listed is described by
// fake-gcs-server itself (its own object GET, under its lock), so an item has the same
// fields it would have had in fake-gcs-server's listing. Paging, offsets and delimiters
// follow fake-gcs-server's rules (the page token is the first name of the next page). A
// listing with parameters it does not know (versions, match globs, folders) goes to
// fake-gcs-server unchanged.
type prefixLister struct {
	root string // the filesystem backend's root: <root>/<bucket, path-escaped>/<object name>
	next http.Handler
}

const listPathPrefix, listPathSuffix = "/storage/v1/b/", "/o"

// knownListParams are the query parameters the fast path implements; "fields",
// "projection" and the rest are ignored by fake-gcs-server's listing too. Any other
// parameter set (versions, matchGlob, includeFoldersAsPrefixes, softDeleted) sends the
// listing to fake-gcs-server.
var knownListParams = map[string]bool{
	"prefix": true, "delimiter": true, "startOffset": true, "endOffset": true, "pageToken": true,
	"maxResults": true, "includeTrailingDelimiter": true, "fields": true, "projection": true,
	"alt": true, "prettyPrint": true, "userProject": true,
}

func (p *prefixLister) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !p.list(w, r) {
		p.next.ServeHTTP(w, r)
	}
}

// list answers r if it is a listing the fast path takes, and reports whether it did.
func (p *prefixLister) list(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodGet {
		return false
	}
	path := r.URL.EscapedPath()
	rest, ok := strings.CutPrefix(path, listPathPrefix)
	if !ok {
		return false
	}
	escBucket, ok := strings.CutSuffix(rest, listPathSuffix)
	if !ok || escBucket == "" || strings.Contains(escBucket, "/") {
		return false
	}
	bucket, err := url.PathUnescape(escBucket)
	if err != nil {
		return false
	}
	q := r.URL.Query()
	for k := range q {
		// The Go client sends every option, unset ones empty or false.
		if v := q.Get(k); !knownListParams[k] && v != "" && v != "false" {
			return false
		}
	}
	if a := q.Get("alt"); a != "" && a != "json" {
		return false
	}
	maxResults := 0
	if s := q.Get("maxResults"); s != "" {
		if maxResults, err = strconv.Atoi(s); err != nil || maxResults < 0 {
			return false // fake-gcs-server answers the 400
		}
	}
	prefix := q.Get("prefix")
	bucketDir := filepath.Join(p.root, url.PathEscape(bucket))
	if st, err := os.Stat(bucketDir); err != nil || !st.IsDir() {
		return false // fake-gcs-server answers the 404
	}
	dirPart := prefix[:strings.LastIndex(prefix, "/")+1]
	if slices.Contains(strings.Split(dirPart, "/"), "..") || strings.Contains(dirPart, "\\") {
		return false
	}
	names, err := objectNames(bucketDir, dirPart)
	if err != nil {
		return false
	}

	// fake-gcs-server's own selection (ListObjectsWithOptionsPaginated), on the names.
	delim := q.Get("delimiter")
	start, end := q.Get("startOffset"), q.Get("endOffset")
	if t := q.Get("pageToken"); t != "" {
		start = t
	}
	trailing := q.Get("includeTrailingDelimiter") == "true"
	var chosen []string
	prefixes := map[string]bool{}
	for _, name := range names {
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		rel := strings.Replace(name, prefix, "", 1)
		if i := strings.Index(rel, delim); delim != "" && i > -1 {
			pre := name[:len(prefix)+i+1]
			if inOffset(pre, start, end) {
				prefixes[pre] = true
			}
			if trailing && name == pre {
				chosen = append(chosen, name)
			}
			continue
		}
		if inOffset(name, start, end) {
			chosen = append(chosen, name)
		}
	}
	nextPage := ""
	if maxResults > 0 && len(chosen) > maxResults {
		nextPage = chosen[maxResults]
		chosen = chosen[:maxResults]
	}
	items := make([]json.RawMessage, 0, len(chosen))
	for _, name := range chosen {
		if item, ok := p.describe(r, escBucket, name); ok {
			items = append(items, item)
		}
	}
	out := struct {
		Kind          string            `json:"kind"`
		Items         []json.RawMessage `json:"items"`
		Prefixes      []string          `json:"prefixes"`
		NextPageToken string            `json:"nextPageToken,omitempty"`
	}{Kind: "storage#objects", Items: items, Prefixes: slices.Sorted(maps.Keys(prefixes)), NextPageToken: nextPage}
	if out.Prefixes == nil {
		out.Prefixes = []string{}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
	return true
}

// describe is fake-gcs-server's own JSON for the object (its GET of the object's
// metadata); ok is false when the object is gone (deleted since the walk) or is not an
// object (a file of the backend's own, such as a metadata sidecar).
func (p *prefixLister) describe(r *http.Request, escBucket, name string) (json.RawMessage, bool) {
	// projection=full: a listing's items carry the ACL, an object GET's only on request.
	u := &url.URL{Path: listPathPrefix + escBucket + "/o/" + name,
		RawPath: listPathPrefix + escBucket + "/o/" + url.PathEscape(name), RawQuery: "projection=full"}
	req := httptest.NewRequestWithContext(r.Context(), http.MethodGet, u.String(), nil)
	req.Host = r.Host
	rec := httptest.NewRecorder()
	p.next.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return nil, false
	}
	return json.RawMessage(bytes.TrimSpace(rec.Body.Bytes())), true
}

// objectNames lists, in name order, the object names under bucketDir/dirPart: every
// regular file but the metadata sidecars fake-gcs-server keeps beside an object
// ("<name>.metadata", where the filesystem has no extended attributes).
func objectNames(bucketDir, dirPart string) ([]string, error) {
	start := filepath.Join(bucketDir, filepath.FromSlash(dirPart))
	var files []string
	err := filepath.WalkDir(start, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == start && os.IsNotExist(err) {
				return fs.SkipAll
			}
			return err
		}
		if d.Type().IsRegular() {
			rel, err := filepath.Rel(bucketDir, path)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	have := make(map[string]bool, len(files))
	for _, f := range files {
		have[f] = true
	}
	names := files[:0]
	for _, f := range files {
		if base, ok := strings.CutSuffix(f, ".metadata"); ok && have[base] {
			continue
		}
		names = append(names, f)
	}
	slices.Sort(names)
	return names, nil
}

// inOffset is fake-gcs-server's offset rule: start inclusive, end exclusive.
func inOffset(name, start, end string) bool {
	return (start == "" || name >= start) && (end == "" || name < end)
}
