package fit

import (
	"errors"
	"github.com/fedscore/fedscore/scoring"
	"math"
	"testing"
)

// meanLoss is the mean log loss of m on the valid rows of tab.
func meanLoss(t *testing.T, tab interface{ Rows() int }, sc *scoring.Scores, y []float64) float64 {
	t.Helper()
	var sum float64
	var n int
	for i := range tab.Rows() {
		if math.IsNaN(sc.Logit[i]) || math.IsNaN(y[i]) {
			continue
		}
		sum += logLoss(sc.Logit[i], y[i])
		n++
	}
	return sum / float64(n)
}

func TestGradientMatchesFiniteDifferences(t *testing.T) {
	nan := math.NaN()
	x := []float64{8, 10, 12, 9, 14, 11, nan, 10}
	n := []float64{-1, 3, 6, 2, 7, 0, 1, 4}
	c := []string{"a", "b", "a", "b", "a", "b", "a", "q"}
	y := []float64{0, 1, 1, 0, 1, 0, 1, 1}
	tab := fitTable(t, map[string][]float64{"x": x, "n": n, "y": y}, map[string][]string{"c": c})
	m := testModel()
	m.Target = "y"
	const scale = int64(1) << 30
	g, gs, err := Gradient(m, tab, nil, math.Inf(1), scale)
	if err != nil {
		t.Fatal(err)
	}
	// Row 6 has no x, row 7 an unknown category: both counted, not used.
	if gs.Rows != 8 || gs.Examples != 6 || gs.Invalid != 2 || gs.InvalidFeatures[0].Missing != 1 || gs.InvalidFeatures[2].Unknown != 1 || gs.Clipped != 0 {
		t.Errorf("stats %+v", gs)
	}
	mean, err := DecodeGradient(g, scale, gs.Examples)
	if err != nil {
		t.Fatal(err)
	}
	params := m.Params()
	for k := range params {
		const h = 1e-6
		loss := func(d float64) float64 {
			p := append([]float64(nil), params...)
			p[k] += d
			mm := m.Clone()
			if err := mm.SetParams(p); err != nil {
				t.Fatal(err)
			}
			sc, err := scoring.ScoreTable(mm, tab, nil)
			if err != nil {
				t.Fatal(err)
			}
			return meanLoss(t, tab, sc, y)
		}
		fd := (loss(h) - loss(-h)) / (2 * h)
		if math.Abs(fd-mean[k]) > 1e-6 {
			t.Errorf("param %d: gradient %v, finite difference %v", k, mean[k], fd)
		}
	}
}

func TestGradientClipsAndChecks(t *testing.T) {
	x := []float64{0, 100, 10, 12}
	y := []float64{1, 0, 1, 0}
	tab := fitTable(t, map[string][]float64{"x": x, "n": {1, 1, 1, 1}, "y": y}, map[string][]string{"c": {"a", "a", "b", "b"}})
	m := testModel()
	m.Target = "y"
	m.Features[0].Weight = 0
	clip := 0.25
	g, gs, err := Gradient(m, tab, nil, clip, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if gs.Clipped == 0 {
		t.Errorf("no example clipped: %+v", gs)
	}
	// Every example contributes at most clip to the norm of the sum.
	var norm float64
	for _, v := range g {
		f := float64(v) / (1 << 20)
		norm += f * f
	}
	if math.Sqrt(norm) > clip*float64(gs.Examples)+1e-6 {
		t.Errorf("gradient norm %v exceeds %v", math.Sqrt(norm), clip*float64(gs.Examples))
	}
	// A selection restricts the sum.
	_, gs, err = Gradient(m, tab, []bool{true, false, false, true}, clip, 1<<20)
	if err != nil || gs.Rows != 2 || gs.Examples != 2 {
		t.Errorf("selection: %+v, %v", gs, err)
	}

	tests := []struct {
		name  string
		model func() *scoring.Model
		clip  float64
		scale int64
		rows  []bool
		want  error
	}{
		{"zero clip", func() *scoring.Model { return m }, 0, 1, nil, scoring.ErrInvalidArgument},
		{"NaN clip", func() *scoring.Model { return m }, math.NaN(), 1, nil, scoring.ErrInvalidArgument},
		{"zero scale", func() *scoring.Model { return m }, 1, 0, nil, scoring.ErrInvalidArgument},
		{"overflow", func() *scoring.Model { return m }, math.Inf(1), 1 << 62, nil, ErrOverflow},
		{"short selection", func() *scoring.Model { return m }, 1, 1, []bool{true}, scoring.ErrInvalidArgument},
		{"no target", func() *scoring.Model { mm := m.Clone(); mm.Target = ""; return mm }, 1, 1, nil, scoring.ErrInvalidArgument},
		{"invalid model", func() *scoring.Model { mm := m.Clone(); mm.Features[0].Std = 0; return mm }, 1, 1, nil, scoring.ErrInvalidModel},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := Gradient(tt.model(), tab, tt.rows, tt.clip, tt.scale); !errors.Is(err, tt.want) {
				t.Errorf("Gradient = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := DecodeGradient([]int64{1}, 1, 0); !errors.Is(err, scoring.ErrInvalidArgument) {
		t.Errorf("DecodeGradient with no examples = %v", err)
	}
}
