package privacy

import (
	"fmt"
	"math"
)

// skellamRDP bounds the Rényi divergence of order alpha between
// Skellam(μ, μ) and its shift by sens (Agarwal, Kairouz & Liu, NeurIPS 2021,
// in terms of the variance V = 2μ; in one dimension the L1 and L2
// sensitivities coincide).
func skellamRDP(alpha, mu, sens float64) float64 {
	v := 2 * mu
	s2 := sens * sens
	return alpha*s2/(2*v) + math.Min(((2*alpha-1)*s2+6*sens)/(4*v*v), 3*sens/(2*v))
}

// skellamEpsilon is the ε of (ε, δ)-DP that Skellam(μ, μ) noise gives a
// query with sensitivity sens: ε = min over integer α ≥ 2 of
// ε(α) + log(1/δ)/(α−1) (Mironov, "Rényi differential privacy", CSF 2017,
// Proposition 3). ε(α) is the minimum of two functions linear in α, so the
// objective is the minimum of two convex functions a·α + c + L/(α−1), and
// each is minimised in closed form (α − 1 = √(L/a), then the neighbouring
// integers).
func skellamEpsilon(mu, delta, sens float64) float64 {
	v := 2 * mu
	s2 := sens * sens
	l := -math.Log(delta)
	best := math.Inf(1)
	for _, lin := range [][2]float64{ // a, c of each linear branch of ε(α)
		{s2/(2*v) + s2/(2*v*v), (6*sens - s2) / (4 * v * v)},
		{s2 / (2 * v), 3 * sens / (2 * v)},
	} {
		a, c := lin[0], lin[1]
		opt := 1 + math.Sqrt(l/a)
		for _, alpha := range []float64{math.Floor(opt), math.Ceil(opt)} {
			alpha = math.Max(alpha, 2)
			best = math.Min(best, a*alpha+c+l/(alpha-1))
		}
	}
	return best
}

// skellamMu returns (up to a relative 1e-9, rounded up) the smallest μ for
// which Skellam(μ, μ) noise is (eps, delta)-DP for sensitivity sens.
func skellamMu(eps, delta, sens float64) (float64, error) {
	if skellamEpsilon(MaxSkellamMu, delta, sens) > eps {
		return 0, fmt.Errorf("the Skellam noise for epsilon %v, delta %v, sensitivity %v needs mu above %d; lower the sensitivity or raise epsilon", eps, delta, sens, int64(MaxSkellamMu))
	}
	lo, hi := 0.0, 1.0
	for skellamEpsilon(hi, delta, sens) > eps {
		lo, hi = hi, hi*2
	}
	for hi-lo > 1e-9*hi {
		mid := lo + (hi-lo)/2
		if skellamEpsilon(mid, delta, sens) > eps {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi, nil
}

// skellamExactLimit is the largest μ for which skellamBound walks the exact
// distribution, in about 40·√μ steps (some 100 ms at the limit).
const skellamExactLimit = 1e12

// besselWalk runs Miller's backward recurrence for the modified Bessel
// functions of the first kind, I_(k−1)(x) = I_(k+1)(x) + (2k/x)·I_k(x),
// x = 2μ, from a large k down to 0; downwards the recurrence is stable.
// cur·e^logScale is proportional to I_k(x), hence to P(X = k) = e^(−x)·I_k(x)
// for X ~ Skellam(μ, μ); the constant is fixed by the normalisation
// I_0(x) + 2·Σ_(k≥1) I_k(x) = e^x, so no Bessel function is evaluated.
//
// The walk starts at k = ⌈√(400μ)⌉ + 40, where I_k/I_0 ≈ exp(−k²/(4μ)) is
// below e^-100; the error the arbitrary start introduces shrinks like
// exp((k² − top²)/(2μ)) towards k = 0, so every value above e^-50·P(0)
// is exact up to float64 rounding.
type besselWalk struct {
	x         float64
	k         int
	next, cur float64 // ∝ I_(k+1), I_k
	logScale  float64
}

func newBesselWalk(mu float64) *besselWalk {
	return &besselWalk{x: 2 * mu, k: int(math.Ceil(math.Sqrt(400*mu))) + 40, cur: 1}
}

// step moves from k to k−1. When the values grow large it divides them by
// f and adds log f to logScale; it returns f (1 if it did not rescale), by
// which a caller divides anything it accumulated on the old scale.
func (w *besselWalk) step() float64 {
	w.next, w.cur = w.cur, w.next+(2*float64(w.k)/w.x)*w.cur
	w.k--
	if w.cur > 1e200 {
		f := w.cur
		w.next /= f
		w.cur = 1
		w.logScale += math.Log(f)
		return f
	}
	return 1
}

// skellamBound is Bound for Skellam(mu, mu).
func skellamBound(mu, beta float64) int64 {
	if mu > skellamExactLimit {
		return skellamChernoff(mu, beta)
	}
	// Pass 1: the normaliser, on the scale of the final step.
	w := newBesselWalk(mu)
	sum := 0.0
	for w.k > 0 {
		sum += w.cur
		sum /= w.step()
	}
	total, logScale := 2*sum+w.cur, w.logScale
	// Pass 2 repeats the identical recurrence from the far end and
	// accumulates tail = P(|X| > k) = 2·Σ_(j>k) P(j).
	w = newBesselWalk(mu)
	tail := 0.0
	scaleAt, norm := math.NaN(), 0.0
	for ; w.k > 0; w.step() {
		if w.logScale != scaleAt {
			scaleAt, norm = w.logScale, math.Exp(w.logScale-logScale)/total
		}
		p := w.cur * norm
		if tail+2*p > beta {
			return int64(w.k)
		}
		tail += 2 * p
	}
	return 0
}

// skellamChernoff is a valid but conservative Bound for Skellam(mu, mu): by
// P(X ≥ b) ≤ exp(−h(b)) with h(b) = sup_s (s·b − 2μ(cosh s − 1))
// = b·asinh(b/2μ) − 2μ(√(1+(b/2μ)²) − 1), increasing in b, the smallest b
// with 2·exp(−h(b)) ≤ β.
func skellamChernoff(mu, beta float64) int64 {
	h := func(b float64) float64 {
		z := b / (2 * mu)
		return b*math.Asinh(z) - 2*mu*(math.Sqrt(1+z*z)-1)
	}
	target := math.Log(2 / beta)
	lo, hi := 0.0, math.Sqrt(2*mu)
	for h(hi) < target {
		lo, hi = hi, hi*2
	}
	for hi-lo > 0.25 {
		mid := lo + (hi-lo)/2
		if h(mid) < target {
			lo = mid
		} else {
			hi = mid
		}
	}
	return int64(math.Ceil(hi))
}
