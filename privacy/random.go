package privacy

import (
	"math"
	"math/rand/v2"
)

// maxPoissonMean is the largest mean drawn in one PTRS call. Every value
// PTRS produces then stays far below 2^53, where float64 still represents
// every integer exactly; larger means are split (Poisson is additive).
const maxPoissonMean = 1 << 48

// uniform returns a uniform float64 in the open interval (0, 1) with 53
// random bits: the midpoints of the 2^53 equal cells of [0, 1).
func uniform(r *rand.Rand) float64 {
	return (float64(r.Uint64()>>11) + 0.5) * 0x1p-53
}

// gammaVariate draws from Gamma(shape, 1), shape ≥ 1, by Marsaglia &
// Tsang, "A simple method for generating gamma variables" (ACM TOMS 2000).
func gammaVariate(r *rand.Rand, shape float64) float64 {
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := r.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := uniform(r)
		x2 := x * x
		if u < 1-0.0331*x2*x2 || math.Log(u) < 0.5*x2+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}

// gammaReciprocal draws from Gamma(1/n, 1) for an integer n ≥ 1 by the
// Marsaglia–Tsang boost for shapes below 1, Gamma(a) = Gamma(a+1)·U^(1/a),
// where U^(1/a) = U^n is an integer power (no log or exp). U^n may
// underflow to 0 (for n = 64 when U < 2^-16.8); the true value is then
// below 2^-1074, which as a Poisson mean gives 0 with probability
// 1 − 2^-1000 or more even after scaling by the largest θ.
func gammaReciprocal(r *rand.Rand, n int) float64 {
	return gammaVariate(r, 1+1/float64(n)) * powInt(uniform(r), n)
}

// powInt returns x^n, n ≥ 0, by repeated squaring.
func powInt(x float64, n int) float64 {
	p := 1.0
	for n > 0 {
		if n&1 == 1 {
			p *= x
		}
		x *= x
		n >>= 1
	}
	return p
}

// poisson draws from Poisson(lambda), lambda ≥ 0 and finite.
func poisson(r *rand.Rand, lambda float64) float64 {
	switch {
	case lambda <= 0:
		return 0
	case lambda < 10:
		return poissonInversion(r, lambda)
	case lambda <= maxPoissonMean:
		return poissonPTRS(r, lambda)
	default:
		// Unreachable under the scale caps except with negligible
		// probability (an extreme Gamma draw); stay exact regardless.
		half := lambda / 2
		return poisson(r, half) + poisson(r, lambda-half)
	}
}

// poissonInversion is sequential-search inversion, for small means.
func poissonInversion(r *rand.Rand, lambda float64) float64 {
	u := uniform(r)
	p := math.Exp(-lambda)
	s := p
	k := 0.0
	for u > s {
		k++
		p *= lambda / k
		if p == 0 {
			// The remaining mass is below the float64 resolution of u.
			break
		}
		s += p
	}
	return k
}

// poissonPTRS is Hörmann's transformed rejection with squeeze, "The
// transformed rejection method for generating Poisson random variables"
// (Insurance: Mathematics and Economics 12, 1993), valid for lambda ≥ 10.
// The final acceptance test compares against logPoissonPMF, which is
// accurate for very large means.
func poissonPTRS(r *rand.Rand, lambda float64) float64 {
	slam := math.Sqrt(lambda)
	b := 0.931 + 2.53*slam
	a := -0.059 + 0.02483*b
	logInvAlpha := math.Log(1.1239 + 1.1328/(b-3.4))
	vr := 0.9277 - 3.6224/(b-2)
	for {
		u := uniform(r) - 0.5
		v := uniform(r)
		us := 0.5 - math.Abs(u)
		k := math.Floor((2*a/us+b)*u + lambda + 0.43)
		if us >= 0.07 && v <= vr {
			return k
		}
		if k < 0 || (us < 0.013 && v > us) {
			continue
		}
		if math.Log(v)+logInvAlpha-math.Log(a/(us*us)+b) <= logPoissonPMF(k, lambda) {
			return k
		}
	}
}

// logPoissonPMF returns log P(X = k) for X ~ Poisson(lambda), k a
// non-negative integer, in Loader's saddle-point form ("Fast and accurate
// computation of binomial probabilities", 2000):
//
//	log P(k) = −stirlerr(k) − bd0(k, λ) − ½·log(2πk),
//
// which avoids the cancellation between k·log λ, λ and log k! at large λ.
func logPoissonPMF(k, lambda float64) float64 {
	if k == 0 {
		return -lambda
	}
	return -stirlerr(k) - bd0(k, lambda) - 0.5*math.Log(2*math.Pi*k)
}

// stirlerr returns log(n!) − log(√(2πn)·(n/e)^n) for a positive integer n.
func stirlerr(n float64) float64 {
	const (
		s0 = 1.0 / 12
		s1 = 1.0 / 360
		s2 = 1.0 / 1260
		s3 = 1.0 / 1680
		s4 = 1.0 / 1188
	)
	if n <= 15 {
		// Every term is small here, so the direct form loses nothing
		// that matters (absolute error ~1e-15).
		lg, _ := math.Lgamma(n + 1)
		return lg - (n+0.5)*math.Log(n) + n - 0.5*math.Log(2*math.Pi)
	}
	nn := n * n
	switch {
	case n > 500:
		return (s0 - s1/nn) / n
	case n > 80:
		return (s0 - (s1-s2/nn)/nn) / n
	case n > 35:
		return (s0 - (s1-(s2-s3/nn)/nn)/nn) / n
	default:
		return (s0 - (s1-(s2-(s3-s4/nn)/nn)/nn)/nn) / n
	}
}

// bd0 returns x·log(x/np) + np − x, the deviance term, accurately also when
// x ≈ np (Loader 2000).
func bd0(x, np float64) float64 {
	if math.Abs(x-np) < 0.1*(x+np) {
		v := (x - np) / (x + np)
		s := (x - np) * v
		ej := 2 * x * v
		v *= v
		for j := 1; j < 1000; j++ {
			ej *= v
			s1 := s + ej/float64(2*j+1)
			if s1 == s {
				return s1
			}
			s = s1
		}
		return s
	}
	return x*math.Log(x/np) + np - x
}
