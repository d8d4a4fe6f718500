package main

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"debug/elf"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestReproducibleImage builds the image twice from scratch (binary
// included) and checks that both tarballs are the same bytes, then reads
// the image back with the same library and checks what a platform team
// relies on: entrypoint, non-root user, labels, one layer of fixed
// timestamps, a static binary that reports its version.
func TestReproducibleImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary twice")
	}
	ctx := context.Background()
	created := time.Unix(1767225600, 0).UTC()
	o := Options{Version: "v0.0.0-test", Revision: strings.Repeat("ab", 20), Source: "https://example.invalid/fedscore",
		Licenses: "NOASSERTION", Arch: "amd64", Created: created}
	dir := t.TempDir()
	var sums [2][32]byte
	for i := range sums {
		out := filepath.Join(dir, []string{"a.tar", "b.tar"}[i])
		if _, err := Build(ctx, o, out); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		sums[i] = sha256.Sum256(b)
	}
	if sums[0] != sums[1] {
		t.Fatalf("two builds differ: %x and %x", sums[0], sums[1])
	}

	img := readLayout(t, filepath.Join(dir, "a.tar"), "fedscore:v0.0.0-test")
	if mt, err := img.MediaType(); err != nil || mt != types.OCIManifestSchema1 {
		t.Fatalf("manifest media type %q (%v), want OCI", mt, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cf.Config.Entrypoint, []string{"/usr/local/bin/fedscore"}) || cf.Config.User != "65532:65532" ||
		cf.OS != "linux" || cf.Architecture != "amd64" || !cf.Created.Time.Equal(created) {
		t.Fatalf("config: entrypoint %q, user %q, platform %s/%s, created %v", cf.Config.Entrypoint, cf.Config.User, cf.OS, cf.Architecture, cf.Created)
	}
	for k, want := range map[string]string{
		"org.opencontainers.image.version": o.Version, "org.opencontainers.image.revision": o.Revision,
		"org.opencontainers.image.source": o.Source, "org.opencontainers.image.licenses": o.Licenses,
		"org.opencontainers.image.created": "2026-01-01T00:00:00Z", "org.opencontainers.image.title": "fedscore",
	} {
		if got := cf.Config.Labels[k]; got != want {
			t.Errorf("label %s = %q, want %q", k, got, want)
		}
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("%d layers (%v), want 1", len(layers), err)
	}
	if mt, _ := layers[0].MediaType(); mt != types.OCILayer {
		t.Fatalf("layer media type %q", mt)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	files := map[string]*tar.Header{}
	var binary, passwd []byte
	eachEntry(t, rc, func(h *tar.Header, data []byte) {
		files[h.Name] = h
		if !h.ModTime.Equal(created) {
			t.Errorf("%s has mtime %v, want %v", h.Name, h.ModTime, created)
		}
		switch h.Name {
		case "usr/local/bin/fedscore":
			binary = data
		case "etc/passwd":
			passwd = data
		}
	})
	if h := files["usr/local/bin/fedscore"]; h == nil || h.Mode != 0o755 || h.Uid != 0 {
		t.Fatalf("binary entry %+v", h)
	}
	if h := files["var/lib/fedscore/"]; h == nil || h.Uid != 65532 {
		t.Fatalf("state directory entry %+v, want owned by 65532", h)
	}
	if !strings.Contains(string(passwd), "nonroot:x:65532:65532:") {
		t.Fatalf("/etc/passwd lacks the non-root user:\n%s", passwd)
	}

	bin := filepath.Join(dir, "fedscore")
	if err := os.WriteFile(bin, binary, 0o755); err != nil {
		t.Fatal(err)
	}
	ef, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("the binary is dynamically linked (it has an interpreter)")
		}
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "fedscore "+o.Version {
		t.Fatalf("fedscore version: %q, %v", out, err)
	}

	// The creation time is part of what the digest pins.
	o.Created = created.Add(time.Second)
	other, _, err := Image(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := img.Digest()
	d2, _ := other.Digest()
	if d1 == d2 {
		t.Fatal("a different SOURCE_DATE_EPOCH gave the same digest")
	}
}

// readLayout unpacks an OCI layout archive and returns its one image,
// checking that the index names it by tag.
func readLayout(t *testing.T, archive, tag string) v1.Image {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dir := t.TempDir()
	eachEntry(t, f, func(h *tar.Header, data []byte) {
		path := filepath.Join(dir, filepath.FromSlash(h.Name))
		if !filepath.IsLocal(h.Name) {
			t.Fatalf("archive entry %q leaves the layout", h.Name)
		}
		isDir := h.Typeflag == tar.TypeDir
		parent := path
		if !isDir {
			parent = filepath.Dir(path)
		}
		err := os.MkdirAll(parent, 0o755)
		if err == nil && !isDir {
			err = os.WriteFile(path, data, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	})
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil || len(im.Manifests) != 1 {
		t.Fatalf("index: %+v, %v; want one image", im, err)
	}
	d := im.Manifests[0]
	if d.MediaType != types.OCIManifestSchema1 || !strings.HasSuffix(d.Annotations["io.containerd.image.name"], tag) {
		t.Fatalf("index entry %+v, want an OCI manifest named %s", d, tag)
	}
	img, err := idx.Image(d.Digest)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// eachEntry calls fn with every entry of a tar stream and its contents.
func eachEntry(t *testing.T, r io.Reader, fn func(h *tar.Header, data []byte)) {
	t.Helper()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		fn(h, data)
	}
}
