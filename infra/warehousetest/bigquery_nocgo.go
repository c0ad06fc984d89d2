//go:build !cgo

package warehousetest

import (
	"testing"

	"cloud.google.com/go/storage"
)

// StartBigQuery fails the test: the BigQuery emulator links DuckDB through cgo, and this
// build has cgo disabled.
func StartBigQuery(tb testing.TB, _ *storage.Client) (host string) {
	tb.Helper()
	tb.Fatal("this test needs the BigQuery emulator, which links DuckDB through cgo: install gcc and run the tests with CGO_ENABLED=1 (the default when gcc is found)")
	return ""
}
