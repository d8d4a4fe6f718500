package crypto

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"

	"github.com/tuneinsight/lattigo/v5/ring"
)

// FingerprintPoints is how many evaluation points a fingerprint takes per
// polynomial and RNS modulus.
//
// A fingerprint evaluates the coefficient vector a of each polynomial,
// modulus by modulus, as the polynomial Σ_x a[x]·r^x at random points r
// derived from a seed. The map is linear, so the fingerprint of a sum is
// the sum of the fingerprints; and for any fixed a ≠ 0 (per modulus q), a
// random point is a root with probability at most (n−1)/q (Schwartz–Zippel).
// With two independent points and 60-bit moduli at n = 2^13, an object
// that differs from the claimed sum in any modulus passes with
// probability below 2^-94 — provided the seed is drawn after the object
// and the claimed fingerprints are fixed.
const FingerprintPoints = 2

// SeedSize is the size of a fingerprint seed.
const SeedSize = 32

// fingerprintVersion tags the fingerprint encoding and the derivation of
// its points.
const fingerprintVersion = 1

// A polynomial's role says which part of a ciphertext it is, so that a
// ciphertext's c1, sent alone, has the fingerprint of the ciphertext's c1,
// and a decryption share (which is added to c0) is fingerprinted in the
// c0 role.
const (
	roleC0 = 0
	roleC1 = 1
	roles  = 2
)

// kindCiphertextC1 is the c1 part of a ciphertext on its own: all that a
// key-switch or decryption share depends on. It is numbered after the
// kinds of wire.go and threshold.go.
const kindCiphertextC1 kind = 10

// Fingerprint is a short linear projection of a serialized ciphertext, of
// its c1 part, or of a decryption share, at a seed. It is FingerprintPoints
// words per polynomial and modulus. The zero value is empty.
type Fingerprint struct {
	id paramsID
	// v holds, per role present, levels × FingerprintPoints values.
	v [roles][]uint64
}

// roleMask describes which roles f holds.
func (f Fingerprint) roleMask() byte {
	var m byte
	for r := range roles {
		if f.v[r] != nil {
			m |= 1 << r
		}
	}
	return m
}

// blobRoles returns the roles of the polynomials of a serialized object
// kind, in order.
func blobRoles(k kind) ([]int, error) {
	switch k {
	case kindCiphertext:
		return []int{roleC0, roleC1}, nil
	case kindCiphertextC1:
		return []int{roleC1}, nil
	case kindDecryptionShare:
		return []int{roleC0}, nil
	}
	return nil, fmt.Errorf("%w: a %s has no fingerprint", ErrMalformed, k)
}

// fingerprintPoints derives the evaluation points of role and modulus j
// from seed, in Montgomery form.
func (p Params) fingerprintPoints(seed []byte, role, j int) [FingerprintPoints]uint64 {
	q := p.bgv.Q()[j]
	mask := uint64(1)<<bits.Len64(q) - 1
	bred := ring.BRedConstant(q)
	var out [FingerprintPoints]uint64
	var msg [SeedSize + 32]byte
	copy(msg[:], "fedscore/crypto fingerprint v1\x00\x00")
	copy(msg[32:], seed)
	h := sha256.New()
	for t := range out {
		for ctr := uint32(0); ; ctr++ {
			h.Reset()
			h.Write(msg[:])
			var idx [16]byte
			binary.LittleEndian.PutUint32(idx[0:], uint32(role))
			binary.LittleEndian.PutUint32(idx[4:], uint32(j))
			binary.LittleEndian.PutUint32(idx[8:], uint32(t))
			binary.LittleEndian.PutUint32(idx[12:], ctr)
			h.Write(idx[:])
			h.Write(p.id[:])
			var sum [sha256.Size]byte
			r := binary.LittleEndian.Uint64(h.Sum(sum[:0])) & mask
			if r != 0 && r < q {
				out[t] = ring.MForm(r, q, bred)
				break
			}
		}
	}
	return out
}

// Fingerprint returns the fingerprint of a serialized ciphertext, c1 part
// or decryption share at seed (SeedSize bytes). It checks b as its decoder
// does; errors wrap ErrMalformed or ErrParamsMismatch.
func (p Params) Fingerprint(seed, b []byte) (Fingerprint, error) {
	if len(seed) != SeedSize {
		return Fingerprint{}, fmt.Errorf("%w: fingerprint seed of %d bytes, want %d", ErrMalformed, len(seed), SeedSize)
	}
	if len(b) < wireHeaderSize {
		return Fingerprint{}, fmt.Errorf("%w: %d bytes is shorter than the %d-byte header", ErrMalformed, len(b), wireHeaderSize)
	}
	k := kind(b[5])
	rs, err := blobRoles(k)
	if err != nil {
		return Fingerprint{}, err
	}
	if err := p.checkHeader(b, k, len(rs)); err != nil {
		return Fingerprint{}, err
	}
	n, moduli := p.bgv.N(), p.bgv.Q()
	f := Fingerprint{id: p.id}
	off := wireHeaderSize
	for _, q := range moduli {
		if q >= 1<<62 {
			return Fingerprint{}, fmt.Errorf("%w: fingerprints need moduli below 2^62", ErrParamsMismatch)
		}
	}
	for i, role := range rs {
		vals := make([]uint64, 0, len(moduli)*FingerprintPoints)
		for j, q := range moduli {
			pts := p.fingerprintPoints(seed, role, j)
			qInv := ring.MRedConstant(q)
			row := b[off : off+8*n]
			// Horner's rule from the highest coefficient down, with lazy
			// reduction: the accumulators stay below 3q, which the
			// Montgomery product accepts for moduli below 2^62.
			var acc [FingerprintPoints]uint64
			r0, r1 := pts[0], pts[1]
			a0, a1 := uint64(0), uint64(0)
			for x := n - 1; x >= 0; x-- {
				c := binary.LittleEndian.Uint64(row[8*x:])
				if c >= q {
					return Fingerprint{}, fmt.Errorf("%w: %s: polynomial %d, modulus %d, coefficient %d is not below the modulus", ErrMalformed, k, i, j, x)
				}
				a0 = ring.MRedLazy(a0, r0, q, qInv) + c
				a1 = ring.MRedLazy(a1, r1, q, qInv) + c
			}
			acc[0], acc[1] = a0%q, a1%q
			vals = append(vals, acc[:]...)
			off += 8 * n
		}
		f.v[role] = vals
	}
	return f, nil
}

// MarshalBinary encodes f: a version byte, the roles present, the number
// of moduli and points, then the values, little-endian.
func (f Fingerprint) MarshalBinary() ([]byte, error) {
	m := f.roleMask()
	if m == 0 {
		return nil, errors.New("crypto: marshal of an empty Fingerprint")
	}
	levels := 0
	for r := range roles {
		if f.v[r] != nil {
			levels = len(f.v[r]) / FingerprintPoints
		}
	}
	out := []byte{fingerprintVersion, m, byte(levels), FingerprintPoints}
	out = append(out, f.id[:]...)
	for r := range roles {
		for _, v := range f.v[r] {
			out = binary.LittleEndian.AppendUint64(out, v)
		}
	}
	return out, nil
}

// fingerprintHeaderSize is the size of a fingerprint's header.
const fingerprintHeaderSize = 4 + len(paramsID{})

// UnmarshalFingerprint decodes a fingerprint made under p, checking every
// value against its modulus; errors wrap ErrMalformed or
// ErrParamsMismatch.
func (p Params) UnmarshalFingerprint(b []byte) (Fingerprint, error) {
	if len(b) < fingerprintHeaderSize {
		return Fingerprint{}, fmt.Errorf("%w: fingerprint of %d bytes", ErrMalformed, len(b))
	}
	moduli := p.bgv.Q()
	switch {
	case b[0] != fingerprintVersion:
		return Fingerprint{}, fmt.Errorf("%w: fingerprint version %d", ErrMalformed, b[0])
	case b[1] == 0 || b[1]>>roles != 0:
		return Fingerprint{}, fmt.Errorf("%w: fingerprint roles %#x", ErrMalformed, b[1])
	case int(b[2]) != len(moduli) || b[3] != FingerprintPoints:
		return Fingerprint{}, fmt.Errorf("%w: fingerprint of %d moduli and %d points, want %d and %d", ErrMalformed, b[2], b[3], len(moduli), FingerprintPoints)
	case paramsID(b[4:fingerprintHeaderSize]) != p.id:
		return Fingerprint{}, fmt.Errorf("%w: fingerprint was made under other parameters than %s", ErrParamsMismatch, p.name)
	}
	f := Fingerprint{id: p.id}
	per := len(moduli) * FingerprintPoints
	off := fingerprintHeaderSize
	for r := range roles {
		if b[1]&(1<<r) == 0 {
			continue
		}
		if len(b) < off+8*per {
			return Fingerprint{}, fmt.Errorf("%w: truncated fingerprint", ErrMalformed)
		}
		f.v[r] = make([]uint64, per)
		for i := range f.v[r] {
			v := binary.LittleEndian.Uint64(b[off:])
			if v >= moduli[i/FingerprintPoints] {
				return Fingerprint{}, fmt.Errorf("%w: fingerprint value %d is not below its modulus", ErrMalformed, i)
			}
			f.v[r][i] = v
			off += 8
		}
	}
	if off != len(b) {
		return Fingerprint{}, fmt.Errorf("%w: fingerprint has trailing bytes", ErrMalformed)
	}
	return f, nil
}

// SumFingerprints adds fingerprints taken at one seed; all must hold the
// same roles. The sum is the fingerprint of the sum of the objects.
func (p Params) SumFingerprints(fs []Fingerprint) (Fingerprint, error) {
	if len(fs) == 0 {
		return Fingerprint{}, fmt.Errorf("crypto: sum of fingerprints: %w", errEmpty)
	}
	moduli := p.bgv.Q()
	out := Fingerprint{id: p.id}
	for i, f := range fs {
		if f.id != p.id {
			return Fingerprint{}, fmt.Errorf("%w: fingerprint %d belongs to other parameters than %s", ErrParamsMismatch, i, p.name)
		}
		if f.roleMask() != fs[0].roleMask() || f.roleMask() == 0 {
			return Fingerprint{}, fmt.Errorf("%w: fingerprint %d covers other polynomials than fingerprint 0", ErrMalformed, i)
		}
		for r := range roles {
			if f.v[r] == nil {
				continue
			}
			if out.v[r] == nil {
				out.v[r] = make([]uint64, len(f.v[r]))
			}
			for x, v := range f.v[r] {
				s := out.v[r][x] + v
				if q := moduli[x/FingerprintPoints]; s >= q {
					s -= q
				}
				out.v[r][x] = s
			}
		}
	}
	return out, nil
}

// Matches reports whether g agrees with f on every polynomial f covers. A
// verifier holding only the c1 part of an aggregate checks its
// fingerprint against the sum of whole-ciphertext fingerprints this way.
func (f Fingerprint) Matches(g Fingerprint) bool {
	if f.roleMask() == 0 || f.id != g.id {
		return false
	}
	for r := range roles {
		if f.v[r] == nil {
			continue
		}
		if len(g.v[r]) != len(f.v[r]) {
			return false
		}
		for x := range f.v[r] {
			if f.v[r][x] != g.v[r][x] {
				return false
			}
		}
	}
	return true
}

// Equal reports whether f and g are the same fingerprint.
func (f Fingerprint) Equal(g Fingerprint) bool {
	return f.roleMask() == g.roleMask() && f.Matches(g)
}
