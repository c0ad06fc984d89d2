// Package image builds the container images the production binaries run in on Cloud Run,
// one per binary (producer, consumers), without Docker and without pulling a base image:
//
//	go run ./infra/cmd/infra image                                  # build, print digests
//	go run ./infra/cmd/infra image --out dist/oci                   # an OCI layout with both images
//	go run ./infra/cmd/infra image --out dist --format tarball      # dist/producer.tar, dist/consumers.tar
//	go run ./infra/cmd/infra image --push us-central1-docker.pkg.dev/my-project/nba
//
// # What an image holds
//
// Two layers. The base layer, the same for every binary (a registry stores it once), is the
// least a static Go service needs:
//
//   - /etc/passwd and /etc/group with root, nobody and nonroot (65532); the config runs the
//     service as 65532:65532, never as root, with /home/nonroot as working directory and a
//     writable, sticky /tmp.
//   - /etc/ssl/certs/ca-certificates.crt, the trusted roots for TLS to Google's APIs, copied
//     from the build machine (Debian's ca-certificates package); the build fails if it is
//     missing or holds no certificate. It is the first path Go's crypto/x509 reads on Linux,
//     so no SSL_CERT_FILE is set.
//   - /usr/share/zoneinfo, taken from the Go toolchain ($GOROOT/lib/time/zoneinfo.zip), not
//     from the build machine. The binaries already embed the same database (package messages
//     imports time/tzdata, because game dates are America/New_York); the files are there so
//     that the zone database does not hang on one import, and because Go reads
//     /usr/share/zoneinfo before its embedded copy, they are the toolchain's own data: the
//     two cannot disagree, and the digest does not change with the build machine's tzdata
//     package.
//
// The second layer is /app/<name>, the binary built with CGO_ENABLED=0 GOOS=linux
// GOARCH=amd64 go build -trimpath -buildvcs=false -ldflags='-s -w -buildid=', owned by root
// and run as the entrypoint. There is no shell, no package manager and nothing else to patch.
//
// # Reproducible
//
// The same commit built with the same toolchain and CA bundle gives the same digests, so a
// digest identifies the code and an unchanged service is not redeployed. Nothing comes from
// the clock or the build machine's file system metadata: every time stamp (file mtimes, the
// config's created time, the org.opencontainers.image.created label, the layer history) is
// HEAD's commit time; tar entries are sorted, with fixed owners and modes; gzip headers carry
// no time or name; the go build strips paths, the build id and the VCS stamp (which differs
// between a clone and a git worktree of the same commit). The revision label (and the tag
// a push uses) is the commit, suffixed -dirty when the worktree has uncommitted changes, so
// such an image never passes for the commit.
package image
