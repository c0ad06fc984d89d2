package ledger

import (
	"context"
	"errors"
	"fmt"
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
	path := LockPrefix + name + ".json"
	var held Lease
	cond := storage.Conditions{DoesNotExist: true}
	gen, err := l.readJSON(ctx, path, &held)
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return false, fmt.Errorf("lock %s: %w", name, err)
	case held.Owner != owner && l.now().Before(held.Expires):
		return false, nil
	default:
		cond = storage.Conditions{GenerationMatch: gen}
	}
	_, err = l.writeJSON(ctx, path, cond, nil, Lease{Owner: owner, Expires: l.now().Add(ttl)})
	if preconditionFailed(err) {
		return false, nil // another instance took it first
	}
	if err != nil {
		return false, fmt.Errorf("lock %s: %w", name, err)
	}
	return true, nil
}
