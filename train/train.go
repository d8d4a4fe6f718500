// Package train trains a logistic scorecard across partners without
// pooling their data: every round is a joint query whose nodes each add
// their clipped gradient and Hessian sums at the current model under the
// collective key; only the model owner opens the totals, and takes a
// Newton step.
package train

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/fedscore/fedscore/querier"
	"github.com/fedscore/fedscore/query"
	"github.com/fedscore/fedscore/scoring"
)

// Config configures a training run.
type Config struct {
	// Purpose, PipiaID, MinPartners and Epsilon are those of every round's
	// query; Epsilon > 0 adds each node's noise share to the sums.
	Purpose     string
	PipiaID     string
	MinPartners int
	Epsilon     float64
	// Init is the starting model: its features and encodings stay, its
	// weights are trained.
	Init *scoring.Model
	// Rounds bounds the rounds (default 12); training stops earlier once
	// no parameter moves by more than Tolerance (default 1e-5).
	Rounds    int
	Tolerance float64
	// Clip bounds each example's gradient and Hessian (default 20);
	// ScaleBits sets the fixed point (default 16).
	Clip      float64
	ScaleBits int
	// L2 is the ridge penalty, as in fit.Config.
	L2 float64
	// Progress, if set, is told each round's mean log-loss gradient norm.
	Progress func(round int, gradNorm float64, examples int64)
}

// Report describes a training run.
type Report struct {
	Rounds   int
	Examples int64
	// GradNorm is the last round's gradient norm.
	GradNorm  float64
	Converged bool
}

// Run trains cfg.Init's weights through client's federation.
func Run(ctx context.Context, client *querier.Client, cfg Config) (*scoring.Model, Report, error) {
	var rep Report
	if cfg.Init == nil {
		return nil, rep, errors.New("train: no initial model")
	}
	if cfg.Rounds <= 0 {
		cfg.Rounds = 12
	}
	if cfg.Tolerance <= 0 {
		cfg.Tolerance = 1e-5
	}
	if cfg.Clip <= 0 {
		cfg.Clip = 20
	}
	if cfg.ScaleBits == 0 {
		cfg.ScaleBits = 16
	}
	m := cfg.Init.Clone()
	scale := math.Ldexp(1, cfg.ScaleBits)
	for round := 1; round <= cfg.Rounds; round++ {
		doc, err := scoring.Encode(m)
		if err != nil {
			return nil, rep, err
		}
		spec := &query.Spec{
			Purpose: cfg.Purpose, PipiaID: cfg.PipiaID, MinPartners: cfg.MinPartners, Epsilon: cfg.Epsilon,
			Metrics:  []query.Metric{{Kind: query.KindCount}},
			Train:    &query.Train{Model: string(doc), Clip: cfg.Clip, ScaleBits: cfg.ScaleBits},
			Decimals: new(0),
		}
		ans, err := client.Run(ctx, spec, nil)
		if err != nil {
			return nil, rep, fmt.Errorf("train: round %d: %w", round, err)
		}
		off, p, ok := spec.TrainSlots()
		if !ok || !ans.Released[off] {
			return nil, rep, fmt.Errorf("train: round %d: the partners' release gate withheld the sums (too few examples)", round)
		}
		v := ans.Vector[off:]
		examples := v[p+p*(p+1)/2]
		if examples < 1 {
			return nil, rep, fmt.Errorf("train: round %d: no examples", round)
		}
		n := float64(examples)
		theta := m.Params()
		grad := make([]float64, p)
		hess := make([][]float64, p)
		for i := range hess {
			hess[i] = make([]float64, p)
		}
		for i := range p {
			grad[i] = float64(v[i]) / scale / n
		}
		k := p
		for a := range p {
			for b := a; b < p; b++ {
				h := float64(v[k]) / scale / n
				hess[a][b], hess[b][a] = h, h
				k++
			}
		}
		// The intercept is not penalised, as in fit.Fit.
		for i := 1; i < p; i++ {
			grad[i] += cfg.L2 * theta[i]
			hess[i][i] += cfg.L2
		}
		step, err := solve(hess, grad)
		if err != nil {
			return nil, rep, fmt.Errorf("train: round %d: %w", round, err)
		}
		moved := 0.0
		for i := range theta {
			theta[i] -= step[i]
			moved = max(moved, math.Abs(step[i]))
		}
		if err := m.SetParams(theta); err != nil {
			return nil, rep, err
		}
		rep.Rounds, rep.Examples, rep.GradNorm = round, examples, norm(grad)
		if cfg.Progress != nil {
			cfg.Progress(round, rep.GradNorm, examples)
		}
		if moved < cfg.Tolerance {
			rep.Converged = true
			break
		}
	}
	return m, rep, nil
}

// solve solves a·x = b for a symmetric positive definite a by Cholesky
// decomposition.
func solve(a [][]float64, b []float64) ([]float64, error) {
	n := len(b)
	l := make([][]float64, n)
	for i := range l {
		l[i] = make([]float64, n)
		for j := 0; j <= i; j++ {
			s := a[i][j]
			for k := range j {
				s -= l[i][k] * l[j][k]
			}
			if i == j {
				if s <= 0 {
					return nil, errors.New("the Hessian is not positive definite; add an L2 penalty")
				}
				l[i][i] = math.Sqrt(s)
			} else {
				l[i][j] = s / l[j][j]
			}
		}
	}
	y := make([]float64, n)
	for i := range n {
		s := b[i]
		for k := range i {
			s -= l[i][k] * y[k]
		}
		y[i] = s / l[i][i]
	}
	x := make([]float64, n)
	for i := n - 1; i >= 0; i-- {
		s := y[i]
		for k := i + 1; k < n; k++ {
			s -= l[k][i] * x[k]
		}
		x[i] = s / l[i][i]
	}
	return x, nil
}

func norm(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x * x
	}
	return math.Sqrt(s)
}
