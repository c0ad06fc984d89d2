package bqemu

import (
	"context"
	"testing"
)

// TestMemoryLimit checks that a store in files caps DuckDB's memory by default, and that
// Options.MemoryLimit overrides the cap.
func TestMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		name, limit, want string
	}{
		{"default for a store in files", "", "244.1 MiB"}, // DuckDB prints 256 MB in MiB
		{"explicit", "128MB", "122.0 MiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(Options{DuckDBPath: t.TempDir(), MemoryLimit: tc.limit})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var got string
			if err := s.db.QueryRowContext(context.Background(), "SELECT current_setting('memory_limit')").Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("memory_limit = %q, want %q", got, tc.want)
			}
		})
	}
}
