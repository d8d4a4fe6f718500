package vault

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/hashicorp/vault/api"
)

// Errors reported by Open, Store and Signer; test for them with errors.Is.
// Errors about the stored data itself use the keystore package's sentinels
// (keystore.ErrNotFound, keystore.ErrCorrupt, keystore.ErrInvalidName).
var (
	// ErrConfig reports an incomplete or contradictory Config.
	ErrConfig = errors.New("vaultstore: invalid configuration")
	// ErrUnreachable reports that no answer came from Vault: a wrong
	// address, a closed port, a TLS failure or a Vault that is not ready.
	ErrUnreachable = errors.New("vaultstore: Vault is unreachable")
	// ErrSealed reports a sealed (or uninitialized) Vault. It must be
	// unsealed by its operators before the node can use it.
	ErrSealed = errors.New("vaultstore: Vault is sealed")
	// ErrAuth reports a failed login: a wrong role_id or secret_id, a
	// wrapping token that was already used or has expired, or a token that
	// Vault does not accept.
	ErrAuth = errors.New("vaultstore: Vault login failed")
	// ErrDenied reports a request that Vault refused with "permission
	// denied": the token's policies do not allow it, or the token expired.
	ErrDenied = errors.New("vaultstore: Vault denied the request")
	// ErrKey reports a transit key that does not exist or has the wrong
	// type for its use.
	ErrKey = errors.New("vaultstore: transit key unusable")
	// ErrConflict reports a check-and-set conflict: the entry was created
	// or changed by someone else since it was read.
	ErrConflict = errors.New("vaultstore: entry changed concurrently")
	// ErrTooLarge reports a secret too large to store in one KV entry.
	ErrTooLarge = errors.New("vaultstore: secret too large")
	// ErrRefused reports any other error answer from Vault.
	ErrRefused = errors.New("vaultstore: Vault refused the request")
	// ErrClosed reports use of a Store after Close.
	ErrClosed = errors.New("vaultstore: store closed")
)

// classify turns an error from the Vault client into one wrapping the
// matching sentinel, naming the operation and the Vault address. An error
// after ctx ended wraps ctx's error instead.
func classify(ctx context.Context, op, addr string, err error) error {
	return classifyErr(ctx, op, addr, "", err)
}

// classifyLogin is classify for a login step: error answers other than
// sealed are ErrAuth, explained by hint.
func classifyLogin(ctx context.Context, op, addr, hint string, err error) error {
	return classifyErr(ctx, op, addr, hint, err)
}

func classifyErr(ctx context.Context, op, addr, loginHint string, err error) error {
	if err == nil {
		return nil
	}
	var re *api.ResponseError
	if !errors.As(err, &re) {
		if ctx.Err() != nil {
			// The caller gave up; that says nothing about Vault.
			return fmt.Errorf("vaultstore: %s at %s: %w", op, addr, errors.Join(ctx.Err(), err))
		}
		return fmt.Errorf("%w: %s at %s: %w", ErrUnreachable, op, addr, err)
	}
	msg := strings.Join(re.Errors, "; ")
	switch {
	case re.StatusCode == http.StatusServiceUnavailable && strings.Contains(strings.ToLower(msg), "sealed"):
		return fmt.Errorf("%w: %s at %s: unseal Vault before starting the node: %w", ErrSealed, op, addr, err)
	case loginHint != "":
		return fmt.Errorf("%w: %s at %s: Vault answered HTTP %d (%s); %s: %w",
			ErrAuth, op, addr, re.StatusCode, msg, loginHint, err)
	case re.StatusCode == http.StatusForbidden:
		return fmt.Errorf("%w: %s at %s: the token's policies do not allow it, or the token expired: %w",
			ErrDenied, op, addr, err)
	case re.StatusCode == http.StatusBadRequest && strings.Contains(msg, "check-and-set"):
		return fmt.Errorf("%w: %s at %s: %w", ErrConflict, op, addr, err)
	case re.StatusCode >= 500:
		return fmt.Errorf("%w: %s at %s: Vault answered HTTP %d (%s): %w", ErrUnreachable, op, addr, re.StatusCode, msg, err)
	default:
		return fmt.Errorf("%w: %s at %s: Vault answered HTTP %d (%s): %w", ErrRefused, op, addr, re.StatusCode, msg, err)
	}
}
