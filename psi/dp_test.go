package psi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"math"
	"testing"

	"github.com/fedscore/fedscore/internal/stattest"
	"github.com/fedscore/fedscore/psi/ident"
	"github.com/fedscore/fedscore/psi/noise"
)

// TestDummyCountsOfThePlan checks, by χ² over 200 000 cells, the dummy
// counts the noise party's plan draws for a session (the code path that
// decides how many matching dummies each cell gets).
func TestDummyCountsOfThePlan(t *testing.T) {
	cfg := testConfig(3)
	cfg.DP = &DP{Epsilon: 1, Delta: 1e-9}
	pl, err := newPlan(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256([]byte("plan counts"))
	s, err := noise.NewDummySampler(bytes.NewReader(h[:]), *pl.noise)
	if err != nil {
		t.Fatal(err)
	}
	counts := drawDummyCounts(s, 200_000)
	stat, df, p := stattest.ChiSquare(pl.noise.PMF(), counts)
	t.Logf("t = %g, s = %d: chi2 = %.1f, df = %d, p = %.4f", pl.noise.Scale, pl.noise.Shift, stat, df, p)
	if p < stattest.PValueFloor {
		t.Errorf("dummy counts do not fit: p = %.3g", p)
	}
}

// TestDummiesThroughTheProtocol runs a real session whose sets are empty
// and whose first party is grouped into many segments, so that every cell
// the comparer counts holds only the matching dummies the noise party
// inserted into both lists, blinded by both parties and compared: the
// comparer's counts must follow the truncated distribution, the released
// values its convolution with the comparer's DL(t), and the sizes the
// padding distribution.
func TestDummiesThroughTheProtocol(t *testing.T) {
	const segments = 3000
	cfg := testConfig(2)
	cfg.GroupBy, cfg.Segments = 0, segments
	cfg.DP = &DP{Epsilon: 4, Delta: 1e-3}
	l, err := NewLocal(cfg, Options{TempDir: t.TempDir(), Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	var raw []int64
	l.Parties[1].observeCounts = func(c []int64) { raw = c }
	res, err := l.Run(context.Background(), []ident.Source{&ident.SliceSource{}, &ident.SliceSource{}})
	if err != nil {
		t.Fatal(err)
	}
	cal := res[0].Noise
	if len(raw) != segments {
		t.Fatalf("%d counts", len(raw))
	}
	ints := func(xs []int64, off int64) []int {
		out := make([]int, len(xs))
		for i, x := range xs {
			out[i] = int(x + off)
		}
		return out
	}
	stat, df, p := stattest.ChiSquare(cal.PMF(), ints(raw, 0))
	t.Logf("comparer's counts (t = %g, s = %d): chi2 = %.1f, df = %d, p = %.4f", cal.Scale, cal.Shift, stat, df, p)
	if p < stattest.PValueFloor {
		t.Errorf("comparer's counts do not fit the dummy distribution: p = %.3g", p)
	}

	// Released: (n − s) + z, z ~ DL(t).
	const half = 40
	pmf := cal.ReleasedPMF(half)
	var released []int64
	for _, c := range res[0].Cells {
		released = append(released, c.Value)
	}
	stat, df, p = stattest.ChiSquare(pmf, ints(released, half))
	t.Logf("released values: chi2 = %.1f, df = %d, p = %.4f", stat, df, p)
	if p < stattest.PValueFloor {
		t.Errorf("released values do not fit: p = %.3g", p)
	}
	for _, r := range res[1:] {
		for i, c := range r.Cells {
			if c != res[0].Cells[i] {
				t.Fatalf("parties disagree on cell %d", i)
			}
		}
	}

	// Sizes of the empty segments: padding n − s.
	var sizes []int64
	for _, s := range res[1].Sizes {
		if s.Owner == 0 {
			sizes = append(sizes, s.Elements+int64(cal.Shift))
		}
	}
	stat, df, p = stattest.ChiSquare(cal.PMF(), ints(sizes, 0))
	t.Logf("segment sizes: chi2 = %.1f, df = %d, p = %.4f", stat, df, p)
	if p < stattest.PValueFloor {
		t.Errorf("padded sizes do not fit: p = %.3g", p)
	}
}

// TestDPOnRealOverlap checks that with DP the comparer sees the true count
// plus dummies in [0, 2s], and that the released value is near the truth.
func TestDPOnRealOverlap(t *testing.T) {
	cfg := testConfig(3)
	cfg.DP = &DP{Epsilon: 1, Delta: 1e-9}
	l, err := NewLocal(cfg, Options{TempDir: t.TempDir(), Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	var raw []int64
	l.Parties[2].observeCounts = func(c []int64) { raw = c }
	sets := [][]ident.Record{records(span(0, 100)...), records(span(50, 150)...), records(span(90, 200)...)}
	src := []ident.Source{&ident.SliceSource{Records: sets[0]}, &ident.SliceSource{Records: sets[1]}, &ident.SliceSource{Records: sets[2]}}
	res, err := l.Run(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	e := expect(3, -1, sets)
	cal := res[0].Noise
	if !res[0].Noisy || cal.Mechanisms != 3 {
		t.Fatalf("calibration %+v", cal)
	}
	for i, c := range l.Parties[2].plan.cells {
		extra := raw[i] - e.cells[c]
		if extra < 0 || extra > int64(cal.Slots()) {
			t.Errorf("cell %03b: comparer counted %d, true %d", c.parties, raw[i], e.cells[c])
		}
	}
	// 12 standard deviations: a released value this far off means the
	// noise is not what it claims, not bad luck.
	sd := math.Sqrt(cal.Variance())
	for _, c := range res[0].Cells {
		if d := math.Abs(float64(c.Value - e.cells[cell{c.Parties, c.Segment}])); d > 12*sd {
			t.Errorf("cell %03b released %d, true %d", c.Parties, c.Value, e.cells[cell{c.Parties, c.Segment}])
		}
	}
	for p := 0; p < 3; p++ {
		if d := res[1].Size(p) - e.sizes[p]; d < -int64(cal.Shift) || d > int64(cal.Shift) {
			t.Errorf("size of %d released %d, true %d", p, res[1].Size(p), e.sizes[p])
		}
	}
}
