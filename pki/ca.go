package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"time"
)

const (
	// LeafValidity is how long certificates issued by a CA stay valid
	// (capped at the CA's own expiry). Short-lived leaves limit the damage of
	// a stolen key without needing revocation.
	LeafValidity = 24 * time.Hour

	// clockSkew backdates NotBefore so peers whose clocks run slightly behind
	// accept a freshly issued certificate.
	clockSkew = 5 * time.Minute
)

// A CA is a development certificate authority (ECDSA P-256) for the sandbox
// and for tests. Its root is name-constrained to its trust domain, so it
// cannot vouch for identities in any other trust domain.
//
// A CA is safe for concurrent use.
type CA struct {
	trustDomain string
	cert        *x509.Certificate
	key         *ecdsa.PrivateKey
}

// NewCA creates a self-signed root CA for trustDomain, valid for validity.
func NewCA(trustDomain string, validity time.Duration) (*CA, error) {
	if err := validateTrustDomain(trustDomain); err != nil {
		return nil, err
	}
	if validity <= 0 {
		return nil, errors.New("pki: CA validity must be positive")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pki: generate CA key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"fedscore"}, CommonName: "fedscore development CA " + trustDomain},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		PermittedURIDomains:   []string{trustDomain},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("pki: create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("pki: parse CA certificate: %w", err)
	}
	return &CA{trustDomain: trustDomain, cert: cert, key: key}, nil
}

// Certificate returns the CA's root certificate.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// Pool returns a new pool holding only the CA's root certificate.
func (ca *CA) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	return pool
}

// Issue creates a key pair and a leaf certificate for id, usable for both
// TLS server and client authentication and for Sign. dnsNames and ips are
// optional extra SANs for clients that check hostnames; fedscore itself
// authenticates by identity only.
func (ca *CA) Issue(id Identity, dnsNames []string, ips []net.IP) (*Credential, error) {
	if err := id.Validate(); err != nil {
		return nil, err
	}
	if id.TrustDomain != ca.trustDomain {
		return nil, fmt.Errorf("%w: identity %s is outside the CA's trust domain %q", ErrUntrusted, id, ca.trustDomain)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pki: generate key for %s: %w", id, err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	notAfter := now.Add(LeafValidity)
	if notAfter.After(ca.cert.NotAfter) {
		notAfter = ca.cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{id.TrustDomain}, OrganizationalUnit: []string{id.Role}, CommonName: id.Name},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		URIs:                  []*url.URL{id.URI()},
		DNSNames:              dnsNames,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("pki: issue certificate for %s: %w", id, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("pki: parse certificate for %s: %w", id, err)
	}
	return &Credential{Certificate: cert, Key: key}, nil
}

// WriteCertificate writes the CA's root certificate to path in PEM form,
// replacing the file atomically.
func (ca *CA) WriteCertificate(path string) error {
	data := pem.EncodeToMemory(&pem.Block{Type: pemCertificate, Bytes: ca.cert.Raw})
	return writeFileAtomic(path, data, certFileMode)
}

func randomSerial() (*big.Int, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("pki: generate serial number: %w", err)
	}
	return serial, nil
}
