package main

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"

	"github.com/fedscore/fedscore/internal/vaulttest"
	"github.com/fedscore/fedscore/pki"
)

// issuePolicy is what a node needs to log in (KV and its transit keys, as
// for --keystore vault) and to have its certificate signed.
const issuePolicy = `
path "transit/keys/fedscore-bank-east-kek" { capabilities = ["read"] }
path "transit/keys/bank-east-sign" { capabilities = ["read"] }
path "transit/sign/bank-east-sign" { capabilities = ["update"] }
path "secret/data/fedscore/bank-east/*" { capabilities = ["create", "read", "update"] }
path "pki/sign/node" { capabilities = ["update"] }
`

func TestPKIIssueWithVault(t *testing.T) {
	vaulttest.Require(t)
	srv := vaulttest.Start(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(srv.Root.Sys().Mount("transit", &api.MountInput{Type: "transit"}))
	must(srv.Root.Sys().EnableAuthWithOptions("approle", &api.EnableAuthOptions{Type: "approle"}))
	must(srv.Root.Sys().Mount("pki", &api.MountInput{Type: "pki", Config: api.MountConfigInput{MaxLeaseTTL: "720h"}}))
	srv.Write(t, "transit/keys/fedscore-bank-east-kek", map[string]any{"type": "aes256-gcm96"})
	srv.Write(t, "transit/keys/bank-east-sign", map[string]any{"type": "ecdsa-p256"})
	root := srv.Write(t, "pki/root/generate/internal", map[string]any{"common_name": "fedscore test CA", "ttl": "720h"})
	caPEM, _ := root.Data["certificate"].(string)
	block, _ := pem.Decode([]byte(caPEM))
	if block == nil {
		t.Fatal("no CA certificate")
	}
	ca, err := x509.ParseCertificate(block.Bytes)
	must(err)
	srv.Write(t, "pki/roles/node", map[string]any{
		"allowed_uri_sans": "spiffe://fedscore.local/node/*", "allow_any_name": true,
		"enforce_hostnames": false, "key_type": "ec", "key_bits": 256, "max_ttl": "72h",
	})
	roleID := srv.Role(t, "bank-east", issuePolicy, "1h", "4h")
	t.Setenv("VAULT_ADDR", srv.Addr)

	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "node.pem"), filepath.Join(dir, "node-key.pem")
	issue := func(extra ...string) (int, string, string) {
		t.Helper()
		args := []string{"pki", "issue", "--vault", "--name", "bank-east", "--pki-role", "node", "--ttl", "24h",
			"--vault-role-id", roleID, "--vault-secret-id-file", srv.WrappedSecretID(t, "bank-east")}
		return runCLI(t, append(args, extra...)...)
	}
	// verify checks the certificate file against Vault's CA and returns
	// its leaf.
	verify := func(t *testing.T) *x509.Certificate {
		t.Helper()
		chain, err := pki.LoadCertificateChain(certPath)
		if err != nil {
			t.Fatal(err)
		}
		roots := x509.NewCertPool()
		roots.AddCert(ca)
		if _, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			t.Fatalf("issued certificate does not chain to Vault's CA: %v", err)
		}
		id, err := pki.IdentityFromCert(chain[0])
		if err != nil || id.String() != "spiffe://fedscore.local/node/bank-east" {
			t.Fatalf("issued certificate is for %v (%v)", id, err)
		}
		return chain[0]
	}

	t.Run("new key", func(t *testing.T) {
		code, out, errOut := issue("--cert", certPath, "--key", keyPath)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		t.Log(strings.TrimSpace(out))
		verify(t)
		if fi, err := os.Stat(keyPath); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("key file: %v %v", fi.Mode(), err)
		}
		if _, err := pki.LoadCredential(certPath, keyPath); err != nil {
			t.Fatalf("the node cannot load what pki issue wrote: %v", err)
		}
	})

	t.Run("renewal keeps the key", func(t *testing.T) {
		before := verify(t)
		if code, _, errOut := issue("--cert", certPath, "--key", keyPath); code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		after := verify(t)
		if after.SerialNumber.Cmp(before.SerialNumber) == 0 {
			t.Fatal("renewal returned the same certificate")
		}
		if !after.PublicKey.(*ecdsa.PublicKey).Equal(before.PublicKey) {
			t.Fatal("renewal replaced the key")
		}
	})

	t.Run("transit signing key", func(t *testing.T) {
		if code, _, errOut := issue("--cert", certPath, "--vault-signing-key", "bank-east-sign"); code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		leaf := verify(t)
		key, err := srv.Root.Logical().Read("transit/keys/bank-east-sign")
		if err != nil {
			t.Fatal(err)
		}
		keys, _ := key.Data["keys"].(map[string]any)
		v1, _ := keys["1"].(map[string]any)
		pubPEM, _ := v1["public_key"].(string)
		b, _ := pem.Decode([]byte(pubPEM))
		if b == nil {
			t.Fatal("transit key has no public key")
		}
		pub, err := x509.ParsePKIXPublicKey(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if !leaf.PublicKey.(*ecdsa.PublicKey).Equal(pub) {
			t.Fatal("the certificate does not certify the transit key")
		}
	})

	t.Run("refused", func(t *testing.T) {
		cases := []struct {
			name string
			args []string
			want string
		}{
			{"role outside the PKI role", []string{"--role", "coordinator", "--cert", filepath.Join(dir, "c.pem"), "--key", filepath.Join(dir, "c-key.pem")}, "sign"},
			{"no key choice", []string{"--cert", certPath}, "exactly one of --key and --vault-signing-key"},
		}
		for _, tc := range cases {
			code, _, errOut := issue(tc.args...)
			if code == 0 || !strings.Contains(errOut, tc.want) {
				t.Errorf("%s: exit %d, stderr %q, want an error about %q", tc.name, code, errOut, tc.want)
			}
		}
		if code, _, errOut := runCLI(t, "pki", "issue", "--name", "x", "--pki-role", "node", "--cert", certPath, "--key", keyPath); code == 0 || !strings.Contains(errOut, "--vault is required") {
			t.Errorf("without --vault: exit %d, %q", code, errOut)
		}
	})
}
