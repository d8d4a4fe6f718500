package privacy

import (
	"crypto/rand"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
)

// ShareSampler draws one party's shares of the summed noise. A ShareSampler
// is not safe for concurrent use: give each goroutine its own.
type ShareSampler struct {
	dist    Distribution
	parties int
	rng     *mrand.Rand

	// Discrete Laplace: each share is NB(1/parties, p) − NB(1/parties, p),
	// with NB(r, p) = Poisson(Gamma(r, 1)·θ), θ = p/(1−p).
	theta float64
	// Skellam: each share is Poisson(lambda) − Poisson(lambda).
	lambda float64
}

// NewShareSampler returns a sampler of one party's noise shares such that
// the shares of parties independent samplers sum to the distribution of
// cal. The generator is ChaCha8 seeded with 32 bytes read from seed; a nil
// seed means crypto/rand.Reader, which is what production code must use
// (a fixed seed makes the noise predictable and is for tests only).
func NewShareSampler(seed io.Reader, parties int, cal Calibration) (*ShareSampler, error) {
	if parties < MinParties || parties > MaxParties {
		return nil, fmt.Errorf("%w: %d parties, want %d to %d", ErrInvalidParties, parties, MinParties, MaxParties)
	}
	dist, err := cal.Distribution()
	if err != nil {
		return nil, fmt.Errorf("noise share sampler: %w", err)
	}
	if seed == nil {
		seed = rand.Reader
	}
	var key [32]byte
	if _, err := io.ReadFull(seed, key[:]); err != nil {
		return nil, fmt.Errorf("noise share sampler: read seed: %w", err)
	}
	s := &ShareSampler{dist: dist, parties: parties, rng: mrand.New(mrand.NewChaCha8(key))}
	switch dist.Mechanism {
	case DiscreteLaplace:
		// θ = p/(1−p) = 1/(e^(1/t) − 1).
		s.theta = 1 / math.Expm1(1/dist.Scale)
	case Skellam:
		s.lambda = dist.Mu / float64(parties)
	}
	return s, nil
}

// Distribution returns the distribution the shares of all parties sum to.
func (s *ShareSampler) Distribution() Distribution { return s.dist }

// Parties returns the number of shares that sum to the target distribution.
func (s *ShareSampler) Parties() int { return s.parties }

// Sample returns one share of noise.
func (s *ShareSampler) Sample() int64 {
	if s.dist.Mechanism == Skellam {
		return int64(poisson(s.rng, s.lambda)) - int64(poisson(s.rng, s.lambda))
	}
	return s.negBinomial() - s.negBinomial()
}

// AddTo adds an independent share of noise to every element of vec. The
// caller keeps vec and the noise well inside int64 (see Bound).
func (s *ShareSampler) AddTo(vec []int64) {
	for i := range vec {
		vec[i] += s.Sample()
	}
}

// negBinomial draws NB(1/parties, p) as a Gamma–Poisson mixture.
func (s *ShareSampler) negBinomial() int64 {
	return int64(poisson(s.rng, gammaReciprocal(s.rng, s.parties)*s.theta))
}
