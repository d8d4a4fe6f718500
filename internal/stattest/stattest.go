// Package stattest holds the goodness-of-fit test the noise tests use to
// check noise distributions: Pearson's χ² over integer outcomes, with the
// p-value from gonum.
package stattest

import (
	"gonum.org/v1/gonum/stat/distuv"
)

// PValueFloor is the p-value below which a test fails. With fixed seeds a
// test either always passes or always fails; at 1e-4 a correct sampler
// fails for only a tiny fraction of seeds.
const PValueFloor = 1e-4

// ChiSquare compares counts of integer outcomes 0..len(pmf)−1 with the
// probabilities pmf (summing to 1) over n draws. Outcomes expected fewer
// than 5 times are pooled with their neighbours, from both ends inwards.
// Samples outside the range count as pooled into the nearest end bin.
func ChiSquare(pmf []float64, samples []int) (stat float64, df int, p float64) {
	n := float64(len(samples))
	obs := make([]float64, len(pmf))
	for _, x := range samples {
		obs[min(max(x, 0), len(pmf)-1)]++
	}
	exp := make([]float64, len(pmf))
	for i, q := range pmf {
		exp[i] = q * n
	}
	type bin struct{ o, e float64 }
	var bins []bin
	var cur bin
	// Pool from the left until 5 expected, then the tail on the right.
	for i := range pmf {
		cur.o += obs[i]
		cur.e += exp[i]
		if cur.e >= 5 {
			bins = append(bins, cur)
			cur = bin{}
		}
	}
	if len(bins) == 0 {
		return 0, 0, 1
	}
	bins[len(bins)-1].o += cur.o
	bins[len(bins)-1].e += cur.e
	for _, b := range bins {
		d := b.o - b.e
		stat += d * d / b.e
	}
	df = len(bins) - 1
	if df < 1 {
		return stat, df, 1
	}
	return stat, df, distuv.ChiSquared{K: float64(df)}.Survival(stat)
}
