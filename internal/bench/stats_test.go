package bench

import (
	"math"
	"testing"
)

func TestPercentile(t *testing.T) {
	xs := []float64{15, 20, 35, 40, 50} // unsorted input is fine too
	for _, tc := range []struct{ p, want float64 }{
		{0, 15}, {25, 20}, {40, 29}, {50, 35}, {90, 46}, {100, 50},
	} {
		if got := Percentile(xs, tc.p); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("Percentile(%v, %v) = %v, want %v", xs, tc.p, got, tc.want)
		}
	}
	shuffled := []float64{50, 15, 40, 20, 35}
	if got := Percentile(shuffled, 50); got != 35 {
		t.Errorf("median of unsorted sample = %v, want 35", got)
	}
	if shuffled[0] != 50 {
		t.Error("Percentile sorted its input")
	}
	if got := Percentile([]float64{7}, 99); got != 7 {
		t.Errorf("p99 of one value = %v, want 7", got)
	}
	for _, p := range []float64{-1, 101, math.NaN()} {
		if got := Percentile(xs, p); !math.IsNaN(got) {
			t.Errorf("Percentile(p=%v) = %v, want NaN", p, got)
		}
	}
	if got := Percentile(nil, 50); !math.IsNaN(got) {
		t.Errorf("Percentile(empty) = %v, want NaN", got)
	}
}

func TestSummarize(t *testing.T) {
	xs := make([]float64, 100)
	for i := range xs {
		xs[i] = float64(100 - i) // 100 .. 1
	}
	s := Summarize(xs)
	want := Summary{Count: 100, Min: 1, P50: 50.5, P95: 95.05, P99: 99.01, Max: 100, Mean: 50.5}
	const eps = 1e-9
	if s.Count != want.Count || math.Abs(s.Min-want.Min) > eps || math.Abs(s.P50-want.P50) > eps ||
		math.Abs(s.P95-want.P95) > eps || math.Abs(s.P99-want.P99) > eps || math.Abs(s.Max-want.Max) > eps ||
		math.Abs(s.Mean-want.Mean) > eps {
		t.Errorf("Summarize = %+v, want %+v", s, want)
	}
	if (Summarize(nil) != Summary{}) {
		t.Error("Summarize(nil) is not the zero Summary")
	}
}
