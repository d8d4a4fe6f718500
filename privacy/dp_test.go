package privacy

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"testing/iotest"
)

const pValueFloor = 1e-4

// TestDiscreteLaplaceSum checks, by a χ² goodness-of-fit test over 200 000
// draws, that the sum of the n parties' shares is DL(t): one bin per
// integer out to where 5 draws are expected, tails pooled.
func TestDiscreteLaplaceSum(t *testing.T) {
	const draws = 200_000
	type tc struct {
		n   int
		cal Calibration
	}
	var cases []tc
	for _, n := range []int{2, 3, 5, 10} {
		for _, cal := range []Calibration{
			{Epsilon: 2, Sensitivity: 1},  // t = 0.5
			{Epsilon: 1, Sensitivity: 4},  // t = 4
			{Epsilon: 1, Sensitivity: 60}, // t = 60
		} {
			cases = append(cases, tc{n, cal})
		}
	}
	cases = append(cases, tc{3, Calibration{Epsilon: 0.5, Sensitivity: 500}}) // t = 1000
	for _, c := range cases {
		d, _ := c.cal.Distribution()
		t.Run(fmt.Sprintf("n=%d/t=%g", c.n, d.Scale), func(t *testing.T) {
			t.Parallel()
			ps := newParties(t, t.Name(), c.n, c.cal)
			xs := make([]int64, draws)
			for i := range xs {
				xs[i] = sumShares(ps)
			}
			b := symmetricBinning(laplacePMF(d), draws)
			stat, df, p := chiSquare(b, xs)
			t.Logf("chi2 = %.1f, df = %d, p = %.4f", stat, df, p)
			if p < pValueFloor {
				t.Errorf("sum of shares does not fit DL(%g): p = %.3g", d.Scale, p)
			}
		})
	}
}

// TestDiscreteLaplaceSumLargeScale repeats the χ² test at scales where the
// Poisson means reach 1e6 to 1e10 (the PTRS path with the saddle-point
// acceptance test), with 101 quantile bins as integers are too many.
func TestDiscreteLaplaceSumLargeScale(t *testing.T) {
	const draws = 200_000
	for _, c := range []struct {
		n   int
		cal Calibration
	}{
		{3, Calibration{Epsilon: 1, Sensitivity: 1_000_000}},
		{10, Calibration{Epsilon: 0.5, Sensitivity: 500_000_000}},
	} {
		d, _ := c.cal.Distribution()
		t.Run(fmt.Sprintf("n=%d/t=%g", c.n, d.Scale), func(t *testing.T) {
			t.Parallel()
			ps := newParties(t, t.Name(), c.n, c.cal)
			xs := make([]int64, draws)
			for i := range xs {
				xs[i] = sumShares(ps)
			}
			b := cdfBinning(laplaceCDF(d), math.Sqrt(d.Variance), draws)
			stat, df, p := chiSquare(b, xs)
			t.Logf("chi2 = %.1f, df = %d, p = %.4f", stat, df, p)
			if p < pValueFloor {
				t.Errorf("sum of shares does not fit DL(%g): p = %.3g", d.Scale, p)
			}
		})
	}
}

// TestSkellamSum checks the Skellam mechanism the same way.
func TestSkellamSum(t *testing.T) {
	const draws = 200_000
	for _, n := range []int{2, 3, 5, 10} {
		for _, cal := range []Calibration{
			{Mechanism: Skellam, Epsilon: 1, Delta: 1e-6, Sensitivity: 1},
			{Mechanism: Skellam, Epsilon: 1, Delta: 1e-6, Sensitivity: 10},
		} {
			d, err := cal.Distribution()
			if err != nil {
				t.Fatal(err)
			}
			t.Run(fmt.Sprintf("n=%d/mu=%.4g", n, d.Mu), func(t *testing.T) {
				t.Parallel()
				ps := newParties(t, t.Name(), n, cal)
				xs := make([]int64, draws)
				for i := range xs {
					xs[i] = sumShares(ps)
				}
				b := symmetricBinning(skellamPMF(d.Mu), draws)
				stat, df, p := chiSquare(b, xs)
				t.Logf("chi2 = %.1f, df = %d, p = %.4f", stat, df, p)
				if p < pValueFloor {
					t.Errorf("sum of shares does not fit Skellam(%g): p = %.3g", d.Mu, p)
				}
			})
		}
	}
}

// TestMoments checks mean 0 and variance 2p/(1−p)² (2μ for Skellam) of the
// summed noise to within five standard errors over 500 000 draws.
func TestMoments(t *testing.T) {
	const draws = 500_000
	for _, cal := range []Calibration{
		{Epsilon: 0.1, Sensitivity: 1},    // t = 10
		{Epsilon: 1, Sensitivity: 1000},   // t = 1000
		{Epsilon: 0.01, Sensitivity: 1e6}, // t = 1e8
		{Mechanism: Skellam, Epsilon: 0.5, Delta: 1e-8, Sensitivity: 3},
	} {
		d, _ := cal.Distribution()
		t.Run(fmt.Sprintf("%v/var=%.4g", d.Mechanism, d.Variance), func(t *testing.T) {
			t.Parallel()
			ps := newParties(t, t.Name(), 3, cal)
			xs := make([]int64, draws)
			for i := range xs {
				xs[i] = sumShares(ps)
			}
			mean, variance := moments(xs)
			// E[X⁴]: Skellam(μ, μ) has cumulants κ2 = κ4 = 2μ; DL is summed
			// exactly where its pmf is small enough, and is Laplace-like
			// (E[X⁴] = 6σ⁴) beyond.
			m4 := 6 * d.Variance * d.Variance
			switch {
			case d.Mechanism == Skellam:
				m4 = 2*d.Mu + 3*d.Variance*d.Variance
			case d.Scale <= 1e4:
				m4 = fourthMoment(laplacePMF(d))
			}
			seMean := math.Sqrt(d.Variance / draws)
			seVar := math.Sqrt((m4 - d.Variance*d.Variance) / draws)
			t.Logf("mean %.4g (se %.3g), variance %.6g vs %.6g (rel. err %.2e, se %.2e)",
				mean, seMean, variance, d.Variance, variance/d.Variance-1, seVar/d.Variance)
			if math.Abs(mean) > 5*seMean {
				t.Errorf("mean %v, want 0 ± %v", mean, 5*seMean)
			}
			if math.Abs(variance-d.Variance) > 5*seVar {
				t.Errorf("variance %v, want %v ± %v", variance, d.Variance, 5*seVar)
			}
		})
	}
}

// TestSingleShareIsNotTheTarget shows that one party's share alone is not
// DL(t): its variance is 1/n of the target's, and a χ² test against DL(t)
// rejects it outright.
func TestSingleShareIsNotTheTarget(t *testing.T) {
	const draws = 200_000
	cal := Calibration{Epsilon: 0.25, Sensitivity: 5} // t = 20
	d, _ := cal.Distribution()
	for _, n := range []int{2, 3, 5, 10} {
		t.Run(fmt.Sprintf("n=%d", n), func(t *testing.T) {
			t.Parallel()
			s := newParties(t, t.Name(), n, cal)[0]
			xs := make([]int64, draws)
			for i := range xs {
				xs[i] = s.Sample()
			}
			mean, variance := moments(xs)
			want := d.Variance / float64(n)
			// The share is NB(r, p) − NB(r, p), r = 1/n; NB has excess
			// kurtosis 6/r + (1−p)²/(r·p), and the difference half of it.
			r := 1 / float64(n)
			kurt := 3 + (6/r+(1-d.P)*(1-d.P)/(r*d.P))/2
			se := math.Sqrt((kurt - 1) / draws) // relative standard error
			t.Logf("share mean %.3g, variance %.4g; target/n = %.4g (rel. err %.2e, se %.2e), target = %.4g",
				mean, variance, want, variance/want-1, se, d.Variance)
			if math.Abs(variance/want-1) > 5*se {
				t.Errorf("share variance %v, want target/n = %v", variance, want)
			}
			stat, df, p := chiSquare(symmetricBinning(laplacePMF(d), draws), xs)
			t.Logf("one share against DL(%g): chi2 = %.0f, df = %d, p = %.3g", d.Scale, stat, df, p)
			if p > 1e-12 {
				t.Errorf("a single share fits DL(%g) (p = %.3g); it must not", d.Scale, p)
			}
		})
	}
}

// TestBoundExceedance draws the summed noise 1 000 000 times and counts how
// often it leaves ±Bound(β); the frequency must not exceed 1.2·β. Even the
// smallest β expects 1 000 exceedances, so 1.2·β is more than six standard
// deviations above the exact rate.
func TestBoundExceedance(t *testing.T) {
	const draws = 1_000_000
	betas := []float64{0.1, 0.05, 0.01, 0.001}
	for _, cal := range []Calibration{
		{Epsilon: 1, Sensitivity: 1},
		{Epsilon: 0.1, Sensitivity: 1},
		{Epsilon: 1, Sensitivity: 1000},
		{Mechanism: Skellam, Epsilon: 1, Delta: 1e-6, Sensitivity: 2},
		{Mechanism: Skellam, Epsilon: 1, Delta: 1e-6, Sensitivity: 100_000},   // μ ≈ 1.4e11: exact
		{Mechanism: Skellam, Epsilon: 1, Delta: 1e-6, Sensitivity: 1_000_000}, // μ > 1e12: Chernoff
	} {
		d, _ := cal.Distribution()
		t.Run(fmt.Sprintf("%v/var=%.4g", d.Mechanism, d.Variance), func(t *testing.T) {
			t.Parallel()
			bounds := make([]int64, len(betas))
			for i, beta := range betas {
				if bounds[i] = Bound(cal, beta); bounds[i] < 0 {
					t.Fatalf("Bound(%v) = %d", beta, bounds[i])
				}
			}
			out := make([]int, len(betas))
			ps := newParties(t, t.Name(), 3, cal)
			for range draws {
				x := sumShares(ps)
				for i, b := range bounds {
					if x > b || x < -b {
						out[i]++
					}
				}
			}
			for i, beta := range betas {
				freq := float64(out[i]) / draws
				t.Logf("beta %g: bound %d, exceedance %.5f (%.2f·beta)", beta, bounds[i], freq, freq/beta)
				if freq > 1.2*beta {
					t.Errorf("beta %g: |noise| > %d in %.5f of draws", beta, bounds[i], freq)
				}
			}
		})
	}
}

// TestBoundExact checks that Bound is the smallest b with P(|X| > b) ≤ β.
func TestBoundExact(t *testing.T) {
	for _, cal := range []Calibration{
		{Epsilon: 10, Sensitivity: 1},
		{Epsilon: 1, Sensitivity: 1},
		{Epsilon: 0.3, Sensitivity: 7},
		{Epsilon: 0.01, Sensitivity: 100},
		{Mechanism: Skellam, Epsilon: 2, Delta: 1e-5, Sensitivity: 1},
		{Mechanism: Skellam, Epsilon: 0.2, Delta: 1e-9, Sensitivity: 30},
	} {
		d, _ := cal.Distribution()
		var pmf []float64
		if d.Mechanism == Skellam {
			pmf = skellamPMF(d.Mu)
		} else {
			pmf = laplacePMF(d)
		}
		tail := func(b int64) float64 { // P(|X| > b)
			s := 0.0
			for k := len(pmf) - 1; k > int(b); k-- {
				s += 2 * pmf[k]
			}
			return s
		}
		for _, beta := range []float64{0.5, 0.1, 1e-3, 1e-6, 1e-9} {
			b := Bound(cal, beta)
			if tail(b) > beta*(1+1e-9) || (b > 0 && tail(b-1) <= beta*(1-1e-9)) {
				t.Errorf("%v var %.4g: Bound(%g) = %d, tails %.4g / %.4g", d.Mechanism, d.Variance, beta, b, tail(b-1), tail(b))
			}
		}
	}
	// The Chernoff bound used for very large μ is valid and near the
	// Gaussian quantile: for β = 1e-6 the Gaussian quantile is 4.89σ.
	cal := Calibration{Mechanism: Skellam, Epsilon: 1, Delta: 1e-6, Sensitivity: 1_000_000}
	d, _ := cal.Distribution()
	if d.Mu <= skellamExactLimit {
		t.Fatalf("mu %v does not exercise the Chernoff path", d.Mu)
	}
	b, sd := float64(Bound(cal, 1e-6)), math.Sqrt(d.Variance)
	if b < 4.89*sd || b > 1.15*4.89*sd {
		t.Errorf("Chernoff bound %v for sd %v, want within [4.89, 5.62]·sd", b, sd)
	}
	if Bound(Calibration{}, 0.1) != -1 || Bound(Calibration{Epsilon: 1, Sensitivity: 1}, 0) != -1 ||
		Bound(Calibration{Epsilon: 1, Sensitivity: 1}, 1) != -1 {
		t.Error("Bound accepts an invalid calibration or beta")
	}
}

func TestSplitEpsilon(t *testing.T) {
	for _, c := range []struct {
		total  float64
		blocks int
		want   float64
	}{
		{1, 1, 1}, {1, 4, 0.25}, {3, 3, 1}, {1, 0, 0}, {0, 2, 0}, {-1, 2, 0}, {math.Inf(1), 2, 0}, {math.NaN(), 2, 0},
	} {
		if got := SplitEpsilon(c.total, c.blocks); got != c.want {
			t.Errorf("SplitEpsilon(%v, %d) = %v, want %v", c.total, c.blocks, got, c.want)
		}
	}
}

func TestValidation(t *testing.T) {
	for _, c := range []struct {
		cal  Calibration
		want string
	}{
		{Calibration{Epsilon: 0, Sensitivity: 1}, "epsilon"},
		{Calibration{Epsilon: -1, Sensitivity: 1}, "epsilon"},
		{Calibration{Epsilon: 10.5, Sensitivity: 1}, "epsilon"},
		{Calibration{Epsilon: math.NaN(), Sensitivity: 1}, "epsilon"},
		{Calibration{Epsilon: 1, Sensitivity: 0}, "sensitivity"},
		{Calibration{Epsilon: 1e-9, Sensitivity: 10_000}, "scale"},
		{Calibration{Epsilon: 1, Sensitivity: 1, Delta: 1e-6}, "delta"},
		{Calibration{Mechanism: Skellam, Epsilon: 1, Sensitivity: 1}, "delta"},
		{Calibration{Mechanism: Skellam, Epsilon: 1, Sensitivity: 1, Delta: 0.01}, "delta"},
		{Calibration{Mechanism: Skellam, Epsilon: 0.01, Sensitivity: 1e9, Delta: 1e-9}, "mu"},
		{Calibration{Mechanism: 7, Epsilon: 1, Sensitivity: 1}, "mechanism"},
	} {
		_, err := NewShareSampler(nil, 3, c.cal)
		if !errors.Is(err, ErrInvalidCalibration) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err = %v, want ErrInvalidCalibration about %s", c.cal, err, c.want)
		}
		if c.cal.Validate() == nil {
			t.Errorf("%+v: Validate accepts it", c.cal)
		}
	}
	ok := Calibration{Epsilon: 1, Sensitivity: 1}
	for _, n := range []int{-1, 0, 1, 65} {
		if _, err := NewShareSampler(nil, n, ok); !errors.Is(err, ErrInvalidParties) {
			t.Errorf("%d parties: err = %v", n, err)
		}
	}
	for _, n := range []int{2, 64} {
		if _, err := NewShareSampler(nil, n, ok); err != nil {
			t.Errorf("%d parties: %v", n, err)
		}
	}
	if _, err := NewShareSampler(iotest.ErrReader(errors.New("no entropy")), 3, ok); err == nil || !strings.Contains(err.Error(), "no entropy") {
		t.Errorf("failing seed source: err = %v", err)
	}
	if _, err := NewShareSampler(strings.NewReader("short"), 3, ok); err == nil {
		t.Error("short seed accepted")
	}
}

func TestDeterministicSeedAndAddTo(t *testing.T) {
	cal := Calibration{Epsilon: 0.5, Sensitivity: 3}
	a, _ := NewShareSampler(seed("same"), 3, cal)
	b, _ := NewShareSampler(seed("same"), 3, cal)
	c, _ := NewShareSampler(seed("other"), 3, cal)
	vec := make([]int64, 64)
	for i := range vec {
		vec[i] = int64(i) * 100
	}
	a.AddTo(vec)
	differs := false
	for i := range vec {
		x := b.Sample()
		if vec[i] != int64(i)*100+x {
			t.Fatalf("AddTo[%d] = %d, want %d + %d from the same seed", i, vec[i], i*100, x)
		}
		if c.Sample() != x {
			differs = true
		}
	}
	if !differs {
		t.Error("different seeds gave the same 64 shares")
	}
	// Fresh samplers from crypto/rand differ.
	x, _ := NewShareSampler(nil, 3, cal)
	y, _ := NewShareSampler(nil, 3, cal)
	same := true
	for range 64 {
		if x.Sample() != y.Sample() {
			same = false
		}
	}
	if same {
		t.Error("two crypto/rand-seeded samplers agree on 64 shares")
	}
}

// TestSkellamPMF compares the Miller-recurrence pmf with a direct
// convolution of two Poisson pmfs.
func TestSkellamPMF(t *testing.T) {
	for _, mu := range []float64{0.05, 0.3, 12, 400} {
		pmf := skellamPMF(mu)
		total := pmf[0]
		for _, p := range pmf[1:] {
			total += 2 * p
		}
		if math.Abs(total-1) > 1e-12 {
			t.Errorf("mu %v: pmf sums to %v", mu, total)
		}
		logPois := func(j int) float64 {
			lg, _ := math.Lgamma(float64(j) + 1)
			return -mu + float64(j)*math.Log(mu) - lg
		}
		J := int(mu + 40*math.Sqrt(mu) + 60)
		for k := 0; k < len(pmf) && k < 200; k++ {
			want := 0.0
			for j := 0; j < J; j++ {
				want += math.Exp(logPois(j+k) + logPois(j))
			}
			if math.Abs(pmf[k]-want) > 1e-13+1e-10*want {
				t.Errorf("mu %v: P(%d) = %.15g, convolution %.15g", mu, k, pmf[k], want)
			}
		}
	}
}

// TestSkellamRDPBound checks the Rényi DP bound used for calibration
// against the exact Rényi divergence computed numerically.
func TestSkellamRDPBound(t *testing.T) {
	lse := func(xs []float64) float64 {
		m := math.Inf(-1)
		for _, x := range xs {
			m = math.Max(m, x)
		}
		s := 0.0
		for _, x := range xs {
			s += math.Exp(x - m)
		}
		return m + math.Log(s)
	}
	for _, mu := range []float64{2, 5, 20, 50} {
		pmf := skellamPMF(mu)
		logP := func(k int) float64 { return math.Log(pmf[abs(k)]) }
		K := 0
		for K+1 < len(pmf) && pmf[K+1] > 1e-250 {
			K++
		}
		for _, sens := range []int{1, 3} {
			for _, alpha := range []float64{2, 5, 10, 30} {
				var terms []float64
				for k := -K + sens; k < K; k++ {
					terms = append(terms, alpha*logP(k)+(1-alpha)*logP(k-sens))
				}
				exact := lse(terms) / (alpha - 1)
				bound := skellamRDP(alpha, mu, float64(sens))
				if exact > bound {
					t.Errorf("mu %v, sens %d, alpha %v: exact RDP %.6g above the bound %.6g", mu, sens, alpha, exact, bound)
				}
			}
		}
	}
}

func TestSkellamCalibration(t *testing.T) {
	prev := 0.0
	for _, c := range []struct{ eps, delta, sens float64 }{
		{2, 1e-5, 1}, {1, 1e-5, 1}, {1, 1e-9, 1}, {0.5, 1e-9, 1}, {0.5, 1e-9, 4},
	} {
		mu, err := skellamMu(c.eps, c.delta, c.sens)
		if err != nil {
			t.Fatal(err)
		}
		if e := skellamEpsilon(mu, c.delta, c.sens); e > c.eps {
			t.Errorf("%+v: mu %v gives epsilon %v", c, mu, e)
		}
		if e := skellamEpsilon(mu*(1-1e-6), c.delta, c.sens); e <= c.eps {
			t.Errorf("%+v: mu %v is not the smallest (%v at 0.999999·mu)", c, mu, e)
		}
		if mu <= prev {
			t.Errorf("%+v: mu %v did not grow with stricter parameters", c, mu)
		}
		prev = mu
		// The classic Gaussian mechanism with the same (ε, δ) uses
		// σ² = 2·ln(1.25/δ)·Δ²/ε² (for ε < 1); Skellam should be comparable.
		if c.eps < 1 {
			gauss := 2 * math.Log(1.25/c.delta) * c.sens * c.sens / (c.eps * c.eps)
			t.Logf("%+v: Skellam variance %.4g, classic Gaussian variance %.4g", c, 2*mu, gauss)
			if ratio := 2 * mu / gauss; ratio < 0.5 || ratio > 2 {
				t.Errorf("%+v: Skellam variance %v is %.2f× the classic Gaussian's %v", c, 2*mu, ratio, gauss)
			}
		}
	}
}

func TestMechanismString(t *testing.T) {
	if DiscreteLaplace.String() != "discrete-laplace" || Skellam.String() != "skellam" || Mechanism(9).String() != "Mechanism(9)" {
		t.Error("Mechanism.String")
	}
}
