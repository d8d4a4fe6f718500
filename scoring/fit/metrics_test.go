package fit

import (
	"math"
	"math/rand/v2"
	"testing"
)

// bruteAUC counts the pairs directly.
func bruteAUC(labels []bool, scores []float64) float64 {
	var u, pairs float64
	for i, li := range labels {
		for j, lj := range labels {
			if !li || lj || math.IsNaN(scores[i]) || math.IsNaN(scores[j]) {
				continue
			}
			pairs++
			switch {
			case scores[i] > scores[j]:
				u++
			case scores[i] == scores[j]:
				u += 0.5
			}
		}
	}
	return u / pairs
}

func TestAUC(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name   string
		labels []bool
		scores []float64
		want   float64
	}{
		{"perfect", []bool{false, false, true, true}, []float64{1, 2, 3, 4}, 1},
		{"reversed", []bool{true, true, false, false}, []float64{1, 2, 3, 4}, 0},
		{"all tied", []bool{true, false, true, false}, []float64{5, 5, 5, 5}, 0.5},
		{"partial ties", []bool{false, true, false, true, true}, []float64{1, 2, 2, 3, 1}, 4.0 / 6},
		{"NaN left out", []bool{false, true, true}, []float64{1, nan, 2}, 1},
		{"one class", []bool{true, true}, []float64{1, 2}, nan},
		{"length mismatch", []bool{true, false}, []float64{1}, nan},
		{"empty", nil, nil, nan},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AUC(tt.labels, tt.scores)
			if !(got == tt.want || math.IsNaN(got) && math.IsNaN(tt.want)) {
				t.Errorf("AUC = %v, want %v", got, tt.want)
			}
		})
	}
	// Random data with many ties against the pair count.
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 20 {
		n := 50 + trial*10
		labels := make([]bool, n)
		scores := make([]float64, n)
		for i := range n {
			scores[i] = float64(r.IntN(7))
			labels[i] = r.Float64() < 0.2+scores[i]/10
		}
		if got, want := AUC(labels, scores), bruteAUC(labels, scores); math.Abs(got-want) > 1e-12 {
			t.Errorf("trial %d: AUC %v, pair count %v", trial, got, want)
		}
	}
}

func TestKS(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name   string
		labels []bool
		scores []float64
		want   float64
	}{
		{"separated", []bool{false, false, true, true}, []float64{1, 2, 3, 4}, 1},
		{"all tied", []bool{true, false}, []float64{3, 3}, 0},
		{"half", []bool{false, true, false, true}, []float64{1, 2, 3, 4}, 0.5},
		{"ties move together", []bool{false, true, false, true}, []float64{1, 1, 2, 2}, 0},
		{"one class", []bool{false, false}, []float64{1, 2}, nan},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := KS(tt.labels, tt.scores)
			if !(got == tt.want || math.IsNaN(got) && math.IsNaN(tt.want)) {
				t.Errorf("KS = %v, want %v", got, tt.want)
			}
		})
	}
}
