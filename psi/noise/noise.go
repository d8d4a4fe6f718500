package noise

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"sort"

	"github.com/fedscore/fedscore/privacy"
)

// Limits enforced by Calibrate.
const (
	MaxEpsilon    = privacy.MaxEpsilon
	MaxDelta      = 1e-3
	MinDelta      = 1e-30
	MaxMechanisms = 64
	// MaxShift bounds s, so that a cell never costs more than 2·MaxShift
	// dummy elements per list.
	MaxShift = 1 << 16
)

// ErrInvalidCalibration reports unusable privacy parameters.
var ErrInvalidCalibration = errors.New("invalid PSI noise calibration")

// Calibration is the noise of one query.
type Calibration struct {
	// Epsilon and Delta are the query's privacy parameters: every record's
	// noisy values together are (Epsilon, Delta)-DP against the comparer
	// and Epsilon-DP against anyone else.
	Epsilon, Delta float64
	// Mechanisms is how many noisy values one record can change.
	Mechanisms int
	// Scale is t, P(k) ∝ exp(−|k|/t), the same for both noises.
	Scale float64
	// Shift is s: the noise party inserts n ∈ [0, 2s] matching dummies.
	Shift int
	// ValueDelta is p^s/Z, the δ of one truncated value.
	ValueDelta float64
}

// Calibrate returns the calibration for a query.
func Calibrate(epsilon, delta float64, mechanisms int) (Calibration, error) {
	if !(epsilon > 0 && epsilon <= MaxEpsilon) {
		return Calibration{}, fmt.Errorf("%w: epsilon %v is not in (0, %v]", ErrInvalidCalibration, epsilon, MaxEpsilon)
	}
	if !(delta >= MinDelta && delta <= MaxDelta) {
		return Calibration{}, fmt.Errorf("%w: delta %v is not in [%v, %v]", ErrInvalidCalibration, delta, MinDelta, MaxDelta)
	}
	if mechanisms < 1 || mechanisms > MaxMechanisms {
		return Calibration{}, fmt.Errorf("%w: %d values per record, want 1 to %d", ErrInvalidCalibration, mechanisms, MaxMechanisms)
	}
	t := float64(mechanisms) / epsilon
	c := Calibration{Epsilon: epsilon, Delta: delta, Mechanisms: mechanisms, Scale: t}
	target := delta / float64(mechanisms)
	// p^s/Z falls with s; start from the estimate s ≈ t·ln(1/(target·Z∞)).
	p := math.Exp(-1 / t)
	zInf := (1 + p) / -math.Expm1(-1/t)
	s := max(0, int(math.Floor(t*math.Log(1/(target*zInf))))-1)
	for ; s <= MaxShift; s++ {
		if d := valueDelta(t, s); d <= target {
			c.Shift, c.ValueDelta = s, d
			return c, nil
		}
	}
	return Calibration{}, fmt.Errorf("%w: epsilon %v and delta %v need a shift above %d", ErrInvalidCalibration, epsilon, delta, MaxShift)
}

// valueDelta returns p^s/Z for scale t and shift s.
func valueDelta(t float64, s int) float64 {
	// Z = Σ_{|j|≤s} p^|j| = (1 + p − 2p^(s+1))/(1 − p).
	p := math.Exp(-1 / t)
	q := -math.Expm1(-1 / t)
	z := (1 + p - 2*math.Exp(-float64(s+1)/t)) / q
	return math.Exp(-float64(s)/t) / z
}

// Slots is the number of dummy elements (matching and not) the noise
// party adds per cell to each list of the cell: 2s.
func (c Calibration) Slots() int { return 2 * c.Shift }

// PMF returns P(n) of the truncated dummy count, n = 0..2s.
func (c Calibration) PMF() []float64 {
	pmf := make([]float64, 2*c.Shift+1)
	sum := 0.0
	for n := range pmf {
		pmf[n] = math.Exp(-math.Abs(float64(n-c.Shift)) / c.Scale)
		sum += pmf[n]
	}
	for n := range pmf {
		pmf[n] /= sum
	}
	return pmf
}

// ReleasedPMF returns the distribution of a released count less its true
// value, (n − s) + z with z ~ DL(t), at offsets −half..half (index
// offset + half); the tails beyond are left out.
func (c Calibration) ReleasedPMF(half int) []float64 {
	pmf := make([]float64, 2*half+1)
	q := math.Exp(-1 / c.Scale)
	for n, pn := range c.PMF() {
		for k := range pmf {
			z := float64(k - half - (n - c.Shift))
			pmf[k] += pn * (1 - q) / (1 + q) * math.Pow(q, math.Abs(z))
		}
	}
	return pmf
}

// laplace returns the internal/dp calibration of DL(t).
func (c Calibration) laplace() privacy.Calibration {
	return privacy.Calibration{Epsilon: c.Epsilon, Sensitivity: int64(c.Mechanisms)}
}

// Variance returns the variance of the released noise (n − s) + z.
func (c Calibration) Variance() float64 {
	v := 0.0
	for n, p := range c.PMF() {
		d := float64(n - c.Shift)
		v += p * d * d
	}
	d, _ := c.laplace().Distribution()
	return v + d.Variance
}

// uniform53 returns a uniform float64 in [0, 1) with 53 random bits.
func uniform53(r *mrand.Rand) float64 { return float64(r.Uint64()>>11) * 0x1p-53 }

// newRand returns ChaCha8 seeded with 32 bytes of seed (nil: crypto/rand).
func newRand(seed io.Reader) (*mrand.Rand, error) {
	if seed == nil {
		seed = rand.Reader
	}
	var key [32]byte
	if _, err := io.ReadFull(seed, key[:]); err != nil {
		return nil, fmt.Errorf("noise: read seed: %w", err)
	}
	return mrand.New(mrand.NewChaCha8(key)), nil
}

// DummySampler draws the noise party's dummy counts. It is not safe for
// concurrent use.
type DummySampler struct {
	cdf []float64
	rng *mrand.Rand
}

// NewDummySampler returns a sampler of n for c. A nil seed means
// crypto/rand, which production code must use.
func NewDummySampler(seed io.Reader, c Calibration) (*DummySampler, error) {
	rng, err := newRand(seed)
	if err != nil {
		return nil, err
	}
	pmf := c.PMF()
	cdf := make([]float64, len(pmf))
	acc := 0.0
	for i, p := range pmf {
		acc += p
		cdf[i] = acc
	}
	cdf[len(cdf)-1] = 1
	return &DummySampler{cdf: cdf, rng: rng}, nil
}

// Sample returns one dummy count in [0, 2s].
func (d *DummySampler) Sample() int {
	u := uniform53(d.rng)
	return sort.Search(len(d.cdf), func(i int) bool { return u < d.cdf[i] })
}

// ReleaseSampler draws the comparer's DL(t) noise.
type ReleaseSampler struct {
	s *privacy.ShareSampler
}

// NewReleaseSampler returns a sampler of DL(t) for c. A nil seed means
// crypto/rand.
func NewReleaseSampler(seed io.Reader, c Calibration) (*ReleaseSampler, error) {
	// internal/dp draws shares of DL(t) that sum to it over a number of
	// parties (at least two); one sampler's two consecutive shares are
	// independent, so their sum is DL(t) exactly.
	s, err := privacy.NewShareSampler(seed, 2, c.laplace())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidCalibration, err)
	}
	return &ReleaseSampler{s: s}, nil
}

// Sample returns one draw of DL(t).
func (r *ReleaseSampler) Sample() int64 { return r.s.Sample() + r.s.Sample() }
