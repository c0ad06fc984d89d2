package image

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// file is one entry of a layer. Owner and mode are set here, never read from the build
// machine, so the layer's bytes depend on its content alone.
type file struct {
	path     string      // slash-separated, without a leading or trailing slash
	mode     fs.FileMode // permission bits, plus fs.ModeDir and fs.ModeSticky
	uid, gid int
	data     []byte
}

func dir(p string, mode fs.FileMode, uid, gid int) file {
	return file{path: p, mode: fs.ModeDir | mode, uid: uid, gid: gid}
}

func regular(p string, mode fs.FileMode, data []byte) file {
	return file{path: p, mode: mode, data: data}
}

// layer writes files as a gzip-compressed tar, sorted by path with each missing parent
// directory added (root-owned, 0755), every entry stamped with mtime. The same files and
// mtime give the same bytes, so the same digest.
func layer(files []file, mtime time.Time) (v1.Layer, error) {
	byPath := make(map[string]file, len(files))
	for _, f := range files {
		if f.path == "" || path.Clean(f.path) != f.path || strings.HasPrefix(f.path, "/") || strings.HasPrefix(f.path, "../") {
			return nil, fmt.Errorf("layer entry %q: want a clean relative path", f.path)
		}
		if _, dup := byPath[f.path]; dup {
			return nil, fmt.Errorf("layer entry %q appears twice", f.path)
		}
		byPath[f.path] = f
	}
	for _, f := range files {
		for p := path.Dir(f.path); p != "."; p = path.Dir(p) {
			if _, ok := byPath[p]; !ok {
				byPath[p] = dir(p, 0o755, 0, 0)
			}
		}
	}
	paths := make([]string, 0, len(byPath))
	for p := range byPath {
		paths = append(paths, p)
	}
	slices.Sort(paths) // a parent sorts before its children: it is a prefix of them

	mtime = mtime.UTC().Truncate(time.Second) // whole seconds keep the headers plain ustar
	var buf bytes.Buffer
	// The default level: the best one saves 1% of a 40 MB binary for three times the time.
	zw, err := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(zw)
	for _, p := range paths {
		f := byPath[p]
		mode := int64(f.mode.Perm())
		if f.mode&fs.ModeSticky != 0 {
			mode |= 0o1000
		}
		h := &tar.Header{Name: p, Mode: mode, Uid: f.uid, Gid: f.gid, ModTime: mtime, Typeflag: tar.TypeReg, Size: int64(len(f.data))}
		if f.mode.IsDir() {
			h.Name, h.Typeflag, h.Size = p+"/", tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("layer entry %s: %w", p, err)
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, fmt.Errorf("layer entry %s: %w", p, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	compressed := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(compressed)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

// baseFiles is the minimal system both services need, instead of a base image: users for a
// non-root process, trusted roots for TLS to Google APIs, the time zone database, a home and
// a /tmp. There is no shell and no package manager.
func baseFiles(caCerts []byte, zoneinfo []file) []file {
	const passwd = "root:x:0:0:root:/root:/sbin/nologin\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n" +
		"nonroot:x:65532:65532:nonroot:" + homeDir + ":/sbin/nologin\n"
	const group = "root:x:0:\n" +
		"nobody:x:65534:\n" +
		"nonroot:x:65532:\n"
	files := []file{
		regular("etc/passwd", 0o644, []byte(passwd)),
		regular("etc/group", 0o644, []byte(group)),
		regular(strings.TrimPrefix(DefaultCACerts, "/"), 0o644, caCerts),
		dir(strings.TrimPrefix(homeDir, "/"), 0o700, 65532, 65532),
		dir("root", 0o700, 0, 0),
		dir("tmp", fs.ModeSticky|0o777, 0, 0),
	}
	return append(files, zoneinfo...)
}

// zoneinfoDir is where Go's time package (and every libc) looks for the zone database first.
const zoneinfoDir = "usr/share/zoneinfo"

// readZoneinfo unpacks the toolchain's zone database ($GOROOT/lib/time/zoneinfo.zip, the
// same data the time/tzdata package embeds) as files under usr/share/zoneinfo.
func readZoneinfo(zipPath string) ([]file, error) {
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		return nil, fmt.Errorf("time zone database of the Go toolchain: %w: the images take it from the toolchain that builds them; use a complete Go distribution", err)
	}
	defer zr.Close()
	var files []file
	for _, zf := range zr.File {
		if strings.HasSuffix(zf.Name, "/") {
			continue
		}
		rc, err := zf.Open()
		if err != nil {
			return nil, fmt.Errorf("%s in %s: %w", zf.Name, zipPath, err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("%s in %s: %w", zf.Name, zipPath, err)
		}
		p := path.Join(zoneinfoDir, zf.Name)
		if !strings.HasPrefix(p, zoneinfoDir+"/") {
			return nil, fmt.Errorf("%s in %s: a name outside the zone database", zf.Name, zipPath)
		}
		files = append(files, regular(p, 0o644, data))
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s holds no time zones", zipPath)
	}
	return files, nil
}

// binaryFiles is the layer of one service: its static binary, owned by root so the service
// cannot change it.
func binaryFiles(name string, bin []byte) []file {
	return []file{
		dir(strings.TrimPrefix(appDir, "/"), 0o755, 0, 0),
		regular(path.Join(strings.TrimPrefix(appDir, "/"), name), 0o755, bin),
	}
}
