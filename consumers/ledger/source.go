package ledger

import (
	"context"
	"fmt"
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
	if _, err := l.writeJSON(ctx, SourcePath(u.Source), storage.Conditions{}, nil, u); err != nil {
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
	var u SourceUsage
	if _, err := l.readJSON(ctx, SourcePath(source), &u); err != nil {
		return SourceUsage{}, fmt.Errorf("source usage %s: %w", source, err)
	}
	return u, nil
}
