package pki

import (
	"crypto/x509"
	"fmt"
	"time"
)

// VerifyPeerCertificate verifies a DER certificate chain (leaf first, then
// any intermediates) against roots at time now, and checks that the leaf's
// identity has the given role. It returns the identity and the parsed leaf.
//
// Use it to authenticate a certificate that arrived outside a TLS
// handshake, such as one attached to a signed query or receipt, before
// passing the leaf to Verify. The leaf's extended key usage is not
// restricted; authorisation rests on its identity.
func VerifyPeerCertificate(chainDER [][]byte, roots *x509.CertPool, role string, now time.Time) (Identity, *x509.Certificate, error) {
	certs := make([]*x509.Certificate, 0, len(chainDER))
	for i, der := range chainDER {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return Identity{}, nil, fmt.Errorf("%w: certificate %d: %w", ErrUntrusted, i, err)
		}
		certs = append(certs, c)
	}
	id, err := verifyChain(certs, roots, now, x509.ExtKeyUsageAny)
	if err != nil {
		return Identity{}, nil, err
	}
	if id.Role != role {
		return Identity{}, nil, fmt.Errorf("%w: %s does not have role %q", ErrWrongRole, id, role)
	}
	return id, certs[0], nil
}

// verifyChain verifies certs (leaf first) against roots at time now for the
// given extended key usage and returns the leaf's identity.
func verifyChain(certs []*x509.Certificate, roots *x509.CertPool, now time.Time, usage x509.ExtKeyUsage) (Identity, error) {
	if len(certs) == 0 {
		return Identity{}, fmt.Errorf("%w: no certificate", ErrUntrusted)
	}
	// A nil pool would make x509 fall back to the system roots.
	if roots == nil {
		return Identity{}, fmt.Errorf("%w: no trusted roots configured", ErrUntrusted)
	}
	intermediates := x509.NewCertPool()
	for _, c := range certs[1:] {
		intermediates.AddCert(c)
	}
	leaf := certs[0]
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: intermediates,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{usage},
	})
	if err != nil {
		return Identity{}, fmt.Errorf("%w: %w", ErrUntrusted, err)
	}
	return IdentityFromCert(leaf)
}
