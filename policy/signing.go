package policy

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"

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

var (
	// ErrUnsigned reports a bundle without a signature where one is
	// required. It also matches [ErrBundle].
	ErrUnsigned error = &bundleSentinel{"policy bundle not signed"}

	// ErrBadSignature reports a signature that does not verify: a file was
	// changed, added or removed after signing, or the bundle was signed by
	// a key, or under a key ID, that is not trusted. It also matches
	// [ErrBundle].
	ErrBadSignature error = &bundleSentinel{"policy bundle signature rejected"}
)

// bundleSentinel is a sentinel error that also matches ErrBundle.
type bundleSentinel struct{ msg string }

func (e *bundleSentinel) Error() string        { return e.msg }
func (e *bundleSentinel) Is(target error) bool { return target == ErrBundle }

// VerificationKey is a public key trusted to sign policy bundles, such as
// the regulator's or the consortium's. ID is the key ID (JWT kid) the signer
// used; a signature made under another ID does not verify.
type VerificationKey struct {
	ID  string
	Key *ecdsa.PublicKey // P-256
}

// BundleInfo describes a bundle: what `fedscore policy inspect` and
// `fedscore policy verify` print.
type BundleInfo struct {
	Manifest bundle.Manifest // revision, roots, rego_version, metadata
	// Files lists every file except /.signatures.json, by path.
	Files []BundleFile
	// Digest is the hex SHA-256 over all files' paths and contents,
	// signature included: it identifies the exact bundle.
	Digest string
	// Signed reports that the bundle has a signatures file.
	Signed bool
	// KeyID is the key ID of the signature. It was checked only if Verified.
	KeyID    string
	Verified bool
}

// BundleFile is one file of a bundle.
type BundleFile struct {
	Path   string // slash-separated, relative to the bundle root
	Size   int
	SHA256 string // hex digest of the file's bytes
}

// BuildBundle reads the bundle at the root of src (nil means
// [DefaultBundle]) and returns it as an unsigned OPA bundle tarball with
// revision in its manifest; an empty revision keeps the manifest's. The
// policies and their tests must parse and compile under the engine's
// restrictions. Any signature in src is dropped.
func BuildBundle(src fs.FS, revision string) ([]byte, error) {
	return BuildBundleWithData(src, revision, nil)
}

// BuildBundleWithData is BuildBundle with overrides merged over the bundle's
// data.fedscore document first (nested objects merge; a key the bundle does
// not have is refused), for a consortium that adapts the default bundle's
// settings and then has it signed.
func BuildBundleWithData(src fs.FS, revision string, overrides map[string]any) ([]byte, error) {
	if src == nil {
		src = DefaultBundle()
	}
	files, err := readFileSet(src)
	if err != nil {
		return nil, err
	}
	l, err := loadBundle(files, sigIgnore, nil)
	if err != nil {
		return nil, err
	}
	if revision != "" {
		l.b.Manifest.Revision = revision
	}
	if l.b.Manifest.Revision == "" {
		return nil, fmt.Errorf("%w: no revision given and the manifest has none", ErrBundle)
	}
	if err := mergeData(l.b, overrides); err != nil {
		return nil, err
	}
	if err := compileCheck(l.b); err != nil {
		return nil, err
	}
	return writeBundle(l.b)
}

// SignBundle signs the bundle tarball with key (ECDSA P-256) under keyID and
// returns the signed tarball, with /.signatures.json in OPA's format. Any
// previous signature is replaced. Module sources are kept byte for byte;
// data and manifest are re-serialised, which does not change their signed
// (canonical JSON) digests.
func SignBundle(tarball []byte, key *ecdsa.PrivateKey, keyID string) ([]byte, error) {
	if keyID == "" {
		return nil, errors.New("policy: signing: empty key ID")
	}
	keyPEM, err := MarshalPrivateKeyPEM(key)
	if err != nil {
		return nil, fmt.Errorf("policy: signing: %w", err)
	}
	files, err := readTarball(tarball)
	if err != nil {
		return nil, err
	}
	l, err := loadBundle(files, sigIgnore, nil)
	if err != nil {
		return nil, err
	}
	if l.b.Manifest.Revision == "" {
		return nil, fmt.Errorf("%w: manifest has no revision", ErrBundle)
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

// VerifyBundle checks that the bundle tarball is signed by one of keys and
// unchanged since, and that it parses. Errors wrap [ErrUnsigned],
// [ErrBadSignature] or [ErrBundle].
func VerifyBundle(tarball []byte, keys ...VerificationKey) (*BundleInfo, error) {
	files, err := readTarball(tarball)
	if err != nil {
		return nil, err
	}
	l, err := loadBundle(files, sigRequire, keys)
	if err != nil {
		return nil, err
	}
	return &l.info, nil
}

// InspectBundle describes the bundle at the root of fsys without verifying
// its signature: Signed and KeyID report what the bundle claims.
func InspectBundle(fsys fs.FS) (*BundleInfo, error) {
	files, err := readFileSet(fsys)
	if err != nil {
		return nil, err
	}
	l, err := loadBundle(files, sigIgnore, nil)
	if err != nil {
		return nil, err
	}
	return &l.info, nil
}

// OpenBundle reads the bundle at path, a directory or a .tar.gz file, into
// an in-memory file system, without verifying it.
func OpenBundle(path string) (fs.FS, error) {
	files, err := readPath(path)
	if err != nil {
		return nil, err
	}
	return files.fs(), nil
}

// LoadSignedBundle reads the bundle at path (a .tar.gz file or a directory),
// verifies that one of keys signed it, and returns its files in memory for
// [Options.Bundle]. Pass the same keys in [Options.VerificationKeys]: the
// engine verifies again what it compiles.
func LoadSignedBundle(path string, keys ...VerificationKey) (fs.FS, error) {
	files, err := readPath(path)
	if err != nil {
		return nil, err
	}
	if _, err := loadBundle(files, sigRequire, keys); err != nil {
		return nil, err
	}
	return files.fs(), nil
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
