// Package keystore keeps a party's long-term secrets, such as its share of
// the collective homomorphic secret key, encrypted at rest.
//
// Store is the interface the rest of fedscore uses; FileStore implements it
// with a directory of encrypted files, the default for the embedded sandbox
// and for single-host deployments.
package keystore

import (
	"context"
	"errors"
	"fmt"
)

// Errors reported by stores; test for them with errors.Is.
var (
	// ErrNotFound reports that no secret is stored under a name.
	ErrNotFound = errors.New("keystore: secret not found")
	// ErrWrongPassphrase reports a passphrase that does not open the store.
	ErrWrongPassphrase = errors.New("keystore: wrong passphrase")
	// ErrCorrupt reports stored data that is damaged, tampered with, or was
	// moved from another name or store.
	ErrCorrupt = errors.New("keystore: corrupt data")
	// ErrInvalidName reports a secret name outside [a-z0-9][a-z0-9._-]*.
	ErrInvalidName = errors.New("keystore: invalid secret name")
	// ErrEmptyPassphrase reports an attempt to open a store without a
	// passphrase.
	ErrEmptyPassphrase = errors.New("keystore: empty passphrase")
)

// A Store keeps named secrets. Implementations are safe for concurrent use.
type Store interface {
	// Put stores secret under name, replacing any previous value.
	Put(ctx context.Context, name string, secret []byte) error
	// Get returns the secret stored under name, or ErrNotFound.
	Get(ctx context.Context, name string) ([]byte, error)
	// Delete removes the secret stored under name. Deleting a name that
	// holds no secret is not an error.
	Delete(ctx context.Context, name string) error
}

// MaxNameLen is the longest secret name a Store accepts.
const MaxNameLen = 128

// ValidateName reports whether name is a valid secret name: 1 to MaxNameLen
// characters matching [a-z0-9][a-z0-9._-]*. Such a name is safe to use as a
// file name or a path segment.
func ValidateName(name string) error {
	if name == "" || len(name) > MaxNameLen || !isLowerAlnum(name[0]) {
		return fmt.Errorf("%w: %q", ErrInvalidName, name)
	}
	for i := 1; i < len(name); i++ {
		if c := name[i]; !isLowerAlnum(c) && c != '.' && c != '_' && c != '-' {
			return fmt.Errorf("%w: %q", ErrInvalidName, name)
		}
	}
	return nil
}

func isLowerAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9'
}
