package bqemu

import (
	"net/http/httptest"
	"strings"
	"testing"

	"cloud.google.com/go/storage"
)

// StartTest starts an in-memory emulator on a random local port for a test, reading gs://
// loads through gcs (which may be nil), and closes it when the test ends. It returns
// "127.0.0.1:PORT"; connect with
// option.WithEndpoint("http://"+host+"/bigquery/v2/") and option.WithoutAuthentication().
func StartTest(tb testing.TB, gcs *storage.Client) (host string) {
	tb.Helper()
	opts := Options{}
	if gcs != nil {
		opts.GCS = StorageSource(gcs)
	}
	s, err := New(opts)
	if err != nil {
		tb.Fatalf("start bigquery emulator: %v", err)
	}
	ts := httptest.NewServer(s.Handler())
	tb.Cleanup(func() {
		ts.Close()
		if err := s.Close(); err != nil {
			tb.Errorf("close bigquery emulator: %v", err)
		}
	})
	return strings.TrimPrefix(ts.URL, "http://")
}
