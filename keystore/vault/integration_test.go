package vault

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/fedscore/fedscore/internal/vaulttest"
	"github.com/fedscore/fedscore/keystore"
	"github.com/fedscore/fedscore/pki"
)

// The integration tests run against a real Vault dev server built by
// scripts/vault-dev.sh. They run when FEDSCORE_VAULT_TESTS=1, and then a
// missing server binary fails the package instead of skipping it.
const vaultTestsEnv = vaulttest.Env

func TestMain(m *testing.M) {
	if os.Getenv(vaultTestsEnv) == "1" {
		if _, err := vaulttest.Binary(); err != nil {
			fmt.Fprintf(os.Stderr, "FAIL: %v\n", err)
			os.Exit(1)
		}
	}
	os.Exit(m.Run())
}

// devVault is a Vault dev server on a free loopback port.
type devVault struct {
	srv       *vaulttest.Server
	addr      string
	unsealKey string
	root      *api.Client
	roleIDs   map[string]string // role name -> role_id
	ca        *x509.Certificate // the PKI mount's root
}

// startDevVault starts a dev server, enables transit and AppRole, creates
// the node's transit keys, and stops the server when t ends.
func startDevVault(t *testing.T) *devVault {
	t.Helper()
	srv := vaulttest.Start(t)
	d := &devVault{srv: srv, addr: srv.Addr, unsealKey: srv.UnsealKey, root: srv.Root, roleIDs: map[string]string{}}
	d.must(t, d.root.Sys().Mount("transit", &api.MountInput{Type: "transit"}))
	d.must(t, d.root.Sys().EnableAuthWithOptions("approle", &api.EnableAuthOptions{Type: "approle"}))
	d.write(t, "transit/keys/"+testKEK, map[string]any{"type": "aes256-gcm96", "exportable": false, "allow_plaintext_backup": false})
	d.write(t, "transit/keys/"+testSign, map[string]any{"type": "ecdsa-p256"})

	d.must(t, d.root.Sys().Mount("pki", &api.MountInput{Type: "pki"}))
	root := d.write(t, "pki/root/generate/internal", map[string]any{"common_name": "fedscore test CA", "ttl": "720h"})
	caPEM, _ := root.Data["certificate"].(string)
	block, _ := pem.Decode([]byte(caPEM))
	if block == nil {
		t.Fatal("pki/root/generate returned no certificate")
	}
	var err error
	if d.ca, err = x509.ParseCertificate(block.Bytes); err != nil {
		t.Fatal(err)
	}
	d.write(t, "pki/roles/node", map[string]any{
		"allowed_uri_sans": "spiffe://fed.example/node/*", "allow_any_name": true,
		"enforce_hostnames": false, "key_type": "any", "max_ttl": "72h",
	})
	return d
}

func (d *devVault) must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (d *devVault) write(t *testing.T, path string, data map[string]any) *api.Secret {
	t.Helper()
	return d.srv.Write(t, path, data)
}

// nodePolicy is the least a node needs: wrap and unwrap data keys with its
// KEK, sign with its signing key, and keep entries under its KV prefix.
const nodePolicy = `
path "transit/keys/` + testKEK + `" { capabilities = ["read"] }
path "transit/datakey/plaintext/` + testKEK + `" { capabilities = ["update"] }
path "transit/decrypt/` + testKEK + `" { capabilities = ["update"] }
path "transit/keys/` + testSign + `" { capabilities = ["read"] }
path "transit/sign/` + testSign + `" { capabilities = ["update"] }
path "secret/data/fedscore/bank-a/*" { capabilities = ["create", "read", "update"] }
path "secret/metadata/fedscore/bank-a/*" { capabilities = ["delete"] }
path "pki/sign/node" { capabilities = ["update"] }
`

// role creates an AppRole role with policy and token TTLs.
func (d *devVault) role(t *testing.T, name, policy, ttl, maxTTL string) {
	t.Helper()
	d.roleIDs[name] = d.srv.Role(t, name, policy, ttl, maxTTL)
}

// wrappedSecretID writes a response-wrapped secret_id of role to a file.
func (d *devVault) wrappedSecretID(t *testing.T, role string) string {
	t.Helper()
	return d.srv.WrappedSecretID(t, role)
}

func (d *devVault) config(t *testing.T, role string) Config {
	t.Helper()
	return Config{
		Address:    d.addr,
		Node:       testNode,
		AppRole:    AppRole{RoleID: d.roleIDs[role], WrappedSecretIDFile: d.wrappedSecretID(t, role)},
		MaxRetries: -1,
		Timeout:    10 * time.Second,
	}
}

// kvEntry reads an entry with the root token; nil if there is none.
func (d *devVault) kvEntry(t *testing.T, name string) map[string]any {
	t.Helper()
	s, err := d.root.KVv2("secret").Get(context.Background(), "fedscore/bank-a/"+name)
	if errors.Is(err, api.ErrSecretNotFound) {
		return nil
	}
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return s.Data
}

func TestRealVault(t *testing.T) {
	if os.Getenv(vaultTestsEnv) != "1" {
		t.Skipf("%s is not 1; the Vault double covers the same behaviours", vaultTestsEnv)
	}
	d := startDevVault(t)
	d.role(t, "bank-a", nodePolicy, "1h", "4h")
	ctx := context.Background()

	t.Run("put get delete", func(t *testing.T) {
		s := openStore(t, d.config(t, "bank-a"))
		sk := share(t)
		if err := s.Put(ctx, "sk-1", sk); err != nil {
			t.Fatalf("Put: %v", err)
		}
		if got, err := s.Get(ctx, "sk-1"); err != nil || !bytes.Equal(got, sk) {
			t.Fatalf("Get = %d bytes, %v", len(got), err)
		}
		e := d.kvEntry(t, "sk-1")
		if w, _ := e["wrapped_key"].(string); !strings.HasPrefix(w, "vault:v1:") {
			t.Fatalf("entry's wrapped_key = %q", w)
		}
		sk2 := share(t)
		if err := s.Put(ctx, "sk-1", sk2); err != nil {
			t.Fatalf("replacing Put: %v", err)
		}
		if got, _ := s.Get(ctx, "sk-1"); !bytes.Equal(got, sk2) {
			t.Fatal("Get after replacing returns the old share")
		}
		if err := s.Delete(ctx, "sk-1"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if _, err := s.Get(ctx, "sk-1"); !errors.Is(err, keystore.ErrNotFound) {
			t.Fatalf("Get after Delete: %v", err)
		}
		if err := s.Delete(ctx, "sk-1"); err != nil {
			t.Fatalf("second Delete: %v", err)
		}
	})

	t.Run("check-and-set", func(t *testing.T) {
		s := openStore(t, d.config(t, "bank-a"))
		if err := s.Create(ctx, "sk-2", []byte("first")); err != nil {
			t.Fatalf("Create: %v", err)
		}
		if err := s.Create(ctx, "sk-2", []byte("second")); !errors.Is(err, ErrConflict) {
			t.Fatalf("second Create: %v, want ErrConflict", err)
		}
		s.beforeWrite = func() {
			if _, err := d.root.KVv2("secret").Put(ctx, "fedscore/bank-a/sk-2", map[string]any{"other": "writer"}); err != nil {
				t.Error(err)
			}
		}
		if err := s.Put(ctx, "sk-2", []byte("third")); !errors.Is(err, ErrConflict) {
			t.Fatalf("racing Put: %v, want ErrConflict", err)
		}
		if e := d.kvEntry(t, "sk-2"); e["other"] != "writer" {
			t.Fatalf("a conflicting Put overwrote the entry: %v", e)
		}
	})

	t.Run("signer", func(t *testing.T) {
		s := openStore(t, d.config(t, "bank-a"))
		g, err := s.Signer(ctx, testSign)
		if err != nil {
			t.Fatalf("Signer: %v", err)
		}
		digest := sha256.Sum256([]byte("audit checkpoint"))
		sig, err := g.Sign(rand.Reader, digest[:], crypto.SHA256)
		if err != nil {
			t.Fatalf("Sign: %v", err)
		}
		if !ecdsa.VerifyASN1(g.Public().(*ecdsa.PublicKey), digest[:], sig) {
			t.Fatal("signature does not verify")
		}
		if _, err := pki.Sign(g, "fedscore/receipt/v1", []byte("receipt")); err != nil {
			t.Fatalf("pki.Sign: %v", err)
		}
		if _, err := s.Signer(ctx, testKEK); !errors.Is(err, ErrKey) {
			t.Fatalf("Signer(aes key): %v, want ErrKey", err)
		}
	})

	t.Run("pki", func(t *testing.T) {
		checkIssueCertificate(t, openStore(t, d.config(t, "bank-a")), d.ca)
	})

	t.Run("denied", func(t *testing.T) {
		readOnly := strings.ReplaceAll(nodePolicy, `["create", "read", "update"]`, `["read"]`)
		d.role(t, "bank-a-ro", readOnly, "1h", "4h")
		s := openStore(t, d.config(t, "bank-a-ro"))
		err := s.Put(ctx, "sk-3", []byte("share"))
		if !errors.Is(err, ErrDenied) {
			t.Fatalf("Put without permission: %v, want ErrDenied", err)
		}
		t.Logf("denied: %v", err)
		if d.kvEntry(t, "sk-3") != nil {
			t.Fatal("a denied Put left an entry")
		}
	})

	t.Run("wrong approle", func(t *testing.T) {
		cfg := d.config(t, "bank-a")
		cfg.AppRole.RoleID = "00000000-0000-0000-0000-000000000000"
		_, err := Open(ctx, cfg)
		if !errors.Is(err, ErrAuth) {
			t.Fatalf("Open with a wrong role_id: %v, want ErrAuth", err)
		}
		t.Logf("wrong role_id: %v", err)
		cfg.AppRole.RoleID = d.roleIDs["bank-a"]
		_, err = Open(ctx, cfg) // the wrapping token was unwrapped above
		if !errors.Is(err, ErrAuth) {
			t.Fatalf("Open with a used wrapping token: %v, want ErrAuth", err)
		}
		t.Logf("used wrapping token: %v", err)
	})

	t.Run("missing transit key", func(t *testing.T) {
		cfg := Config{Address: d.addr, Node: "bank-z", Token: d.root.Token(), MaxRetries: -1}
		if _, err := Open(ctx, cfg); !errors.Is(err, ErrKey) {
			t.Fatalf("Open: %v, want ErrKey", err)
		}
	})

	t.Run("unreachable", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		cfg := d.config(t, "bank-a")
		cfg.Address = "http://" + l.Addr().String()
		l.Close()
		if _, err := Open(ctx, cfg); !errors.Is(err, ErrUnreachable) {
			t.Fatalf("Open: %v, want ErrUnreachable", err)
		}
	})

	t.Run("renewal and relogin", func(t *testing.T) {
		d.role(t, "bank-a-short", nodePolicy, "2s", "6s")
		s := openStore(t, d.config(t, "bank-a-short"))
		first := s.client.Token()
		time.Sleep(3 * time.Second) // past the first 2s TTL: only renewal keeps it
		if _, err := d.root.Auth().Token().Lookup(first); err != nil || s.client.Token() != first {
			t.Fatalf("the first token was not kept alive by renewal: %v", err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for s.client.Token() == first {
			if time.Now().After(deadline) {
				t.Fatal("no new login after the token's max TTL")
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err := s.Put(ctx, "sk-4", []byte("share")); err != nil {
			t.Fatalf("Put after logging in again: %v", err)
		}
		if got, err := s.Get(ctx, "sk-4"); err != nil || string(got) != "share" {
			t.Fatalf("Get after logging in again: %q, %v", got, err)
		}
	})

	// Sealing comes last: it affects every store of this server.
	t.Run("sealed", func(t *testing.T) {
		s := openStore(t, d.config(t, "bank-a"))
		if err := s.Put(ctx, "sk-5", []byte("share")); err != nil {
			t.Fatal(err)
		}
		cfg := d.config(t, "bank-a")
		d.must(t, d.root.Sys().Seal())
		if err := s.Put(ctx, "sk-6", []byte("share")); !errors.Is(err, ErrSealed) {
			t.Fatalf("Put to a sealed Vault: %v, want ErrSealed", err)
		}
		if _, err := s.Get(ctx, "sk-5"); !errors.Is(err, ErrSealed) {
			t.Fatalf("Get from a sealed Vault: %v, want ErrSealed", err)
		}
		_, err := Open(ctx, cfg)
		if !errors.Is(err, ErrSealed) {
			t.Fatalf("Open of a sealed Vault: %v, want ErrSealed", err)
		}
		t.Logf("sealed: %v", err)
		if st, err := d.root.Sys().Unseal(d.unsealKey); err != nil || st.Sealed {
			t.Fatalf("unseal: %v", err)
		}
		if d.kvEntry(t, "sk-6") != nil {
			t.Fatal("a Put to a sealed Vault left an entry")
		}
		if got, err := s.Get(ctx, "sk-5"); err != nil || string(got) != "share" {
			t.Fatalf("Get after unsealing: %q, %v", got, err)
		}
	})
}
