package crypto

import (
	"errors"
	"fmt"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/mhe"
	"github.com/tuneinsight/lattigo/v5/ring"
)

// KeySwitcher produces a party's share of a public-key switch (PCKS), which
// re-encrypts a ciphertext under the collective key to a receiver's public
// key without anyone decrypting it. One KeySwitcher serves one goroutine;
// use ShallowCopy for another.
//
// A share reveals key material if the same ciphertext is switched twice
// with fresh noise: callers must produce at most one share per ciphertext.
type KeySwitcher struct {
	params Params
	sk     *SecretShare
	pcks   mhe.PublicKeySwitchProtocol
}

// NewKeySwitcher returns a KeySwitcher for the party holding sk.
func (p Params) NewKeySwitcher(sk *SecretShare) (*KeySwitcher, error) {
	if sk == nil || sk.sk == nil {
		return nil, errors.New("crypto: new key switcher: nil SecretShare")
	}
	if err := p.checkID(sk.params.id, "secret share"); err != nil {
		return nil, fmt.Errorf("crypto: new key switcher: %w", err)
	}
	sigma := p.floodingSigma()
	pcks, err := mhe.NewPublicKeySwitchProtocol(p.bgv, ring.DiscreteGaussian{Sigma: sigma, Bound: tailCut * sigma})
	if err != nil {
		return nil, fmt.Errorf("crypto: new key switcher: %w", err)
	}
	return &KeySwitcher{params: p, sk: sk, pcks: pcks}, nil
}

// ShallowCopy returns a KeySwitcher for the same share that can be used
// concurrently with k.
func (k *KeySwitcher) ShallowCopy() *KeySwitcher {
	return &KeySwitcher{params: k.params, sk: k.sk, pcks: k.pcks.ShallowCopy()}
}

// Share returns the party's serialized share for switching ct to receiver,
// smudged with Gaussian noise of deviation floodingSigma().
func (k *KeySwitcher) Share(receiver *PublicKey, ct *Ciphertext) ([]byte, error) {
	p := k.params
	if err := p.checkPublicKey(receiver); err != nil {
		return nil, fmt.Errorf("crypto: key-switch share: receiver: %w", err)
	}
	if err := p.checkCiphertext(ct); err != nil {
		return nil, fmt.Errorf("crypto: key-switch share: %w", err)
	}
	share := k.pcks.AllocateShare(p.bgv.MaxLevel())
	k.pcks.GenShare(k.sk.sk, receiver.pk, ct.ct, &share)
	return p.marshalPolys(kindKeySwitchShare, share.Value[0], share.Value[1]), nil
}

// CombineKeySwitch aggregates the parties' shares and returns ct switched
// to the receiver key the shares were made for. Every party holding a
// secret share must contribute; with a share missing the result decrypts
// to noise.
func (p Params) CombineKeySwitch(ct *Ciphertext, shares [][]byte) (*Ciphertext, error) {
	if err := p.checkCiphertext(ct); err != nil {
		return nil, fmt.Errorf("crypto: combine key switch: %w", err)
	}
	if len(shares) == 0 {
		return nil, fmt.Errorf("crypto: combine key switch: %w", errEmpty)
	}
	if len(shares) > MaxParties {
		return nil, fmt.Errorf("%w: %d shares exceed MaxParties (%d)", errOutOfRange, len(shares), MaxParties)
	}
	// Accumulating into (ct0, 0) is mhe.PublicKeySwitchProtocol's
	// AggregateShares followed by KeySwitch, done directly so that the
	// coordinator needs no protocol object (and no randomness) here.
	ringQ := p.bgv.RingQ()
	out := p.newCiphertext()
	*out.ct.MetaData = *ct.ct.MetaData
	out.ct.Value[0].Copy(ct.ct.Value[0])
	share := rlwe.NewElement(p.bgv, 1, p.bgv.MaxLevel())
	for i, b := range shares {
		if err := p.unmarshalPolys(b, kindKeySwitchShare, share.Value[0], share.Value[1]); err != nil {
			return nil, fmt.Errorf("crypto: combine key switch: share %d: %w", i, err)
		}
		ringQ.Add(out.ct.Value[0], share.Value[0], out.ct.Value[0])
		ringQ.Add(out.ct.Value[1], share.Value[1], out.ct.Value[1])
	}
	return out, nil
}
