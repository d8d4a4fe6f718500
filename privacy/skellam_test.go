package privacy

import (
	"math"
	"testing"
)

// skellamPMF returns P(X = k) = P(X = −k), k = 0..top, of X ~ Skellam(mu,
// mu), from the same recurrence as Bound.
func skellamPMF(mu float64) []float64 {
	w := newBesselWalk(mu)
	vals := make([]float64, w.k+1)
	scales := make([]float64, w.k+1)
	for {
		vals[w.k], scales[w.k] = w.cur, w.logScale
		if w.k == 0 {
			break
		}
		w.step()
	}
	final := w.logScale
	total := 0.0
	for k := len(vals) - 1; k >= 0; k-- {
		vals[k] *= math.Exp(scales[k] - final)
		if k > 0 {
			total += 2 * vals[k]
		} else {
			total += vals[k]
		}
	}
	for k := range vals {
		vals[k] /= total
	}
	return vals
}

// skellamEpsilonGrid is skellamEpsilon by brute force over a grid of
// orders; TestSkellamEpsilonClosedForm compares
// the two.
func skellamEpsilonGrid(mu, delta, sens float64) float64 {
	best := math.Inf(1)
	for a := 2.0; a < 1e7; a = math.Max(a+1, math.Ceil(a*1.001)) {
		best = math.Min(best, skellamRDP(a, mu, sens)-math.Log(delta)/(a-1))
	}
	return best
}

func TestSkellamEpsilonClosedForm(t *testing.T) {
	for _, mu := range []float64{0.1, 1, 14.8, 1e3, 1e6, 1e12} {
		for _, delta := range []float64{1e-3, 1e-6, 1e-12} {
			for _, sens := range []float64{1, 10, 1e4} {
				got, want := skellamEpsilon(mu, delta, sens), skellamEpsilonGrid(mu, delta, sens)
				if got > want*(1+1e-12) || got < want*(1-2e-3) {
					t.Errorf("mu %g, delta %g, sens %g: closed form %.15g, grid %.15g", mu, delta, sens, got, want)
				}
			}
		}
	}
}
