package pki

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"slices"
	"time"
)

// ServerTLSConfig returns a TLS 1.3 server configuration that presents cred
// and requires every client to present a certificate that chains to roots,
// belongs to the server's own trust domain, and has one of allowedRoles.
// With no allowedRoles every client is refused.
func ServerTLSConfig(cred *Credential, roots *x509.CertPool, allowedRoles ...string) *tls.Config {
	own, ownErr := cred.Identity()
	allowed := slices.Clone(allowedRoles)
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cred.TLSCertificate()},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    roots,
		// VerifyConnection, unlike VerifyPeerCertificate, also runs when
		// a connection is resumed.
		VerifyConnection: func(cs tls.ConnectionState) error {
			if ownErr != nil {
				return fmt.Errorf("pki: server credential: %w", ownErr)
			}
			// A nil ClientCAs would make crypto/tls trust the system roots.
			if roots == nil {
				return fmt.Errorf("%w: no trusted roots configured", ErrUntrusted)
			}
			if len(cs.VerifiedChains) == 0 {
				return fmt.Errorf("%w: client certificate not verified", ErrUntrusted)
			}
			id, err := IdentityFromCert(cs.VerifiedChains[0][0])
			if err != nil {
				return err
			}
			if id.TrustDomain != own.TrustDomain {
				return fmt.Errorf("%w: client %s is outside trust domain %q", ErrUntrusted, id, own.TrustDomain)
			}
			if !slices.Contains(allowed, id.Role) {
				return fmt.Errorf("%w: client %s, allowed roles %q", ErrWrongRole, id, allowed)
			}
			return nil
		},
	}
}

// ClientTLSConfig returns a TLS 1.3 client configuration that presents cred
// and accepts only a server whose certificate chains to roots and whose
// identity equals server exactly. The server's hostname is not checked.
func ClientTLSConfig(cred *Credential, roots *x509.CertPool, server Identity) *tls.Config {
	cert := cred.TLSCertificate()
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		// Always present the credential, so that a server that does not
		// trust it says so instead of reporting a missing certificate.
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &cert, nil
		},
		RootCAs: roots,
		// The default verification would match the dialled hostname against
		// DNS SANs. VerifyConnection replaces it: it verifies the chain
		// against roots and matches the URI SAN instead.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			id, err := verifyChain(cs.PeerCertificates, roots, time.Now(), x509.ExtKeyUsageServerAuth)
			if err != nil {
				return err
			}
			if id != server {
				return fmt.Errorf("%w: server is %s, want %s", ErrWrongIdentity, id, server)
			}
			return nil
		},
	}
}
