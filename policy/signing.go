package policy

import (
	"bytes"
	"cmp"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
)

// Signed bundles
//
// A signed bundle is an ordinary OPA bundle tarball whose /.signatures.json
// holds one ES256 JWT listing the SHA-256 digest of every other file (OPA's
// format: `opa run --verification-key` and `opa build --verification-key`
// accept it). ES256 because OPA has no Ed25519. The signature covers the
// *_test.rego files too, so a regulator signs exactly the policies and tests
// they reviewed; the engine drops the tests only after verification.
//
// A node passes its trusted keys in [Options.VerificationKeys]; [NewEngine]
// and [Engine.Reload] then activate nothing that is unsigned (ErrUnsigned),
// tampered with or signed by another key or under another key ID
// (ErrBadSignature).

// signingAlgorithm is the only JWT algorithm fedscore signs and accepts.
const signingAlgorithm = "ES256"

// VerificationKey is a public key trusted to sign policy bundles, such as
// the regulator's or the consortium's. ID is the key ID (JWT kid) the signer
// used; a signature made under another ID does not verify.
type VerificationKey struct {
	ID  string
	Key *ecdsa.PublicKey // P-256
}

// BuildOptions say what [BuildBundle] writes into a bundle.
type BuildOptions struct {
	// Revision is the readable revision; empty keeps the manifest's.
	Revision string
	// Sequence is the bundle's number in its signer's series, above that
	// of every bundle signed before it; zero keeps the manifest's.
	Sequence uint64
	// NotAfter is when the bundle expires. Zero means ValidFor from now.
	NotAfter time.Time
	// ValidFor is the validity from now when NotAfter is zero; zero means
	// [DefaultValidity].
	ValidFor time.Duration
	// Data is merged over the bundle's data.fedscore document (nested
	// objects merge; a top-level key the bundle does not have is refused),
	// for a consortium that adapts the default bundle's settings and then
	// has it signed.
	Data map[string]any
}

// BuildBundle reads the bundle at the root of src (nil means
// [DefaultBundle]) and returns it as an unsigned OPA bundle tarball whose
// manifest states the revision, sequence and expiry in opts. The policies
// and their tests must parse and compile under the engine's restrictions.
// Any signature in src is dropped.
func BuildBundle(src fs.FS, opts BuildOptions) ([]byte, error) {
	if src == nil {
		src = DefaultBundle()
	}
	l, err := load(fromFS(src), sigIgnore, nil)
	if err != nil {
		return nil, err
	}
	m := &l.b.Manifest
	if opts.Revision != "" {
		m.Revision = opts.Revision
	}
	seq := cmp.Or(opts.Sequence, l.info.Sequence)
	notAfter := opts.NotAfter
	if notAfter.IsZero() {
		notAfter = time.Now().Add(cmp.Or(opts.ValidFor, DefaultValidity))
	}
	switch {
	case m.Revision == "":
		return nil, fmt.Errorf("%w: no revision given and the manifest has none", ErrBundle)
	case seq == 0:
		return nil, fmt.Errorf("%w: no sequence given and the manifest has none", ErrBundle)
	case opts.ValidFor < 0:
		return nil, fmt.Errorf("%w: negative validity %v", ErrBundle, opts.ValidFor)
	}
	if err := setManifestVersion(m, seq, notAfter); err != nil {
		return nil, err
	}
	if err := mergeData(l.b, opts.Data); err != nil {
		return nil, err
	}
	if err := compileCheck(l.b); err != nil {
		return nil, err
	}
	return writeBundle(l.b)
}

// SignBundle signs the bundle tarball with key (ECDSA P-256) under keyID and
// returns the signed tarball, with /.signatures.json in OPA's format. Any
// previous signature is replaced. The manifest must state a revision, a
// sequence and an expiry ([BuildBundle] writes them). Module sources are
// kept byte for byte; data and manifest are re-serialised, which does not
// change their signed (canonical JSON) digests.
func SignBundle(tarball []byte, key *ecdsa.PrivateKey, keyID string) ([]byte, error) {
	if keyID == "" {
		return nil, errors.New("policy: signing: empty key ID")
	}
	keyPEM, err := MarshalPrivateKeyPEM(key)
	if err != nil {
		return nil, fmt.Errorf("policy: signing: %w", err)
	}
	l, err := load(fromTarball(tarball), sigIgnore, nil)
	if err != nil {
		return nil, err
	}
	if err := l.checkManifest(true); err != nil {
		return nil, err
	}
	l.b.Signatures = bundle.SignaturesConfig{}
	sc := bundle.NewSigningConfig(string(keyPEM), signingAlgorithm, "")
	if err := l.b.GenerateSignature(sc, keyID, false); err != nil {
		return nil, fmt.Errorf("policy: signing: %w", err)
	}
	signed, err := writeBundle(l.b)
	if err != nil {
		return nil, err
	}
	// Never hand out a signature that a node would reject.
	if _, err := VerifyBundle(signed, VerificationKey{ID: keyID, Key: &key.PublicKey}); err != nil {
		return nil, fmt.Errorf("policy: signing: the signed bundle does not verify: %w", err)
	}
	return signed, nil
}

// CheckSuccessor reports an error unless next may follow prev in a
// signer's series: its sequence must be above prev's. Signers check each
// new bundle against the last one they signed, so that no two bundles
// share a sequence and none goes back.
func CheckSuccessor(prev, next *BundleInfo) error {
	if next.Sequence <= prev.Sequence {
		return fmt.Errorf("%w: sequence %d (revision %s) is not above %d of the previous bundle (revision %s)",
			ErrRollback, next.Sequence, next.Manifest.Revision, prev.Sequence, prev.Manifest.Revision)
	}
	return nil
}

// writeBundle serialises b as a gzipped tarball, modules at their paths.
func writeBundle(b *bundle.Bundle) ([]byte, error) {
	var buf bytes.Buffer
	if err := bundle.NewWriter(&buf).Write(*b); err != nil {
		return nil, fmt.Errorf("%w: writing: %w", ErrBundle, err)
	}
	return buf.Bytes(), nil
}

// compileCheck compiles all of b's modules, tests included, as the engine
// and the test runner do.
func compileCheck(b *bundle.Bundle) error {
	c := ast.NewCompiler().
		WithCapabilities(capabilities()).
		WithDefaultRegoVersion(ast.RegoV1).
		WithStrict(true)
	if c.Compile(b.ParsedModules(bundleName)); c.Failed() {
		return fmt.Errorf("%w: revision %s: %w", ErrBundle, b.Manifest.Revision, c.Errors)
	}
	return nil
}

// MarshalPrivateKeyPEM encodes an ECDSA P-256 bundle signing key as a
// PKCS#8 "PRIVATE KEY" PEM block.
func MarshalPrivateKeyPEM(key *ecdsa.PrivateKey) ([]byte, error) {
	if key == nil || key.Curve != elliptic.P256() {
		return nil, errors.New("bundle signing key must be ECDSA P-256 (ES256)")
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// MarshalPublicKeyPEM encodes an ECDSA P-256 verification key as a PKIX
// "PUBLIC KEY" PEM block, the form `opa run --verification-key` reads.
func MarshalPublicKeyPEM(key *ecdsa.PublicKey) ([]byte, error) {
	if key == nil || key.Curve != elliptic.P256() {
		return nil, errors.New("bundle verification key must be ECDSA P-256 (ES256)")
	}
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ParsePrivateKeyPEM decodes an ECDSA P-256 signing key from a PKCS#8
// "PRIVATE KEY" or SEC 1 "EC PRIVATE KEY" PEM block.
func ParsePrivateKeyPEM(data []byte) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("PEM block %q is not a private key", block.Type)
	}
	if err != nil {
		return nil, err
	}
	k, ok := key.(*ecdsa.PrivateKey)
	if !ok || k.Curve != elliptic.P256() {
		return nil, errors.New("bundle signing key must be ECDSA P-256 (ES256)")
	}
	return k, nil
}

// ParsePublicKeyPEM decodes an ECDSA P-256 verification key from a PKIX
// "PUBLIC KEY" PEM block.
func ParsePublicKeyPEM(data []byte) (*ecdsa.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	if block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("PEM block %q is not a public key", block.Type)
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	k, ok := key.(*ecdsa.PublicKey)
	if !ok || k.Curve != elliptic.P256() {
		return nil, errors.New("bundle verification key must be ECDSA P-256 (ES256)")
	}
	return k, nil
}
