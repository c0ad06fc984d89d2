package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/nba-props/pipeline/infra/image"
	"github.com/spf13/cobra"
)

// imageFlags are the flags of infra image.
type imageFlags struct {
	out, push, format, caCerts string
	binaries                   []string
}

// imageCommand is infra image: build the production images (package image) and write them
// to a directory or push them to a registry.
func imageCommand() *cobra.Command {
	var f imageFlags
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Build the reproducible OCI images of the production binaries; write or push them",
		Long: `Build one OCI image per binary from scratch (no Docker, no base image): the static
binary at /app/<name>, CA roots, zoneinfo and a non-root user. The same commit gives the
same digests. Without --out or --push it only prints them.`,
		Example: `  go run ./infra/cmd/infra image --out dist/oci
  go run ./infra/cmd/infra image --out dist --format tarball
  go run ./infra/cmd/infra image --push us-central1-docker.pkg.dev/my-project/nba`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return imageCmd(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.out, "out", "", "write the images to `DIR`: one OCI image layout, or DIR/<name>.tar with --format tarball")
	fl.StringVar(&f.push, "push", "", "push each image to `REGISTRY/REPO`/<name>:<git commit> with Google (or Docker) credentials")
	fl.StringVar(&f.format, "format", "oci", "what --out writes: oci (an OCI image layout) or tarball (docker load; keeps config and layers, not the manifest digest)")
	fl.StringSliceVar(&f.binaries, "binaries", image.DefaultBinaries(), "main packages at the repository root to build, one image each")
	fl.StringVar(&f.caCerts, "ca-certs", image.DefaultCACerts, "PEM bundle of trusted roots to put in the images")
	return cmd
}

func imageCmd(ctx context.Context, stdout, stderr io.Writer, f imageFlags) error {
	switch {
	case f.format != "oci" && f.format != "tarball":
		return fmt.Errorf("--format %q: want oci or tarball", f.format)
	case f.format != "oci" && f.out == "":
		return fmt.Errorf("--format %s says what --out writes: add --out DIR", f.format)
	}
	if f.push != "" {
		for _, b := range f.binaries {
			if _, err := image.Repository(f.push, b); err != nil {
				return fmt.Errorf("--push: %w", err)
			}
		}
	}
	start := time.Now()
	set, err := image.Build(ctx, image.Options{Binaries: f.binaries, CACerts: f.caCerts})
	if err != nil {
		return err
	}
	src := set.Source
	fmt.Fprintf(stdout, "built from %s (%s), %s, in %s\n", src.Revision(), src.Time.Format(time.RFC3339), src.GoVersion, time.Since(start).Round(100*time.Millisecond))
	if src.Dirty {
		fmt.Fprintf(stderr, "warning: the worktree has uncommitted changes: the images are labelled %s and cannot be rebuilt from any commit\n", src.Revision())
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "IMAGE\tDIGEST\tSIZE")
	for _, im := range set.Images {
		size, err := im.Size()
		if err != nil {
			return fmt.Errorf("image %s: %w", im.Name, err)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.1f MB\n", im.Name, im.Digest, float64(size)/1e6)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	switch {
	case f.out != "" && f.format == "oci":
		d, err := set.WriteLayout(f.out)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote OCI layout %s (index %s)\n", f.out, d)
	case f.out != "":
		paths, err := set.WriteTarballs(f.out, f.push)
		if err != nil {
			return err
		}
		for _, p := range paths {
			fmt.Fprintf(stdout, "wrote %s\n", p)
		}
	}
	if f.push != "" {
		pushed, err := set.Push(ctx, f.push)
		if err != nil {
			return err
		}
		for i, ref := range pushed {
			tag, err := set.Tag(f.push, set.Images[i].Name)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "pushed %s as %s\n", tag, ref)
		}
	}
	return nil
}
