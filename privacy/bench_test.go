package privacy

import (
	"fmt"
	"testing"
)

// BenchmarkSample measures one party's share for n = 3 parties.
func BenchmarkSample(b *testing.B) {
	for _, c := range []struct {
		name string
		cal  Calibration
	}{
		{"laplace/t=1", Calibration{Epsilon: 1, Sensitivity: 1}},
		{"laplace/t=10", Calibration{Epsilon: 1, Sensitivity: 10}},
		{"laplace/t=1000", Calibration{Epsilon: 1, Sensitivity: 1000}},
		{"skellam/sens=1", Calibration{Mechanism: Skellam, Epsilon: 1, Delta: 1e-6, Sensitivity: 1}},
		{"skellam/sens=1000", Calibration{Mechanism: Skellam, Epsilon: 1, Delta: 1e-6, Sensitivity: 1000}},
	} {
		b.Run(c.name, func(b *testing.B) {
			s, err := NewShareSampler(seed(b.Name()), 3, c.cal)
			if err != nil {
				b.Fatal(err)
			}
			var sink int64
			for b.Loop() {
				sink += s.Sample()
			}
			_ = fmt.Sprint(sink)
		})
	}
}

// BenchmarkBound measures Bound, which for Skellam walks the exact
// distribution.
func BenchmarkBound(b *testing.B) {
	for _, sens := range []int64{1, 1000, 100_000} {
		cal := Calibration{Mechanism: Skellam, Epsilon: 1, Delta: 1e-6, Sensitivity: sens}
		b.Run(fmt.Sprint("skellam/sens=", sens), func(b *testing.B) {
			for b.Loop() {
				Bound(cal, 1e-6)
			}
		})
	}
}
