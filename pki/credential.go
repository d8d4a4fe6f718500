package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// Errors reported when loading credentials and certificates.
var (
	// ErrMalformed reports a PEM file or DER structure that cannot be parsed.
	ErrMalformed = errors.New("pki: malformed certificate or key")
	// ErrKeyMismatch reports a private key that does not belong to the
	// certificate it was loaded with.
	ErrKeyMismatch = errors.New("pki: private key does not match certificate")
)

const (
	pemCertificate  = "CERTIFICATE"
	pemPrivateKey   = "PRIVATE KEY"
	pemECPrivateKey = "EC PRIVATE KEY"
	certFileMode    = 0o644
	keyFileMode     = 0o600
)

// A Credential is a party's certificate and private key. Chain holds the
// intermediate certificates between Certificate and the root, if any; it
// never includes the root itself.
//
// Key is any ECDSA P-256 signer: an in-memory *ecdsa.PrivateKey, or a key
// that never leaves a key manager, such as a Vault transit key (see
// vault.Store.Signer); TLS handshakes and every signature then go
// through it. Only an in-memory key can be written to a file.
type Credential struct {
	Certificate *x509.Certificate
	Key         crypto.Signer
	Chain       []*x509.Certificate
}

// Identity returns the identity in the credential's certificate.
func (c *Credential) Identity() (Identity, error) {
	return IdentityFromCert(c.Certificate)
}

// TLSCertificate returns the credential in the form crypto/tls expects.
func (c *Credential) TLSCertificate() tls.Certificate {
	der := make([][]byte, 0, 1+len(c.Chain))
	der = append(der, c.Certificate.Raw)
	for _, ic := range c.Chain {
		der = append(der, ic.Raw)
	}
	return tls.Certificate{Certificate: der, PrivateKey: c.Key, Leaf: c.Certificate}
}

// WriteFiles writes the certificate and its chain to certPath and the
// private key (PKCS #8) to keyPath, both PEM-encoded. Each file is replaced
// atomically; the key file is readable by its owner only.
func (c *Credential) WriteFiles(certPath, keyPath string) error {
	priv, ok := c.Key.(*ecdsa.PrivateKey)
	if !ok {
		return fmt.Errorf("pki: the private key of %s is held by a key manager and cannot be written to a file", c.Certificate.Subject)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return fmt.Errorf("pki: encode private key: %w", err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: pemPrivateKey, Bytes: keyDER})
	clear(keyDER)
	// The key goes first so a crash between the two writes never leaves a
	// new certificate next to an old key.
	err = writeFileAtomic(keyPath, keyPEM, keyFileMode)
	clear(keyPEM)
	if err != nil {
		return err
	}
	var certPEM bytes.Buffer
	for _, cert := range append([]*x509.Certificate{c.Certificate}, c.Chain...) {
		if err := pem.Encode(&certPEM, &pem.Block{Type: pemCertificate, Bytes: cert.Raw}); err != nil {
			return fmt.Errorf("pki: encode certificate: %w", err)
		}
	}
	return writeFileAtomic(certPath, certPEM.Bytes(), certFileMode)
}

// LoadCredential reads a credential written by WriteFiles or by openssl:
// certPath holds the leaf certificate followed by any intermediates,
// keyPath an unencrypted PKCS #8 or SEC 1 ECDSA P-256 private key.
func LoadCredential(certPath, keyPath string) (*Credential, error) {
	certs, err := readCertificates(certPath)
	if err != nil {
		return nil, err
	}
	key, err := readPrivateKey(keyPath)
	if err != nil {
		return nil, err
	}
	if !key.PublicKey.Equal(certs[0].PublicKey) {
		return nil, fmt.Errorf("%w: %s does not hold the key for the certificate in %s", ErrKeyMismatch, keyPath, certPath)
	}
	return &Credential{Certificate: certs[0], Key: key, Chain: certs[1:]}, nil
}

// LoadCertificateChain reads PEM certificates, leaf first.
func LoadCertificateChain(path string) ([]*x509.Certificate, error) {
	return readCertificates(path)
}

// CredentialWithSigner reads the certificate chain at certPath and pairs it
// with key, a signer held elsewhere (a key manager): the certificate must
// certify key's public key.
func CredentialWithSigner(certPath string, key crypto.Signer) (*Credential, error) {
	certs, err := readCertificates(certPath)
	if err != nil {
		return nil, err
	}
	pub, ok := key.Public().(*ecdsa.PublicKey)
	if !ok || !pub.Equal(certs[0].PublicKey) {
		return nil, fmt.Errorf("%w: the certificate in %s is not for the managed key", ErrKeyMismatch, certPath)
	}
	return &Credential{Certificate: certs[0], Key: key, Chain: certs[1:]}, nil
}

// LoadCertPool reads one or more PEM certificates from path into a pool.
// Unlike x509.CertPool.AppendCertsFromPEM it rejects a file with any
// malformed or non-certificate block instead of skipping it.
func LoadCertPool(path string) (*x509.CertPool, error) {
	certs, err := readCertificates(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}

// readCertificates parses every PEM block in path, which must all be
// certificates; there must be at least one.
func readCertificates(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pki: read certificates: %w", err)
	}
	var certs []*x509.Certificate
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			if len(bytes.TrimSpace(rest)) != 0 {
				return nil, fmt.Errorf("%w: %s: data after PEM block %d is not PEM", ErrMalformed, path, len(certs))
			}
			break
		}
		if block.Type != pemCertificate {
			return nil, fmt.Errorf("%w: %s: PEM block %d is %q, want %q", ErrMalformed, path, len(certs)+1, block.Type, pemCertificate)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: certificate %d: %w", ErrMalformed, path, len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%w: %s: no %q PEM block", ErrMalformed, path, pemCertificate)
	}
	return certs, nil
}

func readPrivateKey(path string) (*ecdsa.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pki: read private key: %w", err)
	}
	defer clear(data)
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%w: %s: no PEM block", ErrMalformed, path)
	}
	defer clear(block.Bytes)
	var key any
	switch block.Type {
	case pemPrivateKey:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case pemECPrivateKey:
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("%w: %s: PEM block is %q, want %q or %q (unencrypted)", ErrMalformed, path, block.Type, pemPrivateKey, pemECPrivateKey)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrMalformed, path, err)
	}
	ec, ok := key.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: %s: key is %T, want ECDSA P-256", ErrMalformed, path, key)
	}
	return ec, nil
}

// CoordinatorIdentity is the identity a party requires of its
// coordinator's certificate: id, a SPIFFE ID, when given, and otherwise
// the coordinator of the party's own trust domain.
func CoordinatorIdentity(self *Credential, id string) (Identity, error) {
	if id != "" {
		return ParseIdentity(id)
	}
	own, err := self.Identity()
	if err != nil {
		return own, err
	}
	return Identity{TrustDomain: own.TrustDomain, Role: RoleCoordinator, Name: "coordinator"}, nil
}
