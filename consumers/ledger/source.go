package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"time"

	"cloud.google.com/go/storage"
)

// SourcePrefix is where the last known state of a paid source's account is kept, one
// object per source: _sources/<source>.json. A scraper writes it from the source's usage
// headers; planning reads it to hold a backfill against the remaining budget without
// calling the source (a call costs credits).
const SourcePrefix = "_sources/"

// SourceOddsAPI names The Odds API's account: its x-requests-remaining and
// x-requests-used headers.
const SourceOddsAPI = "odds_api"

var sourceRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// SourceUsage is what a source's last response said of the account: credits remaining
// and used in the current billing period, and when that was seen.
type SourceUsage struct {
	Source    string    `json:"source"`
	Remaining int       `json:"remaining"`
	Used      int       `json:"used"`
	Observed  time.Time `json:"observed"`
}

// SourcePath is the object name of a source's usage.
func SourcePath(source string) string { return SourcePrefix + source + ".json" }

// PutSourceUsage stores u, replacing what was stored: the latest observation wins, and
// a few credits of disorder between concurrent scrapers does not matter to a plan.
func (l *Ledger) PutSourceUsage(ctx context.Context, u SourceUsage) error {
	if !sourceRE.MatchString(u.Source) {
		return fmt.Errorf("source usage: source %q: want lower-case letters, digits and _", u.Source)
	}
	if u.Observed.IsZero() {
		u.Observed = l.now()
	}
	body, err := json.Marshal(u)
	if err != nil {
		return fmt.Errorf("source usage %s: %w", u.Source, err)
	}
	w := l.bucket.Object(SourcePath(u.Source)).NewWriter(ctx)
	w.ChunkSize = 0
	w.ContentType = "application/json"
	if _, err := w.Write(body); err != nil {
		_ = w.Close()
		return fmt.Errorf("source usage %s: %w", u.Source, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("source usage %s: %w", u.Source, err)
	}
	return nil
}

// SourceUsage reads the last stored usage of source; ErrNotFound when no response of it
// was ever recorded.
func (l *Ledger) SourceUsage(ctx context.Context, source string) (SourceUsage, error) {
	if !sourceRE.MatchString(source) {
		return SourceUsage{}, fmt.Errorf("source usage %q: %w", source, ErrNotFound)
	}
	r, err := l.bucket.Object(SourcePath(source)).NewReader(ctx)
	if errors.Is(err, storage.ErrObjectNotExist) {
		return SourceUsage{}, fmt.Errorf("source usage %s: %w", source, ErrNotFound)
	}
	if err != nil {
		return SourceUsage{}, fmt.Errorf("source usage %s: %w", source, err)
	}
	defer r.Close()
	var u SourceUsage
	body, err := io.ReadAll(r)
	if err == nil {
		err = json.Unmarshal(body, &u)
	}
	if err != nil {
		return SourceUsage{}, fmt.Errorf("source usage %s: %w", source, err)
	}
	return u, nil
}
