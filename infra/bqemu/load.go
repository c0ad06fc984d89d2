package bqemu

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/storage"
	duckdb "github.com/duckdb/duckdb-go/v2"
	bq "google.golang.org/api/bigquery/v2"
	"google.golang.org/api/iterator"
)

// ObjectSource reads the gs:// objects of load jobs. StorageSource adapts a *storage.Client;
// tests may supply any other implementation.
type ObjectSource interface {
	// Open returns the object's content; a missing object is an error wrapping ErrObjectNotFound.
	Open(ctx context.Context, bucket, object string) (io.ReadCloser, error)
	// List returns the names of the objects whose names start with prefix, in lexical order.
	List(ctx context.Context, bucket, prefix string) ([]string, error)
}

// ErrObjectNotFound is wrapped by ObjectSource.Open when the object does not exist.
var ErrObjectNotFound = errors.New("object not found")

// StorageSource returns an ObjectSource over a Cloud Storage client (for example one built
// by fake-gcs-server's Server.Client or from STORAGE_EMULATOR_HOST).
func StorageSource(c *storage.Client) ObjectSource { return storageSource{c} }

type storageSource struct{ c *storage.Client }

func (g storageSource) Open(ctx context.Context, bucket, object string) (io.ReadCloser, error) {
	r, err := g.c.Bucket(bucket).Object(object).NewReader(ctx)
	if errors.Is(err, storage.ErrObjectNotExist) || errors.Is(err, storage.ErrBucketNotExist) {
		return nil, fmt.Errorf("gs://%s/%s: %w", bucket, object, ErrObjectNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("open gs://%s/%s: %w", bucket, object, err)
	}
	return r, nil
}

func (g storageSource) List(ctx context.Context, bucket, prefix string) ([]string, error) {
	it := g.c.Bucket(bucket).Objects(ctx, &storage.Query{Prefix: prefix})
	var names []string
	for {
		a, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return names, nil
		}
		if errors.Is(err, storage.ErrBucketNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list gs://%s/%s: %w", bucket, prefix, err)
		}
		names = append(names, a.Name)
	}
}

// source is one input of a load job.
type source struct {
	uri  string
	open func() (io.ReadCloser, error)
}

// expandURIs resolves gs:// URIs, each with at most one '*' wildcard.
func (s *Server) expandURIs(ctx context.Context, uris []string) ([]source, error) {
	if s.opts.GCS == nil {
		return nil, errInvalid("Emulator: no GCS object source is configured, so gs:// loads are not supported")
	}
	var out []source
	for _, uri := range uris {
		rest, ok := strings.CutPrefix(uri, "gs://")
		bucket, object, ok2 := strings.Cut(rest, "/")
		if !ok || !ok2 || bucket == "" || object == "" {
			return nil, errInvalid("Invalid source URI %q: expected gs://bucket/object", uri)
		}
		if strings.Count(object, "*") > 1 {
			return nil, errInvalid("Invalid source URI %q: at most one '*' wildcard is allowed", uri)
		}
		if !strings.Contains(object, "*") {
			out = append(out, s.gcsSource(ctx, bucket, object))
			continue
		}
		prefix, suffix, _ := strings.Cut(object, "*")
		names, err := s.opts.GCS.List(ctx, bucket, prefix)
		if err != nil {
			return nil, err
		}
		n := 0
		for _, name := range names {
			if strings.HasSuffix(name, suffix) && len(name) >= len(prefix)+len(suffix) && !strings.HasSuffix(name, "/") {
				out = append(out, s.gcsSource(ctx, bucket, name))
				n++
			}
		}
		if n == 0 {
			return nil, errNotFound("Not found: URI %s", uri)
		}
	}
	return out, nil
}

func (s *Server) gcsSource(ctx context.Context, bucket, object string) source {
	return source{uri: "gs://" + bucket + "/" + object, open: func() (io.ReadCloser, error) {
		r, err := s.opts.GCS.Open(ctx, bucket, object)
		if errors.Is(err, ErrObjectNotFound) {
			return nil, errNotFound("Not found: URI gs://%s/%s", bucket, object)
		}
		return r, err
	}}
}

// fetchedSource is one input of a load job read into memory, or the error that stopped
// it (which the job reports only after checking its destination, and only if it gets to
// this source).
type fetchedSource struct {
	uri  string
	body []byte
	err  error
}

// fetchSources resolves the URIs and reads every object whole, in order, stopping at the
// first one that cannot be opened or read.
func (s *Server) fetchSources(ctx context.Context, uris []string) ([]fetchedSource, error) {
	sources, err := s.expandURIs(ctx, uris)
	if err != nil {
		return nil, err
	}
	out := make([]fetchedSource, 0, len(sources))
	for _, src := range sources {
		f := fetchedSource{uri: src.uri}
		rc, err := src.open()
		if err == nil {
			f.body, err = io.ReadAll(rc)
			rc.Close()
			if err != nil {
				err = fmt.Errorf("read %s: %w", src.uri, err)
			}
		}
		f.err = err
		out = append(out, f)
		if err != nil {
			break
		}
	}
	return out, nil
}

// loadStats accumulates a load job's statistics.
type loadStats struct {
	files, bytes, bad int64
	warnings          []*bq.ErrorProto
}

// parsedLoad is a load job's sources decoded against one schema, and the verdict on
// whether its rows fit one partition: everything the write needs that depends on the
// destination only through its schema and partitioning. parseAhead builds it before the
// write lock, against the destination as the catalogue describes it then, so that other
// writers do not wait for this job's JSON decoding; under the lock it is rebuilt only if
// the destination no longer has that schema (the table did not exist, or the job added
// fields, or another job changed it in between).
type parsedLoad struct {
	fields []*bq.TableFieldSchema
	stats  loadStats
	rows   [][]any
	// err is the first source that could not be read or decoded; the sources after it
	// are not parsed.
	err error
	// partChecked says partErr is checkPartition's verdict for partitioning partType and
	// partField.
	partChecked         bool
	partType, partField string
	partErr             error
}

// parseLoad decodes the sources in order against fields, stopping at the first error.
func parseLoad(srcs []fetchedSource, fields []*bq.TableFieldSchema, ignoreUnknown bool) *parsedLoad {
	pl := &parsedLoad{fields: fields}
	for _, src := range srcs {
		if src.err != nil {
			pl.err = src.err
			break
		}
		pl.stats.files++
		if err := parseNDJSON(bytes.NewReader(src.body), src.uri, fields, ignoreUnknown, &pl.stats, &pl.rows); err != nil {
			pl.err = err
			break
		}
	}
	return pl
}

// fits reports whether the rows were decoded against the schema fields: decoding depends
// on nothing else of the destination, so equal schemas give equal rows.
func (pl *parsedLoad) fits(fields []*bq.TableFieldSchema) bool {
	return pl != nil && reflect.DeepEqual(pl.fields, fields)
}

// partitionError is checkPartition's verdict on the rows for destination d (which has a
// decorator and a partitioned table), reached again only if d's partitioning is not the
// one it was last reached for.
func (pl *parsedLoad) partitionError(d *destination) error {
	tp := d.meta.TimePartitioning
	if !pl.partChecked || pl.partType != tp.Type || pl.partField != tp.Field {
		pl.partChecked, pl.partType, pl.partField = true, tp.Type, tp.Field
		pl.partErr = checkPartition(d, pl.fields, pl.rows)
	}
	return pl.partErr
}

// parseNDJSON decodes newline-delimited JSON objects into rows, recording bad rows.
func parseNDJSON(r io.Reader, uri string, fields []*bq.TableFieldSchema, ignoreUnknown bool, st *loadStats, rows *[][]any) error {
	br := bufio.NewReaderSize(r, 1<<16)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return errInvalid("Error while reading data, error message: %s is not valid gzip: %v", uri, err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 1<<16)
	}
	var pos int64
	for {
		line, err := br.ReadBytes('\n')
		start := pos
		pos += int64(len(line))
		st.bytes += int64(len(line))
		if len(bytes.TrimSpace(line)) > 0 {
			if rowErr := decodeLine(line, fields, ignoreUnknown, rows); rowErr != nil {
				st.bad++
				st.warnings = append(st.warnings, &bq.ErrorProto{Reason: "invalid", Location: uri,
					Message: fmt.Sprintf("Error while reading data, error message: JSON parsing error in row starting at position %d: %s", start, rowErr.message)})
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", uri, err)
		}
	}
}

func decodeLine(line []byte, fields []*bq.TableFieldSchema, ignoreUnknown bool, rows *[][]any) *rowError {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return &rowError{message: fmt.Sprintf("Parser terminated before end of string: %v", err)}
	}
	if obj == nil {
		return &rowError{message: "Only JSON objects are allowed as rows."}
	}
	vals, rowErr := coerceRow(fields, obj, ignoreUnknown)
	if rowErr != nil {
		return rowErr
	}
	*rows = append(*rows, vals)
	return nil
}

// loadInput is what a load job brings to the write lock: its job schema, its sources read
// into memory and, when the destination could be looked up, the sources parsed against it.
// Each error is one the job reports at its turn under the lock, in the order it would
// meet them.
type loadInput struct {
	jobSchema []*bq.TableFieldSchema
	schemaErr error
	fetched   []fetchedSource
	fetchErr  error
	parsed    *parsedLoad
}

// runLoadJob executes a load from GCS URIs or from uploaded media. It returns
// the per-row warnings of a job that succeeded despite bad records.
func (s *Server) runLoadJob(ctx context.Context, p string, job *bq.Job, media io.Reader) ([]*bq.ErrorProto, error) {
	cfg := job.Configuration.Load
	if cfg.DestinationTable == nil {
		return nil, &requestError{errInvalid("Required parameter is missing: configuration.load.destinationTable")}
	}
	format := cfg.SourceFormat
	if format == "" {
		format = "CSV"
	}
	if format != "NEWLINE_DELIMITED_JSON" {
		return nil, &requestError{errInvalid("Emulator: source format %s is not supported; use NEWLINE_DELIMITED_JSON", format)}
	}
	if cfg.Autodetect {
		return nil, &requestError{errInvalid("Emulator: schema autodetection is not supported; give the table or job a schema")}
	}
	if media == nil && len(cfg.SourceUris) == 0 {
		return nil, &requestError{errInvalid("Required parameter is missing: configuration.load.sourceUris")}
	}
	stats := &bq.JobStatistics3{}
	job.Statistics.Load = stats
	// The sources are listed, read and decoded before the write lock: other jobs' writes
	// need not wait for this one's GCS round trips or JSON decoding.
	var in loadInput
	if cfg.Schema != nil {
		in.jobSchema, in.schemaErr = normalizeSchema(cfg.Schema.Fields)
	}
	if media != nil {
		b, err := io.ReadAll(media)
		if err != nil {
			err = fmt.Errorf("read upload: %w", err)
		}
		in.fetched = []fetchedSource{{uri: "upload", body: b, err: err}}
	} else {
		in.fetched, in.fetchErr = s.fetchSources(ctx, cfg.SourceUris)
	}
	if in.schemaErr == nil && in.fetchErr == nil {
		in.parsed = s.parseAhead(ctx, p, cfg, in)
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	ref, warnings, err := s.writeLoad(ctx, conn, p, cfg, stats, in)
	if err != nil {
		return warnings, err
	}
	// Moving the table's modification time (and saving the catalogue) needs no write lock:
	// it changes no data.
	return warnings, s.touchTables(ref)
}

// parseAhead parses the sources against the schema the destination has now, or, if it has
// none yet, the job's: the one the write lock will most likely find. It returns nil when
// the destination cannot be looked up or there is no schema, for the lock to report.
func (s *Server) parseAhead(ctx context.Context, p string, cfg *bq.JobConfigurationLoad, in loadInput) *parsedLoad {
	d, err := s.resolveDestination(ctx, p, cfg.DestinationTable)
	if err != nil {
		return nil
	}
	fields := in.jobSchema
	if d.meta != nil && physical(d.meta) {
		fields = d.meta.Schema.Fields
	}
	if len(fields) == 0 {
		return nil
	}
	pl := parseLoad(in.fetched, fields, cfg.IgnoreUnknownValues)
	if pl.err == nil && d.ref.decorator != "" && d.meta != nil && physical(d.meta) && d.meta.TimePartitioning != nil {
		_ = pl.partitionError(d) // kept in pl for the lock to reuse
	}
	return pl
}

// writeLoad checks and prepares the destination and writes the rows, under the write lock,
// on conn. It returns the table written.
func (s *Server) writeLoad(ctx context.Context, conn *sql.Conn, p string, cfg *bq.JobConfigurationLoad, stats *bq.JobStatistics3, in loadInput) (tableRef, []*bq.ErrorProto, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	d, err := s.resolveDestination(ctx, p, cfg.DestinationTable)
	if err != nil {
		return tableRef{}, nil, err
	}
	if in.schemaErr != nil {
		return tableRef{}, nil, in.schemaErr
	}
	if err := s.prepareDestination(ctx, d, cfg.CreateDisposition, in.jobSchema, cfg.TimePartitioning, cfg.Clustering); err != nil {
		return tableRef{}, nil, err
	}
	if len(in.jobSchema) > 0 && !d.created {
		if err := s.checkLoadSchema(ctx, d, in.jobSchema, cfg.SchemaUpdateOptions); err != nil {
			return tableRef{}, nil, err
		}
	}
	if in.fetchErr != nil {
		s.dropCreated(ctx, d)
		return tableRef{}, nil, in.fetchErr
	}
	fields := d.meta.Schema.Fields
	pl := in.parsed
	if !pl.fits(fields) {
		pl = parseLoad(in.fetched, fields, cfg.IgnoreUnknownValues)
	}
	if pl.err != nil {
		s.dropCreated(ctx, d)
		return tableRef{}, nil, pl.err
	}
	ls, rows := pl.stats, pl.rows
	stats.InputFiles = ls.files
	stats.InputFileBytes = ls.bytes
	stats.BadRecords = ls.bad
	if ls.bad > cfg.MaxBadRecords {
		s.dropCreated(ctx, d)
		loc := "upload"
		if len(cfg.SourceUris) > 0 {
			loc = cfg.SourceUris[0]
		}
		return tableRef{}, ls.warnings, &apiError{code: 400, reason: "invalid", location: loc, message: fmt.Sprintf(
			"Error while reading data, error message: JSON table encountered too many errors, giving up. Rows: %d; errors: %d. Please look into the errors[] collection for more details.",
			int64(len(rows))+ls.bad, ls.bad)}
	}
	if d.ref.decorator != "" {
		if err := pl.partitionError(d); err != nil {
			s.dropCreated(ctx, d)
			return tableRef{}, ls.warnings, err
		}
	}
	write := cfg.WriteDisposition
	if write == "" {
		write = "WRITE_APPEND"
	}
	err = inTx(ctx, conn, func() error {
		if err := applyDisposition(ctx, conn, d, write); err != nil {
			return err
		}
		return appendRows(conn, d.ref, rows)
	})
	if err != nil {
		s.dropCreated(ctx, d)
		return tableRef{}, ls.warnings, err
	}
	stats.OutputRows = int64(len(rows))
	return d.ref, ls.warnings, nil
}

// appendRows bulk-inserts rows with the DuckDB Appender on the connection (and therefore
// inside its open transaction).
func appendRows(conn interface {
	Raw(func(any) error) error
}, ref tableRef, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	return conn.Raw(func(dc any) error {
		dconn, ok := dc.(driver.Conn)
		if !ok {
			return fmt.Errorf("append to %s: unexpected driver connection %T", ref.label(), dc)
		}
		a, err := duckdb.NewAppender(dconn, ref.project, ref.dataset, ref.table)
		if err != nil {
			return fmt.Errorf("append to %s: %w", ref.label(), err)
		}
		for _, r := range rows {
			vals := make([]driver.Value, len(r))
			for i, v := range r {
				vals[i] = v
			}
			if err := a.AppendRow(vals...); err != nil {
				_ = a.Close()
				return errInvalid("Error while writing row to %s: %v", ref.label(), err)
			}
		}
		if err := a.Close(); err != nil {
			return errInvalid("Error while writing rows to %s: %v", ref.label(), err)
		}
		return nil
	})
}

// checkPartition verifies that every row belongs to the decorator's partition.
func checkPartition(d *destination, fields []*bq.TableFieldSchema, rows [][]any) error {
	tp := d.meta.TimePartitioning
	i, _ := findField(fields, tp.Field)
	if i < 0 {
		return errInvalid("partitioning field %s is missing from table %s", tp.Field, d.ref.label())
	}
	for _, r := range rows {
		if partitionID(r[i], tp.Type) != d.ref.decorator {
			return errInvalid("Some rows belong to different partitions rather than destination partition %s", d.ref.decorator)
		}
	}
	return nil
}

func partitionID(v any, granularity string) string {
	t, ok := v.(time.Time)
	if !ok {
		return "__NULL__"
	}
	switch granularity {
	case "HOUR":
		return t.Format("2006010215")
	case "MONTH":
		return t.Format("200601")
	case "YEAR":
		return t.Format("2006")
	}
	return t.Format("20060102")
}

// checkLoadSchema compares a load job's schema with the existing table's. New fields are
// added when the job allows ALLOW_FIELD_ADDITION; anything else that differs fails the job.
func (s *Server) checkLoadSchema(ctx context.Context, d *destination, jobSchema []*bq.TableFieldSchema, updates []string) error {
	fields := d.meta.Schema.Fields
	var merged []*bq.TableFieldSchema
	for _, jf := range jobSchema {
		_, tf := findField(fields, jf.Name)
		if tf == nil && slices.Contains(updates, "ALLOW_FIELD_ADDITION") {
			c := *jf
			if c.Mode == "REQUIRED" {
				c.Mode = "NULLABLE"
			}
			merged = append(merged, &c)
			continue
		}
		if tf == nil || duckType(tf) != duckType(jf) {
			return errInvalid("Provided Schema does not match Table %s. Field %s is missing or has a different type.", d.ref.label(), jf.Name)
		}
	}
	if len(merged) == 0 {
		return nil
	}
	all, err := s.evolveSchema(ctx, d.ref, d.meta, append(slices.Clone(fields), merged...), true)
	if err != nil {
		return err
	}
	t := *d.meta
	t.Schema = &bq.TableSchema{Fields: all}
	d.meta = &t
	return s.putTable(ctx, d.ref, &t)
}
