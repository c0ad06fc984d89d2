//go:build cgo

package warehousetest

import (
	"testing"

	"cloud.google.com/go/storage"

	"github.com/nba-props/pipeline/infra/bqemu"
)

// StartBigQuery starts the BigQuery emulator for one test, loading from gcs, and returns its
// host:port. The emulator has no dataset or table yet (Start creates them).
func StartBigQuery(tb testing.TB, gcs *storage.Client) (host string) {
	tb.Helper()
	return bqemu.StartTest(tb, gcs)
}
