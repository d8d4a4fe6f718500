package query

import (
	"fmt"

	"github.com/fedscore/fedscore/scoring"
)

// KindTrain is the block of a training round: each node's gradient and
// Hessian sums of the logistic loss at the round's model, and its count of
// examples.
const KindTrain = "train"

// Train makes a query one round of federated training of a logistic
// scorecard: every node computes the gradient and Hessian of the loss at
// Model over its cohort, clipped per example, in fixed point; the
// federation adds them under encryption and only the querier (the model
// owner) opens the totals and takes a Newton step.
type Train struct {
	// Model is the round's model, as a scoring model JSON document.
	Model string `json:"model" yaml:"model"`
	// Clip bounds each example's gradient and Hessian (L2 norm).
	Clip float64 `json:"clip" yaml:"clip"`
	// ScaleBits sets the fixed-point scale 2^ScaleBits, 4 to 24.
	ScaleBits int `json:"scale_bits" yaml:"scale_bits"`
}

// TrainModel decodes the round's model.
func (s *Spec) TrainModel() (*scoring.Model, error) {
	if s.Train == nil {
		return nil, fmt.Errorf("query: not a training round")
	}
	return scoring.Decode([]byte(s.Train.Model))
}

// trainWidth is the block width of a model with p parameters: p gradient
// entries, the p(p+1)/2 upper-triangle Hessian entries and the example
// count.
func trainWidth(p int) int { return p + p*(p+1)/2 + 1 }

// TrainSlots locates a training round's gradient, Hessian and example
// count in the vector.
func (s *Spec) TrainSlots() (offset, params int, ok bool) {
	for _, b := range s.Layout().Blocks {
		if b.Kind == KindTrain {
			m, err := s.TrainModel()
			if err != nil {
				return 0, 0, false
			}
			return b.Offset, len(m.Params()), true
		}
	}
	return 0, 0, false
}

func (s *Spec) validateTrain(p *problems) {
	if s.Train == nil {
		return
	}
	m, err := s.TrainModel()
	switch {
	case err != nil:
		p.add("train.model", "%v", err)
	case len(m.Params()) > 64:
		p.add("train.model", "%d parameters; at most 64", len(m.Params()))
	}
	if !(s.Train.Clip > 0) || s.Train.Clip > 1e3 {
		p.add("train.clip", "%v must be in (0, 1000]", s.Train.Clip)
	}
	if s.Train.ScaleBits < 4 || s.Train.ScaleBits > 24 {
		p.add("train.scale_bits", "%d must be 4 to 24", s.Train.ScaleBits)
	}
	if len(s.GroupBy) > 0 || len(s.Filter) > 0 {
		p.add("train", "a training round has no group_by and no filter: it trains on the whole cohort")
	}
}

// trainColumns lists the columns a training round reads.
func (s *Spec) trainColumns() []string {
	m, err := s.TrainModel()
	if err != nil {
		return nil
	}
	cols := []string{m.Target}
	for _, f := range m.Features {
		cols = append(cols, f.Column)
	}
	return cols
}
