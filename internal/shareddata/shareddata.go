// Package shareddata locates the public datasets that sit beside the
// repository (../shared/data), for tests and benchmarks.
package shareddata

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the shared data directory: the repository's sibling
// shared/data, found by walking up from the working directory to go.mod.
func Dir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "..", "shared", "data"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Path returns the path of a shared data file and fails the test when it is
// missing: CI always provides the data, so a missing file is an error.
func Path(t testing.TB, name string) string {
	t.Helper()
	dir, err := Dir()
	if err != nil {
		t.Fatalf("shared data: %v", err)
	}
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("shared data file %s is missing (the repository expects ../shared/data beside it): %v", name, err)
	}
	return path
}
