package fit

import (
	"fmt"
	"math"

	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/scoring"
)

// maxFixedPoint bounds the magnitude of a fixed-point gradient entry:
// 2^53, so that the conversion is exact and the sums of up to 1024 such
// vectors still fit in int64.
const maxFixedPoint = 1 << 53

// GradStats describes the rows behind a [Gradient].
type GradStats struct {
	// Rows counts the selected rows, Examples those in the gradient sum
	// and Invalid those left out: Rows = Examples + Invalid.
	Rows     int `json:"rows"`
	Examples int `json:"examples"`
	Invalid  int `json:"invalid"`
	// InvalidTarget counts rows left out for their target,
	// InvalidFeatures per feature those left out for its value.
	InvalidTarget   int                    `json:"invalid_target"`
	InvalidFeatures []scoring.InvalidCount `json:"invalid_features"`
	// Clipped counts the examples whose gradient was scaled down to the
	// clipping norm.
	Clipped int `json:"clipped"`
}

// Gradient returns the sum over the rows that rows selects (nil: all) of
// the per-example gradients of the logistic loss at m's parameters, each
// clipped to L2 norm at most clip, in fixed point: entry k is the sum of
// the k-th components times scale, rounded. Entry 0 is the intercept's,
// entry j+1 feature j's (the order of [scoring.Model.Params]).
//
// This is one partner's share of a federated training step: each node
// encrypts its vector and its example count, the federation adds them,
// and the model owner opens only the totals (see [DecodeGradient]).
// Clipping bounds every customer's influence on the sum, as differential
// privacy requires. Rows with an invalid target or feature value are left
// out and counted.
func Gradient(m *scoring.Model, t *dataset.Table, rows []bool, clip float64, scale int64) ([]int64, GradStats, error) {
	g, _, gs, err := accumulate(m, t, rows, clip, scale, false)
	return g, gs, err
}

// GradientHessian is Gradient plus the sum of the per-example Hessians of
// the logistic loss, p(1−p)·z·zᵀ with z = (1, x) scaled down to L2 norm at
// most clip, as the upper triangle row by row ((P·(P+1))/2 entries for P
// parameters), in the same fixed point. The federation's total lets the
// model owner take Newton steps, which converge in a handful of rounds.
func GradientHessian(m *scoring.Model, t *dataset.Table, rows []bool, clip float64, scale int64) (grad, hess []int64, gs GradStats, err error) {
	return accumulate(m, t, rows, clip, scale, true)
}

func accumulate(m *scoring.Model, t *dataset.Table, rows []bool, clip float64, scale int64, withHessian bool) ([]int64, []int64, GradStats, error) {
	var gs GradStats
	if !(clip > 0) {
		return nil, nil, gs, fmt.Errorf("scoring: gradient: clip %v is not positive (use +Inf for no clipping): %w", clip, scoring.ErrInvalidArgument)
	}
	if scale < 1 {
		return nil, nil, gs, fmt.Errorf("scoring: gradient: scale %d is below 1: %w", scale, scoring.ErrInvalidArgument)
	}
	if err := scoring.CheckSelection(rows, t.Rows()); err != nil {
		return nil, nil, gs, err
	}
	s, err := scoring.Compile(m, t)
	if err != nil {
		return nil, nil, gs, err
	}
	tg, err := scoring.BindLabels(m.Target, m.Positive, m.Negative, t)
	if err != nil {
		return nil, nil, gs, err
	}
	d := len(m.Features)
	sum := make([]float64, d+1)
	var hsum []float64
	if withHessian {
		hsum = make([]float64, (d+1)*(d+2)/2)
	}
	x := make([]float64, d)
	z := make([]float64, d+1)
	gs.InvalidFeatures = s.InvalidCounts()
	for i := range t.Rows() {
		if rows != nil && !rows[i] {
			continue
		}
		gs.Rows++
		ok := true
		y, valid := tg.At(i)
		if !valid {
			gs.InvalidTarget++
			ok = false
		}
		if !s.Encode(i, x, gs.InvalidFeatures) {
			ok = false
		}
		if !ok {
			gs.Invalid++
			continue
		}
		eta := m.Intercept
		norm2 := 1.0
		for j, v := range x {
			eta += m.Features[j].Weight * v
			norm2 += v * v
		}
		gs.Examples++
		p := scoring.Probability(eta)
		r := p - y
		if n := math.Abs(r) * math.Sqrt(norm2); n > clip {
			r *= clip / n
			gs.Clipped++
		}
		sum[0] += r
		for j, v := range x {
			sum[j+1] += r * v
		}
		if withHessian {
			// z is clipped too, so that one example's Hessian is bounded.
			f := 1.0
			if n := math.Sqrt(norm2); n > clip {
				f = clip / n
			}
			z[0] = f
			for j, v := range x {
				z[j+1] = v * f
			}
			w := p * (1 - p)
			k := 0
			for a := range z {
				for b := a; b < len(z); b++ {
					hsum[k] += w * z[a] * z[b]
					k++
				}
			}
		}
	}
	out, err := fixedPoint(sum, scale)
	if err != nil {
		return nil, nil, gs, err
	}
	var hout []int64
	if withHessian {
		if hout, err = fixedPoint(hsum, scale); err != nil {
			return nil, nil, gs, err
		}
	}
	return out, hout, gs, nil
}

func fixedPoint(sum []float64, scale int64) ([]int64, error) {
	out := make([]int64, len(sum))
	for k, v := range sum {
		f := math.Round(v * float64(scale))
		if !(math.Abs(f) <= maxFixedPoint) {
			return nil, fmt.Errorf("scoring: gradient entry %d (%v × %d) exceeds 2^53: lower the scale: %w", k, v, scale, ErrOverflow)
		}
		out[k] = int64(f)
	}
	return out, nil
}

// DecodeGradient turns the federation's total of [Gradient] vectors back
// into the mean gradient of the log loss over its examples.
func DecodeGradient(sum []int64, scale int64, examples int) ([]float64, error) {
	if scale < 1 || examples < 1 {
		return nil, fmt.Errorf("scoring: decoding a gradient with scale %d over %d examples: %w", scale, examples, scoring.ErrInvalidArgument)
	}
	out := make([]float64, len(sum))
	for k, v := range sum {
		out[k] = float64(v) / float64(scale) / float64(examples)
	}
	return out, nil
}
