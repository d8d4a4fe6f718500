package scoring

import (
	"fmt"
	"math"

	"github.com/fedscore/fedscore/node/dataset"
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
	InvalidTarget   int            `json:"invalid_target"`
	InvalidFeatures []InvalidCount `json:"invalid_features"`
	// Clipped counts the examples whose gradient was scaled down to the
	// clipping norm.
	Clipped int `json:"clipped"`
}

// Gradient returns the sum over the rows that rows selects (nil: all) of
// the per-example gradients of the logistic loss at m's parameters, each
// clipped to L2 norm at most clip, in fixed point: entry k is the sum of
// the k-th components times scale, rounded. Entry 0 is the intercept's,
// entry j+1 feature j's (the order of [Model.Params]).
//
// This is one partner's share of a federated training step: each node
// encrypts its vector and its example count, the federation adds them,
// and the model owner opens only the totals (see [DecodeGradient]).
// Clipping bounds every customer's influence on the sum, as differential
// privacy requires. Rows with an invalid target or feature value are left
// out and counted.
func Gradient(m *Model, t *dataset.Table, rows []bool, clip float64, scale int64) ([]int64, GradStats, error) {
	var gs GradStats
	if !(clip > 0) {
		return nil, gs, fmt.Errorf("scoring: gradient: clip %v is not positive (use +Inf for no clipping): %w", clip, ErrInvalidArgument)
	}
	if scale < 1 {
		return nil, gs, fmt.Errorf("scoring: gradient: scale %d is below 1: %w", scale, ErrInvalidArgument)
	}
	if err := checkSelection(rows, t.Rows()); err != nil {
		return nil, gs, err
	}
	s, err := Compile(m, t)
	if err != nil {
		return nil, gs, err
	}
	tg, err := compileTarget(m.Target, m.Positive, m.Negative, t)
	if err != nil {
		return nil, gs, err
	}
	d := len(s.enc)
	sum := make([]float64, d+1)
	x := make([]float64, d)
	gs.InvalidFeatures = make([]InvalidCount, d)
	for j, e := range s.enc {
		gs.InvalidFeatures[j] = InvalidCount{Column: e.column, Encoding: e.enc}
	}
	for i := range t.Rows() {
		if rows != nil && !rows[i] {
			continue
		}
		gs.Rows++
		ok := true
		y, valid := tg.y(i)
		if !valid {
			gs.InvalidTarget++
			ok = false
		}
		eta := m.Intercept
		norm2 := 1.0
		for j, e := range s.enc {
			v, st := e.at(i)
			if st != stOK {
				gs.InvalidFeatures[j].add(st)
				ok = false
				continue
			}
			x[j] = v
			eta += s.weight[j] * v
			norm2 += v * v
		}
		if !ok {
			gs.Invalid++
			continue
		}
		gs.Examples++
		r := sigmoid(eta) - y
		if n := math.Abs(r) * math.Sqrt(norm2); n > clip {
			r *= clip / n
			gs.Clipped++
		}
		sum[0] += r
		for j, v := range x {
			sum[j+1] += r * v
		}
	}
	out := make([]int64, d+1)
	for k, v := range sum {
		f := math.Round(v * float64(scale))
		if !(math.Abs(f) <= maxFixedPoint) {
			return nil, gs, fmt.Errorf("scoring: gradient entry %d (%v × %d) exceeds 2^53: lower the scale: %w", k, v, scale, ErrOverflow)
		}
		out[k] = int64(f)
	}
	return out, gs, nil
}

// DecodeGradient turns the federation's total of [Gradient] vectors back
// into the mean gradient of the log loss over its examples.
func DecodeGradient(sum []int64, scale int64, examples int) ([]float64, error) {
	if scale < 1 || examples < 1 {
		return nil, fmt.Errorf("scoring: decoding a gradient with scale %d over %d examples: %w", scale, examples, ErrInvalidArgument)
	}
	out := make([]float64, len(sum))
	for k, v := range sum {
		out[k] = float64(v) / float64(scale) / float64(examples)
	}
	return out, nil
}
