package keystore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

const (
	headerFile  = "keystore.hdr"
	entrySuffix = ".sec"
	dirMode     = 0o700
	fileMode    = 0o600
)

// A FileStore keeps each secret in its own file in a directory, sealed with
// AES-256-GCM under a key derived from a passphrase with scrypt. The
// directory reveals the names of the secrets and their sizes, nothing more.
//
// A FileStore is safe for concurrent use, also by several processes: every
// change is a single atomic rename or removal, so a reader sees either the
// old or the new secret, and after a crash an entry holds one or the other.
type FileStore struct {
	dir  string
	keys *keys
}

var _ Store = (*FileStore)(nil)

// OpenFileStore opens the store in dir, creating dir (mode 0700) and a new
// store if needed. It fails with ErrWrongPassphrase if the store was created
// with another passphrase, and with ErrEmptyPassphrase if passphrase is
// empty.
func OpenFileStore(dir string, passphrase []byte) (*FileStore, error) {
	return openFileStore(dir, passphrase, defaultKDF())
}

// openFileStore is OpenFileStore with the KDF cost for a new store.
func openFileStore(dir string, passphrase []byte, kdf kdfParams) (*FileStore, error) {
	if len(passphrase) == 0 {
		return nil, ErrEmptyPassphrase
	}
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return nil, fmt.Errorf("keystore: create %s: %w", dir, err)
	}
	h, k, err := loadOrCreateHeader(dir, passphrase, kdf)
	if err != nil {
		return nil, err
	}
	if !k.verify(h) {
		return nil, fmt.Errorf("%w for %s (or its header is damaged)", ErrWrongPassphrase, dir)
	}
	return &FileStore{dir: dir, keys: k}, nil
}

// loadOrCreateHeader reads dir's header, creating it for a new store, and
// derives the keys it was made with.
func loadOrCreateHeader(dir string, passphrase []byte, kdf kdfParams) (*header, *keys, error) {
	path := filepath.Join(dir, headerFile)
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		h, k, createErr := createHeader(dir, passphrase, kdf)
		if !errors.Is(createErr, fs.ErrExist) {
			return h, k, createErr
		}
		// Another process created the store first; use its header.
		raw, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("keystore: read header: %w", err)
	}
	h, err := parseHeader(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	k, err := deriveKeys(passphrase, h)
	if err != nil {
		return nil, nil, err
	}
	return h, k, nil
}

func createHeader(dir string, passphrase []byte, kdf kdfParams) (*header, *keys, error) {
	// Entries without a header can never be opened again; creating a new
	// header would hide that and accept any passphrase.
	entries, err := filepath.Glob(filepath.Join(dir, "*"+entrySuffix))
	if err != nil {
		return nil, nil, fmt.Errorf("keystore: %w", err)
	}
	if len(entries) > 0 {
		return nil, nil, fmt.Errorf("%w: %s holds secrets but no %s", ErrCorrupt, dir, headerFile)
	}
	h, err := newHeader(kdf)
	if err != nil {
		return nil, nil, fmt.Errorf("keystore: new header: %w", err)
	}
	k, err := deriveKeys(passphrase, h)
	if err != nil {
		return nil, nil, err
	}
	k.seal(h)
	if err := createFileAtomic(filepath.Join(dir, headerFile), h.raw, fileMode); err != nil {
		return nil, nil, fmt.Errorf("keystore: write header: %w", err)
	}
	return h, k, nil
}

// Put stores secret under name, replacing any previous value.
func (s *FileStore) Put(ctx context.Context, name string, secret []byte) error {
	if err := s.check(ctx, name); err != nil {
		return err
	}
	data, err := s.keys.sealEntry(name, secret)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(s.path(name), data, fileMode); err != nil {
		return fmt.Errorf("keystore: put %s: %w", name, err)
	}
	return nil
}

// Get returns the secret stored under name. It fails with ErrNotFound if
// there is none and with ErrCorrupt if the stored data does not
// authenticate.
func (s *FileStore) Get(ctx context.Context, name string) ([]byte, error) {
	if err := s.check(ctx, name); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(s.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	if err != nil {
		return nil, fmt.Errorf("keystore: get %s: %w", name, err)
	}
	return s.keys.openEntry(name, data)
}

// Delete removes the secret stored under name, if any.
func (s *FileStore) Delete(ctx context.Context, name string) error {
	if err := s.check(ctx, name); err != nil {
		return err
	}
	err := os.Remove(s.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err == nil {
		err = syncDir(s.dir)
	}
	if err != nil {
		return fmt.Errorf("keystore: delete %s: %w", name, err)
	}
	return nil
}

// Names returns the names of the stored secrets in lexical order.
func (s *FileStore) Names(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("keystore: list: %w", err)
	}
	var names []string
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), entrySuffix)
		if ok && e.Type().IsRegular() && ValidateName(name) == nil {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names, nil
}

func (s *FileStore) check(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return ValidateName(name)
}

func (s *FileStore) path(name string) string {
	return filepath.Join(s.dir, name+entrySuffix)
}
