package policy_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/loader"

	"github.com/fedscore/fedscore/policy"
)

// newSigningKey generates a fresh bundle signing key; no key is committed.
func newSigningKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func trust(id string, k *ecdsa.PrivateKey) policy.VerificationKey {
	return policy.VerificationKey{ID: id, Key: &k.PublicKey}
}

// buildBundle builds the default bundle, or src, with revision, sequence 1
// and the default validity.
func buildBundle(t testing.TB, src fs.FS, revision string) []byte {
	t.Helper()
	return build(t, src, policy.BuildOptions{Revision: revision, Sequence: 1})
}

// build builds the default bundle, or src, with opts.
func build(t testing.TB, src fs.FS, opts policy.BuildOptions) []byte {
	t.Helper()
	tb, err := policy.BuildBundle(src, opts)
	if err != nil {
		t.Fatalf("BuildBundle: %v", err)
	}
	return tb
}

func signBundle(t testing.TB, tarball []byte, k *ecdsa.PrivateKey, keyID string) []byte {
	t.Helper()
	signed, err := policy.SignBundle(tarball, k, keyID)
	if err != nil {
		t.Fatalf("SignBundle: %v", err)
	}
	return signed
}

// tarEntry is one file of a bundle tarball.
type tarEntry struct {
	name string
	data []byte
}

func readTar(t testing.TB, tarball []byte) []tarEntry {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(tarball))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var out []tarEntry
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tarEntry{hdr.Name, data})
	}
}

func writeTar(t testing.TB, entries []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// editTar rewrites a tarball: edit returns a file's new content, or nil to
// drop it. It fails the test if no file named name exists.
func editTar(t testing.TB, tarball []byte, name string, edit func([]byte) []byte) []byte {
	t.Helper()
	var out []tarEntry
	found := false
	for _, e := range readTar(t, tarball) {
		if strings.TrimPrefix(e.name, "/") == name {
			found = true
			if e.data = edit(bytes.Clone(e.data)); e.data == nil {
				continue
			}
		}
		out = append(out, e)
	}
	if !found {
		t.Fatalf("tarball has no %s", name)
	}
	return writeTar(t, out)
}

// replace returns an edit replacing old by new, which must occur.
func replace(t testing.TB, old, new string) func([]byte) []byte {
	return func(b []byte) []byte {
		if !bytes.Contains(b, []byte(old)) {
			t.Fatalf("%q not found in %s", old, b)
		}
		return bytes.Replace(b, []byte(old), []byte(new), 1)
	}
}

// flipByte changes one byte of a file in the middle.
func flipByte(b []byte) []byte {
	b[len(b)/2] ^= 0x01
	return b
}

func TestSignVerifyRoundTrip(t *testing.T) {
	key := newSigningKey(t)
	signed := signBundle(t, buildBundle(t, nil, "rev-42"), key, "regulator")

	info, err := policy.VerifyBundle(signed, trust("regulator", key))
	if err != nil {
		t.Fatalf("VerifyBundle: %v", err)
	}
	if info.Manifest.Revision != "rev-42" || info.KeyID != "regulator" || !info.Signed || !info.Verified {
		t.Errorf("info = revision %q, key id %q, signed %v, verified %v", info.Manifest.Revision, info.KeyID, info.Signed, info.Verified)
	}
	var paths []string
	for _, f := range info.Files {
		paths = append(paths, f.Path)
	}
	// The signature covers the tests too: the regulator signs what they reviewed.
	for _, want := range []string{".manifest", "data.json", "fedscore/admission.rego", "fedscore/admission_test.rego", "fedscore/cohort_test.rego"} {
		if !slices.Contains(paths, want) {
			t.Errorf("verified files %v lack %s", paths, want)
		}
	}

	// The signature is OPA's format: one ES256 JWT naming the key.
	var sigs bundle.SignaturesConfig
	for _, e := range readTar(t, signed) {
		if e.name == "/.signatures.json" {
			if err := json.Unmarshal(e.data, &sigs); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(sigs.Signatures) != 1 || (sigs.Plugin != "" && sigs.Plugin != "_default") {
		t.Fatalf("signatures = %+v, want one JWT and OPA's default verifier", sigs)
	}
	hdr, err := base64.RawURLEncoding.DecodeString(strings.Split(sigs.Signatures[0], ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(hdr, &h); err != nil {
		t.Fatal(err)
	}
	if h["alg"] != "ES256" || h["kid"] != "regulator" {
		t.Errorf("JWT header = %v, want alg ES256 and kid regulator", h)
	}

	// Module sources are signed byte for byte as reviewed.
	want, err := fs.ReadFile(policy.DefaultBundle(), "fedscore/admission.rego")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range readTar(t, signed) {
		if e.name == "/fedscore/admission.rego" && !bytes.Equal(e.data, want) {
			t.Error("signing changed fedscore/admission.rego")
		}
	}
}

// TestSignedBundleLoadsInOPA loads the signed tarball the way `opa run
// --verification-key pub.pem` does: OPA's file loader with a configured key
// ID, which ignores our kid.
func TestSignedBundleLoadsInOPA(t *testing.T) {
	key := newSigningKey(t)
	pubPEM, err := policy.MarshalPublicKeyPEM(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	signed := signBundle(t, buildBundle(t, nil, "rev-opa"), key, "regulator")
	dir := t.TempDir()
	for name, data := range map[string][]byte{
		"signed.tar.gz":   signed,
		"tampered.tar.gz": editTar(t, signed, "fedscore/cohort.rego", flipByte),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	vc := func() *bundle.VerificationConfig {
		return bundle.NewVerificationConfig(map[string]*bundle.KeyConfig{
			"default": {Key: string(pubPEM), Algorithm: "ES256"},
		}, "default", "", nil)
	}
	b, err := loader.NewFileLoader().WithBundleVerificationConfig(vc()).AsBundle(filepath.Join(dir, "signed.tar.gz"))
	if err != nil {
		t.Fatalf("OPA loader rejects the signed bundle: %v", err)
	}
	if b.Manifest.Revision != "rev-opa" {
		t.Errorf("revision = %q", b.Manifest.Revision)
	}
	if _, err := loader.NewFileLoader().WithBundleVerificationConfig(vc()).AsBundle(filepath.Join(dir, "tampered.tar.gz")); err == nil {
		t.Error("OPA loader accepts a tampered bundle")
	}
}

func TestVerifyBundleRejects(t *testing.T) {
	key, other := newSigningKey(t), newSigningKey(t)
	unsigned := buildBundle(t, nil, "rev-1")
	signed := signBundle(t, unsigned, key, "regulator")
	regulator := []policy.VerificationKey{trust("regulator", key)}

	tests := []struct {
		name    string
		tarball []byte
		keys    []policy.VerificationKey
		want    error
	}{
		{"unsigned", unsigned, regulator, policy.ErrUnsigned},
		{"signature removed", editTar(t, signed, ".signatures.json", func([]byte) []byte { return nil }), regulator, policy.ErrUnsigned},
		{"policy byte changed", editTar(t, signed, "fedscore/admission.rego", flipByte), regulator, policy.ErrBadSignature},
		{"test byte changed", editTar(t, signed, "fedscore/admission_test.rego", flipByte), regulator, policy.ErrBadSignature},
		{"data changed", editTar(t, signed, "data.json", replace(t, `"min_partners":3`, `"min_partners":1`)), regulator, policy.ErrBadSignature},
		{"revision changed", editTar(t, signed, ".manifest", replace(t, "rev-1", "rev-2")), regulator, policy.ErrBadSignature},
		{"policy removed", editTar(t, signed, "fedscore/cohort_test.rego", func([]byte) []byte { return nil }), regulator, policy.ErrBadSignature},
		{"policy added", writeTar(t, append(readTar(t, signed), tarEntry{"/fedscore/extra.rego", []byte("package fedscore.extra\n\nx := 1\n")})), regulator, policy.ErrBadSignature},
		{"JWT signature changed", editTar(t, signed, ".signatures.json", func(b []byte) []byte {
			i := bytes.LastIndexByte(b, '.') + 5
			b[i] = map[bool]byte{true: 'A', false: 'B'}[b[i] != 'A']
			return b
		}), regulator, policy.ErrBadSignature},
		{"signed by another key", signBundle(t, unsigned, other, "regulator"), regulator, policy.ErrBadSignature},
		{"signed under another key id", signBundle(t, unsigned, key, "consortium"), regulator, policy.ErrBadSignature},
		{"trusted under another key id", signed, []policy.VerificationKey{trust("consortium", key)}, policy.ErrBadSignature},
		{"not a tarball", []byte("not a bundle"), regulator, policy.ErrBundle},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, err := policy.VerifyBundle(tt.tarball, tt.keys...)
			if err == nil {
				t.Fatalf("VerifyBundle accepted it: revision %s", info.Manifest.Revision)
			}
			t.Log(err)
			if !errors.Is(err, tt.want) || !errors.Is(err, policy.ErrBundle) {
				t.Errorf("error %v does not wrap %v and ErrBundle", err, tt.want)
			}
			for _, s := range []error{policy.ErrUnsigned, policy.ErrBadSignature} {
				if s != tt.want && errors.Is(err, s) {
					t.Errorf("error %v wraps %v too", err, s)
				}
			}
		})
	}
}

func TestVerifyBundleNeedsKeys(t *testing.T) {
	key := newSigningKey(t)
	signed := signBundle(t, buildBundle(t, nil, "r"), key, "regulator")
	for name, keys := range map[string][]policy.VerificationKey{
		"none":          nil,
		"empty ID":      {{ID: "", Key: &key.PublicKey}},
		"nil key":       {{ID: "regulator"}},
		"duplicate IDs": {trust("regulator", key), trust("regulator", key)},
	} {
		if _, err := policy.VerifyBundle(signed, keys...); err == nil {
			t.Errorf("%s: VerifyBundle succeeded", name)
		}
	}
}

func TestVerifyBundleTrustsAnyConfiguredKey(t *testing.T) {
	regulator, consortium := newSigningKey(t), newSigningKey(t)
	keys := []policy.VerificationKey{trust("regulator", regulator), trust("consortium", consortium)}
	for id, k := range map[string]*ecdsa.PrivateKey{"regulator": regulator, "consortium": consortium} {
		info, err := policy.VerifyBundle(signBundle(t, buildBundle(t, nil, "r"), k, id), keys...)
		if err != nil || info.KeyID != id {
			t.Errorf("bundle signed by %s: %+v, %v", id, info, err)
		}
	}
}

func TestSignBundleResignsAndRejectsBadInput(t *testing.T) {
	key, other := newSigningKey(t), newSigningKey(t)
	signed := signBundle(t, buildBundle(t, nil, "r"), key, "regulator")
	// Re-signing replaces the signature.
	resigned := signBundle(t, signed, other, "consortium")
	if _, err := policy.VerifyBundle(resigned, trust("consortium", other)); err != nil {
		t.Errorf("re-signed bundle: %v", err)
	}
	if _, err := policy.VerifyBundle(resigned, trust("regulator", key)); !errors.Is(err, policy.ErrBadSignature) {
		t.Errorf("old signer still verifies the re-signed bundle: %v", err)
	}

	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for name, sign := range map[string]func() ([]byte, error){
		"P-384 key":    func() ([]byte, error) { return policy.SignBundle(signed, p384, "regulator") },
		"nil key":      func() ([]byte, error) { return policy.SignBundle(signed, nil, "regulator") },
		"empty key id": func() ([]byte, error) { return policy.SignBundle(signed, key, "") },
		"not a bundle": func() ([]byte, error) { return policy.SignBundle([]byte("x"), key, "regulator") },
	} {
		if _, err := sign(); err == nil {
			t.Errorf("%s: SignBundle succeeded", name)
		}
	}
}

func TestBuildBundle(t *testing.T) {
	tests := []struct {
		dir, revision string
		wantRevision  string // "" means an ErrBundle error
	}{
		{"bundle", "", "fedscore-default-0.3.0"},
		{"bundle", "rev-7", "rev-7"},
		{"testdata/norevision", "", ""},
		{"testdata/norevision", "rev-8", "rev-8"},
		{"testdata/syntaxerror", "r", ""},
		{"testdata/network", "r", ""},
		{"testdata/does-not-exist", "r", ""},
	}
	for _, tt := range tests {
		t.Run(tt.dir+"@"+tt.revision, func(t *testing.T) {
			tb, err := policy.BuildBundle(os.DirFS(tt.dir), policy.BuildOptions{Revision: tt.revision, Sequence: 3})
			if tt.wantRevision == "" {
				if !errors.Is(err, policy.ErrBundle) {
					t.Fatalf("BuildBundle = %v, want ErrBundle", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			files := map[string]bool{}
			for _, e := range readTar(t, tb) {
				files[e.name] = true
			}
			if files["/.signatures.json"] {
				t.Error("a built bundle is already signed")
			}
			key := newSigningKey(t)
			info, err := policy.VerifyBundle(signBundle(t, tb, key, "k"), trust("k", key))
			if err != nil || info.Manifest.Revision != tt.wantRevision {
				t.Fatalf("revision %q, %v; want %q", info.Manifest.Revision, err, tt.wantRevision)
			}
		})
	}
}

func TestInspectBundle(t *testing.T) {
	key := newSigningKey(t)
	info, err := policy.InspectBundle(policy.DefaultBundle())
	if err != nil {
		t.Fatal(err)
	}
	if info.Signed || info.Verified || info.Manifest.Revision != "fedscore-default-0.3.0" || len(info.Files) < 5 {
		t.Errorf("default bundle: %+v", info)
	}

	path := filepath.Join(t.TempDir(), "signed.tar.gz")
	if err := os.WriteFile(path, signBundle(t, buildBundle(t, nil, "r-i"), key, "regulator"), 0o644); err != nil {
		t.Fatal(err)
	}
	fsys, err := policy.OpenBundle(path)
	if err != nil {
		t.Fatal(err)
	}
	info, err = policy.InspectBundle(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if !info.Signed || info.Verified || info.KeyID != "regulator" || info.Manifest.Revision != "r-i" {
		t.Errorf("signed bundle: %+v", info)
	}
	// A signed bundle's tests still run.
	passed, failed, err := policy.RunBundleTests(context.Background(), fsys)
	if err != nil || passed == 0 || failed != 0 {
		t.Errorf("RunBundleTests(signed) = %d, %d, %v", passed, failed, err)
	}
}

func TestEngineFromSignedBundle(t *testing.T) {
	ctx := context.Background()
	key, other := newSigningKey(t), newSigningKey(t)
	keys := []policy.VerificationKey{trust("regulator", key)}
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	signed := signBundle(t, buildBundle(t, nil, "rev-signed"), key, "regulator")
	good := write("signed.tar.gz", signed)

	fsys, err := policy.LoadSignedBundle(good, keys...)
	if err != nil {
		t.Fatalf("LoadSignedBundle: %v", err)
	}
	e := newEngine(t, policy.Options{Bundle: fsys, VerificationKeys: keys})
	if e.Revision() != "rev-signed" {
		t.Errorf("Revision() = %q", e.Revision())
	}
	d, err := e.Admit(ctx, admission(nil))
	if err != nil || !d.Allow || d.BundleRevision != "rev-signed" {
		t.Errorf("Admit = %+v, %v; want an allow by rev-signed", d, err)
	}

	// A signed bundle unpacked into a directory verifies too.
	unpacked := filepath.Join(dir, "unpacked")
	for _, f := range readTar(t, signed) {
		p := filepath.Join(unpacked, filepath.FromSlash(strings.TrimPrefix(f.name, "/")))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := policy.LoadSignedBundle(unpacked, keys...); err != nil {
		t.Errorf("LoadSignedBundle(directory): %v", err)
	}
	if _, err := policy.NewEngine(ctx, policy.Options{Bundle: os.DirFS(unpacked), VerificationKeys: keys}); err != nil {
		t.Errorf("NewEngine(signed directory): %v", err)
	}

	tests := []struct {
		name string
		opts policy.Options
		want error
	}{
		{"default bundle is unsigned", policy.Options{VerificationKeys: keys}, policy.ErrUnsigned},
		{"unsigned tarball", policy.Options{Bundle: openBundle(t, write("unsigned.tar.gz", buildBundle(t, nil, "u"))), VerificationKeys: keys}, policy.ErrUnsigned},
		{"tampered", policy.Options{Bundle: openBundle(t, write("tampered.tar.gz", editTar(t, signed, "fedscore/admission.rego", flipByte))), VerificationKeys: keys}, policy.ErrBadSignature},
		{"other signer", policy.Options{Bundle: fsys, VerificationKeys: []policy.VerificationKey{trust("regulator", other)}}, policy.ErrBadSignature},
		{"signed but no keys", policy.Options{Bundle: fsys}, policy.ErrBundle},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := policy.NewEngine(ctx, tt.opts)
			if !errors.Is(err, tt.want) {
				t.Fatalf("NewEngine = %v, %v; want %v", e, err, tt.want)
			}
			t.Log(err)
		})
	}
	for name, path := range map[string]string{"unsigned": filepath.Join(dir, "unsigned.tar.gz"), "tampered": filepath.Join(dir, "tampered.tar.gz")} {
		if _, err := policy.LoadSignedBundle(path, keys...); err == nil {
			t.Errorf("LoadSignedBundle(%s) succeeded", name)
		}
	}
}

func openBundle(t testing.TB, path string) fs.FS {
	t.Helper()
	fsys, err := policy.OpenBundle(path)
	if err != nil {
		t.Fatal(err)
	}
	return fsys
}

func TestKeyPEM(t *testing.T) {
	key := newSigningKey(t)
	privPEM, err := policy.MarshalPrivateKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM, err := policy.MarshalPublicKeyPEM(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := policy.ParsePrivateKeyPEM(privPEM)
	if err != nil || !priv.Equal(key) {
		t.Errorf("ParsePrivateKeyPEM = %v", err)
	}
	pub, err := policy.ParsePublicKeyPEM(pubPEM)
	if err != nil || !pub.Equal(&key.PublicKey) {
		t.Errorf("ParsePublicKeyPEM = %v", err)
	}
	if _, err := policy.ParsePublicKeyPEM(privPEM); err == nil {
		t.Error("ParsePublicKeyPEM accepted a private key")
	}
	if _, err := policy.ParsePrivateKeyPEM(pubPEM); err == nil {
		t.Error("ParsePrivateKeyPEM accepted a public key")
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := policy.MarshalPrivateKeyPEM(p384); err == nil {
		t.Error("MarshalPrivateKeyPEM accepted a P-384 key")
	}
}
