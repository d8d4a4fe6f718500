package crypto

import (
	"fmt"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/he/heint"
)

// Encryptor encrypts value vectors under a public key. One Encryptor
// serves one goroutine; use ShallowCopy for another.
type Encryptor struct {
	params  Params
	enc     *rlwe.Encryptor
	encoder *heint.Encoder
	pt      *rlwe.Plaintext
	buf     []uint64
}

// NewEncryptor returns an Encryptor for pk, normally the collective key.
func (p Params) NewEncryptor(pk *PublicKey) (*Encryptor, error) {
	if err := p.checkPublicKey(pk); err != nil {
		return nil, fmt.Errorf("crypto: new encryptor: %w", err)
	}
	return &Encryptor{
		params:  p,
		enc:     heint.NewEncryptor(p.bgv, pk.pk),
		encoder: p.encoder.ShallowCopy(),
		pt:      heint.NewPlaintext(p.bgv, p.bgv.MaxLevel()),
		buf:     make([]uint64, p.Slots()),
	}, nil
}

// ShallowCopy returns an Encryptor for the same key that shares read-only
// state with e and can be used concurrently with it.
func (e *Encryptor) ShallowCopy() *Encryptor {
	return &Encryptor{
		params:  e.params,
		enc:     e.enc.ShallowCopy(),
		encoder: e.encoder.ShallowCopy(),
		pt:      heint.NewPlaintext(e.params.bgv, e.params.bgv.MaxLevel()),
		buf:     make([]uint64, len(e.buf)),
	}
}

// Encrypt packs values into ceil(len(values)/Slots()) ciphertexts, the last
// one padded with zeros. Every value must satisfy |v| <= MaxAbsValue();
// otherwise the error wraps errOutOfRange and names the first bad index.
func (e *Encryptor) Encrypt(values []int64) ([]*Ciphertext, error) {
	if len(values) == 0 {
		return nil, fmt.Errorf("crypto: encrypt: %w", errEmpty)
	}
	limit := e.params.MaxAbsValue()
	for i, v := range values {
		if v > limit || v < -limit {
			return nil, fmt.Errorf("%w: value %d at index %d exceeds ±%d", errOutOfRange, v, i, limit)
		}
	}
	t := int64(e.params.plaintextModulus())
	slots := e.params.Slots()
	out := make([]*Ciphertext, 0, (len(values)+slots-1)/slots)
	for start := 0; start < len(values); start += slots {
		chunk := values[start:min(start+slots, len(values))]
		for i, v := range chunk {
			if v < 0 {
				v += t
			}
			e.buf[i] = uint64(v)
		}
		clear(e.buf[len(chunk):])
		ct, err := e.encryptBuf()
		if err != nil {
			return nil, err
		}
		out = append(out, ct)
	}
	return out, nil
}

func (e *Encryptor) encryptBuf() (*Ciphertext, error) {
	if err := e.encoder.Encode(e.buf, e.pt); err != nil {
		return nil, fmt.Errorf("crypto: encode: %w", err)
	}
	ct := e.params.newCiphertext()
	if err := e.enc.Encrypt(e.pt, ct.ct); err != nil {
		return nil, fmt.Errorf("crypto: encrypt: %w", err)
	}
	return ct, nil
}
