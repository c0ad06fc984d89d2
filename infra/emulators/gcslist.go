package emulators

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
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
	"sync"

	"github.com/pkg/xattr"

	"github.com/nba-props/pipeline/infra/internal/deflate"
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
//
// Describing an object through fake-gcs-server costs a trip through its router and lock;
// a ledger listed every few seconds would pay it for every record every time. So each
// description is kept with the object's stored metadata and size it was made from, and
// reused while both are the same: the stored metadata carries the generation (a new one at
// every write) and the metageneration (a new one at every metadata change), so equal
// metadata means the same object state.
type prefixLister struct {
	root string // the filesystem backend's root: <root>/<bucket, path-escaped>/<object name>
	next http.Handler

	// xattr says where fake-gcs-server keeps an object's metadata: in an extended
	// attribute of its file when the root supports them, else in a "<name>.metadata" file.
	xattr bool

	mu    sync.Mutex
	known map[string]description // by host, bucket and object name
	// items compresses the kept items against the first item described: an item is about
	// a kilobyte of JSON, its object's name five times over (raw and escaped) beside the
	// field names, the bucket and the host's address, and compressed on its own it would
	// keep most of that. Set once, under mu.
	items *deflate.Codec
}

// description is an object's listing item and what it was made from: the SHA-256 of the
// stored metadata (the metadata itself would double what a long run's descriptions hold)
// and the file's size. The item is kept compressed (prefixLister.dict): a season's
// descriptions held 9 MB as plain JSON.
type description struct {
	meta [sha256.Size]byte
	size int64
	item []byte
	// plain is the item's length uncompressed.
	plain int
}

// same says whether two readings of an object's stored state are equal.
func (d description) same(o description) bool { return d.size == o.size && d.meta == o.meta }

// maxDescriptions bounds the descriptions kept: past it they are all dropped and made
// again (objects deleted meanwhile leave theirs behind until then).
const maxDescriptions = 200_000

// xattrKey is the extended attribute fake-gcs-server's filesystem backend keeps an
// object's metadata in.
const xattrKey = "user.metadata"

func newPrefixLister(root string, next http.Handler) *prefixLister {
	// fake-gcs-server's own test: the root's attribute can be read, or is merely absent.
	_, err := xattr.Get(root, xattrKey)
	var xerr *xattr.Error
	useXattr := xattr.XATTR_SUPPORTED && (err == nil || errors.As(err, &xerr) && errors.Is(xerr.Err, xattr.ENOATTR))
	return &prefixLister{root: root, next: next, xattr: useXattr, known: map[string]description{}}
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
		if item, ok := p.describe(r, bucket, escBucket, name); ok {
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
// metadata), or the one kept from last time while the object's stored metadata and size
// are unchanged; ok is false when the object is gone (deleted since the walk) or is not an
// object (a file of the backend's own, such as a metadata sidecar).
func (p *prefixLister) describe(r *http.Request, bucket, escBucket, name string) (json.RawMessage, bool) {
	key := r.Host + "\x00" + bucket + "\x00" + name
	before, ok := p.stored(bucket, name)
	if !ok {
		return p.ask(r, escBucket, name)
	}
	p.mu.Lock()
	d, hit := p.known[key]
	p.mu.Unlock()
	if hit && d.same(before) {
		// A hit was kept compressed, so the codec is there.
		if item, err := p.codec(nil).Expand(d.item, d.plain); err == nil {
			return item, true
		}
	}
	item, ok := p.ask(r, escBucket, name)
	if !ok {
		return nil, false
	}
	// fake-gcs-server writes an object's file and its metadata under its lock, which its
	// GET takes too: if the stored state is the same after the GET as before it, the GET
	// described that state.
	if after, ok := p.stored(bucket, name); ok && after.same(before) {
		before.item, before.plain = p.codec(item).Compress(item), len(item)
		p.mu.Lock()
		if len(p.known) >= maxDescriptions {
			clear(p.known)
		}
		p.known[key] = before
		p.mu.Unlock()
	}
	return item, true
}

// codec is the lister's codec, against the first item it is given.
func (p *prefixLister) codec(item []byte) *deflate.Codec {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.items == nil {
		p.items = deflate.New(bytes.Clone(item))
	}
	return p.items
}

// stored reads what fake-gcs-server keeps of an object: its metadata and its file's size.
func (p *prefixLister) stored(bucket, name string) (description, bool) {
	path := filepath.Join(p.root, url.PathEscape(bucket), filepath.FromSlash(name))
	st, err := os.Stat(path)
	if err != nil || !st.Mode().IsRegular() {
		return description{}, false
	}
	var meta []byte
	if p.xattr {
		meta, err = xattr.Get(path, xattrKey)
	} else {
		meta, err = os.ReadFile(path + ".metadata")
	}
	if err != nil {
		return description{}, false
	}
	return description{meta: sha256.Sum256(meta), size: st.Size()}, true
}

// ask is fake-gcs-server's answer to a GET of the object's metadata.
func (p *prefixLister) ask(r *http.Request, escBucket, name string) (json.RawMessage, bool) {
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
