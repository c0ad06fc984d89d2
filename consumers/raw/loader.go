package raw

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/storage"
	"google.golang.org/api/iterator"

	"github.com/nba-props/pipeline/consumers/bqjob"
	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/messages"
)

// formatVersion is part of every input fingerprint: bump it when a parser's output changes,
// so that unchanged objects are loaded again by the new code.
const formatVersion = "raw-v1"

// object is one scraper object of the date, read at a fixed generation.
type object struct {
	Bucket     string
	Name       string
	Generation int64
	CRC32C     uint32
	Body       []byte
}

// URI is the object's gs:// address, the rows' source_file_path.
func (o object) URI() string { return "gs://" + o.Bucket + "/" + o.Name }

// loader holds what every raw job shares: reading the date's objects and loading rows.
type loader struct {
	gcs    *storage.Client
	bucket string
	bq     *bigquery.Client
}

// list returns every object under prefix (a "directory" ending in /), sorted by name, with
// its generation. It reads them all: a date has a handful of objects.
func (l *loader) list(ctx context.Context, prefix string) ([]object, error) {
	it := l.gcs.Bucket(l.bucket).Objects(ctx, &storage.Query{Prefix: prefix})
	var out []object
	for {
		a, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("list gs://%s/%s: %w", l.bucket, prefix, err)
		}
		if strings.HasSuffix(a.Name, "/") {
			continue
		}
		out = append(out, object{Bucket: l.bucket, Name: a.Name, Generation: a.Generation, CRC32C: a.CRC32C})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// read fills the bodies, each at the generation that was listed, so that the rows and the
// fingerprint describe the same bytes.
func (l *loader) read(ctx context.Context, objs []object) error {
	for i := range objs {
		o := &objs[i]
		r, err := l.gcs.Bucket(o.Bucket).Object(o.Name).Generation(o.Generation).NewReader(ctx)
		if err != nil {
			return fmt.Errorf("read gs://%s/%s#%d: %w", o.Bucket, o.Name, o.Generation, err)
		}
		o.Body, err = io.ReadAll(r)
		r.Close()
		if err != nil {
			return fmt.Errorf("read gs://%s/%s#%d: %w", o.Bucket, o.Name, o.Generation, err)
		}
	}
	return nil
}

// listAndRead lists and reads the objects under each prefix.
func (l *loader) listAndRead(ctx context.Context, prefixes ...string) ([][]object, error) {
	out := make([][]object, len(prefixes))
	for i, p := range prefixes {
		objs, err := l.list(ctx, p)
		if err != nil {
			return nil, err
		}
		if err := l.read(ctx, objs); err != nil {
			return nil, err
		}
		out[i] = objs
	}
	return out, nil
}

// fingerprint identifies a load's input: the table, the date and every object's name,
// generation and checksum.
func fingerprint(table, date string, groups ...[]object) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%s\n", formatVersion, table, date)
	for _, g := range groups {
		for _, o := range g {
			fmt.Fprintf(h, "%s\t%d\t%d\n", o.Name, o.Generation, o.CRC32C)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// load writes rows as NDJSON to the staging object of (table, date, fp) and replaces the
// date's partition with one load job whose id is derived from fp. If a job with that id
// exists (a rerun on the same input, or a redelivery after the load committed), it waits for
// that job instead of loading again; only a job known to have failed is followed by a new
// one, with an attempt suffix. A forced run (req.Force) loads again under a fresh id.
func (l *loader) load(ctx context.Context, req messages.Request, table, fp string, rows []any) (runner.Result, error) {
	date := req.Date
	d, err := time.Parse(messages.DateLayout, date)
	if err != nil {
		return runner.Result{}, runner.Permanent(fmt.Errorf("%s: date %q: %w", table, date, err))
	}
	part := d.Format("20060102")
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, r := range rows {
		if err := enc.Encode(r); err != nil {
			return runner.Result{}, fmt.Errorf("%s %s: encode row: %w", table, date, err)
		}
	}
	name := fmt.Sprintf("%s%s/%s/%s.ndjson", StagingPrefix, table, date, fp[:16])
	w := l.gcs.Bucket(l.bucket).Object(name).NewWriter(ctx)
	w.ChunkSize = ledger.SmallObjectChunk
	w.ContentType = "application/x-ndjson"
	if _, err := w.Write(buf.Bytes()); err != nil {
		w.Close()
		return runner.Result{}, fmt.Errorf("write staging gs://%s/%s: %w", l.bucket, name, err)
	}
	if err := w.Close(); err != nil {
		return runner.Result{}, fmt.Errorf("write staging gs://%s/%s: %w", l.bucket, name, err)
	}

	ref := bigquery.NewGCSReference("gs://" + l.bucket + "/" + name)
	ref.SourceFormat = bigquery.JSON
	base := fmt.Sprintf("raw_%s_%s_%s", table, part, fp[:16])
	if req.Force {
		base = bqjob.ForcedID(base)
	}
	ld := l.bq.Dataset(Dataset).Table(table + "$" + part).LoaderFrom(ref)
	ld.WriteDisposition = bigquery.WriteTruncate
	ld.CreateDisposition = bigquery.CreateNever
	ld.Labels = map[string]string{"phase": "raw", "table": table, "partition": part}
	if _, err := bqjob.Run(ctx, l.bq, base, func(id string) (*bigquery.Job, error) {
		ld.JobID = id
		return ld.Run(ctx)
	}); err != nil {
		return runner.Result{}, fmt.Errorf("load into %s.%s$%s: %w", Dataset, table, part, err)
	}
	return runner.Result{Rows: map[string]int64{date: int64(len(rows))}, Fingerprint: fp, Empty: len(rows) == 0}, nil
}

// processedAt is one run's processed_at value.
func processedAt() string { return time.Now().UTC().Format(time.RFC3339Nano) }
