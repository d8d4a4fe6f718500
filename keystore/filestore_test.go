package keystore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

// testKDF keeps the tests fast; TestOpenFileStoreDefaultCost covers the
// production cost.
var testKDF = kdfParams{logN: 10, r: 8, p: 1}

const testPassphrase = "correct horse battery staple"

func openTest(t *testing.T, dir string) *FileStore {
	t.Helper()
	s, err := openFileStore(dir, []byte(testPassphrase), testKDF)
	if err != nil {
		t.Fatalf("open %s: %v", dir, err)
	}
	return s
}

func mustPut(t *testing.T, s *FileStore, name string, secret []byte) {
	t.Helper()
	if err := s.Put(context.Background(), name, secret); err != nil {
		t.Fatalf("Put(%q): %v", name, err)
	}
}

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "keys")
	s := openTest(t, dir)

	secrets := map[string][]byte{
		"sk-share":       bytes.Repeat([]byte{0xA5}, 4096),
		"empty":          {},
		"epoch-7.ckg_v1": []byte("x"),
	}
	for name, secret := range secrets {
		mustPut(t, s, name, secret)
	}
	mustPut(t, s, "sk-share", []byte("replaced"))
	secrets["sk-share"] = []byte("replaced")

	// A second handle, as after a restart, reads the same secrets.
	s2 := openTest(t, dir)
	for name, want := range secrets {
		got, err := s2.Get(ctx, name)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("Get(%q) = %x, %v; want %x", name, got, err, want)
		}
	}
	names, err := s2.Names(ctx)
	if want := []string{"empty", "epoch-7.ckg_v1", "sk-share"}; err != nil || !slices.Equal(names, want) {
		t.Errorf("Names = %q, %v; want %q", names, err, want)
	}

	if err := s.Delete(ctx, "empty"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := s.Delete(ctx, "empty"); err != nil {
		t.Errorf("Delete of a missing name: %v", err)
	}
	if _, err := s.Get(ctx, "empty"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Delete: %v, want ErrNotFound", err)
	}
	if _, err := s.Get(ctx, "never-stored"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get of a missing name: %v, want ErrNotFound", err)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Put(cancelled, "x", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with cancelled context: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	openTest(t, dir)
	if _, err := openFileStore(dir, []byte("wrong"), testKDF); !errors.Is(err, ErrWrongPassphrase) {
		t.Errorf("wrong passphrase: %v, want ErrWrongPassphrase", err)
	}
	if _, err := openFileStore(t.TempDir(), nil, testKDF); !errors.Is(err, ErrEmptyPassphrase) {
		t.Errorf("empty passphrase: %v, want ErrEmptyPassphrase", err)
	}

	hdr := filepath.Join(dir, headerFile)
	raw, err := os.ReadFile(hdr)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		edit    func([]byte) []byte
		wantErr error
	}{
		{"truncated", func(b []byte) []byte { return b[:len(b)-1] }, ErrCorrupt},
		{"bad magic", func(b []byte) []byte { b[0] ^= 1; return b }, ErrCorrupt},
		{"future version", func(b []byte) []byte { b[4] = 2; return b }, ErrCorrupt},
		{"huge KDF cost", func(b []byte) []byte { b[5] = 40; return b }, ErrCorrupt},
		// A changed salt, cost or tag cannot be told from a wrong passphrase.
		{"changed salt", func(b []byte) []byte { b[10] ^= 1; return b }, ErrWrongPassphrase},
		{"changed cost", func(b []byte) []byte { b[5]++; return b }, ErrWrongPassphrase},
		{"changed tag", func(b []byte) []byte { b[len(b)-1] ^= 1; return b }, ErrWrongPassphrase},
	}
	for _, tt := range tests {
		if err := os.WriteFile(hdr, tt.edit(slices.Clone(raw)), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := openFileStore(dir, []byte(testPassphrase), testKDF); !errors.Is(err, tt.wantErr) {
			t.Errorf("%s header: %v, want %v", tt.name, err, tt.wantErr)
		}
	}

	// Losing the header must not silently start a new store.
	if err := os.WriteFile(hdr, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	mustPut(t, openTest(t, dir), "a", []byte("secret"))
	if err := os.Remove(hdr); err != nil {
		t.Fatal(err)
	}
	if _, err := openFileStore(dir, []byte(testPassphrase), testKDF); !errors.Is(err, ErrCorrupt) {
		t.Errorf("entries without header: %v, want ErrCorrupt", err)
	}
}

func TestOpenFileStoreDefaultCost(t *testing.T) {
	dir := t.TempDir()
	if _, err := OpenFileStore(dir, []byte(testPassphrase)); err != nil {
		t.Fatalf("OpenFileStore: %v", err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, headerFile))
	if err != nil {
		t.Fatal(err)
	}
	h, err := parseHeader(raw)
	if err != nil || h.kdf != (kdfParams{logN: 15, r: 8, p: 1}) {
		t.Errorf("header KDF = %+v, %v; want N=1<<15 r=8 p=1", h, err)
	}
}

func TestTamperedEntries(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openTest(t, dir)
	mustPut(t, s, "alpha", []byte("alpha secret"))
	mustPut(t, s, "beta", []byte("beta secret"))
	alpha, _ := os.ReadFile(s.path("alpha"))

	otherStore := openTest(t, t.TempDir()) // same passphrase, other salt
	mustPut(t, otherStore, "alpha", []byte("other secret"))
	foreign, _ := os.ReadFile(otherStore.path("alpha"))

	tests := []struct {
		name string
		data []byte
	}{
		{"flipped ciphertext byte", flip(alpha, len(alpha)-20)},
		{"flipped tag byte", flip(alpha, len(alpha)-1)},
		{"flipped nonce byte", flip(alpha, 6)},
		{"bad magic", flip(alpha, 0)},
		{"future version", func() []byte { b := slices.Clone(alpha); b[4] = 2; return b }()},
		{"truncated", alpha[:len(alpha)-1]},
		{"too short", alpha[:10]},
		{"empty", nil},
		{"from another store", foreign},
	}
	for _, tt := range tests {
		if err := os.WriteFile(s.path("alpha"), tt.data, 0o600); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Get(ctx, "alpha"); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Get = %q, %v; want ErrCorrupt", tt.name, got, err)
		}
	}

	// Swapping files between names must not move secrets between names.
	if err := os.WriteFile(s.path("alpha"), alpha, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(s.path("alpha"), s.path("gamma")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(s.path("beta"), s.path("alpha")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"alpha", "gamma"} {
		if got, err := s.Get(ctx, name); !errors.Is(err, ErrCorrupt) {
			t.Errorf("swapped %s: Get = %q, %v; want ErrCorrupt", name, got, err)
		}
	}
}

func flip(b []byte, i int) []byte {
	b = slices.Clone(b)
	b[i] ^= 0x01
	return b
}

func TestFileModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "keys")
	s := openTest(t, dir)
	mustPut(t, s, "sk-share", []byte("secret"))
	mustPut(t, s, "sk-share", []byte("secret again"))

	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != dirMode {
		t.Errorf("directory mode %v, want %v", got, os.FileMode(dirMode))
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Mode().Perm(); got != fileMode {
			t.Errorf("%s mode %v, want %v", e.Name(), got, os.FileMode(fileMode))
		}
	}
	// No temporary files are left behind.
	if want := []string{headerFile, "sk-share" + entrySuffix}; !slices.Equal(names, want) {
		t.Errorf("directory holds %q, want %q", names, want)
	}
}

// TestStolenDirectory checks that the files alone reveal neither the
// secrets nor the passphrase.
func TestStolenDirectory(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	secrets := [][]byte{
		[]byte("BGV-SECRET-KEY-SHARE-0123456789abcdef"),
		bytes.Repeat([]byte("Z"), 64), // low-entropy plaintext
	}
	for i, secret := range secrets {
		mustPut(t, s, fmt.Sprintf("secret-%d", i), secret)
	}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, needle := range append(slices.Clone(secrets), []byte(testPassphrase)) {
			if bytes.Contains(data, needle[:16]) {
				t.Errorf("%s contains plaintext %q", d.Name(), needle[:16])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := openFileStore(dir, []byte("guess"), testKDF); !errors.Is(err, ErrWrongPassphrase) {
		t.Errorf("open with a guessed passphrase: %v, want ErrWrongPassphrase", err)
	}
}

func TestBadNames(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openTest(t, dir)
	bad := []string{
		"", ".", "..", ".hidden", "-dash", "_under", "Upper", "a/b", "../escape", `a\b`,
		"a b", "a\x00b", "keystore/hdr", "é", string(make([]byte, MaxNameLen+1)),
	}
	for _, name := range bad {
		if err := s.Put(ctx, name, []byte("x")); !errors.Is(err, ErrInvalidName) {
			t.Errorf("Put(%q) = %v, want ErrInvalidName", name, err)
		}
		if _, err := s.Get(ctx, name); !errors.Is(err, ErrInvalidName) {
			t.Errorf("Get(%q) = %v, want ErrInvalidName", name, err)
		}
		if err := s.Delete(ctx, name); !errors.Is(err, ErrInvalidName) {
			t.Errorf("Delete(%q) = %v, want ErrInvalidName", name, err)
		}
	}
	good := []string{"a", "0", "sk-share", "epoch.7", "a_b-c.d", string(bytes.Repeat([]byte("a"), MaxNameLen))}
	for _, name := range good {
		if err := ValidateName(name); err != nil {
			t.Errorf("ValidateName(%q) = %v", name, err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("bad names created files: %d entries", len(entries))
	}
}

func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	const workers, rounds = 8, 10
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for r := range rounds {
				own := fmt.Sprintf("w%d-r%d", w, r)
				if err := s.Put(ctx, own, []byte(own)); err != nil {
					t.Error(err)
				}
				// All workers also race on one shared name.
				if err := s.Put(ctx, "shared", []byte(own)); err != nil {
					t.Error(err)
				}
				if _, err := s.Get(ctx, "shared"); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	for w := range workers {
		for r := range rounds {
			name := fmt.Sprintf("w%d-r%d", w, r)
			if got, err := s.Get(ctx, name); err != nil || string(got) != name {
				t.Errorf("Get(%q) = %q, %v", name, got, err)
			}
		}
	}
	names, err := s.Names(ctx)
	if err != nil || len(names) != workers*rounds+1 {
		t.Errorf("Names: %d names, %v; want %d (no stray files)", len(names), err, workers*rounds+1)
	}
}

// TestConcurrentCreate checks that processes creating the same new store
// at once end up sharing one header.
func TestConcurrentCreate(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "keys")
	stores := make([]*FileStore, 4)
	var wg sync.WaitGroup
	for i := range stores {
		wg.Go(func() {
			s, err := openFileStore(dir, []byte(testPassphrase), testKDF)
			if err != nil {
				t.Error(err)
			}
			stores[i] = s
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	mustPut(t, stores[0], "k", []byte("v"))
	for i, s := range stores {
		if got, err := s.Get(ctx, "k"); err != nil || string(got) != "v" {
			t.Errorf("store %d: Get = %q, %v", i, got, err)
		}
	}
}
