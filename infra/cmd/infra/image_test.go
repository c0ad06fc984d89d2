package main

import (
	"bytes"
	"context"
	"io"
	"log"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/nba-props/pipeline/infra/image"
	"github.com/sethvargo/go-envconfig"
)

func TestImageWritesLayoutPushesAndPrintsDigest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the producer binary and its image; run without -short")
	}
	t.Parallel()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	repo := strings.TrimPrefix(srv.URL, "http://") + "/nba"
	out := filepath.Join(t.TempDir(), "oci")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"image", "--binaries", "producer", "--out", out, "--push", repo}, &stdout, &stderr, envconfig.MapLookuper(nil))
	if code != 0 {
		t.Fatalf("infra image: exit %d: %s", code, stderr.String())
	}
	m := regexp.MustCompile(`(?m)^producer\s+(sha256:[0-9a-f]{64})\s+[0-9.]+ MB$`).FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("output lacks the producer's digest and size:\n%s", stdout.String())
	}
	p, err := layout.FromPath(out)
	if err != nil {
		t.Fatalf("--out %s is not an OCI layout: %v", out, err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].Digest.String() != m[1] || im.Manifests[0].Annotations[image.LabelRefName] != "producer" {
		t.Errorf("layout holds %+v, want one image named producer with the printed digest %s", im.Manifests, m[1])
	}
	h, err := v1.NewHash(m[1])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Image(h); err != nil {
		t.Errorf("the printed digest %s cannot be read from the layout: %v", h, err)
	}

	pushed := regexp.MustCompile(`(?m)^pushed (\S+/nba/producer:[0-9a-f]{40}(?:-dirty)?) as (\S+@sha256:[0-9a-f]{64})$`).FindStringSubmatch(stdout.String())
	if pushed == nil {
		t.Fatalf("output lacks the pushed tag and digest:\n%s", stdout.String())
	}
	tag, err := name.NewTag(pushed[1])
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(tag)
	if err != nil {
		t.Fatalf("pull %s: %v", tag, err)
	}
	if d, err := img.Digest(); err != nil || d != h || !strings.HasSuffix(pushed[2], "@"+h.String()) {
		t.Errorf("pulled %s: digest %s (%v); printed %s and %s", tag, d, err, h, pushed[2])
	}
}

func TestImageRefusesBadFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"image", "--out", "x", "--format", "docker"}, `--format "docker": want oci or tarball`},
		{[]string{"image", "--format", "tarball"}, "add --out DIR"},
		{[]string{"image", "--push", "Not A/Repo"}, "--push: repository \"Not A/Repo\""},
		{[]string{"image", "--binaries", "scheduler"}, `binary "scheduler": no directory scheduler`},
		{[]string{"image", "extra"}, `unknown command "extra"`},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), tc.args, &stdout, &stderr, envconfig.MapLookuper(nil))
		if code == 0 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("infra %s: exit %d, stderr %q; want an error containing %q", strings.Join(tc.args, " "), code, stderr.String(), tc.want)
		}
	}
}
