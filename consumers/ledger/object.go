package ledger

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"cloud.google.com/go/storage"
	"google.golang.org/api/iterator"
)

// readJSON decodes the object name into v and returns its generation, the precondition of
// a later conditional rewrite. A missing object is ErrNotFound; callers add what the
// object is.
func (l *Ledger) readJSON(ctx context.Context, name string, v any) (int64, error) {
	body, gen, err := l.readBody(ctx, name)
	if err != nil {
		return 0, err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return 0, fmt.Errorf("%s is not valid JSON: %w", name, err)
	}
	return gen, nil
}

// writeJSON stores v as the object name with metadata meta, if cond holds (the zero
// Conditions: whatever is stored), and returns the new generation. Every object of the
// ledger bucket is written here: one upload of SmallObjectChunk, so the storage client
// keeps its retries, and a failed precondition is reported as the storage error (see
// preconditionFailed) for the caller to read as "someone wrote first".
//
// Unless the object holds exactly what this call sent: then the upload went through and
// its answer was lost (a 503 or a cut connection after the object was stored), and the
// client's retry of the same conditional upload found its own write in the way. That is
// a success, with the stored generation; taken for a conflict, the caller would decide
// again from a record that already says what it decided (a date recorded dead whose dead
// letter is never kept, a claim counted twice). The bodies carry the writer's timestamps
// and lease, so another writer's record is not byte for byte the same.
func (l *Ledger) writeJSON(ctx context.Context, name string, cond storage.Conditions, meta map[string]string, v any) (int64, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return 0, err
	}
	gen, err := l.upload(ctx, name, cond, meta, body)
	if err == nil || cond == (storage.Conditions{}) || !preconditionFailed(err) {
		return gen, err
	}
	// A read that fails leaves the conflict as it is: the caller reads the record again.
	if stored, sgen, rerr := l.readBody(ctx, name); rerr == nil && bytes.Equal(stored, body) {
		return sgen, nil
	}
	return 0, err
}

// readBody reads an object's bytes and generation; a missing object is ErrNotFound.
func (l *Ledger) readBody(ctx context.Context, name string) ([]byte, int64, error) {
	r, err := l.bucket.Object(name).NewReader(ctx)
	if errors.Is(err, storage.ErrObjectNotExist) {
		return nil, 0, ErrNotFound
	}
	if err != nil {
		return nil, 0, err
	}
	defer r.Close()
	body, err := io.ReadAll(r)
	if err != nil {
		return nil, 0, err
	}
	return body, r.Attrs.Generation, nil
}

// upload is one conditional upload of body.
func (l *Ledger) upload(ctx context.Context, name string, cond storage.Conditions, meta map[string]string, body []byte) (int64, error) {
	obj := l.bucket.Object(name)
	if cond != (storage.Conditions{}) {
		obj = obj.If(cond)
	}
	w := obj.NewWriter(ctx)
	w.ChunkSize = SmallObjectChunk
	w.ContentType = "application/json"
	w.Metadata = meta
	if _, err := w.Write(body); err != nil {
		_ = w.Close()
		return 0, err
	}
	if err := w.Close(); err != nil {
		return 0, err
	}
	return w.Attrs().Generation, nil
}

// eachJSON calls fn with the id (the name between prefix and ".json") and the attributes
// of every JSON object under prefix, in name order, reading only attrs (always with Name):
// the listings of dead letters and run plans, which read object metadata, never bodies.
func (l *Ledger) eachJSON(ctx context.Context, prefix string, attrs []string, fn func(id string, a *storage.ObjectAttrs)) error {
	q := &storage.Query{Prefix: prefix}
	if err := q.SetAttrSelection(append([]string{"Name"}, attrs...)); err != nil {
		return err
	}
	it := l.bucket.Objects(ctx, q)
	for {
		a, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("list %s in bucket %s: %w", prefix, l.name, err)
		}
		if id, ok := strings.CutSuffix(strings.TrimPrefix(a.Name, prefix), ".json"); ok {
			fn(id, a)
		}
	}
}
