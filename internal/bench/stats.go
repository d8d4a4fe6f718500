package bench

import (
	"math"
	"slices"
)

// Summary describes a sample of measurements, in the sample's unit.
type Summary struct {
	Count int     `json:"count"`
	Min   float64 `json:"min"`
	P50   float64 `json:"p50"`
	P95   float64 `json:"p95"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
	Mean  float64 `json:"mean"`
}

// Percentile returns the p-th percentile (0 ≤ p ≤ 100) of xs by linear
// interpolation between closest ranks (the "type 7" definition of R and
// NumPy's default): with n sorted values, rank h = (n-1)·p/100 and the
// result is x[⌊h⌋] + (h-⌊h⌋)·(x[⌊h⌋+1] - x[⌊h⌋]). xs need not be sorted
// and is not modified. It returns NaN for an empty sample or a p outside
// [0, 100].
func Percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 || !(p >= 0 && p <= 100) {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return percentileSorted(s, p)
}

func percentileSorted(s []float64, p float64) float64 {
	h := float64(len(s)-1) * p / 100
	lo := int(math.Floor(h))
	if lo >= len(s)-1 {
		return s[len(s)-1]
	}
	return s[lo] + (h-float64(lo))*(s[lo+1]-s[lo])
}

// Summarize returns the count, extremes, percentiles and mean of xs; the
// zero Summary for an empty sample.
func Summarize(xs []float64) Summary {
	if len(xs) == 0 {
		return Summary{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	sum := 0.0
	for _, x := range s {
		sum += x
	}
	return Summary{
		Count: len(s),
		Min:   s[0],
		P50:   percentileSorted(s, 50),
		P95:   percentileSorted(s, 95),
		P99:   percentileSorted(s, 99),
		Max:   s[len(s)-1],
		Mean:  sum / float64(len(s)),
	}
}

// median returns the 50th percentile of xs, or 0 for an empty sample.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	return Percentile(xs, 50)
}
