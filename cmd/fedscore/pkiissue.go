package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"time"

	"github.com/fedscore/fedscore/internal/atomicfile"
	"github.com/fedscore/fedscore/keystore/vault"
	"github.com/fedscore/fedscore/node/config"
	"github.com/fedscore/fedscore/pki"
)

// addVaultFlags defines how a party logs in to Vault (or OpenBao); the
// address comes from VAULT_ADDR or BAO_ADDR. The node and `pki issue`
// share these flags.
func addVaultFlags(fs *flag.FlagSet) *config.Vault {
	v := &config.Vault{}
	fs.StringVar(&v.AppRole.RoleID, "vault-role-id", "", "Vault AppRole `role_id`")
	fs.StringVar(&v.AppRole.WrappedSecretIDFile, "vault-secret-id-file", "", "`file` holding a response-wrapped AppRole secret_id")
	fs.StringVar(&v.TransitKey, "vault-transit-key", "", "Vault transit `key` wrapping the share (default fedscore-<node>-kek)")
	fs.StringVar(&v.SigningKey, "vault-signing-key", "", "the Vault transit `key` (ecdsa-p256) the party signs and does TLS with; its certificate certifies it and no private key file is used")
	return v
}

// runPKIIssue has Vault's PKI secrets engine sign a party's certificate.
func runPKIIssue(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("pki issue", "--vault --name N --pki-role R --cert F (--key F | --vault-signing-key K) --vault-role-id ID --vault-secret-id-file F", stderr)
	useVault := fs.Bool("vault", false, "issue through Vault's PKI secrets engine (the only issuer so far; VAULT_ADDR or BAO_ADDR)")
	domain := fs.String("trust-domain", "fedscore.local", "the federation's SPIFFE trust `domain`")
	role := fs.String("role", pki.RoleNode, "the party's `role`: node, coordinator, querier, operator or regulator")
	name := fs.String("name", "", "the party's `name` (required)")
	mount := fs.String("pki-mount", "pki", "mount `path` of the PKI secrets engine")
	pkiRole := fs.String("pki-role", "", "the PKI engine's `role` that signs (pki/sign/<role>; required)")
	ttl := fs.Duration("ttl", 0, "requested certificate `lifetime` (0: the role's default)")
	dns := fs.String("dns", "", "comma-separated DNS `names` to certify too (a coordinator's host names)")
	ips := fs.String("ip", "", "comma-separated IP `addresses` to certify too")
	certOut := fs.String("cert", "", "output `file` for the certificate and its chain (PEM, required)")
	keyOut := fs.String("key", "", "the private key `file`: reused if it exists (renewal), else a new P-256 key is written (0600)")
	vf := addVaultFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case !*useVault:
		return errors.New("--vault is required: certificates for a real federation come from Vault's PKI engine (`fedscore pki --dir` makes a development PKI)")
	case *name == "" || *pkiRole == "" || *certOut == "":
		return errors.New("--name, --pki-role and --cert are required")
	case (*keyOut == "") == (vf.SigningKey == ""):
		return errors.New("give exactly one of --key and --vault-signing-key")
	}
	id := pki.Identity{TrustDomain: *domain, Role: *role, Name: *name}
	uri, err := url.Parse(id.String())
	if err == nil {
		_, err = pki.ParseIdentity(id.String())
	}
	if err != nil {
		return fmt.Errorf("identity %s: %w", id, err)
	}
	tmpl := &x509.CertificateRequest{
		Subject: pkix.Name{Organization: []string{id.TrustDomain}, OrganizationalUnit: []string{id.Role}, CommonName: id.Name},
		URIs:    []*url.URL{uri}, DNSNames: splitList(*dns)}
	for _, s := range splitList(*ips) {
		ip := net.ParseIP(s)
		if ip == nil {
			return fmt.Errorf("--ip: %q is not an IP address", s)
		}
		tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
	}

	vcfg := vf.Config
	vcfg.Node, vcfg.Logger = *name, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	vs, err := vault.Open(ctx, vcfg)
	if err != nil {
		return fmt.Errorf("--vault: %w", err)
	}
	defer vs.Close()
	var key crypto.Signer
	if vf.SigningKey != "" {
		if key, err = vs.Signer(ctx, vf.SigningKey); err != nil {
			return fmt.Errorf("--vault-signing-key: %w", err)
		}
	} else {
		fileKey, err := loadOrCreateKey(*keyOut)
		if err != nil {
			return err
		}
		key = fileKey
	}
	cert, err := vs.IssueCertificate(ctx, *mount, *pkiRole, key, tmpl, *ttl)
	if err != nil {
		return err
	}
	got, err := pki.IdentityFromCert(cert.Leaf)
	if err != nil || got != id {
		return fmt.Errorf("Vault signed a certificate for %v, not %s (%v): check the PKI role's allowed_uri_sans", got, id, err)
	}
	var chainPEM bytes.Buffer
	for _, der := range cert.Certificate {
		pem.Encode(&chainPEM, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	if err := atomicfile.Write(*certOut, chainPEM.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\t%s\tserial %x\tvalid until %s\n", id, *certOut, cert.Leaf.SerialNumber, cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
	return nil
}

// loadOrCreateKey reads the P-256 key at path, or makes one and writes it
// there (0600) before anything is requested for it.
func loadOrCreateKey(path string) (*ecdsa.PrivateKey, error) {
	if _, err := os.Stat(path); err == nil {
		return readPrivateKey(path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	if err := atomicfile.Write(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, err
	}
	return key, nil
}
