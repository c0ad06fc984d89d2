package scrapers

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"hash/crc32"
	"net/http"
	"sort"
	"strings"

	"cloud.google.com/go/storage"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"

	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/consumers/runner"
)

// objects writes raw bodies to one bucket under deterministic names.
type objects struct {
	client *storage.Client
	bucket string
}

// put stores body under name unless the object already holds exactly these bytes, in which
// case its generation is kept: rewriting an unchanged scrape must not look like new input.
// The write is conditional on the generation it compared against, so two writers of one
// name cannot silently overwrite each other.
func (o objects) put(ctx context.Context, name string, body []byte) (runner.Object, error) {
	sum := md5.Sum(body)
	crc := crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli))
	h := o.client.Bucket(o.bucket).Object(name)
	attrs, err := h.Attrs(ctx)
	switch {
	case err == nil:
		if sameContent(attrs, sum[:], crc, int64(len(body))) {
			return objectOf(attrs), nil
		}
		h = h.If(storage.Conditions{GenerationMatch: attrs.Generation})
	case errors.Is(err, storage.ErrObjectNotExist):
		h = h.If(storage.Conditions{DoesNotExist: true})
	default:
		return runner.Object{}, fmt.Errorf("gcs stat gs://%s/%s: %w", o.bucket, name, err)
	}
	w := h.NewWriter(ctx)
	w.ChunkSize = ledger.SmallObjectChunk
	w.ContentType = contentType(name)
	w.MD5 = sum[:]
	if _, err := w.Write(body); err != nil {
		w.Close()
		return runner.Object{}, fmt.Errorf("gcs write gs://%s/%s: %w", o.bucket, name, err)
	}
	if err := w.Close(); err != nil {
		var gerr *googleapi.Error
		if errors.As(err, &gerr) && gerr.Code == http.StatusPreconditionFailed {
			// Another writer got there first; if it wrote the same bytes, that is our object.
			if attrs, aerr := o.client.Bucket(o.bucket).Object(name).Attrs(ctx); aerr == nil && sameContent(attrs, sum[:], crc, int64(len(body))) {
				return objectOf(attrs), nil
			}
		}
		return runner.Object{}, fmt.Errorf("gcs write gs://%s/%s: %w", o.bucket, name, err)
	}
	return objectOf(w.Attrs()), nil
}

// contentType is the type an object is stored with, by its name: the game books are PDFs,
// every other scraped body is JSON.
func contentType(name string) string {
	if strings.HasSuffix(name, ".pdf") {
		return "application/pdf"
	}
	return "application/json"
}

func sameContent(a *storage.ObjectAttrs, md5sum []byte, crc uint32, size int64) bool {
	if a.Size != size {
		return false
	}
	if len(a.MD5) > 0 {
		return bytes.Equal(a.MD5, md5sum)
	}
	return a.CRC32C == crc
}

func objectOf(a *storage.ObjectAttrs) runner.Object {
	return runner.Object{Bucket: a.Bucket, Name: a.Name, Generation: a.Generation, Size: a.Size}
}

// prune deletes the objects under prefix that are not in keep, so that the prefix holds only
// the latest run's output (a page that no longer exists must not be read by the raw phase).
func (o objects) prune(ctx context.Context, prefix string, keep []runner.Object) error {
	if !strings.HasSuffix(prefix, "/") {
		return fmt.Errorf("prune %q: prefix must end with /", prefix)
	}
	kept := make(map[string]bool, len(keep))
	for _, k := range keep {
		kept[k.Name] = true
	}
	it := o.client.Bucket(o.bucket).Objects(ctx, &storage.Query{Prefix: prefix})
	for {
		a, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("gcs list gs://%s/%s: %w", o.bucket, prefix, err)
		}
		if kept[a.Name] {
			continue
		}
		err = o.client.Bucket(o.bucket).Object(a.Name).If(storage.Conditions{GenerationMatch: a.Generation}).Delete(ctx)
		if err != nil && !errors.Is(err, storage.ErrObjectNotExist) {
			return fmt.Errorf("gcs delete stale gs://%s/%s: %w", o.bucket, a.Name, err)
		}
	}
}

// sortObjects orders objects by name, the order Result.Objects is reported in.
func sortObjects(objs []runner.Object) {
	sort.Slice(objs, func(i, j int) bool { return objs[i].Name < objs[j].Name })
}
