package crypto

import (
	"errors"
	"fmt"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/mhe"
	"github.com/tuneinsight/lattigo/v5/utils/sampling"
)

// CRSSize is the length of the common reference string that all parties
// agree on before collective key generation.
const CRSSize = 32

// ckgCRP derives the common random polynomial of key generation from the
// CRS. Every party derives the same one because the PRNG is keyed by the
// CRS alone and this is its only use.
func (p Params) ckgCRP(ckg mhe.PublicKeyGenProtocol, crs []byte) (mhe.PublicKeyGenCRP, error) {
	if len(crs) != CRSSize {
		return mhe.PublicKeyGenCRP{}, fmt.Errorf("%w: CRS is %d bytes, want %d", ErrMalformed, len(crs), CRSSize)
	}
	prng, err := sampling.NewKeyedPRNG(crs)
	if err != nil {
		return mhe.PublicKeyGenCRP{}, fmt.Errorf("crypto: CRS: %w", err)
	}
	return ckg.SampleCRP(prng), nil
}

// CKGShare returns the party's serialized share of the collective public
// key, computed from its secret share and the agreed CRS.
func (p Params) CKGShare(sk *SecretShare, crs []byte) ([]byte, error) {
	if sk == nil || sk.sk == nil {
		return nil, errors.New("crypto: CKG share: nil SecretShare")
	}
	if err := p.checkID(sk.params.id, "secret share"); err != nil {
		return nil, fmt.Errorf("crypto: CKG share: %w", err)
	}
	ckg := mhe.NewPublicKeyGenProtocol(p.bgv)
	crp, err := p.ckgCRP(ckg, crs)
	if err != nil {
		return nil, err
	}
	share := ckg.AllocateShare()
	ckg.GenShare(sk.sk, crp, &share)
	return p.marshalPolys(kindCKGShare, share.Value.Q), nil
}

// CombineCKG aggregates every party's CKG share into the collective public
// key. It needs the share of every party: the key's secret is the sum of
// the secret shares that contributed.
func (p Params) CombineCKG(crs []byte, shares [][]byte) (*PublicKey, error) {
	if len(shares) == 0 {
		return nil, fmt.Errorf("crypto: combine CKG: %w", errEmpty)
	}
	ckg := mhe.NewPublicKeyGenProtocol(p.bgv)
	crp, err := p.ckgCRP(ckg, crs)
	if err != nil {
		return nil, err
	}
	agg, share := ckg.AllocateShare(), ckg.AllocateShare()
	for i, b := range shares {
		if err := p.unmarshalPolys(b, kindCKGShare, share.Value.Q); err != nil {
			return nil, fmt.Errorf("crypto: combine CKG: share %d: %w", i, err)
		}
		ckg.AggregateShares(agg, share, &agg)
	}
	pk := &PublicKey{params: p, pk: rlwe.NewPublicKey(p.bgv)}
	ckg.GenPublicKey(agg, crp, pk.pk)
	return pk, nil
}
