package image_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/x509"
	"debug/elf"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/nba-props/pipeline/infra/image"
)

// built builds the default images once for the whole test binary: compiling both services
// is the slow part, and every test reads the same set.
var built = sync.OnceValues(func() (*image.Set, error) {
	return image.Build(context.Background(), image.Options{})
})

func buildOnce(t *testing.T) *image.Set {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the producer and consumers binaries and their images; run without -short")
	}
	set, err := built()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if len(set.Images) != 2 || set.Images[0].Name != "producer" || set.Images[1].Name != "consumers" {
		t.Fatalf("Build made %d images, want producer and consumers", len(set.Images))
	}
	return set
}

// unpack applies the image's layers in order into a new directory, as a container runtime
// would (a from-scratch image has no whiteouts), and returns it with the tar header of each
// path.
func unpack(t *testing.T, img v1.Image) (string, map[string]*tar.Header) {
	t.Helper()
	dir := t.TempDir()
	headers := map[string]*tar.Header{}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("layer %d: %v", i, err)
			}
			p := strings.TrimSuffix(h.Name, "/")
			if !filepath.IsLocal(p) {
				t.Fatalf("layer %d: entry %q escapes the root", i, h.Name)
			}
			headers[p] = h
			target := filepath.Join(dir, filepath.FromSlash(p))
			switch h.Typeflag {
			case tar.TypeDir:
				if err := os.MkdirAll(target, 0o755); err != nil {
					t.Fatal(err)
				}
			case tar.TypeReg:
				data, err := io.ReadAll(tr)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(target, data, os.FileMode(h.Mode).Perm()); err != nil {
					t.Fatal(err)
				}
			default:
				t.Errorf("layer %d: entry %s has type %q; the image holds only files and directories", i, h.Name, h.Typeflag)
			}
		}
		rc.Close()
	}
	return dir, headers
}

func TestBinariesRunFromTheImage(t *testing.T) {
	set := buildOnce(t)
	for _, tc := range []struct {
		name     string
		wantCode int
		wantOut  []string // in standard output
		wantErr  []string // in standard error
	}{
		// cobra prints the usage on stdout and exits 0.
		{name: "producer", wantCode: 0, wantOut: []string{"Usage:", "enqueue", "status"}},
		// consumers prints its flags and the environment it reads on stderr and exits 0.
		{name: "consumers", wantCode: 0, wantErr: []string{"usage: consumers", "-phases", "-jobs", "GOOGLE_CLOUD_PROJECT"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			im := imageNamed(t, set, tc.name)
			dir, _ := unpack(t, im.Image)
			bin := filepath.Join(dir, "app", tc.name)

			f, err := elf.Open(bin)
			if err != nil {
				t.Fatalf("/app/%s is not an ELF binary: %v", tc.name, err)
			}
			defer f.Close()
			if f.Machine != elf.EM_X86_64 {
				t.Errorf("/app/%s is for %v, want x86-64", tc.name, f.Machine)
			}
			for _, p := range f.Progs {
				if p.Type == elf.PT_INTERP {
					t.Errorf("/app/%s asks for a dynamic loader; the image has none (CGO_ENABLED=0 must make it static)", tc.name)
				}
			}

			cmd := exec.Command(bin, "--help")
			cmd.Env = []string{"HOME=" + t.TempDir()} // nothing of the test's environment
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err = cmd.Run()
			code := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			} else if err != nil {
				t.Fatalf("run /app/%s --help: %v", tc.name, err)
			}
			if code != tc.wantCode {
				t.Errorf("/app/%s --help exited %d, want %d\nstdout: %s\nstderr: %s", tc.name, code, tc.wantCode, stdout.String(), stderr.String())
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("/app/%s --help: stdout lacks %q:\n%s", tc.name, w, stdout.String())
				}
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("/app/%s --help: stderr lacks %q:\n%s", tc.name, w, stderr.String())
				}
			}
		})
	}
}

func TestImageRunsAsNonRoot(t *testing.T) {
	set := buildOnce(t)
	for _, im := range set.Images {
		t.Run(im.Name, func(t *testing.T) {
			cf, err := im.Image.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			uid, gid, ok := strings.Cut(cf.Config.User, ":")
			if !ok || uid == "" || uid == "0" || gid == "0" {
				t.Fatalf("config User %q: want a non-root uid:gid", cf.Config.User)
			}
			dir, headers := unpack(t, im.Image)
			passwd, err := os.ReadFile(filepath.Join(dir, "etc", "passwd"))
			if err != nil {
				t.Fatalf("the image has no /etc/passwd: %v", err)
			}
			user := ""
			for line := range strings.Lines(string(passwd)) {
				f := strings.Split(strings.TrimSpace(line), ":")
				if len(f) == 7 && f[2] == uid {
					user = f[0]
					if f[3] != gid {
						t.Errorf("/etc/passwd gives %s group %s, the config %s", user, f[3], gid)
					}
					if h := headers[strings.TrimPrefix(f[5], "/")]; h == nil || strconv.Itoa(h.Uid) != uid {
						t.Errorf("home %s of %s is missing or not owned by %s", f[5], user, uid)
					}
				}
			}
			if user == "" || user == "root" {
				t.Errorf("/etc/passwd maps uid %s to %q, want a non-root user:\n%s", uid, user, passwd)
			}
			group, err := os.ReadFile(filepath.Join(dir, "etc", "group"))
			if err != nil || !strings.Contains(string(group), ":x:"+gid+":") {
				t.Errorf("/etc/group lacks gid %s (%v):\n%s", gid, err, group)
			}
			if want := "/app/" + im.Name; len(cf.Config.Entrypoint) != 1 || cf.Config.Entrypoint[0] != want {
				t.Errorf("Entrypoint %q, want [%s]", cf.Config.Entrypoint, want)
			}
			if h := headers["app/"+im.Name]; h == nil || h.Uid != 0 || h.Mode != 0o755 {
				t.Errorf("/app/%s: want root-owned mode 0755 (the service must not rewrite itself), got %+v", im.Name, h)
			}
			if h := headers["tmp"]; h == nil || h.Mode != 0o1777 {
				t.Errorf("/tmp: want mode 1777, got %+v", h)
			}
			if cf.OS != "linux" || cf.Architecture != "amd64" {
				t.Errorf("platform %s/%s, want linux/amd64 (Cloud Run)", cf.OS, cf.Architecture)
			}
		})
	}
}

func TestImageHasTrustedRootsAndZoneinfo(t *testing.T) {
	set := buildOnce(t)
	dir, _ := unpack(t, set.Images[0].Image)

	pem, err := os.ReadFile(filepath.Join(dir, "etc", "ssl", "certs", "ca-certificates.crt"))
	if err != nil {
		t.Fatalf("CA roots: %v", err)
	}
	if !x509.NewCertPool().AppendCertsFromPEM(pem) {
		t.Errorf("/etc/ssl/certs/ca-certificates.crt holds no PEM certificate")
	}
	if n := bytes.Count(pem, []byte("-----BEGIN CERTIFICATE-----")); n < 50 {
		t.Errorf("/etc/ssl/certs/ca-certificates.crt holds %d certificates, want a full set of public roots", n)
	}

	tz, err := os.ReadFile(filepath.Join(dir, "usr", "share", "zoneinfo", "America", "New_York"))
	if err != nil {
		t.Fatalf("zoneinfo: %v", err)
	}
	ny, err := time.LoadLocationFromTZData("America/New_York", tz)
	if err != nil {
		t.Fatalf("America/New_York from the image: %v", err)
	}
	// A late game on 2024-11-05 Eastern (EST, UTC-5) is already 2024-11-06 in UTC.
	tip := time.Date(2024, 11, 6, 3, 30, 0, 0, time.UTC).In(ny)
	if got := tip.Format("2006-01-02 15:04 MST"); got != "2024-11-05 22:30 EST" {
		t.Errorf("03:30 UTC on 2024-11-06 in the image's America/New_York is %s, want 2024-11-05 22:30 EST", got)
	}
}

func TestImageIsStampedWithTheCommit(t *testing.T) {
	set := buildOnce(t)
	commit := gitOut(t, "rev-parse", "HEAD")
	secs, err := strconv.ParseInt(gitOut(t, "log", "-1", "--format=%ct"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	commitTime := time.Unix(secs, 0).UTC()
	wantRev := commit
	if gitOut(t, "status", "--porcelain") != "" {
		wantRev += "-dirty"
	}
	for _, im := range set.Images {
		t.Run(im.Name, func(t *testing.T) {
			cf, err := im.Image.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			m, err := im.Image.Manifest()
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{
				image.LabelRevision: wantRev,
				image.LabelCreated:  commitTime.Format(time.RFC3339),
				image.LabelTitle:    im.Name,
				image.LabelSource:   "https://github.com/nba-props/pipeline",
			}
			for k, v := range want {
				if cf.Config.Labels[k] != v {
					t.Errorf("label %s = %q, want %q", k, cf.Config.Labels[k], v)
				}
				if m.Annotations[k] != v {
					t.Errorf("manifest annotation %s = %q, want %q", k, m.Annotations[k], v)
				}
			}
			if !cf.Created.Time.Equal(commitTime) {
				t.Errorf("config created %v, want the commit time %v", cf.Created.Time, commitTime)
			}
			_, headers := unpack(t, im.Image)
			for p, h := range headers {
				if !h.ModTime.Equal(commitTime) {
					t.Errorf("%s: mtime %v, want the commit time %v", p, h.ModTime, commitTime)
				}
			}
		})
	}
}

// TestSameCommitSameDigest builds again, from a fresh clone of HEAD in another directory
// (when the worktree is clean) and from a CA bundle copied to another path with another
// mtime: none of that may change a digest.
func TestSameCommitSameDigest(t *testing.T) {
	first := buildOnce(t)
	ca, err := os.ReadFile(image.DefaultCACerts)
	if err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(t.TempDir(), "roots.pem")
	if err := os.WriteFile(copyPath, ca, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(copyPath, time.Unix(1e9, 0), time.Unix(1e9, 0)); err != nil {
		t.Fatal(err)
	}
	dir := ""
	if first.Source.Dirty {
		t.Logf("the worktree has uncommitted changes: building again here, not from a clone of %s", first.Source.Commit)
	} else {
		dir = filepath.Join(t.TempDir(), "clone")
		gitOut(t, "clone", "--quiet", first.Source.Root, dir)
	}
	second, err := image.Build(context.Background(), image.Options{Dir: dir, CACerts: copyPath})
	if err != nil {
		t.Fatal(err)
	}
	if dir != "" && second.Source.Root == first.Source.Root {
		t.Fatalf("the second build ran in %s, not in the clone", second.Source.Root)
	}
	for i, im := range second.Images {
		if im.Digest != first.Images[i].Digest {
			t.Errorf("%s: second build %s, first %s: the same commit must give the same digest", im.Name, im.Digest, first.Images[i].Digest)
		}
		size, err := im.Size()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s %s %d bytes", im.Name, im.Digest, size)
	}
	base := func(s *image.Set, i int) v1.Hash {
		ls, err := s.Images[i].Image.Layers()
		if err != nil {
			t.Fatal(err)
		}
		d, err := ls[0].Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if base(first, 0) != base(first, 1) {
		t.Errorf("producer and consumers have different base layers; a registry would store the base twice")
	}
}

func TestPushAndPullBack(t *testing.T) {
	set := buildOnce(t)
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	repo := strings.TrimPrefix(srv.URL, "http://") + "/nba-props"

	pushed, err := set.Push(context.Background(), repo)
	if err != nil {
		t.Fatalf("Push: %v", err)
	}
	for i, im := range set.Images {
		tag, err := name.NewTag(repo + "/" + im.Name + ":" + set.Source.Revision())
		if err != nil {
			t.Fatal(err)
		}
		pulled, err := remote.Image(tag)
		if err != nil {
			t.Fatalf("pull %s: %v", tag, err)
		}
		d, err := pulled.Digest()
		if err != nil {
			t.Fatal(err)
		}
		if d != im.Digest {
			t.Errorf("%s: pulled digest %s, built %s", tag, d, im.Digest)
		}
		if pushed[i].DigestStr() != im.Digest.String() || pushed[i].Context() != tag.Context() {
			t.Errorf("Push reported %s for %s@%s", pushed[i], tag.Context(), im.Digest)
		}
		cf, err := pulled.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.Config.User != image.User {
			t.Errorf("%s: pulled config User %q, want %q", tag, cf.Config.User, image.User)
		}
	}
}

func TestPushWithoutCredentialsSaysHowToLogIn(t *testing.T) {
	set := buildOnce(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("WWW-Authenticate", `Basic realm="registry"`)
		http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
	}))
	t.Cleanup(srv.Close)
	_, err := set.Push(context.Background(), strings.TrimPrefix(srv.URL, "http://")+"/nba-props")
	if err == nil || !strings.Contains(err.Error(), "gcloud auth application-default login") {
		t.Errorf("Push to a registry that wants credentials: %v, want an error that says how to log in", err)
	}
}

func TestWriteLayoutNamesEachImage(t *testing.T) {
	set := buildOnce(t)
	dir := t.TempDir()
	if _, err := set.WriteLayout(dir); err != nil {
		t.Fatal(err)
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]v1.Hash{}
	for _, d := range m.Manifests {
		got[d.Annotations[image.LabelRefName]] = d.Digest
	}
	for _, im := range set.Images {
		if got[im.Name] != im.Digest {
			t.Errorf("layout names %s %s, want %s", im.Name, got[im.Name], im.Digest)
		}
		read, err := p.Image(im.Digest)
		if err != nil {
			t.Fatalf("read %s back from the layout: %v", im.Name, err)
		}
		if _, headers := unpack(t, read); headers["app/"+im.Name] == nil {
			t.Errorf("%s read back from the layout has no /app/%s", im.Name, im.Name)
		}
	}
}

func TestWriteTarballs(t *testing.T) {
	set := buildOnce(t)
	paths, err := set.WriteTarballs(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	for i, im := range set.Images {
		tag, err := name.NewTag(im.Name + ":" + set.Source.Revision())
		if err != nil {
			t.Fatal(err)
		}
		read, err := tarball.ImageFromPath(paths[i], &tag)
		if err != nil {
			t.Fatalf("%s has no image tagged %s: %v", paths[i], tag, err)
		}
		// A docker tarball keeps the config and the layers but not the manifest: compare
		// what it keeps.
		for _, part := range []struct {
			what      string
			got, want func(v1.Image) (v1.Hash, error)
		}{
			{"config", v1.Image.ConfigName, v1.Image.ConfigName},
			{"layers", layerDigests, layerDigests},
		} {
			got, err := part.got(read)
			if err != nil {
				t.Fatal(err)
			}
			want, err := part.want(im.Image)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("%s: %s %s, built %s", paths[i], part.what, got, want)
			}
		}
	}
}

func TestBuildRefusesBadInput(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none.pem")
	notPEM := filepath.Join(t.TempDir(), "roots.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		opts image.Options
		want string
	}{
		{"no CA bundle", image.Options{CACerts: missing}, missing + " does not exist: install the ca-certificates package"},
		{"CA bundle without certificates", image.Options{CACerts: notPEM}, "holds no PEM certificates"},
		{"path for a binary", image.Options{Binaries: []string{"./producer"}}, `binary "./producer": want the directory name of a main package`},
		{"binary twice", image.Options{Binaries: []string{"producer", "producer"}}, `binary "producer" is listed twice`},
		{"no such binary", image.Options{Binaries: []string{"scheduler"}}, `binary "scheduler": no directory scheduler`},
		{"a library", image.Options{Binaries: []string{"messages"}}, `binary "messages": package ./messages is "messages", not a main package`},
		{"outside a module", image.Options{Dir: os.TempDir()}, "is not inside a Go module"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := image.Build(context.Background(), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Build: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestPushRefusesBadRepository(t *testing.T) {
	set := &image.Set{Source: image.Source{Commit: "abc"}, Images: []image.Image{{Name: "producer"}}}
	for _, repo := range []string{"", "Bad Repo/x", "host:port:port/x"} {
		if _, err := set.Push(context.Background(), repo); err == nil || !strings.Contains(err.Error(), "want REGISTRY/REPO") {
			t.Errorf("Push to %q: %v, want an error naming the expected form", repo, err)
		}
	}
}

// layerDigests hashes the list of an image's layer digests, to compare the layers at once.
func layerDigests(img v1.Image) (v1.Hash, error) {
	ls, err := img.Layers()
	if err != nil {
		return v1.Hash{}, err
	}
	var all []string
	for _, l := range ls {
		d, err := l.Digest()
		if err != nil {
			return v1.Hash{}, err
		}
		all = append(all, d.String())
	}
	h, _, err := v1.SHA256(strings.NewReader(strings.Join(all, "\n")))
	return h, err
}

func imageNamed(t *testing.T, set *image.Set, name string) image.Image {
	t.Helper()
	for _, im := range set.Images {
		if im.Name == name {
			return im
		}
	}
	t.Fatalf("no image %s", name)
	return image.Image{}
}

func gitOut(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", args...).Output()
	if err != nil {
		t.Fatalf("git %s: %v", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out))
}
