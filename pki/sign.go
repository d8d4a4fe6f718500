package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
)

// Sign signs msg for purpose with key, which must be an ECDSA P-256 key
// (a *ecdsa.PrivateKey or, for example, a key held in a KMS). It returns an
// ASN.1 ECDSA signature over SHA-256(purpose || 0x00 || msg). The purpose
// (such as "fedscore/receipt/v1") names the kind of message, so that a
// signature verifies only under the purpose it was made for; it must be
// non-empty and contain no NUL byte.
func Sign(key crypto.Signer, purpose string, msg []byte) ([]byte, error) {
	if err := checkPurpose(purpose); err != nil {
		return nil, err
	}
	if !isP256(key.Public()) {
		return nil, fmt.Errorf("pki: sign: key is %T, want ECDSA P-256", key.Public())
	}
	digest := signedDigest(purpose, msg)
	sig, err := key.Sign(rand.Reader, digest, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("pki: sign: %w", err)
	}
	return sig, nil
}

// Verify checks that sig is a signature made by Sign for purpose over msg
// with the key certified by cert. It does not verify cert itself; use
// VerifyPeerCertificate for that first.
func Verify(cert *x509.Certificate, purpose string, msg, sig []byte) error {
	if cert == nil {
		return fmt.Errorf("%w: no certificate", ErrBadSignature)
	}
	if err := checkPurpose(purpose); err != nil {
		return fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || !isP256(pub) {
		return fmt.Errorf("%w: certificate key is %T, want ECDSA P-256", ErrBadSignature, cert.PublicKey)
	}
	// A CA key or a key certified for other uses must not sign messages.
	if cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return fmt.Errorf("%w: certificate does not allow digital signatures", ErrBadSignature)
	}
	if !ecdsa.VerifyASN1(pub, signedDigest(purpose, msg), sig) {
		return fmt.Errorf("%w: %s signature does not verify", ErrBadSignature, purpose)
	}
	return nil
}

// checkPurpose rejects purposes that would make the signed encoding
// ambiguous: a NUL inside the purpose would let purpose and message
// boundaries shift.
func checkPurpose(purpose string) error {
	if purpose == "" || strings.IndexByte(purpose, 0) >= 0 {
		return errors.New("pki: purpose must be non-empty and contain no NUL byte")
	}
	return nil
}

func signedDigest(purpose string, msg []byte) []byte {
	h := sha256.New()
	h.Write([]byte(purpose))
	h.Write([]byte{0})
	h.Write(msg)
	return h.Sum(nil)
}

func isP256(pub crypto.PublicKey) bool {
	k, ok := pub.(*ecdsa.PublicKey)
	return ok && k.Curve == elliptic.P256()
}
