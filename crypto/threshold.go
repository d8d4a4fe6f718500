package crypto

import (
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/mhe"
	"github.com/tuneinsight/lattigo/v5/ring/ringqp"
)

// t-of-N threshold access (Mouchet, Bertrand and Hubaux, eprint 2022/780).
//
// Setup: every member splits its additive SecretShare s_i into Shamir
// shares, one per member (ShamirShares), and sends each one privately and
// authenticated to its recipient. Each member adds the shares it received
// from every member (AggregateShamirShares) into its ThresholdShare: an
// evaluation of a degree t−1 polynomial whose constant term is the ideal key
// Σ s_i. At query time, exactly t members, whose set every one of them
// agrees on, each turn their ThresholdShare into an additive
// SecretShare (ActiveSecretShare) by multiplying it with their Lagrange
// coefficient. The t derived shares sum to the ideal key, so they work with
// NewKeySwitcher and NewDecrypter exactly like N-of-N shares.
//
// Any t members, or the coordinator colluding with t members, can decrypt
// everything under the collective key.

// errThreshold reports an invalid threshold configuration: a threshold
// outside [1, members], a zero, duplicate, oversized or unknown Shamir
// point, or an active set that is not exactly the threshold's size or does
// not contain the caller.
var errThreshold = errors.New("crypto: invalid threshold configuration")

// Wire kinds of the threshold objects. They extend the kinds of wire.go;
// TestThresholdKindsDistinct keeps the two lists apart.
const (
	kindShamirShare    kind = 8
	kindThresholdShare kind = 9
)

// ShamirPoint is a member's public evaluation point in the threshold
// scheme. Points are non-zero, distinct per member and below every
// ciphertext modulus, for example the member's index plus one; all members
// must agree on them.
type ShamirPoint uint64

// ThresholdShare is a member's t-of-N share of the collective secret key:
// the sum of the Shamir shares it received from every member. It is
// secret, must never leave the member, and is usable only through
// ActiveSecretShare.
type ThresholdShare struct {
	params Params
	share  mhe.ShamirSecretShare
}

// checkThresholdParams refuses parameter sets with a special modulus P:
// the wire format, like SecretShare's, carries only the Q part of a key.
func (p Params) checkThresholdParams() error {
	if p.bgv.PCount() != 0 {
		return fmt.Errorf("%w: %s has a special modulus P, which threshold shares do not carry", errThreshold, p.name)
	}
	return nil
}

// checkPoints validates a list of Shamir points: non-empty, each non-zero,
// below the smallest ciphertext modulus (so that distinct points stay
// distinct modulo every prime), and pairwise distinct.
func (p Params) checkPoints(what string, points []ShamirPoint) error {
	if len(points) == 0 {
		return fmt.Errorf("%w: no %s points", errThreshold, what)
	}
	if len(points) > MaxParties {
		return fmt.Errorf("%w: %d %s points exceed MaxParties (%d)", errThreshold, len(points), what, MaxParties)
	}
	seen := make(map[ShamirPoint]bool, len(points))
	for i, pt := range points {
		switch {
		case pt == 0:
			return fmt.Errorf("%w: %s point %d is zero", errThreshold, what, i)
		case uint64(pt) >= p.minModulus():
			return fmt.Errorf("%w: %s point %d (%d) is not below the smallest modulus", errThreshold, what, i, pt)
		case seen[pt]:
			return fmt.Errorf("%w: %s point %d (%d) is a duplicate", errThreshold, what, i, pt)
		}
		seen[pt] = true
	}
	return nil
}

// ShamirShares splits the member's additive secret share sk into Shamir
// shares with the given threshold, one per recipient point, in the order
// of recipients (the member's own point included). Share i must reach the
// member with point recipients[i] privately and authenticated (see
// keystore/sharebox); every share is secret. Call it once per setup: the
// shares of one call come from one random polynomial, and shares from
// different calls must never be mixed.
func (p Params) ShamirShares(sk *SecretShare, threshold int, recipients []ShamirPoint) ([][]byte, error) {
	if sk == nil || sk.sk == nil {
		return nil, errors.New("crypto: Shamir shares: nil SecretShare")
	}
	if err := p.checkID(sk.params.id, "secret share"); err != nil {
		return nil, fmt.Errorf("crypto: Shamir shares: %w", err)
	}
	if err := p.checkThresholdParams(); err != nil {
		return nil, fmt.Errorf("crypto: Shamir shares: %w", err)
	}
	if err := p.checkPoints("recipient", recipients); err != nil {
		return nil, fmt.Errorf("crypto: Shamir shares: %w", err)
	}
	if threshold < 1 || threshold > len(recipients) {
		return nil, fmt.Errorf("crypto: Shamir shares: %w: threshold %d is not in [1, %d]", errThreshold, threshold, len(recipients))
	}
	thr := mhe.NewThresholdizer(p.bgv)
	poly, err := thr.GenShamirPolynomial(threshold, sk.sk)
	if err != nil {
		return nil, fmt.Errorf("crypto: Shamir shares: %w", err)
	}
	// The polynomial's coefficients are the secret and the randomness that
	// hides it: clear them once the shares are made.
	defer func() {
		for _, c := range poly.Value {
			zeroQP(c)
		}
	}()
	ringQ := p.bgv.RingQ()
	out := make([][]byte, len(recipients))
	share := thr.AllocateThresholdSecretShare()
	defer zeroQP(share.Poly)
	for i, pt := range recipients {
		thr.GenShamirSecretShare(mhe.ShamirPublicPoint(pt), poly, &share)
		ringQ.Reduce(share.Q, share.Q)
		out[i] = p.marshalPolys(kindShamirShare, share.Q)
	}
	return out, nil
}

// AggregateShamirShares adds the Shamir shares a member received, one from
// every member including itself, into its ThresholdShare. The caller must
// make sure that it holds exactly one authenticated share from each member
// of the epoch: the function cannot tell a missing share from a present one.
func (p Params) AggregateShamirShares(shares [][]byte) (*ThresholdShare, error) {
	if err := p.checkThresholdParams(); err != nil {
		return nil, fmt.Errorf("crypto: aggregate Shamir shares: %w", err)
	}
	if len(shares) == 0 {
		return nil, fmt.Errorf("crypto: aggregate Shamir shares: %w", errEmpty)
	}
	if len(shares) > MaxParties {
		return nil, fmt.Errorf("crypto: aggregate Shamir shares: %w: %d shares exceed MaxParties (%d)", errOutOfRange, len(shares), MaxParties)
	}
	// Two members never produce the same share except with negligible
	// probability, so an exact repeat is a replay by whoever relayed it.
	seen := make(map[[sha256.Size]byte]int, len(shares))
	thr := mhe.NewThresholdizer(p.bgv)
	agg := thr.AllocateThresholdSecretShare()
	in := thr.AllocateThresholdSecretShare()
	defer zeroQP(in.Poly)
	for i, b := range shares {
		if err := p.unmarshalPolys(b, kindShamirShare, in.Q); err != nil {
			zeroQP(agg.Poly)
			return nil, fmt.Errorf("crypto: aggregate Shamir shares: share %d: %w", i, err)
		}
		d := sha256.Sum256(b)
		if j, dup := seen[d]; dup {
			zeroQP(agg.Poly)
			return nil, fmt.Errorf("crypto: aggregate Shamir shares: %w: share %d repeats share %d", ErrMalformed, i, j)
		}
		seen[d] = i
		if err := thr.AggregateShares(agg, in, &agg); err != nil {
			zeroQP(agg.Poly)
			return nil, fmt.Errorf("crypto: aggregate Shamir shares: %w", err)
		}
	}
	return &ThresholdShare{params: p, share: agg}, nil
}

// MarshalBinary encodes the share. The encoding is secret.
func (s *ThresholdShare) MarshalBinary() ([]byte, error) {
	if s == nil || s.share.Q.Coeffs == nil {
		return nil, errors.New("crypto: marshal of nil ThresholdShare")
	}
	return s.params.marshalPolys(kindThresholdShare, s.share.Q), nil
}

// UnmarshalThresholdShare decodes a share produced by
// ThresholdShare.MarshalBinary; errors wrap ErrMalformed or ErrParamsMismatch.
func (p Params) UnmarshalThresholdShare(b []byte) (*ThresholdShare, error) {
	if err := p.checkHeader(b, kindThresholdShare, 1); err != nil {
		return nil, err
	}
	if err := p.checkThresholdParams(); err != nil {
		return nil, err
	}
	share := mhe.NewThresholdizer(p.bgv).AllocateThresholdSecretShare()
	if err := p.unmarshalPolys(b, kindThresholdShare, share.Q); err != nil {
		return nil, err
	}
	return &ThresholdShare{params: p, share: share}, nil
}

// ActiveSecretShare derives the member's additive share of the collective
// key for one query, answered by the active set: exactly threshold members
// out of all, including own. Every active member must use the same set (in
// any order) and the same all. The derived shares of the active members sum to the
// collective secret key; use them with NewKeySwitcher or NewDecrypter and
// combine exactly those threshold shares. A share derived for one active
// set is useless with any other set.
func (p Params) ActiveSecretShare(tsk *ThresholdShare, own ShamirPoint, all []ShamirPoint, active []ShamirPoint, threshold int) (*SecretShare, error) {
	if tsk == nil || tsk.share.Q.Coeffs == nil {
		return nil, errors.New("crypto: active secret share: nil ThresholdShare")
	}
	if err := p.checkID(tsk.params.id, "threshold share"); err != nil {
		return nil, fmt.Errorf("crypto: active secret share: %w", err)
	}
	if err := p.checkThresholdParams(); err != nil {
		return nil, fmt.Errorf("crypto: active secret share: %w", err)
	}
	if err := p.checkPoints("member", all); err != nil {
		return nil, fmt.Errorf("crypto: active secret share: %w", err)
	}
	if threshold < 1 || threshold > len(all) {
		return nil, fmt.Errorf("crypto: active secret share: %w: threshold %d is not in [1, %d]", errThreshold, threshold, len(all))
	}
	if len(active) != threshold {
		return nil, fmt.Errorf("crypto: active secret share: %w: %d active members, threshold is %d", errThreshold, len(active), threshold)
	}
	if err := p.checkPoints("active", active); err != nil {
		return nil, fmt.Errorf("crypto: active secret share: %w", err)
	}
	members := make(map[ShamirPoint]bool, len(all))
	for _, pt := range all {
		members[pt] = true
	}
	isActive := false
	for i, pt := range active {
		if !members[pt] {
			return nil, fmt.Errorf("crypto: active secret share: %w: active point %d (%d) is not a member", errThreshold, i, pt)
		}
		isActive = isActive || pt == own
	}
	if !isActive {
		return nil, fmt.Errorf("crypto: active secret share: %w: own point %d is not in the active set", errThreshold, own)
	}
	points := make([]mhe.ShamirPublicPoint, len(all))
	for i, pt := range all {
		points[i] = mhe.ShamirPublicPoint(pt)
	}
	activePoints := make([]mhe.ShamirPublicPoint, len(active))
	for i, pt := range active {
		activePoints[i] = mhe.ShamirPublicPoint(pt)
	}
	cmb := mhe.NewCombiner(*p.bgv.GetRLWEParameters(), mhe.ShamirPublicPoint(own), points, threshold)
	sk := rlwe.NewSecretKey(p.bgv)
	if err := cmb.GenAdditiveShare(activePoints, mhe.ShamirPublicPoint(own), tsk.share, sk); err != nil {
		return nil, fmt.Errorf("crypto: active secret share: %w", err)
	}
	p.bgv.RingQ().Reduce(sk.Value.Q, sk.Value.Q)
	return &SecretShare{params: p, sk: sk}, nil
}

// zeroQP overwrites a polynomial that held secret material.
func zeroQP(p ringqp.Poly) {
	for _, row := range p.Q.Coeffs {
		clear(row)
	}
	for _, row := range p.P.Coeffs {
		clear(row)
	}
}
