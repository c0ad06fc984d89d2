package scrapers

import (
	"log/slog"
	"strings"
)

// redacted is what a Secret prints as, and what a key is replaced with in errors.
const redacted = "REDACTED"

// Secret holds an API key. It prints, logs and marshals as "REDACTED" so that a key can never
// reach a log line, an error or a ledger record by accident; Reveal is the one way to read it,
// used only where the key is sent to its API.
type Secret struct{ v string }

// NewSecret wraps a key.
func NewSecret(v string) Secret { return Secret{v: v} }

// Reveal returns the key.
func (s Secret) Reveal() string { return s.v }

// IsSet reports whether a key was given.
func (s Secret) IsSet() bool { return s.v != "" }

// String redacts the key; an empty key prints as "" so that a missing key is visible.
func (s Secret) String() string {
	if s.v == "" {
		return ""
	}
	return redacted
}

// GoString redacts the key in %#v.
func (s Secret) GoString() string { return `scrapers.Secret("` + s.String() + `")` }

// LogValue redacts the key in slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText redacts the key in JSON and other text encodings.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// EnvDecode reads the key from the environment (go-envconfig).
func (s *Secret) EnvDecode(v string) error {
	s.v = strings.TrimSpace(v)
	return nil
}
