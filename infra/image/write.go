package image

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/google"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Tag is where Push puts an image: REPO/<binary>:<revision>, so every image of a commit
// has the commit as its tag. Without repo it is <binary>:<revision>, the name a tarball
// carries for docker load.
func (s *Set) Tag(repo, binary string) (name.Tag, error) {
	ref := binary
	if repo != "" {
		r, err := Repository(repo, binary)
		if err != nil {
			return name.Tag{}, err
		}
		ref = r.String()
	}
	t, err := name.NewTag(ref + ":" + s.Source.Revision())
	if err != nil {
		return name.Tag{}, fmt.Errorf("tag of %s: %w", binary, err)
	}
	return t, nil
}

// Repository is where the image of binary goes under repo (REGISTRY/REPO/binary); it lets a
// command check --push before spending a build on it.
func Repository(repo, binary string) (name.Repository, error) {
	r, err := name.NewRepository(strings.TrimSuffix(repo, "/") + "/" + binary)
	if err != nil {
		return name.Repository{}, fmt.Errorf("repository %q: %w: want REGISTRY/REPO such as us-central1-docker.pkg.dev/my-project/nba", repo, err)
	}
	return r, nil
}

// WriteLayout writes every image into one OCI image layout at dir, each named by its binary
// (the org.opencontainers.image.ref.name annotation), and returns the digest of the layout's
// index. An existing layout's index is replaced; its blobs stay.
func (s *Set) WriteLayout(dir string) (v1.Hash, error) {
	var idx v1.ImageIndex = empty.Index
	for _, im := range s.Images {
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: im.Image, Descriptor: v1.Descriptor{
			Annotations: map[string]string{LabelRefName: im.Name},
			Platform:    &v1.Platform{OS: platformOS, Architecture: platformArch},
		}})
	}
	if _, err := layout.Write(dir, idx); err != nil {
		return v1.Hash{}, fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	d, err := idx.Digest()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	return d, nil
}

// WriteTarballs writes each image to dir/<binary>.tar, a tarball docker load and
// crane push read, tagged as Tag(repo, binary); it returns the files' paths.
func (s *Set) WriteTarballs(dir, repo string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	for _, im := range s.Images {
		tag, err := s.Tag(repo, im.Name)
		if err != nil {
			return nil, err
		}
		p := filepath.Join(dir, im.Name+".tar")
		if err := tarball.WriteToFile(p, tag, im.Image); err != nil {
			return nil, fmt.Errorf("tarball %s: %w", p, err)
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// Keychain finds registry credentials: Google's (gcloud, then application default
// credentials) for gcr.io and *.pkg.dev, then the Docker config's for anything else.
func Keychain() authn.Keychain {
	return authn.NewMultiKeychain(google.Keychain, authn.DefaultKeychain)
}

// Push uploads each image to Tag(repo, binary) with credentials from Keychain (opts come
// after, so a caller may replace them) and returns the pushed references by digest, which a
// deployment should use instead of the tag.
func (s *Set) Push(ctx context.Context, repo string, opts ...remote.Option) ([]name.Digest, error) {
	if repo == "" {
		return nil, fmt.Errorf("push: no repository: want REGISTRY/REPO such as us-central1-docker.pkg.dev/my-project/nba")
	}
	opts = append([]remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(Keychain())}, opts...)
	var pushed []name.Digest
	for _, im := range s.Images {
		tag, err := s.Tag(repo, im.Name)
		if err != nil {
			return nil, err
		}
		if err := remote.Write(tag, im.Image, opts...); err != nil {
			var terr *transport.Error
			if errors.As(err, &terr) && (terr.StatusCode == http.StatusUnauthorized || terr.StatusCode == http.StatusForbidden) {
				return nil, fmt.Errorf("push %s: %w: for Artifact Registry run gcloud auth application-default login (or set GOOGLE_APPLICATION_CREDENTIALS) with an account that may write to the repository", tag, err)
			}
			return nil, fmt.Errorf("push %s: %w", tag, err)
		}
		pushed = append(pushed, tag.Context().Digest(im.Digest.String()))
	}
	return pushed, nil
}
