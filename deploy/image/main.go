// Command image builds the fedscore OCI image without a container daemon
// or a base image: one layer holding the static binary (CGO_ENABLED=0,
// -trimpath, the version stamped with -ldflags), /etc/passwd and /etc/group
// entries for the non-root user 65532 it runs as, and the state directory
// /var/lib/fedscore. The image is reproducible: every timestamp is
// SOURCE_DATE_EPOCH (by default the commit time of HEAD), so two builds of
// the same commit have the same digest. It is written as an OCI image
// layout in a tar archive, which `podman load`, `docker load` (Docker 25
// and later), `skopeo copy oci-archive:...` and `ctr images import` read.
//
// Usage (from the repository root):
//
//	go run ./deploy/image -o fedscore-image.tar
//	make image
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "image: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	out := fs.String("o", "", "output `tarball` (required)")
	o := Options{}
	fs.StringVar(&o.Version, "version", "", "the version stamped into the binary and the labels (default: git describe)")
	fs.StringVar(&o.Revision, "revision", "", "the source revision label (default: the commit of HEAD)")
	fs.StringVar(&o.Tag, "tag", "", "the image's reference in the tarball (default fedscore:<version>)")
	fs.StringVar(&o.Arch, "arch", runtime.GOARCH, "the target `architecture` (GOARCH)")
	fs.StringVar(&o.Source, "source", "https://github.com/fedscore/fedscore", "the source repository label")
	fs.StringVar(&o.Licenses, "licenses", "NOASSERTION", "the SPDX license expression label (the repository declares none yet)")
	epoch := fs.String("source-date-epoch", os.Getenv("SOURCE_DATE_EPOCH"), "Unix `seconds` for every timestamp (default: $SOURCE_DATE_EPOCH, else the commit time of HEAD)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("-o is required")
	}
	var err error
	if o.Version == "" {
		if o.Version, err = git(ctx, "describe", "--tags", "--always", "--dirty"); err != nil {
			return err
		}
	}
	if o.Revision == "" {
		if o.Revision, err = git(ctx, "rev-parse", "HEAD"); err != nil {
			return err
		}
	}
	if *epoch == "" {
		if *epoch, err = git(ctx, "log", "-1", "--format=%ct"); err != nil {
			return err
		}
	}
	secs, err := strconv.ParseInt(*epoch, 10, 64)
	if err != nil {
		return fmt.Errorf("source date epoch %q: %w", *epoch, err)
	}
	o.Created = time.Unix(secs, 0).UTC()
	digest, err := Build(ctx, o, *out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\t%s\n", *out, digest)
	return nil
}

func git(ctx context.Context, args ...string) (string, error) {
	b, err := exec.CommandContext(ctx, "git", args...).Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w (give the value as a flag outside a checkout)", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(b)), nil
}
