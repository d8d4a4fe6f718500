package policy

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strings"
	"testing/fstest"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
)

// maxBundleBytes bounds the uncompressed size of a bundle, so that a
// corrupt or hostile tarball cannot exhaust a node's memory.
const maxBundleBytes = 64 << 20

// signaturesFile is where an OPA bundle keeps its signature.
const signaturesFile = ".signatures.json"

// defaultSignaturePlugin names OPA's built-in bundle signer and verifier.
const defaultSignaturePlugin = "_default"

// fileSet is a snapshot of a bundle's files by slash-separated path relative
// to the bundle root. Verification and parsing both read the snapshot, so
// what was verified is exactly what is compiled.
type fileSet map[string][]byte

// readFileSet snapshots the regular files under the root of fsys. Like OPA's
// loaders it skips anything that is not a regular file.
func readFileSet(fsys fs.FS) (fileSet, error) {
	files := fileSet{}
	var total int64
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		if total += int64(len(data)); total > maxBundleBytes {
			return fmt.Errorf("bundle larger than %d bytes", maxBundleBytes)
		}
		files[name] = data
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBundle, err)
	}
	return files, nil
}

// readTarball snapshots the files of a gzipped tar bundle.
func readTarball(tarball []byte) (fileSet, error) {
	gz, err := gzip.NewReader(bytes.NewReader(tarball))
	if err != nil {
		return nil, fmt.Errorf("%w: not a .tar.gz bundle: %w", ErrBundle, err)
	}
	// Read one byte past the limit to detect an oversized archive.
	tr := tar.NewReader(io.LimitReader(gz, maxBundleBytes+1))
	files := fileSet{}
	var total int64
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: reading tarball: %w", ErrBundle, err)
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			continue
		case tar.TypeReg:
		default:
			return nil, fmt.Errorf("%w: tarball entry %s is not a regular file", ErrBundle, hdr.Name)
		}
		name := strings.TrimPrefix(strings.TrimPrefix(hdr.Name, "/"), "./")
		if !fs.ValidPath(name) || name == "." {
			return nil, fmt.Errorf("%w: tarball entry %q has an invalid path", ErrBundle, hdr.Name)
		}
		if _, dup := files[name]; dup {
			return nil, fmt.Errorf("%w: tarball holds %s twice", ErrBundle, name)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("%w: reading %s: %w", ErrBundle, name, err)
		}
		if total += int64(len(data)); total > maxBundleBytes {
			return nil, fmt.Errorf("%w: bundle larger than %d bytes", ErrBundle, maxBundleBytes)
		}
		files[name] = data
	}
	if err := gz.Close(); err != nil {
		return nil, fmt.Errorf("%w: reading tarball: %w", ErrBundle, err)
	}
	return files, nil
}

// readPath snapshots the bundle at path: a directory or a .tar.gz file. It
// also returns a key identifying what it read, the digest of a directory's
// files or of a tarball's bytes (even when they do not parse), and zero if
// it read nothing.
func readPath(path string) (files fileSet, key [sha256.Size]byte, err error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, key, fmt.Errorf("%w: %w", ErrBundle, err)
	}
	if fi.IsDir() {
		if files, err = readFileSet(os.DirFS(path)); err != nil {
			return nil, key, err
		}
		return files, files.digest(), nil
	}
	if fi.Size() > maxBundleBytes {
		return nil, key, fmt.Errorf("%w: %s is larger than %d bytes", ErrBundle, path, maxBundleBytes)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, key, fmt.Errorf("%w: %w", ErrBundle, err)
	}
	files, err = readTarball(data)
	return files, sha256.Sum256(data), err
}

func (f fileSet) names() []string { return slices.Sorted(maps.Keys(f)) }

// fs returns the snapshot as a read-only file system.
func (f fileSet) fs() fs.FS {
	m := make(fstest.MapFS, len(f))
	for name, data := range f {
		m[name] = &fstest.MapFile{Data: data, Mode: 0o444}
	}
	return m
}

// digest identifies the exact content of the bundle: SHA-256 over every
// file's path and content, in path order.
func (f fileSet) digest() [sha256.Size]byte {
	h := sha256.New()
	for _, name := range f.names() {
		fmt.Fprintf(h, "%d:%s\x00%d:", len(name), name, len(f[name]))
		h.Write(f[name])
	}
	return [sha256.Size]byte(h.Sum(nil))
}

// signatures returns the bundle's signatures file names; a valid signed
// bundle has exactly one, at the root.
func (f fileSet) signatures() []string {
	var out []string
	for _, name := range f.names() {
		if bundle.IsSignaturesFile(name) {
			out = append(out, name)
		}
	}
	return out
}

// sigMode says how readBundle treats a bundle's signature.
type sigMode int

const (
	// sigRequire activates only a bundle signed by one of the keys.
	sigRequire sigMode = iota
	// sigRefuse refuses a signed bundle: with no keys to check it, loading
	// it would quietly skip the check its author asked for.
	sigRefuse
	// sigIgnore reads a bundle without checking its signature, for tools
	// that never activate it (tests, build, sign, inspect).
	sigIgnore
)

// loaded is a parsed bundle and what is known about its files.
type loaded struct {
	b      *bundle.Bundle
	files  fileSet
	info   BundleInfo
	digest [sha256.Size]byte
}

// A bundleSource yields the files of a bundle: a file system, a tarball
// in memory or a path.
type bundleSource func() (fileSet, error)

func fromFS(fsys fs.FS) bundleSource    { return func() (fileSet, error) { return readFileSet(fsys) } }
func fromTarball(b []byte) bundleSource { return func() (fileSet, error) { return readTarball(b) } }
func fromPath(path string) bundleSource {
	return func() (fileSet, error) {
		files, _, err := readPath(path)
		return files, err
	}
}

// load snapshots the bundle in src and reads it with readBundle.
func load(src bundleSource, mode sigMode, keys []VerificationKey) (*loaded, error) {
	files, err := src()
	if err != nil {
		return nil, err
	}
	return readBundle(files, mode, keys)
}

// readBundle is the one reader and verifier of bundles: engines at start
// and on every reload, the watcher, the test runner and every policy
// command read bundles through it. It verifies the signature (per mode),
// parses the bundle and reads its manifest's version; a signed bundle it
// verifies must state its revision, sequence and expiry.
//
// With sigRequire the signature is checked twice: first file by file here,
// so that an unsigned bundle (ErrUnsigned) and a bad signature
// (ErrBadSignature) are told apart from a policy that does not parse
// (ErrBundle), and then again by OPA's own bundle reader while it parses.
func readBundle(files fileSet, mode sigMode, keys []VerificationKey) (*loaded, error) {
	l := &loaded{files: files, digest: files.digest()}
	l.info.Digest = hex.EncodeToString(l.digest[:])
	for _, name := range files.names() {
		if bundle.IsSignaturesFile(name) {
			continue
		}
		sum := sha256.Sum256(files[name])
		l.info.Files = append(l.info.Files, BundleFile{Path: name, Size: len(files[name]), SHA256: hex.EncodeToString(sum[:])})
	}
	sigs := files.signatures()
	l.info.Signed = len(sigs) > 0
	if len(sigs) == 1 {
		l.info.KeyID = claimedKeyID(files[sigs[0]])
	}

	var vc *bundle.VerificationConfig
	switch mode {
	case sigRequire:
		var err error
		if vc, err = verificationConfig(keys); err != nil {
			return nil, err
		}
		if l.info.KeyID, err = verifySignature(files, vc); err != nil {
			return nil, err
		}
		l.info.Verified = true
	case sigRefuse:
		if l.info.Signed {
			return nil, fmt.Errorf("%w: the bundle is signed but no verification keys are configured", ErrBundle)
		}
	}

	loader, err := bundle.NewFSLoader(files.fs())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBundle, err)
	}
	// Slash-rooted paths keep the leading dot of /.signatures.json, which
	// the default chrooted format strips, hiding the signature from OPA.
	r := bundle.NewCustomReader(loader.WithPathFormat(bundle.SlashRooted)).
		WithBundleName(bundleName).
		WithRegoVersion(ast.RegoV1).
		WithCapabilities(capabilities()).
		WithProcessAnnotations(true).
		WithSizeLimitBytes(maxBundleBytes)
	if vc != nil {
		r = r.WithBundleVerificationConfig(vc).WithSkipBundleVerification(false)
	} else {
		r = r.WithSkipBundleVerification(true)
	}
	b, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%w: reading: %w", ErrBundle, err)
	}
	l.b = &b
	l.info.Manifest = b.Manifest
	if l.info.Sequence, l.info.NotAfter, err = manifestVersion(b.Manifest); err != nil {
		return nil, err
	}
	if l.info.Verified {
		if err := l.checkManifest(true); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// checkManifest reports what the bundle's manifest lacks: a revision, which
// every decision is audited with, and, if versioned, the sequence and
// expiry every signed bundle carries.
func (l *loaded) checkManifest(versioned bool) error {
	switch {
	case l.info.Manifest.Revision == "":
		return fmt.Errorf("%w: manifest has no revision", ErrBundle)
	case versioned && l.info.Sequence == 0:
		return fmt.Errorf("%w: revision %s: manifest has no metadata.%s; build it with a sequence", ErrBundle, l.info.Manifest.Revision, metaSequence)
	case versioned && l.info.NotAfter.IsZero():
		return fmt.Errorf("%w: revision %s: manifest has no metadata.%s; build it with an expiry", ErrBundle, l.info.Manifest.Revision, metaNotAfter)
	}
	return nil
}

// verifySignature checks the bundle's /.signatures.json against vc and every
// file against the signed digests, with OPA's verifier, and returns the ID
// of the key that signed it.
func verifySignature(files fileSet, vc *bundle.VerificationConfig) (string, error) {
	sigs := files.signatures()
	switch {
	case len(sigs) == 0:
		return "", fmt.Errorf("%w: no /%s", ErrUnsigned, signaturesFile)
	case len(sigs) > 1 || sigs[0] != signaturesFile:
		return "", fmt.Errorf("%w: signatures files %v, want exactly /%s", ErrBadSignature, sigs, signaturesFile)
	}
	var sc bundle.SignaturesConfig
	if err := json.Unmarshal(files[signaturesFile], &sc); err != nil {
		return "", fmt.Errorf("%w: %s: %w", ErrBadSignature, signaturesFile, err)
	}
	// Only OPA's built-in verifier ("_default", which OPA writes) is
	// accepted, never a signature plugin some other package registered.
	if sc.Plugin != "" && sc.Plugin != defaultSignaturePlugin {
		return "", fmt.Errorf("%w: signature plugin %q is not accepted", ErrBadSignature, sc.Plugin)
	}
	if len(sc.Signatures) != 1 {
		return "", fmt.Errorf("%w: %d signatures, want exactly one", ErrBadSignature, len(sc.Signatures))
	}
	signed, err := bundle.VerifyBundleSignature(sc, vc)
	if err != nil {
		return "", fmt.Errorf("%w: %w (signature key id %q, trusted %v)", ErrBadSignature, err,
			tokenKeyID(sc.Signatures[0]), slices.Sorted(maps.Keys(vc.PublicKeys)))
	}
	for _, name := range files.names() {
		if name == signaturesFile {
			continue
		}
		if err := bundle.VerifyBundleFile(name, *bytes.NewBuffer(files[name]), signed); err != nil {
			return "", fmt.Errorf("%w: %w", ErrBadSignature, err)
		}
	}
	if len(signed) > 0 {
		return "", fmt.Errorf("%w: signed files missing from the bundle: %v", ErrBadSignature, slices.Sorted(maps.Keys(signed)))
	}
	return tokenKeyID(sc.Signatures[0]), nil
}

// verificationConfig builds OPA's verification config trusting keys. It
// names no key ID, so OPA picks the key by the signature's kid: a bundle
// signed under an ID that is not trusted does not verify, even by a
// trusted key.
func verificationConfig(keys []VerificationKey) (*bundle.VerificationConfig, error) {
	if len(keys) == 0 {
		return nil, errors.New("policy: no verification keys given")
	}
	kcs := make(map[string]*bundle.KeyConfig, len(keys))
	for _, k := range keys {
		if k.ID == "" {
			return nil, errors.New("policy: verification key without an ID")
		}
		if _, dup := kcs[k.ID]; dup {
			return nil, fmt.Errorf("policy: verification key ID %q given twice", k.ID)
		}
		pemKey, err := MarshalPublicKeyPEM(k.Key)
		if err != nil {
			return nil, fmt.Errorf("policy: verification key %q: %w", k.ID, err)
		}
		kcs[k.ID] = &bundle.KeyConfig{Key: string(pemKey), Algorithm: signingAlgorithm}
	}
	return bundle.NewVerificationConfig(kcs, "", "", nil), nil
}

// claimedKeyID returns the key ID a signatures file claims, unverified.
func claimedKeyID(sigFile []byte) string {
	var sc bundle.SignaturesConfig
	if json.Unmarshal(sigFile, &sc) != nil || len(sc.Signatures) != 1 {
		return ""
	}
	return tokenKeyID(sc.Signatures[0])
}

// tokenKeyID returns the key ID a bundle JWT names the way OPA's verifier
// reads it: the kid header, else the deprecated keyid claim.
func tokenKeyID(token string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return ""
	}
	var hdr struct {
		KID string `json:"kid"`
	}
	if raw, err := base64.RawURLEncoding.DecodeString(parts[0]); err == nil && json.Unmarshal(raw, &hdr) == nil && hdr.KID != "" {
		return hdr.KID
	}
	var claims struct {
		KeyID string `json:"keyid"`
	}
	if raw, err := base64.RawURLEncoding.DecodeString(parts[1]); err == nil && json.Unmarshal(raw, &claims) == nil {
		return claims.KeyID
	}
	return ""
}

// BundleInfo describes a bundle: what `fedscore policy inspect` and
// `fedscore policy verify` print.
type BundleInfo struct {
	Manifest bundle.Manifest // revision, roots, rego_version, metadata
	// Sequence and NotAfter are the bundle's place in its signer's series
	// and its expiry, from the manifest's metadata; zero when absent,
	// which a verified bundle never is.
	Sequence uint64
	NotAfter time.Time
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

// VerifyBundle checks that the bundle tarball is signed by one of keys and
// unchanged since, that it parses, and that its manifest states a
// revision, a sequence and an expiry. Whether it has expired, or is older
// than what a node has run, is the node's check at activation. Errors wrap
// [ErrUnsigned], [ErrBadSignature] or [ErrBundle].
func VerifyBundle(tarball []byte, keys ...VerificationKey) (*BundleInfo, error) {
	l, err := load(fromTarball(tarball), sigRequire, keys)
	if err != nil {
		return nil, err
	}
	return &l.info, nil
}

// InspectBundle describes the bundle at the root of fsys without verifying
// its signature: Signed and KeyID report what the bundle claims.
func InspectBundle(fsys fs.FS) (*BundleInfo, error) {
	l, err := load(fromFS(fsys), sigIgnore, nil)
	if err != nil {
		return nil, err
	}
	return &l.info, nil
}

// OpenBundle reads the bundle at path, a directory or a .tar.gz file, into
// an in-memory file system, without verifying it.
func OpenBundle(path string) (fs.FS, error) {
	files, _, err := readPath(path)
	if err != nil {
		return nil, err
	}
	return files.fs(), nil
}

// LoadSignedBundle reads the bundle at path (a .tar.gz file or a directory),
// verifies it like [VerifyBundle], and returns its files in memory for
// [Options.Bundle]. Pass the same keys in [Options.VerificationKeys]: the
// engine verifies again what it compiles.
func LoadSignedBundle(path string, keys ...VerificationKey) (fs.FS, error) {
	l, err := load(fromPath(path), sigRequire, keys)
	if err != nil {
		return nil, err
	}
	return l.files.fs(), nil
}
