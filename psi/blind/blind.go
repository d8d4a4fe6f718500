package blind

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"

	"github.com/cloudflare/circl/group"
)

// ElementSize is the length of an encoded element.
const ElementSize = 32

// DST is the RFC 9380 domain separation tag of the hash to the group.
const DST = "FEDSCORE-PSI-V01-CS01-with-ristretto255_XMD:SHA-512_R255MAP_RO_"

// keyDST separates the derivation of secret scalars from other uses of
// the expander.
const keyDST = "FEDSCORE-PSI-V01-KEY-ristretto255"

var g = group.Ristretto255

// Errors reported by this package.
var (
	// ErrInvalidElement reports bytes that are not the canonical
	// encoding of a non-identity ristretto255 element.
	ErrInvalidElement = errors.New("invalid group element")
)

// Element is the canonical encoding of a group element.
type Element [ElementSize]byte

// Key is a party's secret exponent for one query. It must never be reused
// across queries.
type Key struct {
	s group.Scalar
}

// NewKey draws a fresh non-zero scalar from 64 bytes of rnd (nil means
// crypto/rand), reduced modulo the group order (bias below 2^-250).
func NewKey(rnd io.Reader) (*Key, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	var seed [64]byte
	for {
		if _, err := io.ReadFull(rnd, seed[:]); err != nil {
			return nil, fmt.Errorf("psi key: read randomness: %w", err)
		}
		s := g.HashToScalar(seed[:], []byte(keyDST))
		if !s.IsZero() {
			return &Key{s: s}, nil
		}
	}
}

// DeriveKey returns the scalar derived from a secret seed (at least 32
// random bytes) and a label, for secrets a party must reproduce instead of
// storing, such as the exponent of one dummy element.
func DeriveKey(seed []byte, label []byte) *Key {
	msg := append(append([]byte(nil), seed...), label...)
	s := g.HashToScalar(msg, []byte(keyDST+"-derived"))
	if s.IsZero() {
		s.SetUint64(1) // probability 2^-252
	}
	return &Key{s: s}
}

// Decode parses an encoded element.
func Decode(b []byte) (group.Element, error) {
	if len(b) != ElementSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrInvalidElement, len(b))
	}
	e := g.NewElement()
	if err := e.UnmarshalBinary(b); err != nil || e.IsIdentity() {
		return nil, ErrInvalidElement
	}
	return e, nil
}

// encode writes the canonical encoding of e to dst.
func encode(dst *Element, e group.Element) {
	b, err := e.MarshalBinary()
	if err != nil || len(b) != ElementSize {
		// circl's ristretto encoding cannot fail.
		panic(fmt.Sprintf("ristretto255 encoding: %v", err))
	}
	copy(dst[:], b)
}

// Random returns the encoding of a uniformly random element (from
// crypto/rand), indistinguishable from a blinded identifier.
func Random() Element {
	var buf [64]byte
	if _, err := rand.Read(buf[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	var out Element
	encode(&out, g.HashToElement(buf[:], []byte("FEDSCORE-PSI-V01-FILLER")))
	return out
}

// Hasher hashes normalised identifiers of one query's domain to the group.
type Hasher struct {
	prefix []byte
}

// NewHasher returns a Hasher that hashes prefix||identifier.
func NewHasher(prefix []byte) *Hasher {
	return &Hasher{prefix: append([]byte(nil), prefix...)}
}

// hash returns H(id) using buf as scratch space.
func (h *Hasher) hash(buf []byte, id string) (group.Element, []byte) {
	buf = append(append(buf[:0], h.prefix...), id...)
	return g.HashToElement(buf, []byte(DST)), buf
}

// Hash returns the encoding of H(id), unblinded. Only a party's own code
// may hold these values: they must never leave the party.
func (h *Hasher) Hash(id string) Element {
	e, _ := h.hash(nil, id)
	var out Element
	encode(&out, e)
	return out
}

// Base hashes label to an element nobody knows the discrete logarithm of,
// as the common start of the elements that carry dummies.
func Base(prefix []byte, label string) Element {
	h := NewHasher(append(append([]byte(nil), prefix...), "/base/"...))
	return h.Hash(label)
}

// Exp returns e raised to k (e·k in additive notation).
func Exp(e Element, k *Key) (Element, error) {
	x, err := Decode(e[:])
	if err != nil {
		return Element{}, err
	}
	x.Mul(x, k.s)
	var out Element
	encode(&out, x)
	return out, nil
}
