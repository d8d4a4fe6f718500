package crypto

import (
	"encoding/binary"
	"fmt"
)

// Accumulator adds serialized ciphertexts, or serialized decryption shares,
// one at a time as they arrive, so that whoever sums them holds only the
// running sum, never every input. The sum of ciphertexts encodes exactly as
// Evaluator.Sum of the decoded ciphertexts would. An Accumulator is not
// safe for concurrent use.
type Accumulator struct {
	params Params
	kind   kind
	polys  int
	sum    []uint64 // polys × levels × N coefficients, in wire order
	count  int
}

// NewCiphertextAccumulator returns an empty sum of ciphertexts.
func (p Params) NewCiphertextAccumulator() *Accumulator {
	return p.newAccumulator(kindCiphertext, 2)
}

// NewDecryptionShareAccumulator returns an empty sum of decryption shares
// of one ciphertext; CombineDecrypt accepts the sum in place of the
// shares.
func (p Params) NewDecryptionShareAccumulator() *Accumulator {
	return p.newAccumulator(kindDecryptionShare, 1)
}

func (p Params) newAccumulator(k kind, polys int) *Accumulator {
	return &Accumulator{params: p, kind: k, polys: polys, sum: make([]uint64, polys*p.levels()*p.bgv.N())}
}

// Add checks b as its decoder does and adds it to the sum. Errors wrap
// ErrMalformed or ErrParamsMismatch and leave the sum unchanged; a sum of
// more than MaxParties objects is refused with errOutOfRange, because the
// flooding noise is sized for at most that many.
func (a *Accumulator) Add(b []byte) error {
	p := a.params
	if a.count == MaxParties {
		return fmt.Errorf("%w: sum of more than MaxParties (%d) objects", errOutOfRange, MaxParties)
	}
	if err := p.checkHeader(b, a.kind, a.polys); err != nil {
		return err
	}
	n, moduli := p.bgv.N(), p.bgv.Q()
	body := b[wireHeaderSize:]
	for row := range a.polys * len(moduli) {
		q, in := moduli[row%len(moduli)], body[row*8*n:(row+1)*8*n]
		for x := range n {
			if binary.LittleEndian.Uint64(in[8*x:]) >= q {
				return fmt.Errorf("%w: %s: polynomial %d, modulus %d, coefficient %d is not below the modulus", ErrMalformed, a.kind, row/len(moduli), row%len(moduli), x)
			}
		}
	}
	for row := range a.polys * len(moduli) {
		q := moduli[row%len(moduli)]
		sum, in := a.sum[row*n:(row+1)*n], body[row*8*n:(row+1)*8*n]
		for x := range sum {
			s := sum[x] + binary.LittleEndian.Uint64(in[8*x:])
			if s >= q {
				s -= q
			}
			sum[x] = s
		}
	}
	a.count++
	return nil
}

// Count returns how many objects were added.
func (a *Accumulator) Count() int { return a.count }

// Bytes returns the canonical encoding of the sum, of the kind added.
func (a *Accumulator) Bytes() ([]byte, error) {
	if a.count == 0 {
		return nil, fmt.Errorf("crypto: accumulator: %w", errEmpty)
	}
	p := a.params
	b := make([]byte, wireSize(p.levels(), a.polys, p.bgv.N()))
	p.putHeader(b, a.kind, a.polys)
	for i, c := range a.sum {
		binary.LittleEndian.PutUint64(b[wireHeaderSize+8*i:], c)
	}
	return b, nil
}

// putHeader writes the wire header of an object of kind k with polys
// polynomials at the full level of p.
func (p Params) putHeader(b []byte, k kind, polys int) {
	copy(b, wireMagic)
	b[4] = wireVersion
	b[5] = byte(k)
	b[6] = byte(p.logN())
	b[7] = byte(polys)
	b[8] = byte(p.levels())
	copy(b[9:wireHeaderSize], p.id[:])
}

// CiphertextC1 returns the c1 part of a serialized ciphertext as a
// serialized object of its own: all a decryption or key-switch share
// depends on, half the ciphertext's size. Its fingerprint is the c1 part
// of the ciphertext's fingerprint.
func (p Params) CiphertextC1(b []byte) ([]byte, error) {
	if err := p.checkHeader(b, kindCiphertext, 2); err != nil {
		return nil, err
	}
	half := p.levels() * p.bgv.N() * 8
	out := make([]byte, wireHeaderSize+half)
	p.putHeader(out, kindCiphertextC1, 1)
	copy(out[wireHeaderSize:], b[wireHeaderSize+half:])
	return out, nil
}

// UnmarshalCiphertextC1 decodes the c1 part of a ciphertext made by
// CiphertextC1 into a ciphertext whose c0 is zero. Decrypter.Share and
// KeySwitcher.Share accept it, since a share depends only on c1; it is not
// a ciphertext of anything and must not be combined or decrypted. Errors
// wrap ErrMalformed or ErrParamsMismatch.
func (p Params) UnmarshalCiphertextC1(b []byte) (*Ciphertext, error) {
	if err := p.checkHeader(b, kindCiphertextC1, 1); err != nil {
		return nil, err
	}
	c := p.newCiphertext()
	if err := p.unmarshalPolys(b, kindCiphertextC1, c.ct.Value[1]); err != nil {
		return nil, err
	}
	return c, nil
}
