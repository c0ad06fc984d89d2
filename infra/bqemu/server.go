package bqemu

import (
	"compress/gzip"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
	bq "google.golang.org/api/bigquery/v2"
)

// Options configures a Server. The zero value is an in-memory emulator with no GCS access.
type Options struct {
	// Projects are created at start-up. Any other project is created on first use, so tests
	// need not list theirs.
	Projects []string
	// DefaultLocation is reported for datasets and jobs that do not name one ("US" if empty).
	DefaultLocation string
	// DuckDBPath is a directory that keeps the data between runs: one DuckDB file per project
	// plus metadata.json. Empty keeps everything in memory.
	DuckDBPath string
	// MemoryLimit caps DuckDB's memory (its memory_limit setting, e.g. "256MB"). Empty means
	// DefaultFileMemoryLimit with a DuckDBPath, whose pages DuckDB can write out and read
	// back, and DuckDB's own default (80% of the machine's memory) in memory, where the
	// data must fit.
	MemoryLimit string
	// Threads is DuckDB's worker threads (its threads setting); zero means DefaultThreads.
	Threads int
	// GCS resolves gs:// URIs of load jobs. Without it, GCS loads fail with an invalid error.
	GCS ObjectSource
	// Now is the clock for creation and modification times (time.Now if nil).
	Now func() time.Time
	// MaxPageRows caps a result page when the request gives no maxResults (10,000 if zero).
	MaxPageRows int
	// ResultMemory bounds the query results kept in memory for reading after their job
	// (DefaultResultMemory if zero): past it, the results of the oldest jobs that were
	// read to the end, or that nobody has read for ten seconds since their job or their
	// last page, are dropped, as BigQuery drops a query's temporary results table after a
	// day; their jobs, schemas and row counts stay (waiting for a job still works), and
	// reading their rows says the results expired.
	ResultMemory int64
	// Logger receives request errors and recovered panics (slog.Default if nil).
	Logger *slog.Logger
}

// DefaultResultMemory is the memory kept for query results when Options names none: every
// job of the pipeline reads its results at once, page after page, and results being read
// stay whatever the budget (resultGrace), so a budget far below a long run's total (a
// season's runs read about a gigabyte) loses nothing anyone reads. Results held cost about
// half again their estimate in the Go heap, and the heap's own headroom doubles that: 64
// MiB kept about 200 MB of the local stack's peak; 16 MiB, with a minute's grace counted
// from the job, held 35 MB of a season's 100 MB live heap at its end; 4 MiB, with the
// grace counted from the last page, 2 MB of 69.
const DefaultResultMemory = 4 << 20

// DefaultThreads is DuckDB's worker threads when Options names none: each statement runs
// on the thread of the request that sent it, and statements of requests at once run side by
// side. DuckDB's default (one worker per core) splits each statement into tasks on one pool
// that every connection shares, so a short statement (a registry's MERGE) queues behind the
// tasks of every long one running beside it.
const DefaultThreads = 1

// DefaultFileMemoryLimit is the memory DuckDB may use for a store in files when Options
// names none. DuckDB otherwise caches pages up to 80% of the machine's memory, beside
// everything else the local stack runs; past the limit it writes pages out to its files
// and reads them back when needed.
const DefaultFileMemoryLimit = "256MB"

// Server is a BigQuery REST emulator backed by DuckDB. It is safe for concurrent use.
type Server struct {
	opts      Options
	connector *duckdb.Connector
	db        *sql.DB
	log       *slog.Logger
	mux       *http.ServeMux

	// mu guards the metadata below. It is never held while DuckDB runs a statement.
	mu       sync.Mutex
	projects map[string]*project
	uploads  map[string]*upload
	seenIDs  map[string]map[string]struct{} // table key -> insertId
	// tableJSON is the encoding of each stored table as saveLocked last wrote it. A stored
	// table is replaced, never mutated, so its encoding holds while it is stored, and a
	// save after a job moved one table's modification time encodes that table alone:
	// encoding every table at every write took 2.4 s of the emulator's CPU over a season,
	// all of it under mu.
	tableJSON map[*bq.Table]json.RawMessage

	// writeMu serialises every statement that writes to DuckDB, so jobs never conflict and
	// run in a deterministic order. A SELECT holds it shared: it never overlaps a write.
	// DuckDB's snapshots alone were not enough: a count of one partition, read while a
	// WRITE_TRUNCATE load of that partition committed (its delete and its appended rows in
	// one transaction), now and then saw the old rows and the new ones at once
	// (TestConcurrentLoadsAndQueries caught it about once in twenty runs). Work that
	// touches no table is done outside it, so the writers behind wait for writes alone:
	// reading and decoding a load's sources, pointing a connection at a dataset and back
	// (unless a script may have left a transaction with writes open on it), a job's
	// statistics, and moving a table's modification time.
	writeMu sync.RWMutex

	// stopTrim ends the goroutine that returns DuckDB's freed memory (trimMalloc).
	stopTrim  chan struct{}
	closeOnce sync.Once
}

// New opens the DuckDB store and returns a Server ready to serve Handler.
func New(opts Options) (*Server, error) {
	if opts.DefaultLocation == "" {
		opts.DefaultLocation = "US"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ResultMemory <= 0 {
		opts.ResultMemory = DefaultResultMemory
	}
	if opts.MaxPageRows <= 0 {
		opts.MaxPageRows = 10000
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.DuckDBPath != "" {
		if err := os.MkdirAll(opts.DuckDBPath, 0o755); err != nil {
			return nil, fmt.Errorf("bqemu: create data directory: %w", err)
		}
	}
	settings := []string{
		"SET TimeZone='UTC'",
		"SET default_null_order='nulls_first_on_asc_last_on_desc'",
	}
	limit := opts.MemoryLimit
	if limit == "" && opts.DuckDBPath != "" {
		limit = DefaultFileMemoryLimit
	}
	if limit != "" {
		settings = append(settings, "SET memory_limit="+quoteString(limit))
	}
	threads := opts.Threads
	if threads <= 0 {
		threads = DefaultThreads
	}
	settings = append(settings, fmt.Sprintf("SET threads=%d", threads))
	connector, err := duckdb.NewConnector("", func(execer driver.ExecerContext) error {
		for _, q := range settings {
			if _, err := execer.ExecContext(context.Background(), q, nil); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bqemu: open duckdb: %w", err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxIdleConns(idleConns)
	s := &Server{
		opts:      opts,
		connector: connector,
		db:        db,
		log:       opts.Logger,
		projects:  map[string]*project{},
		uploads:   map[string]*upload{},
		seenIDs:   map[string]map[string]struct{}{},
	}
	ctx := context.Background()
	if err := setupCompat(ctx, s.db); err != nil {
		s.Close()
		return nil, fmt.Errorf("bqemu: install compatibility macros: %w", err)
	}
	if err := s.loadMetadata(ctx); err != nil {
		s.Close()
		return nil, err
	}
	// Reconcile the sidecar with the DuckDB files, in case the last run stopped between a
	// DDL statement and the metadata write.
	for _, p := range sortedKeys(s.projects) {
		if err := s.syncCatalog(ctx, p, &statement{}); err != nil {
			s.Close()
			return nil, fmt.Errorf("bqemu: reconcile metadata of project %s: %w", p, err)
		}
	}
	for _, p := range opts.Projects {
		if _, err := s.project(ctx, p); err != nil {
			s.Close()
			return nil, err
		}
	}
	s.mux = s.routes()
	s.stopTrim = make(chan struct{})
	go trimMalloc(s.stopTrim)
	return s, nil
}

// Close releases DuckDB. Metadata is saved after every change, so nothing is lost.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		if s.stopTrim != nil {
			close(s.stopTrim)
		}
	})
	var errs []error
	if s.db != nil {
		errs = append(errs, s.db.Close())
	}
	if s.connector != nil {
		errs = append(errs, s.connector.Close())
	}
	return errors.Join(errs...)
}

// Handler serves the BigQuery v2 REST API under "", "/bigquery/v2" and "/bigquery", the
// upload endpoint "/upload/bigquery/v2", and the API's discovery document at
// "/$discovery/rest?version=v2" and "/discovery/v1/apis/bigquery/v2/rest".
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(s.serveHTTP)
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("bqemu: recovered panic", "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			writeError(w, errInvalid("Emulator internal error: %v", v))
		}
	}()
	if r.Method == http.MethodPost {
		if m := r.Header.Get("X-HTTP-Method-Override"); m != "" {
			r.Method = strings.ToUpper(m)
		}
	}
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			writeError(w, errInvalid("request body is not gzip: %v", err))
			return
		}
		r.Body = zr
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<30)
	p := r.URL.Path
	if p == discoveryPath || p == discoveryPathLegacy {
		s.serveDiscovery(w, r)
		return
	}
	// Accept the paths under every prefix the client may use: "", /bigquery and /bigquery/v2.
	if rest, ok := strings.CutPrefix(p, "/upload/bigquery/v2"); ok {
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/upload" + rest
		r2.URL.RawPath = ""
		s.mux.ServeHTTP(w, r2)
		return
	}
	for _, prefix := range []string{"/bigquery/v2", "/bigquery"} {
		if rest, ok := strings.CutPrefix(p, prefix); ok && strings.HasPrefix(rest, "/") {
			p = rest
			break
		}
	}
	if p != r.URL.Path {
		r2 := r.Clone(r.Context())
		r2.URL.Path = p
		r2.URL.RawPath = ""
		r = r2
	}
	s.mux.ServeHTTP(w, r)
}

// idleConns is how many DuckDB connections the server keeps open between requests. Each
// request takes one; database/sql keeps two by default, so with a pipeline's dozens of
// requests at once most opened a connection (and ran the session settings) and closed it
// again: 5 s of a season's CPU. But an open connection keeps the memory its statements and
// temporary tables took: with 16 the local stack's process peaked 21 to 25 MiB higher over
// a season than with 4, for no CPU that the season's figures could tell apart.
const idleConns = 4

func (s *Server) routes() *http.ServeMux {
	m := http.NewServeMux()
	h := func(pattern string, fn func(*http.Request) (any, error)) {
		m.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			v, err := fn(r)
			if err != nil {
				writeError(w, err)
				return
			}
			writeJSON(w, http.StatusOK, v)
		})
	}
	h("GET /projects", s.listProjects)
	h("POST /projects/{p}/datasets", s.insertDataset)
	h("GET /projects/{p}/datasets", s.listDatasets)
	h("GET /projects/{p}/datasets/{d}", s.getDataset)
	h("PATCH /projects/{p}/datasets/{d}", s.patchDataset)
	h("PUT /projects/{p}/datasets/{d}", s.patchDataset)
	h("DELETE /projects/{p}/datasets/{d}", s.deleteDataset)
	h("POST /projects/{p}/datasets/{d}/tables", s.insertTable)
	h("GET /projects/{p}/datasets/{d}/tables", s.listTables)
	h("GET /projects/{p}/datasets/{d}/tables/{t}", s.getTable)
	h("PATCH /projects/{p}/datasets/{d}/tables/{t}", s.patchTable)
	h("PUT /projects/{p}/datasets/{d}/tables/{t}", s.patchTable)
	h("DELETE /projects/{p}/datasets/{d}/tables/{t}", s.deleteTable)
	h("GET /projects/{p}/datasets/{d}/tables/{t}/data", s.listTableData)
	h("POST /projects/{p}/datasets/{d}/tables/{t}/insertAll", s.insertAll)
	h("POST /projects/{p}/jobs", s.insertJob)
	h("GET /projects/{p}/jobs", s.listJobs)
	h("GET /projects/{p}/jobs/{j}", s.getJob)
	h("POST /projects/{p}/jobs/{j}/cancel", s.cancelJob)
	h("DELETE /projects/{p}/jobs/{j}/delete", s.deleteJob)
	h("DELETE /projects/{p}/jobs/{j}", s.deleteJob)
	h("POST /projects/{p}/queries", s.query)
	h("GET /projects/{p}/queries/{j}", s.getQueryResults)
	m.HandleFunc("POST /upload/projects/{p}/jobs", s.upload)
	m.HandleFunc("PUT /upload/projects/{p}/jobs", s.upload)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errNotFound("Not found: %s %s is not a BigQuery emulator route", r.Method, r.URL.Path))
	})
	return m
}

// noContent is returned by handlers whose success response has no body.
type noContent struct{}

func writeJSON(w http.ResponseWriter, code int, v any) {
	if _, ok := v.(noContent); ok {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, errInvalid("Emulator internal error: encode response: %v", err))
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// decodeBody reads a JSON request body into v and returns the raw bytes too.
func decodeBody(r *http.Request, v any) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, errInvalid("read request body: %v", err)
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return b, nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return nil, errInvalid("Invalid JSON payload received: %v", err)
	}
	return b, nil
}

func (s *Server) metadataPath() string {
	if s.opts.DuckDBPath == "" {
		return ""
	}
	return filepath.Join(s.opts.DuckDBPath, "metadata.json")
}

func (s *Server) now() time.Time { return s.opts.Now() }

func msString(t time.Time) int64 { return t.UnixMilli() }

// MemoryReport is DuckDB's own account of the memory it holds, by component (its
// duckdb_memory() table: buffer pool pages, hash tables, ...), one "tag bytes temporary"
// line each, for finding what a long run keeps.
func (s *Server) MemoryReport(ctx context.Context) (string, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT tag, memory_usage_bytes, temporary_storage_bytes FROM duckdb_memory() ORDER BY memory_usage_bytes DESC")
	if err != nil {
		return "", fmt.Errorf("duckdb_memory(): %w", err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var tag string
		var mem, tmp int64
		if err := rows.Scan(&tag, &mem, &tmp); err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "%-28s %12d %12d\n", tag, mem, tmp)
	}
	return b.String(), rows.Err()
}
