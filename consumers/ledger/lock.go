package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"cloud.google.com/go/storage"
)

// LockPrefix is where named locks live: _locks/<name>.json.
const LockPrefix = "_locks/"

// TryLock takes the named lock for owner until now+ttl if nobody holds it, the holder's
// time ran out, or owner holds it already, with one conditional upload; it reports whether
// owner now holds it. Of several instances trying at once exactly one wins. Work done
// under the lock must fit in ttl: the lock is not extended, and it lapses by itself.
func (l *Ledger) TryLock(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	obj := l.bucket.Object(LockPrefix + name + ".json")
	var held Lease
	cond := storage.Conditions{DoesNotExist: true}
	r, err := obj.NewReader(ctx)
	switch {
	case errors.Is(err, storage.ErrObjectNotExist):
	case err != nil:
		return false, fmt.Errorf("lock %s: %w", name, err)
	default:
		body, rerr := io.ReadAll(r)
		r.Close()
		if rerr == nil {
			rerr = json.Unmarshal(body, &held)
		}
		if rerr != nil {
			return false, fmt.Errorf("lock %s: %w", name, rerr)
		}
		if held.Owner != owner && l.now().Before(held.Expires) {
			return false, nil
		}
		cond = storage.Conditions{GenerationMatch: r.Attrs.Generation}
	}
	body, _ := json.Marshal(Lease{Owner: owner, Expires: l.now().Add(ttl)})
	w := obj.If(cond).NewWriter(ctx)
	w.ChunkSize = SmallObjectChunk
	w.ContentType = "application/json"
	if _, err := w.Write(body); err != nil {
		_ = w.Close()
		return false, fmt.Errorf("lock %s: %w", name, err)
	}
	if err := w.Close(); err != nil {
		if preconditionFailed(err) {
			return false, nil
		}
		return false, fmt.Errorf("lock %s: %w", name, err)
	}
	return true, nil
}
