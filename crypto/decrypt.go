package crypto

import (
	"errors"
	"fmt"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/mhe"
	"github.com/tuneinsight/lattigo/v5/ring"
)

// Decrypter produces a party's share of a collective decryption: a key
// switch to the zero key, which opens a ciphertext to everyone who sees the
// shares. fedscore uses it only for values the protocol makes public to the
// federation (the noisy cell counts checked by every node's release gate).
// One Decrypter serves one goroutine; use ShallowCopy for another.
//
// Like key-switch shares, a party must produce at most one decryption share
// per ciphertext.
type Decrypter struct {
	params Params
	sk     *SecretShare
	zero   *rlwe.SecretKey
	ks     mhe.KeySwitchProtocol
}

// NewDecrypter returns a Decrypter for the party holding sk.
func (p Params) NewDecrypter(sk *SecretShare) (*Decrypter, error) {
	if sk == nil || sk.sk == nil {
		return nil, errors.New("crypto: new decrypter: nil SecretShare")
	}
	if err := p.checkID(sk.params.id, "secret share"); err != nil {
		return nil, fmt.Errorf("crypto: new decrypter: %w", err)
	}
	sigma := p.floodingSigma()
	ks, err := mhe.NewKeySwitchProtocol(p.bgv, ring.DiscreteGaussian{Sigma: sigma, Bound: tailCut * sigma})
	if err != nil {
		return nil, fmt.Errorf("crypto: new decrypter: %w", err)
	}
	return &Decrypter{params: p, sk: sk, zero: rlwe.NewSecretKey(p.bgv), ks: ks}, nil
}

// ShallowCopy returns a Decrypter for the same share that can be used
// concurrently with d.
func (d *Decrypter) ShallowCopy() *Decrypter {
	return &Decrypter{params: d.params, sk: d.sk, zero: d.zero, ks: d.ks.ShallowCopy()}
}

// Share returns the party's serialized decryption share of ct, smudged with
// Gaussian noise of deviation floodingSigma().
func (d *Decrypter) Share(ct *Ciphertext) ([]byte, error) {
	p := d.params
	if err := p.checkCiphertext(ct); err != nil {
		return nil, fmt.Errorf("crypto: decryption share: %w", err)
	}
	share := d.ks.AllocateShare(p.bgv.MaxLevel())
	d.ks.GenShare(d.sk.sk, d.zero, ct.ct, &share)
	// GenShare may leave coefficients lazily reduced; the wire format is canonical.
	p.bgv.RingQ().AtLevel(share.Value.Level()).Reduce(share.Value, share.Value)
	return p.marshalPolys(kindDecryptionShare, share.Value), nil
}

// CombineDecrypt aggregates every party's decryption share of ct and returns
// the Slots() centred plaintext values. With a share missing or altered the
// result is noise.
func (p Params) CombineDecrypt(ct *Ciphertext, shares [][]byte) ([]int64, error) {
	if err := p.checkCiphertext(ct); err != nil {
		return nil, fmt.Errorf("crypto: combine decryption: %w", err)
	}
	if len(shares) == 0 {
		return nil, fmt.Errorf("crypto: combine decryption: %w", errEmpty)
	}
	if len(shares) > MaxParties {
		return nil, fmt.Errorf("%w: %d shares exceed MaxParties (%d)", errOutOfRange, len(shares), MaxParties)
	}
	// Switching to the zero key leaves (c0 + Σ h_i, 0), which any key —
	// here the zero key — decrypts.
	ringQ := p.bgv.RingQ()
	out := p.newCiphertext()
	*out.ct.MetaData = *ct.ct.MetaData
	out.ct.Value[0].Copy(ct.ct.Value[0])
	share := ringQ.NewPoly()
	for i, b := range shares {
		if err := p.unmarshalPolys(b, kindDecryptionShare, share); err != nil {
			return nil, fmt.Errorf("crypto: combine decryption: share %d: %w", i, err)
		}
		ringQ.Add(out.ct.Value[0], share, out.ct.Value[0])
	}
	return (&ReceiverKey{params: p, sk: rlwe.NewSecretKey(p.bgv)}).Decrypt(out)
}
