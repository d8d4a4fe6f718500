package cluster

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// statePath resolves a path inside the state directory, refusing one that
// leaves it.
func (p *Process) statePath(rel string) (string, error) {
	if !filepath.IsLocal(rel) {
		return "", fmt.Errorf("cluster: %q is outside %s's state directory", rel, p.name)
	}
	return filepath.Join(p.stateDir, rel), nil
}

// Truncate cuts a file of the state directory (rel to it) to size bytes;
// a negative size cuts that many bytes off its end. Do it while the process
// is stopped, unless the test is about a file changing under a live one.
func (p *Process) Truncate(rel string, size int64) error {
	path, err := p.statePath(rel)
	if err != nil {
		return err
	}
	if size < 0 {
		fi, err := os.Stat(path)
		if err != nil {
			return err
		}
		size = max(0, fi.Size()+size)
	}
	return os.Truncate(path, size)
}

// Corrupt flips the bits of the byte at offset of a file of the state
// directory; a negative offset counts from the end (-1 is the last byte).
func (p *Process) Corrupt(rel string, offset int64) error {
	path, err := p.statePath(rel)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if offset < 0 {
		offset += fi.Size()
	}
	if offset < 0 || offset >= fi.Size() {
		return fmt.Errorf("cluster: offset %d outside %s (%d bytes)", offset, path, fi.Size())
	}
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, offset); err != nil {
		return err
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, offset); err != nil {
		return err
	}
	return f.Close()
}

// FillDisk fills the state directory's file system (a node with
// NodeConfig.StateTmpfs) until no byte is left, and returns the function
// that frees the space again.
func (p *Process) FillDisk() (free func() error, err error) {
	path := filepath.Join(p.stateDir, ".cluster-fill")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 64<<10)
	for size := len(buf); size > 0; {
		// Smaller writes take what a larger one could not.
		if _, err := f.Write(buf[:size]); errors.Is(err, syscall.ENOSPC) {
			size /= 2
		} else if err != nil {
			f.Close()
			os.Remove(path)
			return nil, err
		}
	}
	f.Close()
	return func() error { return os.Remove(path) }, nil
}

// mountTmpfs puts dir on a tmpfs of the given size ("4m", say).
func mountTmpfs(dir, size string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size="+size+",mode=0700"); err != nil {
		return fmt.Errorf("cluster: tmpfs of %s on %s (needs root): %w", size, dir, err)
	}
	return nil
}

func unmount(dir string) error {
	if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
		return fmt.Errorf("cluster: unmount %s: %w", dir, err)
	}
	return nil
}
