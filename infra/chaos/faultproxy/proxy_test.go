package faultproxy_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"google.golang.org/api/googleapi"

	"github.com/nba-props/pipeline/infra/chaos/faultproxy"
	"github.com/nba-props/pipeline/infra/cloud"
	"github.com/nba-props/pipeline/infra/emulators"
)

// gcsBehind starts fake-gcs-server with one bucket, a proxy in front of it, a client that
// goes through the proxy without retrying (so each fault shows) and one that goes straight
// to the emulator.
func gcsBehind(t *testing.T, shares map[faultproxy.Kind]float64) (via, direct *storage.BucketHandle, p *faultproxy.Proxy) {
	t.Helper()
	gcs, err := emulators.StartGCS(emulators.GCSOptions{Addr: "127.0.0.1:0", Root: t.TempDir(), Buckets: []string{"b"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gcs.Close() })
	p, err = faultproxy.Start(faultproxy.Options{Name: "gcs", Target: "http://" + gcs.Host(), Seed: 1, Shares: shares, MaxDelay: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	ctx := context.Background()
	vc, err := cloud.Storage(ctx, p.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = vc.Close() })
	dc, err := cloud.Storage(ctx, gcs.Host())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dc.Close() })
	return vc.Bucket("b").Retryer(storage.WithPolicy(storage.RetryNever)), dc.Bucket("b"), p
}

func create(ctx context.Context, b *storage.BucketHandle, name string, body []byte, chunk int) error {
	w := b.Object(name).If(storage.Conditions{DoesNotExist: true}).NewWriter(ctx)
	w.ChunkSize = chunk
	if _, err := w.Write(body); err != nil {
		_ = w.Close()
		return err
	}
	return w.Close()
}

func exists(t *testing.T, b *storage.BucketHandle, name string) bool {
	t.Helper()
	_, err := b.Object(name).Attrs(context.Background())
	if errors.Is(err, storage.ErrObjectNotExist) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

func status(err error) (int, string) {
	var g *googleapi.Error
	if !errors.As(err, &g) {
		return 0, ""
	}
	reason := ""
	if len(g.Errors) > 0 {
		reason = g.Errors[0].Reason
	}
	return g.Code, reason
}

func TestRefuseNeverReachesTheBackend(t *testing.T) {
	via, direct, p := gcsBehind(t, map[faultproxy.Kind]float64{faultproxy.Refuse: 1})
	err := create(context.Background(), via, "o", []byte("x"), 0)
	if code, reason := status(err); code != http.StatusServiceUnavailable || reason != "backendError" {
		t.Fatalf("create through a refusing proxy: %v, want 503 backendError", err)
	}
	if exists(t, direct, "o") {
		t.Error("the object exists: a refused request reached the backend")
	}
	if s := p.Stats(); s.Hits[faultproxy.Refuse] != 1 || s.Requests != 1 {
		t.Errorf("stats %v, want one request, refused", s)
	}
}

func TestLoseCommitsAndAnswers503(t *testing.T) {
	via, direct, _ := gcsBehind(t, map[faultproxy.Kind]float64{faultproxy.Lose: 1})
	err := create(context.Background(), via, "o", []byte("kept"), 0)
	if code, _ := status(err); code != http.StatusServiceUnavailable {
		t.Fatalf("create through a losing proxy: %v, want 503", err)
	}
	r, err := direct.Object("o").NewReader(context.Background())
	if err != nil {
		t.Fatalf("the backend did not keep the write whose answer was lost: %v", err)
	}
	defer r.Close()
	if b, _ := io.ReadAll(r); string(b) != "kept" {
		t.Errorf("object holds %q, want %q", b, "kept")
	}
	// What a client that retries meets next: the precondition of its own committed write.
	err = create(context.Background(), direct, "o", []byte("kept"), 0)
	if code, _ := status(err); code != http.StatusPreconditionFailed {
		t.Errorf("second create: %v, want 412", err)
	}
}

func TestRateLimitSaysSo(t *testing.T) {
	for _, st := range []int{http.StatusForbidden, http.StatusTooManyRequests} {
		gcs, err := emulators.StartGCS(emulators.GCSOptions{Addr: "127.0.0.1:0", Root: t.TempDir(), Buckets: []string{"b"}})
		if err != nil {
			t.Fatal(err)
		}
		p, err := faultproxy.Start(faultproxy.Options{Name: "bigquery", Target: "http://" + gcs.Host(), RateLimitStatus: st,
			Shares: map[faultproxy.Kind]float64{faultproxy.RateLimit: 1}})
		if err != nil {
			t.Fatal(err)
		}
		res, err := http.Get(p.URL() + "/storage/v1/b/b/o")
		if err != nil {
			t.Fatal(err)
		}
		err = googleapi.CheckResponse(res)
		res.Body.Close()
		if code, reason := status(err); code != st || reason != "rateLimitExceeded" {
			t.Errorf("RateLimitStatus %d: got %v, want %d rateLimitExceeded", st, err, st)
		}
		_ = p.Close()
		_ = gcs.Close()
	}
}

func TestDelayForwardsAndResumableUploadsStayBehindTheProxy(t *testing.T) {
	via, direct, p := gcsBehind(t, map[faultproxy.Kind]float64{faultproxy.Delay: 1})
	body := bytes.Repeat([]byte("0123456789abcdef"), 40<<10) // 640 KiB: three chunks
	if err := create(context.Background(), via, "big", body, 256<<10); err != nil {
		t.Fatalf("resumable upload through a delaying proxy: %v", err)
	}
	a, err := direct.Object("big").Attrs(context.Background())
	if err != nil || a.Size != int64(len(body)) {
		t.Fatalf("object after upload: %v, %v; want %d bytes", a, err, len(body))
	}
	// Session start plus one request per chunk: had the session URL pointed at the
	// emulator, the chunks would have bypassed the proxy.
	if s := p.Stats(); s.Requests < 4 || s.Hits[faultproxy.Delay] != s.Requests {
		t.Errorf("stats %v: want at least 4 requests, every one delayed", s)
	}
}

func TestNoFaultsWhenDisabled(t *testing.T) {
	via, direct, p := gcsBehind(t, map[faultproxy.Kind]float64{faultproxy.Refuse: 1})
	p.SetEnabled(false)
	if err := create(context.Background(), via, "o", []byte("x"), 0); err != nil {
		t.Fatalf("create through a disabled proxy: %v", err)
	}
	if !exists(t, direct, "o") {
		t.Error("object missing")
	}
}

func TestBadOptions(t *testing.T) {
	for name, o := range map[string]faultproxy.Options{
		"no target":    {Name: "x"},
		"unknown kind": {Name: "x", Target: "http://127.0.0.1:1", Shares: map[faultproxy.Kind]float64{"explode": 0.1}},
		"over one":     {Name: "x", Target: "http://127.0.0.1:1", Shares: map[faultproxy.Kind]float64{faultproxy.Refuse: 0.6, faultproxy.Lose: 0.6}},
	} {
		if _, err := faultproxy.Start(o); err == nil || !strings.Contains(err.Error(), "faultproxy x") {
			t.Errorf("%s: error %v, want one naming the proxy", name, err)
		}
	}
}

// TestLostChunkAnswersLeaveNoCorruptObject: a large object written through a proxy that
// loses answers ends up, once a write succeeds, exactly the bytes written. fake-gcs-server
// would append a chunk sent again after its answer was lost; the proxy refuses chunks
// instead of losing their answers.
func TestLostChunkAnswersLeaveNoCorruptObject(t *testing.T) {
	via, direct, p := gcsBehind(t, map[faultproxy.Kind]float64{faultproxy.Lose: 0.5})
	body := bytes.Repeat([]byte("0123456789abcdef"), 40<<10) // 640 KiB: three chunks
	ctx := context.Background()
	var err error
	for range 20 { // as the runtime runs a failed write again
		w := via.Object("staging").NewWriter(ctx)
		w.ChunkSize = 256 << 10
		if _, err = w.Write(body); err == nil {
			err = w.Close()
		} else {
			_ = w.Close()
		}
		if err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("no write succeeded in 20: %v", err)
	}
	r, err := direct.Object("staging").NewReader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, body) {
		t.Errorf("object holds %d bytes, want the %d written", len(got), len(body))
	}
	if s := p.Stats(); s.Hits[faultproxy.Lose]+s.Hits[faultproxy.Refuse] == 0 {
		t.Errorf("stats %v: no fault hit the upload", s)
	}
}
