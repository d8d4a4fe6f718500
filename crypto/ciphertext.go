package crypto

import (
	"errors"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/he/heint"
)

// Ciphertext is an encryption of Slots() values. It is immutable and may
// be shared between goroutines.
type Ciphertext struct {
	params Params
	ct     *rlwe.Ciphertext
}

// newCiphertext allocates a degree-1 ciphertext at the top level. Every
// ciphertext the package produces has this shape and the metadata set here,
// which is why the wire format need not carry metadata.
func (p Params) newCiphertext() *Ciphertext {
	return &Ciphertext{params: p, ct: heint.NewCiphertext(p.bgv, 1, p.bgv.MaxLevel())}
}

// MarshalBinary encodes the ciphertext in CiphertextSize() bytes. The
// encoding is canonical: equal ciphertexts give identical bytes.
func (c *Ciphertext) MarshalBinary() ([]byte, error) {
	if c == nil || c.ct == nil {
		return nil, errors.New("crypto: marshal of nil Ciphertext")
	}
	return c.params.marshalPolys(kindCiphertext, c.ct.Value[0], c.ct.Value[1]), nil
}

// UnmarshalCiphertext decodes a ciphertext produced by
// Ciphertext.MarshalBinary. It checks the length, shape, parameter set and
// every coefficient before accepting the input; errors wrap ErrMalformed or
// ErrParamsMismatch.
func (p Params) UnmarshalCiphertext(b []byte) (*Ciphertext, error) {
	if err := p.checkHeader(b, kindCiphertext, 2); err != nil {
		return nil, err
	}
	c := p.newCiphertext()
	if err := p.unmarshalPolys(b, kindCiphertext, c.ct.Value[0], c.ct.Value[1]); err != nil {
		return nil, err
	}
	return c, nil
}

func (p Params) checkCiphertext(c *Ciphertext) error {
	if c == nil || c.ct == nil {
		return errors.New("crypto: nil Ciphertext")
	}
	return p.checkID(c.params.id, "ciphertext")
}
