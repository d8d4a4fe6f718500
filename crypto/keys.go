package crypto

import (
	"errors"
	"fmt"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/he/heint"
)

// SecretShare is one party's additive share of the collective secret key:
// the collective key is the sum of every party's share, so decryption needs
// all of them. It must never leave the party that generated it.
type SecretShare struct {
	params Params
	sk     *rlwe.SecretKey
}

// NewSecretShare samples a fresh secret-key share.
func (p Params) NewSecretShare() (*SecretShare, error) {
	return &SecretShare{params: p, sk: heint.NewKeyGenerator(p.bgv).GenSecretKeyNew()}, nil
}

// MarshalBinary encodes the share. The encoding is secret.
func (s *SecretShare) MarshalBinary() ([]byte, error) {
	if s == nil || s.sk == nil {
		return nil, errors.New("crypto: marshal of nil SecretShare")
	}
	return s.params.marshalPolys(kindSecretShare, s.sk.Value.Q), nil
}

// UnmarshalSecretShare decodes a share produced by SecretShare.MarshalBinary.
func (p Params) UnmarshalSecretShare(b []byte) (*SecretShare, error) {
	if err := p.checkHeader(b, kindSecretShare, 1); err != nil {
		return nil, err
	}
	sk := rlwe.NewSecretKey(p.bgv)
	if err := p.unmarshalPolys(b, kindSecretShare, sk.Value.Q); err != nil {
		return nil, err
	}
	return &SecretShare{params: p, sk: sk}, nil
}

// PublicKey is an encryption key: the collective key of the federation, or
// a querier's receiver key.
type PublicKey struct {
	params Params
	pk     *rlwe.PublicKey
}

// MarshalBinary encodes the key.
func (k *PublicKey) MarshalBinary() ([]byte, error) {
	if k == nil || k.pk == nil {
		return nil, errors.New("crypto: marshal of nil PublicKey")
	}
	return k.params.marshalPolys(kindPublicKey, k.pk.Value[0].Q, k.pk.Value[1].Q), nil
}

// UnmarshalPublicKey decodes a key produced by PublicKey.MarshalBinary.
func (p Params) UnmarshalPublicKey(b []byte) (*PublicKey, error) {
	if err := p.checkHeader(b, kindPublicKey, 2); err != nil {
		return nil, err
	}
	pk := rlwe.NewPublicKey(p.bgv)
	if err := p.unmarshalPolys(b, kindPublicKey, pk.Value[0].Q, pk.Value[1].Q); err != nil {
		return nil, err
	}
	return &PublicKey{params: p, pk: pk}, nil
}

func (p Params) checkPublicKey(k *PublicKey) error {
	if k == nil || k.pk == nil {
		return errors.New("crypto: nil PublicKey")
	}
	return p.checkID(k.params.id, "public key")
}

// ReceiverKey is a querier's secret key. Unlike a SecretShare it is held
// whole by one party, which alone can read results switched to its
// public key. Decrypt may be called from several goroutines at once.
type ReceiverKey struct {
	params Params
	sk     *rlwe.SecretKey
}

// NewReceiverKey generates a querier key pair. The public key goes into
// queries; the ReceiverKey stays with the querier.
func (p Params) NewReceiverKey() (*ReceiverKey, *PublicKey, error) {
	sk, pk := heint.NewKeyGenerator(p.bgv).GenKeyPairNew()
	return &ReceiverKey{params: p, sk: sk}, &PublicKey{params: p, pk: pk}, nil
}

// Decrypt decrypts a ciphertext under the receiver's public key and
// returns its Slots() values, centred in [-MaxAbsValue, MaxAbsValue].
func (r *ReceiverKey) Decrypt(ct *Ciphertext) ([]int64, error) {
	if r == nil || r.sk == nil {
		return nil, errors.New("crypto: Decrypt with nil ReceiverKey")
	}
	p := r.params
	if err := p.checkCiphertext(ct); err != nil {
		return nil, fmt.Errorf("crypto: decrypt: %w", err)
	}
	// Fresh decryptor and encoder buffers per call keep Decrypt safe for
	// concurrent use; the encoder's tables are shared.
	pt := rlwe.NewDecryptor(p.bgv, r.sk).DecryptNew(ct.ct)
	raw := make([]uint64, p.Slots())
	if err := p.encoder.ShallowCopy().Decode(pt, raw); err != nil {
		return nil, fmt.Errorf("crypto: decode: %w", err)
	}
	t := p.plaintextModulus()
	half := (t - 1) / 2
	out := make([]int64, len(raw))
	for i, v := range raw {
		if v > half {
			out[i] = -int64(t - v)
		} else {
			out[i] = int64(v)
		}
	}
	return out, nil
}
