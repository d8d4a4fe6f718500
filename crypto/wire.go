package crypto

import (
	"encoding/binary"
	"fmt"

	"github.com/tuneinsight/lattigo/v5/ring"
)

// Every serialized object is a fixed header followed by its polynomials:
//
//	offset size
//	0      4    magic "FSHE"
//	4      1    format version (1)
//	5      1    object kind
//	6      1    log2 of the ring degree N
//	7      1    number of polynomials
//	8      1    number of RNS moduli per polynomial
//	9      8    parameter-set fingerprint
//	17     …    for each polynomial, for each modulus q_j: N coefficients
//	            in [0, q_j), little-endian uint64
//
// The format is Lattigo-independent and canonical: one object has exactly
// one encoding, and a decoder can check every byte before allocating.
const (
	wireMagic      = "FSHE"
	wireVersion    = 1
	wireHeaderSize = 17
)

// kind tags the object type so that, for example, a key-switch share of
// the same shape as a ciphertext is never accepted as one.
type kind uint8

const (
	kindCiphertext kind = iota + 1
	kindPublicKey
	kindSecretShare
	kindReceiverKey // no longer encoded; kept so the kinds after it keep their tags
	kindCKGShare
	kindKeySwitchShare
	kindDecryptionShare
)

func (k kind) String() string {
	switch k {
	case kindCiphertext:
		return "ciphertext"
	case kindPublicKey:
		return "public key"
	case kindSecretShare:
		return "secret share"
	case kindReceiverKey:
		return "receiver key"
	case kindCKGShare:
		return "key-generation share"
	case kindKeySwitchShare:
		return "key-switch share"
	case kindDecryptionShare:
		return "decryption share"
	case kindCiphertextC1:
		return "ciphertext c1 part"
	}
	return fmt.Sprintf("kind %d", uint8(k))
}

func wireSize(levels, polys, n int) int {
	return wireHeaderSize + polys*levels*n*8
}

// marshalPolys encodes polys, each at the full level of p.
func (p Params) marshalPolys(k kind, polys ...ring.Poly) []byte {
	n, levels := p.bgv.N(), p.levels()
	b := make([]byte, wireSize(levels, len(polys), n))
	copy(b, wireMagic)
	b[4] = wireVersion
	b[5] = byte(k)
	b[6] = byte(p.logN())
	b[7] = byte(len(polys))
	b[8] = byte(levels)
	copy(b[9:wireHeaderSize], p.id[:])
	off := wireHeaderSize
	for _, poly := range polys {
		for j := 0; j < levels; j++ {
			for _, c := range poly.Coeffs[j][:n] {
				binary.LittleEndian.PutUint64(b[off:], c)
				off += 8
			}
		}
	}
	return b
}

// checkHeader validates everything about b except the coefficient values:
// magic, version, kind, parameter set, shape and exact length. Callers run
// it before allocating anything for the decoded object.
func (p Params) checkHeader(b []byte, k kind, polys int) error {
	if len(b) < wireHeaderSize {
		return fmt.Errorf("%w: %s: %d bytes is shorter than the %d-byte header", ErrMalformed, k, len(b), wireHeaderSize)
	}
	if string(b[:4]) != wireMagic {
		return fmt.Errorf("%w: %s: bad magic %q", ErrMalformed, k, b[:4])
	}
	if b[4] != wireVersion {
		return fmt.Errorf("%w: %s: unsupported format version %d", ErrMalformed, k, b[4])
	}
	if got := kind(b[5]); got != k {
		return fmt.Errorf("%w: got a %s, want a %s", ErrMalformed, got, k)
	}
	if int(b[6]) != p.logN() {
		return fmt.Errorf("%w: %s has ring degree 2^%d, %s uses 2^%d", ErrParamsMismatch, k, b[6], p.name, p.logN())
	}
	if paramsID(b[9:wireHeaderSize]) != p.id {
		return fmt.Errorf("%w: %s was made under other parameters than %s", ErrParamsMismatch, k, p.name)
	}
	if int(b[7]) != polys {
		return fmt.Errorf("%w: %s has %d polynomials (degree %d), want %d", ErrMalformed, k, b[7], int(b[7])-1, polys)
	}
	levels := p.levels()
	if int(b[8]) != levels {
		return fmt.Errorf("%w: %s has %d moduli (level %d), want %d (level %d)", ErrMalformed, k, b[8], int(b[8])-1, levels, levels-1)
	}
	if want := wireSize(levels, polys, p.bgv.N()); len(b) != want {
		what := "truncated"
		if len(b) > want {
			what = "trailing bytes"
		}
		return fmt.Errorf("%w: %s: %s: %d bytes, want %d", ErrMalformed, k, what, len(b), want)
	}
	return nil
}

// unmarshalPolys checks b against p and decodes it into dst, polynomials
// allocated at the full level of p.
func (p Params) unmarshalPolys(b []byte, k kind, dst ...ring.Poly) error {
	if err := p.checkHeader(b, k, len(dst)); err != nil {
		return err
	}
	n, moduli := p.bgv.N(), p.bgv.Q()
	off := wireHeaderSize
	for i, poly := range dst {
		for j, q := range moduli {
			row := poly.Coeffs[j][:n]
			for idx := range row {
				c := binary.LittleEndian.Uint64(b[off:])
				if c >= q {
					return fmt.Errorf("%w: %s: polynomial %d, modulus %d, coefficient %d is not below the modulus", ErrMalformed, k, i, j, idx)
				}
				row[idx] = c
				off += 8
			}
		}
	}
	return nil
}

// checkID reports whether an in-memory object belongs to p.
func (p Params) checkID(id paramsID, what string) error {
	if id != p.id {
		return fmt.Errorf("%w: %s belongs to other parameters than %s", ErrParamsMismatch, what, p.name)
	}
	return nil
}
