package noise

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math"
	"testing"

	"github.com/fedscore/fedscore/internal/stattest"
)

func seed(label string) io.Reader {
	h := sha256.Sum256([]byte("fedscore psi noise test: " + label))
	return bytes.NewReader(h[:])
}

func TestCalibrate(t *testing.T) {
	for _, tt := range []struct {
		eps, delta float64
		mech       int
		wantT      float64
	}{
		{1, 1e-9, 1, 1},
		{1, 1e-9, 2, 2},
		{0.5, 1e-6, 3, 6},
		{4, 1e-3, 1, 0.25},
	} {
		c, err := Calibrate(tt.eps, tt.delta, tt.mech)
		if err != nil {
			t.Fatal(err)
		}
		if c.Scale != tt.wantT {
			t.Errorf("%+v: scale %v, want %v", tt, c.Scale, tt.wantT)
		}
		// s is the smallest shift meeting δ: the mass at the boundary,
		// computed independently from the PMF, is within budget, and one
		// less would not be.
		if got := c.PMF()[0] * float64(tt.mech); got > tt.delta || math.Abs(got-c.ValueDelta*float64(tt.mech)) > 1e-12*tt.delta {
			t.Errorf("%+v: boundary mass × mechanisms = %v, δ %v", tt, got, tt.delta)
		}
		if c.Shift > 0 && valueDelta(c.Scale, c.Shift-1)*float64(tt.mech) <= tt.delta {
			t.Errorf("%+v: shift %d is not minimal", tt, c.Shift)
		}
		t.Logf("ε=%v δ=%v values=%d: t=%v s=%d slots=%d released variance %.2f", tt.eps, tt.delta, tt.mech, c.Scale, c.Shift, c.Slots(), c.Variance())
	}
	for _, bad := range []struct {
		eps, delta float64
		mech       int
	}{
		{0, 1e-9, 1}, {11, 1e-9, 1}, {math.NaN(), 1e-9, 1}, {1, 0, 1}, {1, 0.1, 1}, {1, 1e-9, 0}, {1, 1e-9, 65}, {0.001, 1e-30, 64},
	} {
		if _, err := Calibrate(bad.eps, bad.delta, bad.mech); !errors.Is(err, ErrInvalidCalibration) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}

// TestPrivacyLoss checks the (ε, δ) claim directly on the PMF: for counts
// c and c+1 the worst-case ratio on the common support is e^(1/t) and the
// mass outside it is the value δ.
func TestPrivacyLoss(t *testing.T) {
	c, err := Calibrate(1, 1e-6, 2)
	if err != nil {
		t.Fatal(err)
	}
	pmf := c.PMF()
	worst := 0.0
	for n := 1; n < len(pmf); n++ {
		worst = math.Max(worst, math.Abs(math.Log(pmf[n]/pmf[n-1])))
	}
	if math.Abs(worst-1/c.Scale) > 1e-12 {
		t.Errorf("largest log ratio %v, want 1/t = %v", worst, 1/c.Scale)
	}
	if math.Abs(pmf[0]-c.ValueDelta) > 1e-15 || pmf[len(pmf)-1] != pmf[0] {
		t.Errorf("boundary masses %v %v, value δ %v", pmf[0], pmf[len(pmf)-1], c.ValueDelta)
	}
}

// TestDummySampler checks by χ² over 200 000 draws that dummy counts follow
// the shifted truncated discrete Laplace distribution.
func TestDummySampler(t *testing.T) {
	const draws = 200_000
	for _, cal := range []struct {
		eps, delta float64
		mech       int
	}{{1, 1e-9, 1}, {1, 1e-6, 3}, {4, 1e-3, 1}, {0.1, 1e-6, 1}} {
		c, err := Calibrate(cal.eps, cal.delta, cal.mech)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(fmt.Sprintf("t=%g/s=%d", c.Scale, c.Shift), func(t *testing.T) {
			s, err := NewDummySampler(seed(t.Name()), c)
			if err != nil {
				t.Fatal(err)
			}
			xs := make([]int, draws)
			for i := range xs {
				xs[i] = s.Sample()
				if xs[i] < 0 || xs[i] > c.Slots() {
					t.Fatalf("draw %d outside [0, %d]", xs[i], c.Slots())
				}
			}
			stat, df, p := stattest.ChiSquare(c.PMF(), xs)
			t.Logf("chi2 = %.1f, df = %d, p = %.4f", stat, df, p)
			if p < stattest.PValueFloor {
				t.Errorf("dummy counts do not fit: p = %.3g", p)
			}
		})
	}
}

// TestReleaseSampler checks the comparer's DL(t) noise the same way, over
// the symmetric range, shifting draws by the range's half width.
func TestReleaseSampler(t *testing.T) {
	const draws = 200_000
	c, err := Calibrate(1, 1e-9, 2)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewReleaseSampler(seed("release"), c)
	if err != nil {
		t.Fatal(err)
	}
	const half = 60
	pmf := make([]float64, 2*half+1)
	p := math.Exp(-1 / c.Scale)
	for k := range pmf {
		pmf[k] = (1 - p) / (1 + p) * math.Pow(p, math.Abs(float64(k-half)))
	}
	xs := make([]int, draws)
	for i := range xs {
		xs[i] = int(r.Sample()) + half
	}
	stat, df, pv := stattest.ChiSquare(pmf, xs)
	t.Logf("chi2 = %.1f, df = %d, p = %.4f", stat, df, pv)
	if pv < stattest.PValueFloor {
		t.Errorf("release noise does not fit DL(%g): p = %.3g", c.Scale, pv)
	}
}

// TestChiSquareCanFail makes sure the test above would catch a wrong
// distribution: draws of the untruncated shift are rejected.
func TestChiSquareCanFail(t *testing.T) {
	c, _ := Calibrate(1, 1e-9, 1)
	wrong, _ := Calibrate(1.3, 1e-9, 1)
	wrong.Shift = c.Shift
	s, _ := NewDummySampler(seed("wrong"), wrong)
	xs := make([]int, 200_000)
	for i := range xs {
		xs[i] = s.Sample()
	}
	if _, _, p := stattest.ChiSquare(c.PMF(), xs); p >= stattest.PValueFloor {
		t.Errorf("ε = 1.3 draws pass as ε = 1: p = %v", p)
	}
}
