package privacy

import (
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"sort"
	"testing"
)

func testRand(label string) *mrand.Rand {
	var key [32]byte
	if _, err := io.ReadFull(seed(label), key[:]); err != nil {
		panic(err)
	}
	return mrand.New(mrand.NewChaCha8(key))
}

// TestPoisson fits Poisson draws against the pmf computed independently
// with math.Lgamma, on both sides of the inversion/PTRS switch at 10.
func TestPoisson(t *testing.T) {
	const draws = 200_000
	for _, lambda := range []float64{0.05, 3, 9.99, 10, 47.3, 1e4} {
		t.Run(fmt.Sprintf("lambda=%g", lambda), func(t *testing.T) {
			t.Parallel()
			r := testRand(t.Name())
			xs := make([]int64, draws)
			for i := range xs {
				xs[i] = int64(poisson(r, lambda))
			}
			// Bins: every k expecting ≥ 5 draws; the rest pooled into the
			// neighbouring tail bins.
			pmf := func(k int64) float64 {
				lg, _ := math.Lgamma(float64(k) + 1)
				return math.Exp(-lambda + float64(k)*math.Log(lambda) - lg)
			}
			mode := int64(lambda)
			lo, hi := mode, mode
			for lo > 0 && draws*pmf(lo-1) >= 5 {
				lo--
			}
			for draws*pmf(hi+1) >= 5 {
				hi++
			}
			var b binning
			below := 0.0
			for k := int64(0); k < lo; k++ {
				below += pmf(k)
			}
			b.edges = append(b.edges, lo-1)
			b.probs = append(b.probs, below)
			above := 1.0 - below
			for k := lo; k <= hi; k++ {
				b.edges = append(b.edges, k)
				b.probs = append(b.probs, pmf(k))
				above -= pmf(k)
			}
			b.probs = append(b.probs, math.Max(above, 0))
			b = mergeSmall(b, draws)
			stat, df, p := chiSquare(b, xs)
			t.Logf("chi2 = %.1f, df = %d, p = %.4f", stat, df, p)
			if p < pValueFloor {
				t.Errorf("Poisson(%g) draws do not fit: p = %.3g", lambda, p)
			}
		})
	}
}

// TestPoissonHugeMean checks mean and variance to five standard errors at
// means where only the saddle-point acceptance test is accurate, and above
// the split threshold.
func TestPoissonHugeMean(t *testing.T) {
	const draws = 200_000
	for _, lambda := range []float64{1e9, 1e13, 3 * maxPoissonMean} {
		r := testRand(fmt.Sprint(lambda))
		xs := make([]int64, draws)
		for i := range xs {
			xs[i] = int64(poisson(r, lambda))
		}
		mean, variance := moments(xs)
		seMean := math.Sqrt(lambda / draws)
		seVar := lambda * math.Sqrt(2.0/draws) // kurtosis ≈ 3 at these means
		t.Logf("lambda %g: mean err %.3g (se %.3g), variance rel. err %.2e (se %.2e)",
			lambda, mean-lambda, seMean, variance/lambda-1, seVar/lambda)
		if math.Abs(mean-lambda) > 5*seMean || math.Abs(variance-lambda) > 5*seVar {
			t.Errorf("Poisson(%g): mean %v, variance %v", lambda, mean, variance)
		}
	}
}

// TestLogPoissonPMF checks the saddle-point log pmf: against math.Lgamma
// where that is accurate, and by normalisation and mean at large λ.
func TestLogPoissonPMF(t *testing.T) {
	for _, lambda := range []float64{0.5, 10, 123.4, 1e4, 1e5} {
		for _, k := range []float64{0, 1, 2, 7, 15, 16, 36, 81, 501, math.Floor(lambda), math.Floor(3 * lambda)} {
			lg, _ := math.Lgamma(k + 1)
			want := -lambda + k*math.Log(lambda) - lg
			if got := logPoissonPMF(k, lambda); math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
				t.Errorf("logPoissonPMF(%v, %v) = %.15g, want %.15g", k, lambda, got, want)
			}
		}
	}
	for _, lambda := range []float64{1e9, 1e10} {
		sd := math.Sqrt(lambda)
		sum, mean := 0.0, 0.0
		for k := math.Floor(lambda - 12*sd); k <= lambda+12*sd; k++ {
			p := math.Exp(logPoissonPMF(k, lambda))
			sum += p
			mean += p * (k - lambda)
		}
		if math.Abs(sum-1) > 1e-9 || math.Abs(mean) > 1e-6*sd {
			t.Errorf("lambda %g: pmf sums to 1%+.3g, mean offset %.3g", lambda, sum-1, mean)
		}
	}
	// The reference loses about ulp(log n!) to cancellation.
	for n := 1.0; n <= 2000; n++ {
		lg, _ := math.Lgamma(n + 1)
		want := lg - (n+0.5)*math.Log(n) + n - 0.5*math.Log(2*math.Pi)
		if got := stirlerr(n); math.Abs(got-want) > 1e-15*(8*lg+1) {
			t.Errorf("stirlerr(%v) = %.17g, want %.17g", n, got, want)
		}
	}
}

// TestGamma runs a Kolmogorov–Smirnov test of Gamma draws against the
// regularised incomplete gamma function: shapes ≥ 1 directly, and shapes
// 1/n through the boost used for the shares.
func TestGamma(t *testing.T) {
	const draws = 100_000
	type tc struct {
		shape float64
		draw  func(*mrand.Rand) float64
	}
	var cases []tc
	for _, shape := range []float64{1, 1 + 1.0/64, 4.0 / 3, 1.5, 2.5, 10} {
		cases = append(cases, tc{shape, func(r *mrand.Rand) float64 { return gammaVariate(r, shape) }})
	}
	for _, n := range []int{1, 2, 3, 5, 10, 64} {
		cases = append(cases, tc{1 / float64(n), func(r *mrand.Rand) float64 { return gammaReciprocal(r, n) }})
	}
	for i, c := range cases {
		r := testRand(fmt.Sprint("gamma", i, c.shape))
		xs := make([]float64, draws)
		for i := range xs {
			xs[i] = c.draw(r)
		}
		sort.Float64s(xs)
		d := 0.0
		for i, x := range xs {
			f := gammaP(c.shape, x)
			d = math.Max(d, math.Max(f-float64(i)/draws, float64(i+1)/draws-f))
		}
		p := ksPValue(d, draws)
		t.Logf("shape %.4g: KS D = %.5f, p = %.4f", c.shape, d, p)
		if p < pValueFloor {
			t.Errorf("Gamma(%g) draws do not fit: D = %v, p = %.3g", c.shape, d, p)
		}
	}
	for _, c := range []struct {
		x    float64
		n    int
		want float64
	}{{2, 0, 1}, {2, 1, 2}, {2, 10, 1024}, {0.5, 64, math.Pow(0.5, 64)}, {0.9, 7, math.Pow(0.9, 7)}} {
		if got := powInt(c.x, c.n); math.Abs(got-c.want) > 1e-15*c.want {
			t.Errorf("powInt(%v, %d) = %v, want %v", c.x, c.n, got, c.want)
		}
	}
}
