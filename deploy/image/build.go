package main

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/fedscore/fedscore/internal/atomicfile"
)

// Options describe one image build.
type Options struct {
	Version, Revision, Source, Licenses string
	// Tag is the reference recorded in the tarball; empty means
	// fedscore:<Version>.
	Tag  string
	Arch string
	// Created is every timestamp of the image and its files.
	Created time.Time
	// Binary is a prebuilt static binary; empty means build one.
	Binary string
}

const (
	// BinaryPath is where the binary sits in the image and the entrypoint.
	BinaryPath = "/usr/local/bin/fedscore"
	// StateDir is the working directory and default state location.
	StateDir = "/var/lib/fedscore"
	// User is the unprivileged user and group the image runs as.
	User = "65532:65532"
)

// Build builds the image and writes it to out as an OCI image layout in
// a tar archive (index.json naming the image by tag); it returns the
// image's manifest digest.
func Build(ctx context.Context, o Options, out string) (v1.Hash, error) {
	img, ref, err := Image(ctx, o)
	if err != nil {
		return v1.Hash{}, err
	}
	dir, err := os.MkdirTemp("", "fedscore-layout-")
	if err != nil {
		return v1.Hash{}, err
	}
	defer os.RemoveAll(dir)
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return v1.Hash{}, err
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": ref.TagStr(),
		"io.containerd.image.name":          ref.Name(),
	})); err != nil {
		return v1.Hash{}, err
	}
	if err := tarDir(dir, out, o.Created); err != nil {
		return v1.Hash{}, err
	}
	return img.Digest()
}

// tarDir writes the files under dir to a tar archive at out, in name
// order, with fixed times and owners, so that equal trees give equal
// archives.
func tarDir(dir, out string, mtime time.Time) error {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		h := &tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, ModTime: mtime, Format: tar.FormatPAX, Typeflag: tar.TypeReg}
		var data []byte
		if d.IsDir() {
			h.Name, h.Mode, h.Typeflag = h.Name+"/", 0o755, tar.TypeDir
		} else if data, err = os.ReadFile(path); err != nil {
			return err
		}
		h.Size = int64(len(data))
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		_, err = tw.Write(data)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if err != nil {
		return fmt.Errorf("archive %s: %w", out, err)
	}
	return atomicfile.Write(out, buf.Bytes(), 0o644)
}

// Image assembles the image in memory.
func Image(ctx context.Context, o Options) (v1.Image, name.Tag, error) {
	if o.Version == "" || o.Arch == "" || o.Created.IsZero() {
		return nil, name.Tag{}, fmt.Errorf("image: version, architecture and creation time are required")
	}
	tagText := o.Tag
	if tagText == "" {
		tagText = "fedscore:" + strings.NewReplacer("+", "-", "/", "-").Replace(o.Version)
	}
	ref, err := name.NewTag(tagText)
	if err != nil {
		return nil, name.Tag{}, fmt.Errorf("image tag: %w", err)
	}
	bin := o.Binary
	if bin == "" {
		dir, err := os.MkdirTemp("", "fedscore-image-")
		if err != nil {
			return nil, name.Tag{}, err
		}
		defer os.RemoveAll(dir)
		bin = filepath.Join(dir, "fedscore")
		if err := buildBinary(ctx, o, bin); err != nil {
			return nil, name.Tag{}, err
		}
	}
	layerTar, err := rootfs(bin, o.Created)
	if err != nil {
		return nil, name.Tag{}, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, name.Tag{}, err
	}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.Append(base, mutate.Addendum{
		Layer: layer, MediaType: types.OCILayer,
		History: v1.History{Created: v1.Time{Time: o.Created}, CreatedBy: "deploy/image: fedscore " + o.Version, Comment: "static binary, passwd and state directory"},
	})
	if err != nil {
		return nil, name.Tag{}, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, name.Tag{}, err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = o.Arch, "linux"
	cf.Created = v1.Time{Time: o.Created}
	cf.Config = v1.Config{
		Entrypoint: []string{BinaryPath},
		User:       User,
		WorkingDir: StateDir,
		Env:        []string{"PATH=/usr/local/bin"},
		Labels: map[string]string{
			"org.opencontainers.image.title":       "fedscore",
			"org.opencontainers.image.description": "privacy-preserving federated scoring: coordinator, partner node and query client in one binary",
			"org.opencontainers.image.source":      o.Source,
			"org.opencontainers.image.version":     o.Version,
			"org.opencontainers.image.revision":    o.Revision,
			"org.opencontainers.image.licenses":    o.Licenses,
			"org.opencontainers.image.created":     o.Created.Format(time.RFC3339),
		},
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return nil, name.Tag{}, err
	}
	return img, ref, nil
}

// buildBinary builds the static binary of ./cmd/fedscore of the module
// around the working directory.
func buildBinary(ctx context.Context, o Options, out string) error {
	root, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return fmt.Errorf("find the module: %w", err)
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false",
		"-ldflags", "-s -w -buildid= -X main.version="+o.Version, "-o", out, "./cmd/fedscore")
	cmd.Dir = strings.TrimSpace(string(root))
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+o.Arch, "GOFLAGS=-mod=readonly")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %w\n%s", err, b)
	}
	return nil
}

// rootfs is the image's only layer.
func rootfs(bin string, mtime time.Time) ([]byte, error) {
	binary, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	passwd := "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	group := "root:x:0:\nnonroot:x:65532:\n"
	entries := []struct {
		name string
		mode int64
		uid  int
		data []byte
		dir  bool
	}{
		{name: "etc/", mode: 0o755, dir: true},
		{name: "etc/group", mode: 0o644, data: []byte(group)},
		{name: "etc/passwd", mode: 0o644, data: []byte(passwd)},
		{name: "home/", mode: 0o755, dir: true},
		{name: "home/nonroot/", mode: 0o700, uid: 65532, dir: true},
		{name: "tmp/", mode: 0o1777, dir: true},
		{name: "usr/", mode: 0o755, dir: true},
		{name: "usr/local/", mode: 0o755, dir: true},
		{name: "usr/local/bin/", mode: 0o755, dir: true},
		{name: "usr/local/bin/fedscore", mode: 0o755, data: binary},
		{name: "var/", mode: 0o755, dir: true},
		{name: "var/lib/", mode: 0o755, dir: true},
		{name: "var/lib/fedscore/", mode: 0o700, uid: 65532, dir: true},
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.uid, ModTime: mtime, Format: tar.FormatPAX,
			Typeflag: tar.TypeReg, Size: int64(len(e.data))}
		if e.dir {
			h.Typeflag, h.Size = tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
