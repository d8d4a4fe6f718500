package sharebox

import (
	"crypto"
	"crypto/ecdh"
	"crypto/hpke"
	"crypto/rand"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/fedscore/fedscore/pki"
)

// Signature purposes (see pki.Sign).
const (
	// ShareSignaturePurpose signs a sealed share box.
	ShareSignaturePurpose = "fedscore/shamir-share/v1"

	// PublicKeySignaturePurpose signs a member's box public key.
	PublicKeySignaturePurpose = "fedscore/shamir-key/v1"
)

// hpkeInfoLabel prefixes the HPKE info, so that the key schedule of a
// share box differs from any other use of the same keys.
const hpkeInfoLabel = "fedscore/sharebox/v1"

// MaxFieldLen bounds each Context field and the public-key owner name.
const MaxFieldLen = 1024

// Errors reported by this package; test for them with errors.Is.
var (
	// ErrBadSignature reports a box or public key whose signature does not
	// verify for the given certificate, context and recipient key.
	ErrBadSignature = errors.New("sharebox: bad signature")

	// ErrOpen reports a correctly signed box that does not decrypt under
	// the recipient's key and context.
	ErrOpen = errors.New("sharebox: box does not open")

	// ErrInvalid reports an argument that is missing or malformed: an empty
	// or oversized context field, a public key that is not X25519, or an
	// empty share.
	ErrInvalid = errors.New("sharebox: invalid argument")
)

// KeyPair is a member's box key pair (X25519). The private key must stay
// with the member; the public key is published, signed with SignPublicKey.
type KeyPair struct {
	Private *ecdh.PrivateKey
}

// NewKeyPair generates a fresh box key pair.
func NewKeyPair() (*KeyPair, error) {
	k, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("sharebox: generate key: %w", err)
	}
	return &KeyPair{Private: k}, nil
}

// PublicBytes returns the 32-byte public key to publish.
func (k *KeyPair) PublicBytes() []byte {
	return k.Private.PublicKey().Bytes()
}

func (k *KeyPair) check() error {
	if k == nil || k.Private == nil {
		return fmt.Errorf("%w: no key pair", ErrInvalid)
	}
	if k.Private.Curve() != ecdh.X25519() {
		return fmt.Errorf("%w: key pair is not X25519", ErrInvalid)
	}
	return nil
}

// Context names one delivery: the federation epoch and the sending and
// receiving members. A box opens only under the exact Context it was
// sealed for.
type Context struct {
	Epoch     string
	Sender    string
	Recipient string
}

func (c Context) check() error {
	for _, f := range []struct{ name, v string }{{"epoch", c.Epoch}, {"sender", c.Sender}, {"recipient", c.Recipient}} {
		if err := checkField(f.name, f.v); err != nil {
			return err
		}
	}
	return nil
}

func checkField(name, v string) error {
	if v == "" {
		return fmt.Errorf("%w: empty %s", ErrInvalid, name)
	}
	if len(v) > MaxFieldLen {
		return fmt.Errorf("%w: %s of %d bytes exceeds %d", ErrInvalid, name, len(v), MaxFieldLen)
	}
	return nil
}

// Box is a sealed share: the HPKE encapsulated key followed by the AEAD
// ciphertext, and the sender's signature over it. Both are public.
type Box struct {
	Ciphertext []byte
	Signature  []byte
}

// suite returns the HPKE ciphersuite of every box.
func suite() (hpke.KDF, hpke.AEAD) {
	return hpke.HKDFSHA256(), hpke.AES256GCM()
}

// appendField appends b with a 4-byte big-endian length prefix, which keeps
// the concatenated encodings unambiguous.
func appendField(dst, b []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(b)))
	return append(dst, b...)
}

func (c Context) appendTo(dst []byte) []byte {
	dst = appendField(dst, []byte(c.Epoch))
	dst = appendField(dst, []byte(c.Sender))
	return appendField(dst, []byte(c.Recipient))
}

// hpkeInfo is the HPKE info of a box sealed for c.
func hpkeInfo(c Context) []byte {
	return c.appendTo(appendField(nil, []byte(hpkeInfoLabel)))
}

// signedMessage is what the sender signs: the context, the recipient's box
// public key and the sealed bytes.
func signedMessage(c Context, recipientPub, ciphertext []byte) []byte {
	msg := c.appendTo(nil)
	msg = appendField(msg, recipientPub)
	return appendField(msg, ciphertext)
}

func parsePublicKey(b []byte) (hpke.PublicKey, error) {
	pk, err := hpke.DHKEM(ecdh.X25519()).NewPublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("%w: recipient public key: %w", ErrInvalid, err)
	}
	return pk, nil
}

// Seal encrypts share for the member whose box public key is recipientPub,
// bound to ctx, and signs the result with signer (the sender's ECDSA P-256
// key, see pki.Sign). recipientPub must come from an authenticated source
// (VerifyPublicKey).
func Seal(signer crypto.Signer, recipientPub []byte, ctx Context, share []byte) (*Box, error) {
	if signer == nil {
		return nil, fmt.Errorf("sharebox: seal: %w: no signing key", ErrInvalid)
	}
	if err := ctx.check(); err != nil {
		return nil, fmt.Errorf("sharebox: seal: %w", err)
	}
	if len(share) == 0 {
		return nil, fmt.Errorf("sharebox: seal: %w: empty share", ErrInvalid)
	}
	pk, err := parsePublicKey(recipientPub)
	if err != nil {
		return nil, fmt.Errorf("sharebox: seal: %w", err)
	}
	kdf, aead := suite()
	ct, err := hpke.Seal(pk, kdf, aead, hpkeInfo(ctx), share)
	if err != nil {
		return nil, fmt.Errorf("sharebox: seal: %w", err)
	}
	sig, err := pki.Sign(signer, ShareSignaturePurpose, signedMessage(ctx, recipientPub, ct))
	if err != nil {
		return nil, fmt.Errorf("sharebox: seal: %w", err)
	}
	return &Box{Ciphertext: ct, Signature: sig}, nil
}

// Open verifies that box was signed by the holder of senderCert for ctx and
// for kp's public key, and only then decrypts it and returns the share.
// Errors wrap ErrBadSignature, ErrOpen or ErrInvalid. The caller must have
// verified senderCert (pki.VerifyPeerCertificate) and checked that it
// certifies ctx.Sender.
func Open(kp *KeyPair, senderCert *x509.Certificate, ctx Context, box *Box) ([]byte, error) {
	if err := kp.check(); err != nil {
		return nil, fmt.Errorf("sharebox: open: %w", err)
	}
	if err := ctx.check(); err != nil {
		return nil, fmt.Errorf("sharebox: open: %w", err)
	}
	if box == nil {
		return nil, fmt.Errorf("sharebox: open: %w: no box", ErrInvalid)
	}
	msg := signedMessage(ctx, kp.PublicBytes(), box.Ciphertext)
	if err := pki.Verify(senderCert, ShareSignaturePurpose, msg, box.Signature); err != nil {
		return nil, fmt.Errorf("sharebox: open: %w: %w", ErrBadSignature, err)
	}
	priv, err := hpke.NewDHKEMPrivateKey(kp.Private)
	if err != nil {
		return nil, fmt.Errorf("sharebox: open: %w: %w", ErrInvalid, err)
	}
	kdf, aead := suite()
	share, err := hpke.Open(priv, kdf, aead, hpkeInfo(ctx), box.Ciphertext)
	if err != nil {
		return nil, fmt.Errorf("sharebox: open: %w: %w", ErrOpen, err)
	}
	return share, nil
}

// publicKeyMessage is what a member signs to publish its box public key.
func publicKeyMessage(epoch, owner string, pub []byte) []byte {
	msg := appendField(nil, []byte(epoch))
	msg = appendField(msg, []byte(owner))
	return appendField(msg, pub)
}

// SignPublicKey signs the box public key pub of member owner for epoch
// with the member's signing key (purpose PublicKeySignaturePurpose).
func SignPublicKey(signer crypto.Signer, epoch, owner string, pub []byte) ([]byte, error) {
	if signer == nil {
		return nil, fmt.Errorf("sharebox: sign public key: %w: no signing key", ErrInvalid)
	}
	if err := checkKeyStatement(epoch, owner, pub); err != nil {
		return nil, fmt.Errorf("sharebox: sign public key: %w", err)
	}
	sig, err := pki.Sign(signer, PublicKeySignaturePurpose, publicKeyMessage(epoch, owner, pub))
	if err != nil {
		return nil, fmt.Errorf("sharebox: sign public key: %w", err)
	}
	return sig, nil
}

// VerifyPublicKey checks that sig is SignPublicKey's signature by the
// holder of cert over owner's box public key pub for epoch. As with Open,
// the caller verifies cert and checks that it certifies owner.
func VerifyPublicKey(cert *x509.Certificate, epoch, owner string, pub, sig []byte) error {
	if err := checkKeyStatement(epoch, owner, pub); err != nil {
		return fmt.Errorf("sharebox: verify public key: %w", err)
	}
	if err := pki.Verify(cert, PublicKeySignaturePurpose, publicKeyMessage(epoch, owner, pub), sig); err != nil {
		return fmt.Errorf("sharebox: verify public key: %w: %w", ErrBadSignature, err)
	}
	return nil
}

func checkKeyStatement(epoch, owner string, pub []byte) error {
	if err := checkField("epoch", epoch); err != nil {
		return err
	}
	if err := checkField("owner", owner); err != nil {
		return err
	}
	_, err := parsePublicKey(pub)
	return err
}
