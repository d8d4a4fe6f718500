package keystore

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// tempPrefix starts the names of files being written. Secret names cannot
// start with a dot, so a temporary file never looks like an entry.
const tempPrefix = ".tmp-"

// writeFileAtomic replaces path with data so that readers see either the old
// or the new content, never a partial file, and the new content survives a
// crash once writeFileAtomic returns.
func writeFileAtomic(path string, data []byte, perm fs.FileMode) error {
	tmp, err := writeTemp(filepath.Dir(path), data, perm)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(path))
}

// createFileAtomic is like writeFileAtomic but fails with fs.ErrExist if
// path already exists, so that two processes cannot both create it.
func createFileAtomic(path string, data []byte, perm fs.FileMode) error {
	tmp, err := writeTemp(filepath.Dir(path), data, perm)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	// Unlike rename, link never replaces an existing file.
	if err := os.Link(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// writeTemp writes data to a new, synced temporary file in dir with mode
// perm and returns its path.
func writeTemp(dir string, data []byte, perm fs.FileMode) (name string, err error) {
	f, err := os.CreateTemp(dir, tempPrefix+"*")
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	// Set the mode before any byte is written.
	if err := f.Chmod(perm); err != nil {
		return "", err
	}
	if _, err := f.Write(data); err != nil {
		return "", err
	}
	if err := f.Sync(); err != nil {
		return "", err
	}
	return f.Name(), f.Close()
}

// syncDir makes a rename, link or removal in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}
