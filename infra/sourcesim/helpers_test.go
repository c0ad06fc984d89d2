package sourcesim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// testBDLKey is sent by helpers; simulators without keys accept it.
const testBDLKey = "bdl-test-key"

// fixedNow is a "current" instant after the 2024-25 regular season.
var fixedNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func newTestSim(tb testing.TB, cfg Config) (*Sim, *httptest.Server) {
	tb.Helper()
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return fixedNow }
	}
	s := New(cfg)
	srv := httptest.NewServer(s.Handler())
	tb.Cleanup(srv.Close)
	return s, srv
}

type got struct {
	status int
	header http.Header
	body   []byte
}

func fetch(tb testing.TB, srv *httptest.Server, path string, header ...string) got {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	if err != nil {
		tb.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		tb.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("GET %s: read body: %v", path, err)
	}
	return got{resp.StatusCode, resp.Header, b}
}

func decode[T any](tb testing.TB, g got) T {
	tb.Helper()
	var v T
	if err := json.Unmarshal(g.body, &v); err != nil {
		tb.Fatalf("decode %T: %v\n%.300s", v, err, g.body)
	}
	return v
}
