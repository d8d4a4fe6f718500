package cluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// BinaryEnv names the environment variable that points the launcher at a
// prebuilt fedscore binary (CI builds it once for every package).
const BinaryEnv = "FEDSCORE_BIN"

// binaryOnce memoises the binary of this test process: building or even
// hashing the source tree once per cluster would dominate short tests.
var binaryOnce = sync.OnceValues(func() (string, error) { return buildBinary(context.Background()) })

// Binary returns the fedscore binary the launcher runs: $FEDSCORE_BIN when
// set, else a build of ./cmd/fedscore of the module around the working
// directory, cached under $FEDSCORE_TOOLS_CACHE (default
// ~/.cache/fedscore/tools) by a digest of the Go version and every source
// and embedded file the binary is built from, so that a test process
// builds it at most once and an unchanged tree never rebuilds it.
func Binary() (string, error) { return binaryOnce() }

func buildBinary(ctx context.Context) (string, error) {
	if p := os.Getenv(BinaryEnv); p != "" {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode()&0o111 == 0 {
			return "", fmt.Errorf("cluster: %s=%s is not an executable file", BinaryEnv, p)
		}
		return p, nil
	}
	root, err := goOutput(ctx, "", "list", "-m", "-f", "{{.Dir}}")
	if err != nil {
		return "", err
	}
	key, err := sourceKey(ctx, root)
	if err != nil {
		return "", err
	}
	dir, err := toolsCache()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "fedscore-"+key)
	if fi, err := os.Stat(path); err == nil && fi.Mode()&0o111 != 0 {
		now := time.Now()
		os.Chtimes(path, now, now) // marks it used, for pruneBinaries
		return path, nil
	}
	tmp := fmt.Sprintf("%s.tmp.%d", path, os.Getpid())
	if _, err := goOutput(ctx, root, "build", "-trimpath", "-o", tmp, "./cmd/fedscore"); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", err
	}
	pruneBinaries(dir, path)
	return path, nil
}

// sourceKey digests what the binary is built from: the Go version, the
// build environment, go.mod, go.sum and the files of every package of the
// main module the command imports.
func sourceKey(ctx context.Context, root string) (string, error) {
	files, err := goOutput(ctx, root, "list", "-deps", "-f",
		`{{if .Module}}{{if .Module.Main}}{{$d := .Dir}}{{range .GoFiles}}{{$d}}/{{.}}
{{end}}{{range .EmbedFiles}}{{$d}}/{{.}}
{{end}}{{end}}{{end}}`, "./cmd/fedscore")
	if err != nil {
		return "", err
	}
	env, err := goOutput(ctx, root, "env", "GOVERSION", "GOOS", "GOARCH", "CGO_ENABLED", "GOFLAGS")
	if err != nil {
		return "", err
	}
	h := sha256.New()
	io.WriteString(h, env)
	for _, f := range append([]string{filepath.Join(root, "go.mod"), filepath.Join(root, "go.sum")}, strings.Fields(files)...) {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("cluster: hash sources: %w", err)
		}
		fmt.Fprintf(h, "%s %d\n", strings.TrimPrefix(f, root), len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// toolsCache is the cache directory scripts/build-tool.sh uses too.
func toolsCache() (string, error) {
	dir := os.Getenv("FEDSCORE_TOOLS_CACHE")
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("cluster: no cache directory: %w", err)
		}
		dir = filepath.Join(base, "fedscore", "tools")
	}
	return dir, os.MkdirAll(dir, 0o755)
}

// pruneBinaries removes binaries of older trees that nobody used for a day.
func pruneBinaries(dir, keep string) {
	old, _ := filepath.Glob(filepath.Join(dir, "fedscore-*"))
	for _, p := range old {
		if fi, err := os.Stat(p); err == nil && p != keep && time.Since(fi.ModTime()) > 24*time.Hour {
			os.Remove(p)
		}
	}
}

// goOutput runs the go command with CGO_ENABLED=0, as the image builder
// (deploy/image) and CI build the binary, so that they share the build
// cache and the launcher runs the static binary that ships.
func goOutput(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("cluster: go %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return "", fmt.Errorf("cluster: go %s: %w", args[0], err)
	}
	return strings.TrimSpace(string(out)), nil
}
