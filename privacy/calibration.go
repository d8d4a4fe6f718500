package privacy

import (
	"errors"
	"fmt"
	"math"
)

// Limits enforced by Calibration.Validate and NewShareSampler.
const (
	// MaxEpsilon is the largest ε accepted for one noise draw.
	MaxEpsilon = 10.0
	// MaxDelta is the largest δ accepted for the Skellam mechanism.
	MaxDelta = 1e-3
	// MinParties and MaxParties bound the number of noise shares.
	MinParties = 2
	MaxParties = 64
	// MaxScale caps the discrete Laplace scale t = Sensitivity/Epsilon.
	// Larger scales would push the Gamma–Poisson mixture towards means where
	// float64 no longer represents every integer.
	MaxScale = 1 << 40
	// MaxSkellamMu caps the Poisson mean μ of the summed Skellam noise
	// (variance 2μ).
	MaxSkellamMu = 1 << 50
)

// Errors reported by this package, usable with errors.Is.
var (
	// ErrInvalidCalibration marks every problem with a Calibration.
	ErrInvalidCalibration = errors.New("invalid noise calibration")
	// ErrInvalidParties reports a number of parties outside
	// [MinParties, MaxParties].
	ErrInvalidParties = errors.New("invalid number of noise parties")
)

// Mechanism selects the distribution of the summed noise.
type Mechanism int

const (
	// DiscreteLaplace (the zero value) sums to DL(t), t = Δ/ε: pure ε-DP.
	DiscreteLaplace Mechanism = iota
	// Skellam sums to Skellam(μ, μ) with μ calibrated for (ε, δ)-DP via
	// Rényi DP.
	Skellam
)

func (m Mechanism) String() string {
	switch m {
	case DiscreteLaplace:
		return "discrete-laplace"
	case Skellam:
		return "skellam"
	default:
		return fmt.Sprintf("Mechanism(%d)", int(m))
	}
}

// Calibration states the privacy parameters of one noisy cell.
type Calibration struct {
	// Mechanism defaults to DiscreteLaplace.
	Mechanism Mechanism
	// Epsilon is the ε spent on the cell's block, in (0, MaxEpsilon].
	Epsilon float64
	// Delta is δ for Skellam, in (0, MaxDelta]; it must be 0 for
	// DiscreteLaplace, which is pure ε-DP.
	Delta float64
	// Sensitivity is the L1 sensitivity of the cell in its integer units
	// (fixed-point units for sums), at least 1.
	Sensitivity int64
}

// Distribution describes the summed noise a calibration asks for.
type Distribution struct {
	Mechanism Mechanism
	// Scale is t of DL(t), P(k) ∝ exp(−|k|/t) (DiscreteLaplace only).
	Scale float64
	// P is exp(−1/t) (DiscreteLaplace only).
	P float64
	// Mu is μ of Skellam(μ, μ) (Skellam only).
	Mu float64
	// Variance is the variance of the summed noise: 2p/(1−p)² for
	// discrete Laplace, 2μ for Skellam.
	Variance float64
}

// Validate checks the calibration against the package limits.
func (c Calibration) Validate() error {
	_, err := c.Distribution()
	return err
}

// Distribution validates c and returns the summed-noise distribution.
func (c Calibration) Distribution() (Distribution, error) {
	if !(c.Epsilon > 0 && c.Epsilon <= MaxEpsilon) {
		return Distribution{}, fmt.Errorf("%w: epsilon %v is not in (0, %v]", ErrInvalidCalibration, c.Epsilon, MaxEpsilon)
	}
	if c.Sensitivity < 1 {
		return Distribution{}, fmt.Errorf("%w: sensitivity %d is below 1", ErrInvalidCalibration, c.Sensitivity)
	}
	switch c.Mechanism {
	case DiscreteLaplace:
		if c.Delta != 0 {
			return Distribution{}, fmt.Errorf("%w: delta %v given for the discrete Laplace mechanism, which is pure ε-DP (delta must be 0)", ErrInvalidCalibration, c.Delta)
		}
		t := float64(c.Sensitivity) / c.Epsilon
		if t > MaxScale {
			return Distribution{}, fmt.Errorf("%w: noise scale sensitivity/epsilon = %.4g exceeds %d; lower the sensitivity (clip bounds or decimals) or raise epsilon", ErrInvalidCalibration, t, int64(MaxScale))
		}
		p := math.Exp(-1 / t)
		q := -math.Expm1(-1 / t) // 1 − p without cancellation
		return Distribution{Mechanism: DiscreteLaplace, Scale: t, P: p, Variance: 2 * p / (q * q)}, nil
	case Skellam:
		if !(c.Delta > 0 && c.Delta <= MaxDelta) {
			return Distribution{}, fmt.Errorf("%w: delta %v is not in (0, %v] for the Skellam mechanism", ErrInvalidCalibration, c.Delta, MaxDelta)
		}
		mu, err := skellamMu(c.Epsilon, c.Delta, float64(c.Sensitivity))
		if err != nil {
			return Distribution{}, fmt.Errorf("%w: %w", ErrInvalidCalibration, err)
		}
		return Distribution{Mechanism: Skellam, Mu: mu, Variance: 2 * mu}, nil
	default:
		return Distribution{}, fmt.Errorf("%w: unknown mechanism %v", ErrInvalidCalibration, c.Mechanism)
	}
}

// Bound returns the β-tail bound of the summed noise: the smallest b ≥ 0
// with P(|noise| > b) ≤ β, so |noise| ≤ b with probability at least 1 − β.
// The bound does not depend on the number of parties. It is exact for
// discrete Laplace, where P(|X| > b) = 2p^(b+1)/(1+p), and for Skellam with
// μ up to 1e12, computed from the exact distribution (for β ≥ 1e-20 or so;
// smaller β reach the far tail where it is only approximate). For larger μ
// it uses the Chernoff bound P(|X| ≥ b) ≤ 2·exp(−sup_s(s·b − 2μ(cosh s − 1))),
// which is valid but wider than needed: about 2.45σ instead of 1.64σ at
// β = 0.1 and 5.4σ instead of 4.9σ at β = 1e-6. Bound returns −1 if c is
// invalid or β is not in (0, 1).
func Bound(c Calibration, beta float64) int64 {
	d, err := c.Distribution()
	if err != nil || !(beta > 0 && beta < 1) {
		return -1
	}
	if d.Mechanism == Skellam {
		return skellamBound(d.Mu, beta)
	}
	return laplaceBound(d.Scale, d.P, beta)
}

// laplaceBound solves 2p^(b+1)/(1+p) ≤ β for the smallest integer b ≥ 0.
func laplaceBound(t, p, beta float64) int64 {
	logTail := func(b int64) float64 { // log P(|X| > b)
		return math.Ln2 - float64(b+1)/t - math.Log1p(p)
	}
	logBeta := math.Log(beta)
	b := int64(math.Ceil(t*(math.Ln2-math.Log1p(p)-logBeta))) - 1
	if b < 0 {
		b = 0
	}
	for logTail(b) > logBeta {
		b++
	}
	for b > 0 && logTail(b-1) <= logBeta {
		b--
	}
	return b
}

// SplitEpsilon divides a query's total ε evenly over its blocks (the count
// block, one block per sum metric, one per histogram), by sequential
// composition: the releases of all blocks together are total-ε-DP. Within a
// block a user contributes to one cell only, so the cells of a block
// compose in parallel and each cell gets the whole block ε. For the Skellam
// mechanism split δ the same way. It returns 0,
// which no calibration accepts, if total is not positive and finite or
// blocks < 1.
func SplitEpsilon(total float64, blocks int) float64 {
	if blocks < 1 || !(total > 0) || math.IsInf(total, 0) {
		return 0
	}
	return total / float64(blocks)
}
