package crypto

import (
	"fmt"
	"math"
)

// MaxParties is the largest number of ciphertexts the flooding noise is
// sized for: a sum of more fresh ciphertexts carries more noise than the
// key-switch shares are guaranteed to hide.
const MaxParties = 64

// Flooding (smudging) noise sizing, after Li, Micciancio, Schultz and
// Sorrell (CRYPTO 2022): sigma >= sqrt(24·n·alpha) · 2^(s/2) · B_ct, where
// B_ct bounds the noise of the ciphertext being key-switched.
const (
	// floodStatSecurity is s, the statistical security in bits.
	floodStatSecurity = 40

	// floodLogDecryptions is log2(alpha), the number of decryptions
	// allowed under one collective key before it is rotated.
	floodLogDecryptions = 10

	// freshNoiseSigma is the measured standard deviation of the noise of
	// one fresh public-key encryption under the collective key.
	freshNoiseSigma = 236

	// tailCut bounds a Gaussian sample at tailCut·sigma.
	tailCut = 6

	// maxFloodingSigma keeps the v5.0.2 Gaussian sampler in its
	// float64 regime, where its distribution is well shaped.
	maxFloodingSigma = 1 << 50
)

// ciphertextNoiseBound is B_ct for a sum of MaxParties fresh ciphertexts:
// about 2^13.5.
func ciphertextNoiseBound() float64 {
	return tailCut * freshNoiseSigma * math.Sqrt(MaxParties)
}

// FloodingSigma returns the standard deviation of the noise each party adds
// to its key-switch share. Every party adds the full amount, so the result
// stays hidden even if only one party is honest.
func (p Params) floodingSigma() float64 {
	n := float64(p.bgv.N())
	return math.Sqrt(24*n*math.Exp2(floodLogDecryptions)) *
		math.Exp2(floodStatSecurity/2.0) * ciphertextNoiseBound()
}

// floodingSecurityBits returns the statistical security s that
// FloodingSigma achieves, inverting the sizing formula.
func (p Params) floodingSecurityBits() float64 {
	n := float64(p.bgv.N())
	ratio := p.floodingSigma() / (math.Sqrt(24*n*math.Exp2(floodLogDecryptions)) * ciphertextNoiseBound())
	return 2 * math.Log2(ratio)
}

// checkFlooding verifies that the flooding noise is both sound and decodable.
func (p Params) checkFlooding() error {
	sigma := p.floodingSigma()
	// Lattigo v5.0.2 reduces a sample x as q-x in uint64 arithmetic, so a
	// sample at or above the smallest prime gets a wrong residue.
	if tailCut*sigma >= float64(p.minModulus()) {
		return fmt.Errorf("flooding bound 2^%.1f reaches the smallest modulus", math.Log2(tailCut*sigma))
	}
	if sigma > maxFloodingSigma {
		return fmt.Errorf("flooding sigma 2^%.1f exceeds 2^50", math.Log2(sigma))
	}
	if s := p.floodingSecurityBits(); s < floodStatSecurity {
		return fmt.Errorf("flooding gives %.1f bits of statistical security, want %d", s, floodStatSecurity)
	}
	// Decryption is exact while T·(noise) < Q/2.
	noise := ciphertextNoiseBound() + tailCut*sigma*math.Sqrt(MaxParties)
	if math.Log2(float64(p.plaintextModulus()))+math.Log2(noise) >= p.bgv.LogQ()-1 {
		return fmt.Errorf("plaintext modulus times noise 2^%.1f does not fit Q/2", math.Log2(noise))
	}
	return nil
}
