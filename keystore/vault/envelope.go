package vault

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/fedscore/fedscore/keystore"
)

// MaxSecretSize is the largest secret a Store keeps. Sealed and base64
// encoded it stays below the 1 MiB entry limit of Vault's integrated
// storage; a LogN 13 secret-key share (256 KiB) fits with room to spare.
const MaxSecretSize = 640 << 10

// envelopeFormat names the layout of an entry and is bound into its AAD.
const envelopeFormat = "fedscore.vaultstore.envelope.v1"

// An envelope is what a KV entry holds: the secret sealed with AES-256-GCM
// under a data key, and the data key wrapped by the transit key.
type envelope struct {
	kek        string // the transit key that wrapped the data key
	wrappedKey string // "vault:v<N>:..." from transit/datakey
	nonce      []byte
	ciphertext []byte
}

// fields is the KV data of e.
func (e *envelope) fields() map[string]any {
	return map[string]any{
		"format":      envelopeFormat,
		"kek":         e.kek,
		"wrapped_key": e.wrappedKey,
		"nonce":       base64.StdEncoding.EncodeToString(e.nonce),
		"ciphertext":  base64.StdEncoding.EncodeToString(e.ciphertext),
	}
}

// parseEnvelope reads the KV data of an entry; errors wrap
// keystore.ErrCorrupt.
func parseEnvelope(data map[string]any) (*envelope, error) {
	str := func(k string) (string, error) {
		v, ok := data[k].(string)
		if !ok || v == "" {
			return "", fmt.Errorf("%w: entry has no %s", keystore.ErrCorrupt, k)
		}
		return v, nil
	}
	format, err := str("format")
	if err != nil {
		return nil, err
	}
	if format != envelopeFormat {
		return nil, fmt.Errorf("%w: unknown entry format %q", keystore.ErrCorrupt, format)
	}
	var e envelope
	if e.kek, err = str("kek"); err != nil {
		return nil, err
	}
	if e.wrappedKey, err = str("wrapped_key"); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		key string
		dst *[]byte
	}{{"nonce", &e.nonce}, {"ciphertext", &e.ciphertext}} {
		s, err := str(f.key)
		if err != nil {
			return nil, err
		}
		if *f.dst, err = base64.StdEncoding.DecodeString(s); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", keystore.ErrCorrupt, f.key, err)
		}
	}
	return &e, nil
}

// aad binds a sealed secret to its format and its full KV path, so that an
// entry copied to another name, node or mount does not open.
func (s *Store) aad(name string) []byte {
	return []byte(envelopeFormat + "\x00" + s.cfg.KVMount + "\x00" + s.entryPath(name))
}

// seal asks transit for a fresh data key, seals secret under it and forgets
// the plaintext key.
func (s *Store) seal(ctx context.Context, name string, secret []byte) (*envelope, error) {
	path := s.cfg.TransitMount + "/datakey/plaintext/" + s.cfg.TransitKey
	resp, err := s.client.Logical().WriteWithContext(ctx, path, map[string]any{"bits": 256})
	if err != nil {
		return nil, classify(ctx, "get a data key ("+path+")", s.cfg.Address, err)
	}
	if resp == nil || resp.Data == nil {
		return nil, fmt.Errorf("%w: %s returned no data key", ErrRefused, path)
	}
	plain, _ := resp.Data["plaintext"].(string)
	wrapped, _ := resp.Data["ciphertext"].(string)
	if plain == "" || wrapped == "" {
		return nil, fmt.Errorf("%w: %s returned no data key", ErrRefused, path)
	}
	dek, err := base64.StdEncoding.DecodeString(plain)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: data key: %w", ErrRefused, path, err)
	}
	defer clear(dek)
	aead, err := newGCM(dek)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrRefused, path, err)
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("vaultstore: nonce: %w", err)
	}
	return &envelope{
		kek:        s.cfg.TransitKey,
		wrappedKey: wrapped,
		nonce:      nonce,
		ciphertext: aead.Seal(nil, nonce, secret, s.aad(name)),
	}, nil
}

// open has transit unwrap the entry's data key and opens the secret with
// it.
func (s *Store) open(ctx context.Context, name string, e *envelope) ([]byte, error) {
	path := s.cfg.TransitMount + "/decrypt/" + e.kek
	resp, err := s.client.Logical().WriteWithContext(ctx, path, map[string]any{"ciphertext": e.wrappedKey})
	if err != nil {
		err = classify(ctx, "unwrap the data key of "+name+" ("+path+")", s.cfg.Address, err)
		if errors.Is(err, ErrRefused) {
			// Transit rejects a damaged or foreign wrapped key.
			err = fmt.Errorf("%w: %w", keystore.ErrCorrupt, err)
		}
		return nil, err
	}
	var plain string
	if resp != nil && resp.Data != nil {
		plain, _ = resp.Data["plaintext"].(string)
	}
	dek, err := base64.StdEncoding.DecodeString(plain)
	if err != nil || len(dek) != 32 {
		clear(dek)
		return nil, fmt.Errorf("%w: %s: transit did not return a 256-bit data key", keystore.ErrCorrupt, name)
	}
	defer clear(dek)
	aead, err := newGCM(dek)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", keystore.ErrCorrupt, name, err)
	}
	if len(e.nonce) != aead.NonceSize() {
		return nil, fmt.Errorf("%w: %s: bad nonce length %d", keystore.ErrCorrupt, name, len(e.nonce))
	}
	secret, err := aead.Open(nil, e.nonce, e.ciphertext, s.aad(name))
	if err != nil {
		return nil, fmt.Errorf("%w: %s does not authenticate (tampered with, or moved from another name)", keystore.ErrCorrupt, name)
	}
	return secret, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("data key is %d bytes, want 32", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
