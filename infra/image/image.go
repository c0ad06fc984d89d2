package image

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// DefaultCACerts is the bundle of trusted roots the image copies from the build machine:
// where Debian and Ubuntu's ca-certificates package keeps it. The image puts it at the same
// path, the first file Go's crypto/x509 reads on Linux, so no SSL_CERT_FILE is needed.
const DefaultCACerts = "/etc/ssl/certs/ca-certificates.crt"

// User is the numeric user:group the services run as: nonroot (65532, the uid distroless
// images use), listed in the image's /etc/passwd and /etc/group. Numeric, so a runtime can
// check it is not root without reading the image.
const User = "65532:65532"

// OCI annotation keys the images carry as config labels and as manifest annotations.
const (
	// LabelTitle names the binary the image runs.
	LabelTitle = "org.opencontainers.image.title"
	// LabelSource is the repository the image was built from.
	LabelSource = "org.opencontainers.image.source"
	// LabelRevision is the git commit it was built from (with "-dirty" for uncommitted changes).
	LabelRevision = "org.opencontainers.image.revision"
	// LabelCreated is the commit time, never the time of the build, so rebuilding a commit
	// gives the same digest.
	LabelCreated = "org.opencontainers.image.created"
	// LabelRefName names an image inside an OCI layout (as skopeo's oci:DIR:NAME reads it).
	LabelRefName = "org.opencontainers.image.ref.name"
)

const (
	platformOS   = "linux"
	platformArch = "amd64"
	homeDir      = "/home/nonroot"
	appDir       = "/app"
)

// DefaultBinaries returns the production binaries the pipeline runs on Cloud Run: the main
// packages at the repository root that get an image each.
func DefaultBinaries() []string { return []string{"producer", "consumers"} }

// Options says what to build. The zero value builds DefaultBinaries from the module that
// contains the working directory.
type Options struct {
	// Dir is any directory inside the module; empty means the working directory.
	Dir string
	// Binaries are main packages at the repository root, by directory name; each becomes an
	// image of that name running /app/<name>.
	Binaries []string
	// CACerts is the PEM bundle of trusted roots to copy into the image (DefaultCACerts if
	// empty).
	CACerts string
}

// Source identifies what a set of images was built from. Every time stamp in the images
// and the revision label come from it, never from the clock.
type Source struct {
	// Root is the repository root, the directory of go.mod.
	Root string
	// Module is the module path, which also names the source repository.
	Module string
	// Commit is the git commit of HEAD.
	Commit string
	// Time is HEAD's commit time.
	Time time.Time
	// Dirty is set when git reports uncommitted changes: the images then hold code that is
	// not the commit.
	Dirty bool
	// GoVersion is the toolchain that compiled the binaries, recorded in the layer history.
	GoVersion string
}

// Revision is the commit, with "-dirty" appended when the worktree had uncommitted changes,
// so an image of uncommitted code is never labelled or tagged as the commit itself.
func (s Source) Revision() string {
	if s.Dirty {
		return s.Commit + "-dirty"
	}
	return s.Commit
}

// URL is the address of the source repository, derived from the module path.
func (s Source) URL() string { return "https://" + s.Module }

// Image is the image of one binary.
type Image struct {
	// Name is the binary's name: the image's title and the last element of its repository.
	Name string
	// Image is the image itself, held in memory.
	Image v1.Image
	// Digest is the manifest digest, the same for every build of the same commit.
	Digest v1.Hash
}

// Size is what a registry stores and a runtime pulls for the image: its manifest, its config
// and its compressed layers.
func (i Image) Size() (int64, error) {
	m, err := i.Image.Manifest()
	if err != nil {
		return 0, err
	}
	raw, err := i.Image.RawManifest()
	if err != nil {
		return 0, err
	}
	n := int64(len(raw)) + m.Config.Size
	for _, l := range m.Layers {
		n += l.Size
	}
	return n, nil
}

// Set is the images of one build, one per binary, all from the same Source and sharing one
// base layer.
type Set struct {
	Source Source
	Images []Image
}

var binaryName = regexp.MustCompile(`^[a-z0-9]+(?:[._-][a-z0-9]+)*$`)

// Build compiles each binary with the toolchain on PATH (static, for linux/amd64, with
// -trimpath and without build id) and assembles its image from scratch: no base image is
// pulled, so it works without access to any registry.
func Build(ctx context.Context, opts Options) (*Set, error) {
	bins := opts.Binaries
	if len(bins) == 0 {
		bins = DefaultBinaries()
	}
	for i, b := range bins {
		if !binaryName.MatchString(b) {
			return nil, fmt.Errorf("binary %q: want the directory name of a main package at the repository root, such as producer", b)
		}
		if slices.Contains(bins[:i], b) {
			return nil, fmt.Errorf("binary %q is listed twice", b)
		}
	}
	caPath := opts.CACerts
	if caPath == "" {
		caPath = DefaultCACerts
	}
	ca, err := readCACerts(caPath)
	if err != nil {
		return nil, err
	}
	src, goroot, err := source(ctx, opts.Dir)
	if err != nil {
		return nil, err
	}
	zoneinfo, err := readZoneinfo(filepath.Join(goroot, "lib", "time", "zoneinfo.zip"))
	if err != nil {
		return nil, err
	}
	binaries, err := buildBinaries(ctx, src.Root, bins)
	if err != nil {
		return nil, err
	}
	base, err := layer(baseFiles(ca, zoneinfo), src.Time)
	if err != nil {
		return nil, fmt.Errorf("base layer: %w", err)
	}
	set := &Set{Source: src}
	for i, name := range bins {
		img, err := assemble(src, name, base, binaries[i])
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", name, err)
		}
		d, err := img.Digest()
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", name, err)
		}
		set.Images = append(set.Images, Image{Name: name, Image: img, Digest: d})
	}
	return set, nil
}

// assemble stacks the shared base layer and the binary's layer on an empty OCI image and
// writes the config: the non-root user, the entrypoint, and the labels, all dated by the
// commit.
func assemble(src Source, name string, base v1.Layer, bin []byte) (v1.Image, error) {
	app, err := layer(binaryFiles(name, bin), src.Time)
	if err != nil {
		return nil, err
	}
	created := v1.Time{Time: src.Time}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: base, MediaType: types.OCILayer, History: v1.History{
			Created:   created,
			CreatedBy: "infra/image: /etc/passwd and /etc/group (nonroot 65532), CA roots, " + src.GoVersion + " zoneinfo",
		}},
		mutate.Addendum{Layer: app, MediaType: types.OCILayer, History: v1.History{
			Created:   created,
			CreatedBy: fmt.Sprintf("CGO_ENABLED=0 GOOS=%s GOARCH=%s go build -trimpath -buildvcs=false -ldflags='-s -w -buildid=' ./%s (%s)", platformOS, platformArch, name, src.GoVersion),
		}},
	)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	labels := map[string]string{
		LabelTitle:    name,
		LabelSource:   src.URL(),
		LabelRevision: src.Revision(),
		LabelCreated:  src.Time.Format(time.RFC3339),
	}
	cf.OS, cf.Architecture, cf.Created = platformOS, platformArch, created
	cf.Config = v1.Config{
		User:       User,
		Entrypoint: []string{path.Join(appDir, name)},
		WorkingDir: homeDir,
		Labels:     labels,
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return nil, err
	}
	return mutate.Annotations(img, labels).(v1.Image), nil
}

// readCACerts reads the bundle of trusted roots and checks it holds certificates: without
// them every call to a Google API from the image would fail its TLS handshake.
func readCACerts(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("CA roots: %s does not exist: install the ca-certificates package (apt-get install ca-certificates) or name a PEM bundle of trusted roots", path)
	}
	if err != nil {
		return nil, fmt.Errorf("CA roots: %w", err)
	}
	if !x509.NewCertPool().AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("CA roots: %s holds no PEM certificates: name a PEM bundle of trusted roots", path)
	}
	return b, nil
}

// source finds the repository root and toolchain with go env, and the commit with git.
func source(ctx context.Context, dir string) (Source, string, error) {
	out, err := run(ctx, dir, nil, "go", "env", "GOMOD", "GOROOT", "GOVERSION")
	if err != nil {
		return Source{}, "", err
	}
	env := strings.Split(out, "\n")
	if len(env) != 3 {
		return Source{}, "", fmt.Errorf("go env GOMOD GOROOT GOVERSION printed %q: want three lines", out)
	}
	gomod, goroot, goversion := env[0], env[1], env[2]
	if gomod == "" || gomod == os.DevNull {
		where := dir
		if where == "" {
			where = "the working directory"
		}
		return Source{}, "", fmt.Errorf("%s is not inside a Go module: run from the repository", where)
	}
	src := Source{Root: filepath.Dir(gomod), GoVersion: goversion}
	if src.Module, err = run(ctx, src.Root, nil, "go", "list", "-m"); err != nil {
		return Source{}, "", err
	}
	git := func(args ...string) (string, error) {
		out, err := run(ctx, src.Root, nil, "git", args...)
		if err != nil {
			return "", fmt.Errorf("%w: the revision label and every time stamp of an image come from the commit, so build from a git checkout with at least one commit", err)
		}
		return out, nil
	}
	if src.Commit, err = git("rev-parse", "HEAD"); err != nil {
		return Source{}, "", err
	}
	ct, err := git("log", "-1", "--format=%ct", "HEAD")
	if err != nil {
		return Source{}, "", err
	}
	secs, err := strconv.ParseInt(ct, 10, 64)
	if err != nil {
		return Source{}, "", fmt.Errorf("commit time of %s: %q is not a Unix time", src.Commit, ct)
	}
	src.Time = time.Unix(secs, 0).UTC()
	status, err := git("status", "--porcelain")
	if err != nil {
		return Source{}, "", err
	}
	src.Dirty = status != ""
	return src, goroot, nil
}

// buildBinaries checks that each name is a main package at the root and compiles them all
// in one go build, returning each binary's bytes in the order of names.
func buildBinaries(ctx context.Context, root string, names []string) ([][]byte, error) {
	pkgs := make([]string, len(names))
	for i, n := range names {
		if fi, err := os.Stat(filepath.Join(root, n)); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("binary %q: no directory %s in %s: want a main package at the repository root, such as producer", n, n, root)
		}
		pkgs[i] = "./" + n
	}
	out, err := run(ctx, root, nil, "go", append([]string{"list", "-f", "{{.Name}}"}, pkgs...)...)
	if err != nil {
		return nil, err
	}
	for i, pkg := range strings.Split(out, "\n") {
		if pkg != "main" {
			return nil, fmt.Errorf("binary %q: package %s is %q, not a main package", names[i], pkgs[i], pkg)
		}
	}
	tmp, err := os.MkdirTemp("", "infra-image-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	// -trimpath removes file system paths and an empty -buildid the one value that differs
	// between builds of the same input; -s -w drop the symbol table and DWARF (panics still
	// carry file:line). -buildvcs=false because the stamp depends on the checkout, not the
	// commit: go finds no repository in a git worktree (its .git is a file), so a clone and
	// a worktree of one commit would give two binaries; the revision is in the image's labels.
	// The environment fixes everything else that changes the output; GOFLAGS is replaced by
	// its default so that development flags such as -tags stay out.
	args := append([]string{"build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid=", "-o", tmp + string(filepath.Separator)}, pkgs...)
	env := []string{"CGO_ENABLED=0", "GOOS=" + platformOS, "GOARCH=" + platformArch, "GOAMD64=v1", "GOFLAGS=-mod=readonly"}
	if _, err := run(ctx, root, env, "go", args...); err != nil {
		return nil, err
	}
	bins := make([][]byte, len(names))
	for i, n := range names {
		if bins[i], err = os.ReadFile(filepath.Join(tmp, n)); err != nil {
			return nil, fmt.Errorf("binary %q: %w", n, err)
		}
	}
	return bins, nil
}

// run runs a command in dir with the process environment plus env and returns its standard
// output without the final newline; a failure carries the command and its standard error.
func run(ctx context.Context, dir string, env []string, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimRight(stdout.String(), "\n"), nil
}
