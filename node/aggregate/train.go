package aggregate

import (
	"fmt"

	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/query"
	"github.com/fedscore/fedscore/scoring"
	"github.com/fedscore/fedscore/scoring/fit"
)

// TrainModel decodes and checks the model of a training round.
func TrainModel(s *query.Spec) (*scoring.Model, error) {
	if s.Train == nil {
		return nil, fmt.Errorf("query: not a training round")
	}
	return scoring.Decode([]byte(s.Train.Model))
}

// Train fills the training block of vec, laid out as [query.Spec.Layout],
// with the gradient and Hessian sums over the rows that rows selects of
// the logistic loss at the round's model, and their example count.
func Train(s *query.Spec, t *dataset.Table, rows []bool, vec []int64) (fit.GradStats, error) {
	var gs fit.GradStats
	m, err := TrainModel(s)
	if err != nil {
		return gs, err
	}
	grad, hess, gs, err := fit.GradientHessian(m, t, rows, s.Train.Clip, int64(1)<<s.Train.ScaleBits)
	if err != nil {
		return gs, err
	}
	off, params, ok := s.TrainSlots()
	if !ok || len(grad) != params {
		return gs, fmt.Errorf("the model has %d parameters, the query's layout another number", len(grad))
	}
	copy(vec[off:], grad)
	copy(vec[off+params:], hess)
	vec[off+params+len(hess)] = int64(gs.Examples)
	return gs, nil
}
