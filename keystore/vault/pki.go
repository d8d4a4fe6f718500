package vault

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
	"time"
)

// IssueCertificate has Vault's PKI secrets engine at mount sign a
// certificate for key under role (pki/sign/<role>) and returns it with its
// chain. The subject and the SANs, such as the node's SPIFFE URI, come from
// tmpl; the role decides which Vault accepts. The private key stays with the
// caller: Vault sees only the certificate request.
//
// Serve the result through tls.Config.GetCertificate (or
// GetClientCertificate) and call IssueCertificate again before it expires.
func (s *Store) IssueCertificate(ctx context.Context, mount, role string, key crypto.Signer, tmpl *x509.CertificateRequest, ttl time.Duration) (*tls.Certificate, error) {
	select {
	case <-s.closed:
		return nil, ErrClosed
	default:
	}
	mount = trimSlashes(mount)
	if mount == "" || role == "" || strings.Contains(role, "/") {
		return nil, fmt.Errorf("%w: PKI mount %q, role %q", ErrConfig, mount, role)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return nil, fmt.Errorf("vaultstore: certificate request: %w", err)
	}
	path := mount + "/sign/" + role
	data := map[string]any{
		"csr":    string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr})),
		"format": "pem",
	}
	if ttl > 0 {
		data["ttl"] = ttl.String()
	}
	resp, err := s.client.Logical().WriteWithContext(ctx, path, data)
	if err != nil {
		return nil, classify(ctx, "sign a certificate ("+path+")", s.cfg.Address, err)
	}
	if resp == nil || resp.Data == nil {
		return nil, fmt.Errorf("%w: %s returned no certificate", ErrRefused, path)
	}
	leafPEM, _ := resp.Data["certificate"].(string)
	var chainPEM []string
	if cs, ok := resp.Data["ca_chain"].([]any); ok {
		for _, c := range cs {
			if p, ok := c.(string); ok {
				chainPEM = append(chainPEM, p)
			}
		}
	}
	if len(chainPEM) == 0 {
		if p, ok := resp.Data["issuing_ca"].(string); ok {
			chainPEM = append(chainPEM, p)
		}
	}
	cert := &tls.Certificate{PrivateKey: key}
	for _, p := range append([]string{leafPEM}, chainPEM...) {
		rest := []byte(p)
		for {
			var block *pem.Block
			block, rest = pem.Decode(rest)
			if block == nil {
				break
			}
			if block.Type == "CERTIFICATE" {
				cert.Certificate = append(cert.Certificate, block.Bytes)
			}
		}
	}
	if len(cert.Certificate) == 0 {
		return nil, fmt.Errorf("%w: %s returned no PEM certificate", ErrRefused, path)
	}
	if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrRefused, path, err)
	}
	want, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, fmt.Errorf("vaultstore: %w", err)
	}
	if got, err := x509.MarshalPKIXPublicKey(cert.Leaf.PublicKey); err != nil || !bytes.Equal(got, want) {
		return nil, fmt.Errorf("%w: %s returned a certificate for another key", ErrRefused, path)
	}
	return cert, nil
}
