package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCredentialFiles(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t)
	cred := issue(t, ca, RoleNode, "bank-a")
	certPath, keyPath := filepath.Join(dir, "node.pem"), filepath.Join(dir, "node.key")
	if err := cred.WriteFiles(certPath, keyPath); err != nil {
		t.Fatalf("WriteFiles: %v", err)
	}
	for path, want := range map[string]os.FileMode{keyPath: 0o600, certPath: 0o644} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s mode %v, want %v", filepath.Base(path), got, want)
		}
	}
	// Rewriting keeps the mode and leaves no temporary files behind.
	if err := cred.WriteFiles(certPath, keyPath); err != nil {
		t.Fatalf("WriteFiles again: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("directory holds %d entries, want 2", len(entries))
	}

	got, err := LoadCredential(certPath, keyPath)
	if err != nil {
		t.Fatalf("LoadCredential: %v", err)
	}
	if !got.Certificate.Equal(cred.Certificate) || !got.Key.(*ecdsa.PrivateKey).Equal(cred.Key) || len(got.Chain) != 0 {
		t.Error("loaded credential differs from the written one")
	}
	if id, err := got.Identity(); err != nil || id != mustIdentity(t, cred) {
		t.Errorf("Identity = %v, %v", id, err)
	}

	caPath := filepath.Join(dir, "ca.pem")
	if err := ca.WriteCertificate(caPath); err != nil {
		t.Fatalf("WriteCertificate: %v", err)
	}
	pool, err := LoadCertPool(caPath)
	if err != nil {
		t.Fatalf("LoadCertPool: %v", err)
	}
	if _, err := got.Certificate.Verify(x509.VerifyOptions{Roots: pool}); err != nil {
		t.Errorf("loaded certificate does not verify against loaded pool: %v", err)
	}
}

func TestLoadCredentialErrors(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t)
	cred := issue(t, ca, RoleNode, "bank-a")
	other := issue(t, ca, RoleNode, "bank-b")
	certPath, keyPath := filepath.Join(dir, "a.pem"), filepath.Join(dir, "a.key")
	if err := cred.WriteFiles(certPath, keyPath); err != nil {
		t.Fatal(err)
	}
	otherCert, otherKey := filepath.Join(dir, "b.pem"), filepath.Join(dir, "b.key")
	if err := other.WriteFiles(otherCert, otherKey); err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	certPEM, _ := os.ReadFile(certPath)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384DER, _ := x509.MarshalPKCS8PrivateKey(p384)
	sec1DER, _ := x509.MarshalECPrivateKey(cred.Key.(*ecdsa.PrivateKey))

	tests := []struct {
		name       string
		cert, key  string
		wantErr    error // nil: must load
		wantSubstr string
	}{
		{"SEC 1 key", certPath, write("sec1.key", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1DER})), nil, ""},
		{"mismatched key", certPath, otherKey, ErrKeyMismatch, "does not match"},
		{"empty cert file", write("empty.pem", nil), keyPath, ErrMalformed, "no \"CERTIFICATE\" PEM block"},
		{"not PEM", write("junk.pem", []byte("hello")), keyPath, ErrMalformed, "not PEM"},
		{"bad DER", write("baddr.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2, 3}})), keyPath, ErrMalformed, "certificate 1"},
		{"key in cert file", keyPath, keyPath, ErrMalformed, "want \"CERTIFICATE\""},
		{"trailing garbage", write("trail.pem", append(append([]byte(nil), certPEM...), "garbage"...)), keyPath, ErrMalformed, "not PEM"},
		{"cert in key file", certPath, certPath, ErrMalformed, "PEM block is \"CERTIFICATE\""},
		{"empty key file", certPath, write("empty.key", nil), ErrMalformed, "no PEM block"},
		{"bad key DER", certPath, write("bad.key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}})), ErrMalformed, "bad.key"},
		{"encrypted key", certPath, write("enc.key", pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1}})), ErrMalformed, "unencrypted"},
		{"P-384 key", certPath, write("p384.key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p384DER})), ErrMalformed, "P-256"},
		{"missing cert", filepath.Join(dir, "nope.pem"), keyPath, os.ErrNotExist, "nope.pem"},
		{"missing key", certPath, filepath.Join(dir, "nope.key"), os.ErrNotExist, "nope.key"},
	}
	for _, tt := range tests {
		_, err := LoadCredential(tt.cert, tt.key)
		if tt.wantErr == nil {
			if err != nil {
				t.Errorf("%s: LoadCredential: %v", tt.name, err)
			}
			continue
		}
		if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantSubstr) {
			t.Errorf("%s: LoadCredential error %v, want %v mentioning %q", tt.name, err, tt.wantErr, tt.wantSubstr)
		}
	}

	if _, err := LoadCertPool(write("pool.pem", []byte("not a certificate"))); !errors.Is(err, ErrMalformed) {
		t.Errorf("LoadCertPool(junk) = %v, want ErrMalformed", err)
	}
}

// managedKey is a signer whose private key cannot be exported, like a
// Vault transit key.
type managedKey struct{ crypto.Signer }

func TestCredentialWithManagedKey(t *testing.T) {
	ca, err := NewCA("fed.example", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := ca.Issue(Identity{TrustDomain: "fed.example", Role: RoleNode, Name: "bank-a"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	managed := &Credential{Certificate: cred.Certificate, Key: managedKey{cred.Key}}
	sig, err := Sign(managed.Key, "fedscore/test/v1", []byte("m"))
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(managed.Certificate, "fedscore/test/v1", []byte("m"), sig); err != nil {
		t.Errorf("signature by a managed key: %v", err)
	}
	dir := t.TempDir()
	if err := managed.WriteFiles(filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")); err == nil {
		t.Error("a managed key was written to a file")
	}
	if err := cred.WriteFiles(filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")); err != nil {
		t.Fatal(err)
	}
	if _, err := CredentialWithSigner(filepath.Join(dir, "c.pem"), managed.Key); err != nil {
		t.Errorf("certificate for the managed key refused: %v", err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if _, err := CredentialWithSigner(filepath.Join(dir, "c.pem"), other); !errors.Is(err, ErrKeyMismatch) {
		t.Errorf("certificate for another key: %v", err)
	}
}
