package vault

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fedscore/fedscore/keystore"
	"github.com/fedscore/fedscore/pki"
)

const (
	testNode = "bank-a"
	testKEK  = "fedscore-bank-a-kek"
	testSign = "fedscore-bank-a-sign"
)

// newDouble returns a Vault double with the node's transit keys.
func newDouble(t *testing.T) *fakeVault {
	t.Helper()
	f := newFakeVault(t)
	f.addKEK(testKEK)
	f.addSigningKey(testSign)
	return f
}

// writeWrapped writes a wrapping token around a new secret_id with uses
// (-1: unlimited) to a file and returns its path.
func writeWrapped(t *testing.T, f *fakeVault, uses int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secret-id.wrapped")
	tok := f.wrap(map[string]any{"secret_id": f.newSecretID(uses), "secret_id_accessor": "acc"})
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func doubleConfig(t *testing.T, f *fakeVault) Config {
	t.Helper()
	return Config{
		Address:    f.srv.URL,
		Node:       testNode,
		AppRole:    AppRole{RoleID: f.roleID, WrappedSecretIDFile: writeWrapped(t, f, -1)},
		MaxRetries: -1,
		Timeout:    5 * time.Second,
	}
}

func openStore(t *testing.T, cfg Config) *Store {
	t.Helper()
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// share returns a random secret the size of a LogN 13 secret-key share.
func share(t *testing.T) []byte {
	t.Helper()
	b := make([]byte, 256<<10)
	rand.Read(b)
	return b
}

func TestPutGetDelete(t *testing.T) {
	f := newDouble(t)
	s := openStore(t, doubleConfig(t, f))
	ctx := context.Background()
	sk := share(t)
	if err := s.Put(ctx, "sk-1", sk); err != nil {
		t.Fatalf("Put: %v", err)
	}
	got, err := s.Get(ctx, "sk-1")
	if err != nil || !bytes.Equal(got, sk) {
		t.Fatalf("Get = %d bytes, %v; want the share back", len(got), err)
	}
	e := f.entry("fedscore/bank-a/sk-1")
	if e == nil {
		t.Fatal("no KV entry at secret/data/fedscore/bank-a/sk-1")
	}
	for _, k := range []string{"format", "kek", "wrapped_key", "nonce", "ciphertext"} {
		if e[k] == nil || e[k] == "" {
			t.Errorf("entry lacks %s", k)
		}
	}
	if !strings.HasPrefix(e["wrapped_key"].(string), "vault:v1:") {
		t.Errorf("wrapped_key = %q, want a transit ciphertext", e["wrapped_key"])
	}
	if ct, _ := base64.StdEncoding.DecodeString(e["ciphertext"].(string)); bytes.Contains(ct, sk[:64]) {
		t.Error("the entry holds the share in plaintext")
	}

	// Put replaces.
	sk2 := share(t)
	if err := s.Put(ctx, "sk-1", sk2); err != nil {
		t.Fatalf("second Put: %v", err)
	}
	if got, _ := s.Get(ctx, "sk-1"); !bytes.Equal(got, sk2) {
		t.Fatal("Get after replacing returns the old share")
	}

	if err := s.Delete(ctx, "sk-1"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Get(ctx, "sk-1"); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("Get after Delete: %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, "sk-1"); err != nil {
		t.Fatalf("Delete of a missing entry: %v", err)
	}
	if _, err := s.Get(ctx, "Bad/Name"); !errors.Is(err, keystore.ErrInvalidName) {
		t.Fatalf("Get(bad name): %v, want ErrInvalidName", err)
	}
	if err := s.Put(ctx, "big", make([]byte, MaxSecretSize+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Put(too large): %v, want ErrTooLarge", err)
	}
}

func TestCheckAndSet(t *testing.T) {
	f := newDouble(t)
	s := openStore(t, doubleConfig(t, f))
	ctx := context.Background()
	if err := s.Create(ctx, "sk-2", []byte("first")); err != nil {
		t.Fatalf("Create: %v", err)
	}
	err := s.Create(ctx, "sk-2", []byte("second"))
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second Create: %v, want ErrConflict", err)
	}
	// Another writer changes the entry between Put's read and its write.
	other := f.entry("fedscore/bank-a/sk-2")
	s.beforeWrite = func() {
		f.mu.Lock()
		f.kv["fedscore/bank-a/sk-2"].version++
		f.mu.Unlock()
	}
	if err := s.Put(ctx, "sk-2", []byte("third")); !errors.Is(err, ErrConflict) {
		t.Fatalf("Put racing another writer: %v, want ErrConflict", err)
	}
	s.beforeWrite = nil
	if e := f.entry("fedscore/bank-a/sk-2"); e["ciphertext"] != other["ciphertext"] {
		t.Fatal("a conflicting Put overwrote the entry")
	}
	if got, err := s.Get(ctx, "sk-2"); err != nil || string(got) != "first" {
		t.Fatalf("Get = %q, %v; want the first value", got, err)
	}
}

func TestTamperedEntries(t *testing.T) {
	f := newDouble(t)
	s := openStore(t, doubleConfig(t, f))
	ctx := context.Background()
	if err := s.Put(ctx, "sk-3", []byte("share")); err != nil {
		t.Fatal(err)
	}
	orig := f.entry("fedscore/bank-a/sk-3")
	set := func(path string, e map[string]any) {
		f.mu.Lock()
		f.kv[path] = &fakeEntry{version: 9, data: e}
		f.mu.Unlock()
	}
	with := func(k string, v any) map[string]any {
		e := map[string]any{}
		for kk, vv := range orig {
			e[kk] = vv
		}
		e[k] = v
		return e
	}
	ct, _ := base64.StdEncoding.DecodeString(orig["ciphertext"].(string))
	ct[0] ^= 1
	for _, tc := range []struct {
		name string
		data map[string]any
	}{
		{"flipped ciphertext bit", with("ciphertext", base64.StdEncoding.EncodeToString(ct))},
		{"foreign wrapped key", with("wrapped_key", "vault:v1:"+base64.StdEncoding.EncodeToString(make([]byte, 60)))},
		{"unknown format", with("format", "v0")},
		{"no nonce", with("nonce", "")},
	} {
		set("fedscore/bank-a/sk-3", tc.data)
		if _, err := s.Get(ctx, "sk-3"); !errors.Is(err, keystore.ErrCorrupt) {
			t.Errorf("%s: Get: %v, want ErrCorrupt", tc.name, err)
		}
	}
	// An entry copied to another name does not open there.
	set("fedscore/bank-a/sk-4", orig)
	if _, err := s.Get(ctx, "sk-4"); !errors.Is(err, keystore.ErrCorrupt) {
		t.Errorf("moved entry: Get: %v, want ErrCorrupt", err)
	}
}

func TestSigner(t *testing.T) {
	f := newDouble(t)
	s := openStore(t, doubleConfig(t, f))
	ctx := context.Background()
	g, err := s.Signer(ctx, testSign)
	if err != nil {
		t.Fatalf("Signer: %v", err)
	}
	pub := g.Public().(*ecdsa.PublicKey)
	digest := sha256.Sum256([]byte("audit checkpoint 42"))
	sig, err := g.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	if !ecdsa.VerifyASN1(pub, digest[:], sig) {
		t.Fatal("signature does not verify")
	}
	// The node signs receipts through pki.Sign, which takes a crypto.Signer.
	msg := []byte("receipt")
	rs, err := pki.Sign(g, "fedscore/receipt/v1", msg)
	if err != nil {
		t.Fatalf("pki.Sign: %v", err)
	}
	if len(rs) == 0 {
		t.Fatal("pki.Sign returned no signature")
	}
	if _, err := g.Sign(rand.Reader, digest[:], crypto.SHA384); err == nil {
		t.Fatal("Sign accepted a SHA-384 option")
	}
	if _, err := s.Signer(ctx, testKEK); !errors.Is(err, ErrKey) {
		t.Fatalf("Signer(aes key): %v, want ErrKey", err)
	}
	if _, err := s.Signer(ctx, "missing"); !errors.Is(err, ErrKey) {
		t.Fatalf("Signer(missing): %v, want ErrKey", err)
	}
}

func TestOpenFailures(t *testing.T) {
	ctx := context.Background()
	t.Run("sealed", func(t *testing.T) {
		f := newDouble(t)
		f.setSealed(true)
		_, err := Open(ctx, doubleConfig(t, f))
		if !errors.Is(err, ErrSealed) || !strings.Contains(err.Error(), "unseal") {
			t.Fatalf("Open: %v, want ErrSealed saying to unseal", err)
		}
		if logins, _, unwraps := f.counts(); logins+unwraps != 0 {
			t.Fatal("Open logged in to a sealed Vault")
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := "http://" + l.Addr().String()
		l.Close()
		cfg := doubleConfig(t, newDouble(t))
		cfg.Address = addr
		start := time.Now()
		_, err = Open(ctx, cfg)
		if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), addr) {
			t.Fatalf("Open: %v, want ErrUnreachable naming %s", err, addr)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("Open took %v to give up", d)
		}
	})
	t.Run("wrong role_id", func(t *testing.T) {
		f := newDouble(t)
		cfg := doubleConfig(t, f)
		cfg.AppRole.RoleID = "not-the-role"
		if _, err := Open(ctx, cfg); !errors.Is(err, ErrAuth) {
			t.Fatalf("Open: %v, want ErrAuth", err)
		}
	})
	t.Run("wrong secret_id", func(t *testing.T) {
		f := newDouble(t)
		cfg := doubleConfig(t, f)
		cfg.AppRole.WrappedSecretIDFile = ""
		cfg.AppRole.SecretID = "sid-wrong"
		if _, err := Open(ctx, cfg); !errors.Is(err, ErrAuth) {
			t.Fatalf("Open: %v, want ErrAuth", err)
		}
	})
	t.Run("used wrapping token", func(t *testing.T) {
		f := newDouble(t)
		cfg := doubleConfig(t, f)
		s := openStore(t, cfg)
		s.Close()
		_, err := Open(ctx, cfg)
		if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "wrapping token") {
			t.Fatalf("Open with a used wrapping token: %v, want ErrAuth about it", err)
		}
	})
	t.Run("KV version 1 mount", func(t *testing.T) {
		f := newDouble(t)
		cfg := doubleConfig(t, f)
		cfg.KVMount = "kv1"
		if _, err := Open(ctx, cfg); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "version 2") {
			t.Fatalf("Open: %v, want ErrConfig about KV version 2", err)
		}
	})
	t.Run("missing transit key", func(t *testing.T) {
		f := newFakeVault(t)
		_, err := Open(ctx, doubleConfig(t, f))
		if !errors.Is(err, ErrKey) || !strings.Contains(err.Error(), testKEK) {
			t.Fatalf("Open: %v, want ErrKey naming %s", err, testKEK)
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if len(f.tokens) != 0 {
			t.Fatal("the token of a failed Open was not revoked")
		}
	})
}

func TestVaultFailsAfterOpen(t *testing.T) {
	f := newDouble(t)
	s := openStore(t, doubleConfig(t, f))
	ctx := context.Background()
	if err := s.Put(ctx, "sk-5", []byte("share")); err != nil {
		t.Fatal(err)
	}
	f.setSealed(true)
	if _, err := s.Get(ctx, "sk-5"); !errors.Is(err, ErrSealed) {
		t.Fatalf("Get from a sealed Vault: %v, want ErrSealed", err)
	}
	if err := s.Put(ctx, "sk-6", []byte("share")); !errors.Is(err, ErrSealed) {
		t.Fatalf("Put to a sealed Vault: %v, want ErrSealed", err)
	}
	f.setSealed(false)
	if f.entry("fedscore/bank-a/sk-6") != nil {
		t.Fatal("a failed Put left an entry")
	}

	// Vault seals between the data key and the KV write: nothing is written.
	f.hook = func(method, path string) {
		if method == "PUT" && strings.HasPrefix(path, "secret/data/") {
			f.setSealed(true)
		}
	}
	if err := s.Put(ctx, "sk-7", []byte("share")); !errors.Is(err, ErrSealed) {
		t.Fatalf("Put: %v, want ErrSealed", err)
	}
	f.hook = nil
	f.setSealed(false)
	if f.entry("fedscore/bank-a/sk-7") != nil {
		t.Fatal("a failed Put left an entry")
	}

	// The token is revoked behind the store's back: requests are denied.
	f.mu.Lock()
	clear(f.tokens)
	f.mu.Unlock()
	if _, err := s.Get(ctx, "sk-5"); !errors.Is(err, ErrDenied) {
		t.Fatalf("Get with a revoked token: %v, want ErrDenied", err)
	}
}

func TestRenewalAndRelogin(t *testing.T) {
	f := newDouble(t)
	f.ttl, f.maxTTL = 2*time.Second, 4*time.Second
	s := openStore(t, doubleConfig(t, f))
	ctx := context.Background()
	deadline := time.Now().Add(15 * time.Second)
	for {
		logins, renewals, _ := f.counts()
		if logins >= 2 && renewals >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 15s: %d logins, %d renewals; want a renewal and a second login", logins, renewals)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := s.Put(ctx, "sk-8", []byte("share")); err != nil {
		t.Fatalf("Put after logging in again: %v", err)
	}
	if _, _, unwraps := f.counts(); unwraps != 1 {
		t.Fatalf("%d unwraps; the secret_id should be unwrapped once and reused", unwraps)
	}
}

func TestReloginWithNewWrappedSecretID(t *testing.T) {
	f := newDouble(t)
	f.ttl, f.maxTTL = time.Second, time.Second
	cfg := doubleConfig(t, f)
	cfg.AppRole.WrappedSecretIDFile = writeWrapped(t, f, 1) // single-use secret_id
	s := openStore(t, cfg)
	// The token ends, the secret_id is used up and the wrapping token in
	// the file was used: the store cannot log in until a new one arrives.
	time.Sleep(1500 * time.Millisecond)
	if _, err := s.Get(context.Background(), "sk-9"); !errors.Is(err, ErrDenied) {
		t.Fatalf("Get without a token: %v, want ErrDenied", err)
	}
	f.ttl, f.maxTTL = time.Hour, time.Hour
	tok := f.wrap(map[string]any{"secret_id": f.newSecretID(1)})
	if err := os.WriteFile(cfg.AppRole.WrappedSecretIDFile, []byte(tok), 0o600); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := s.Get(context.Background(), "sk-9")
		if errors.Is(err, keystore.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no login with the new wrapped secret_id: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if logins, _, unwraps := f.counts(); logins != 2 || unwraps != 2 {
		t.Fatalf("%d logins, %d unwraps; want 2 and 2", logins, unwraps)
	}
}

func TestClose(t *testing.T) {
	f := newDouble(t)
	s := openStore(t, doubleConfig(t, f))
	g, err := s.Signer(context.Background(), testSign)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s.Close()
	if err := s.Put(context.Background(), "sk-1", []byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Put after Close: %v, want ErrClosed", err)
	}
	d := sha256.Sum256(nil)
	if _, err := g.Sign(nil, d[:], crypto.SHA256); !errors.Is(err, ErrClosed) {
		t.Fatalf("Sign after Close: %v, want ErrClosed", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.tokens) != 0 {
		t.Fatal("Close did not revoke the token")
	}
}

func TestIssueCertificate(t *testing.T) {
	f := newDouble(t)
	ca := f.addPKI("node")
	s := openStore(t, doubleConfig(t, f))
	checkIssueCertificate(t, s, ca)
}

// checkIssueCertificate has s issue a certificate from the PKI mount "pki",
// role "node", and checks it chains to ca and carries the node's SPIFFE ID.
func checkIssueCertificate(t *testing.T, s *Store, ca *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := url.Parse("spiffe://fed.example/node/bank-a")
	tmpl := &x509.CertificateRequest{Subject: pkix.Name{CommonName: "bank-a"}, URIs: []*url.URL{id}}
	cert, err := s.IssueCertificate(context.Background(), "pki", "node", key, tmpl, 24*time.Hour)
	if err != nil {
		t.Fatalf("IssueCertificate: %v", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	if _, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Fatalf("issued certificate does not verify: %v", err)
	}
	if len(cert.Leaf.URIs) != 1 || cert.Leaf.URIs[0].String() != id.String() {
		t.Fatalf("issued certificate URIs = %v, want %s", cert.Leaf.URIs, id)
	}
	if cert.PrivateKey != key {
		t.Fatal("tls.Certificate does not hold the caller's key")
	}
	if _, err := s.IssueCertificate(context.Background(), "pki", "no-such-role", key, tmpl, time.Hour); err == nil {
		t.Fatal("IssueCertificate under an unknown role succeeded")
	}
}

func TestTLSCACert(t *testing.T) {
	f := newFakeVaultTLS(t)
	f.addKEK(testKEK)
	cfg := doubleConfig(t, f)
	if _, err := Open(context.Background(), cfg); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("Open without the CA: %v, want ErrUnreachable", err)
	}
	ca := filepath.Join(t.TempDir(), "vault-ca.pem")
	block := &pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw}
	if err := os.WriteFile(ca, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.CACert = ca
	s := openStore(t, cfg)
	if err := s.Put(context.Background(), "sk-1", []byte("share")); err != nil {
		t.Fatalf("Put over TLS: %v", err)
	}
}

func TestConfigDefaults(t *testing.T) {
	for _, k := range []string{"VAULT_ADDR", "BAO_ADDR", "VAULT_NAMESPACE", "BAO_NAMESPACE", "VAULT_CACERT", "BAO_CACERT"} {
		t.Setenv(k, "")
	}
	base := Config{Node: "n1", AppRole: AppRole{RoleID: "r", SecretID: "s"}}
	if _, err := base.withDefaults(); !errors.Is(err, ErrConfig) {
		t.Fatalf("no address: %v, want ErrConfig", err)
	}
	t.Setenv("BAO_ADDR", "http://bao:8200")
	c, err := base.withDefaults()
	if err != nil || c.Address != "http://bao:8200" {
		t.Fatalf("BAO_ADDR: %q, %v", c.Address, err)
	}
	t.Setenv("VAULT_ADDR", "http://vault:8200")
	if c, _ = base.withDefaults(); c.Address != "http://vault:8200" {
		t.Fatalf("VAULT_ADDR should win over BAO_ADDR, got %q", c.Address)
	}
	if c.TransitKey != "fedscore-n1-kek" || c.KeyPrefix != "fedscore/n1" || c.KVMount != "secret" ||
		c.TransitMount != "transit" || c.AppRole.Mount != "approle" {
		t.Fatalf("defaults: %+v", c)
	}
	bad := base
	bad.AppRole.WrappedSecretIDFile = "/x"
	if _, err := bad.withDefaults(); !errors.Is(err, ErrConfig) {
		t.Fatalf("two secret_id sources: %v, want ErrConfig", err)
	}
	bad = base
	bad.AppRole = AppRole{}
	if _, err := bad.withDefaults(); !errors.Is(err, ErrConfig) {
		t.Fatalf("no credentials: %v, want ErrConfig", err)
	}
}
