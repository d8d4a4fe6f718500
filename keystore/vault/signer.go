package vault

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// A Signer is a crypto.Signer whose ECDSA P-256 private key is a transit key
// of type ecdsa-p256: Vault signs, the key never leaves it. It signs with the
// key version that was current when it was made, so that every signature
// verifies under Public; make a new Signer after rotating the key.
//
// A Signer is safe for concurrent use, and stops working when its Store is
// closed.
type Signer struct {
	s       *Store
	name    string
	version int
	pub     *ecdsa.PublicKey
}

var _ crypto.Signer = (*Signer)(nil)

// transitKeyInfo is what transit/keys/<name> tells about a key.
type transitKeyInfo struct {
	typ     string
	latest  int
	pubPEMs map[int]string // public keys by version, for asymmetric keys
}

// transitKey reads the transit key name and checks that it has type typ.
func (s *Store) transitKey(ctx context.Context, name, typ string) (*transitKeyInfo, error) {
	path := s.cfg.TransitMount + "/keys/" + name
	resp, err := s.client.Logical().ReadWithContext(ctx, path)
	if err != nil {
		return nil, classify(ctx, "read transit key "+path, s.cfg.Address, err)
	}
	if resp == nil || resp.Data == nil {
		return nil, fmt.Errorf("%w: transit key %s does not exist; create it with type %s", ErrKey, path, typ)
	}
	info := &transitKeyInfo{pubPEMs: map[int]string{}}
	info.typ, _ = resp.Data["type"].(string)
	if info.typ != typ {
		return nil, fmt.Errorf("%w: transit key %s has type %q, want %q", ErrKey, path, info.typ, typ)
	}
	if info.latest, err = jsonInt(resp.Data["latest_version"]); err != nil || info.latest < 1 {
		return nil, fmt.Errorf("%w: transit key %s: bad latest_version %v", ErrKey, path, resp.Data["latest_version"])
	}
	keys, _ := resp.Data["keys"].(map[string]any)
	for v, k := range keys {
		n, err := strconv.Atoi(v)
		if err != nil {
			continue
		}
		if m, ok := k.(map[string]any); ok {
			if p, ok := m["public_key"].(string); ok {
				info.pubPEMs[n] = p
			}
		}
	}
	return info, nil
}

// Signer returns a Signer for the ecdsa-p256 transit key name, which must
// exist. It fails with ErrKey if the key has another type.
func (s *Store) Signer(ctx context.Context, name string) (*Signer, error) {
	if name == "" || strings.Contains(name, "/") {
		return nil, fmt.Errorf("%w: signing key name %q", ErrConfig, name)
	}
	info, err := s.transitKey(ctx, name, "ecdsa-p256")
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode([]byte(info.pubPEMs[info.latest]))
	if block == nil {
		return nil, fmt.Errorf("%w: transit key %s has no public key for version %d", ErrKey, name, info.latest)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: transit key %s: public key: %w", ErrKey, name, err)
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: transit key %s: public key is %T, want ECDSA P-256", ErrKey, name, pub)
	}
	return &Signer{s: s, name: name, version: info.latest, pub: ec}, nil
}

// Public returns the signing key's public key, an *ecdsa.PublicKey.
func (g *Signer) Public() crypto.PublicKey { return g.pub }

// KeyVersion returns the transit key version the Signer signs with.
func (g *Signer) KeyVersion() int { return g.version }

// Sign signs a SHA-256 digest and returns an ASN.1 ECDSA signature, like
// ecdsa.PrivateKey.Sign. rand is not used: Vault draws the nonce. The
// request is bounded by the Store's Config.Timeout.
func (g *Signer) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), g.s.cfg.Timeout)
	defer cancel()
	return g.SignContext(ctx, digest, opts)
}

// SignContext is Sign with a context.
func (g *Signer) SignContext(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts == nil || opts.HashFunc() != crypto.SHA256 || len(digest) != crypto.SHA256.Size() {
		return nil, fmt.Errorf("vaultstore: sign: want a SHA-256 digest (got %d bytes)", len(digest))
	}
	select {
	case <-g.s.closed:
		return nil, ErrClosed
	default:
	}
	path := g.s.cfg.TransitMount + "/sign/" + g.name
	resp, err := g.s.client.Logical().WriteWithContext(ctx, path, map[string]any{
		"input":                base64.StdEncoding.EncodeToString(digest),
		"prehashed":            true,
		"hash_algorithm":       "sha2-256",
		"marshaling_algorithm": "asn1",
		"key_version":          g.version,
	})
	if err != nil {
		return nil, classify(ctx, "sign ("+path+")", g.s.cfg.Address, err)
	}
	var sig string
	if resp != nil && resp.Data != nil {
		sig, _ = resp.Data["signature"].(string)
	}
	prefix := "vault:v" + strconv.Itoa(g.version) + ":"
	raw, ok := strings.CutPrefix(sig, prefix)
	if !ok {
		return nil, fmt.Errorf("%w: %s returned %q, want a signature starting %q", ErrRefused, path, truncate(sig), prefix)
	}
	der, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: signature: %w", ErrRefused, path, err)
	}
	// A signature that does not verify under Public is worse than none.
	if !ecdsa.VerifyASN1(g.pub, digest, der) {
		return nil, fmt.Errorf("%w: %s: signature does not verify under key version %d", ErrKey, path, g.version)
	}
	return der, nil
}

// jsonInt reads an integer from decoded Vault JSON.
func jsonInt(v any) (int, error) {
	switch n := v.(type) {
	case json.Number:
		i, err := n.Int64()
		return int(i), err
	case float64:
		return int(n), nil
	case int:
		return n, nil
	}
	return 0, fmt.Errorf("not a number: %T", v)
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
