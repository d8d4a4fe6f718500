package query

import (
	"encoding/json"
	"fmt"
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

// MaxTrainParams is the most parameters a model in training may have.
const MaxTrainParams = 64

// trainModel is what the spec reads of a training round's model document:
// its label and input columns, which fix the round's columns and the width
// of its block. Package scoring owns the document's format; the node that
// evaluates the round decodes and checks the model in full.
type trainModel struct {
	Target   string `json:"target"`
	Features []struct {
		Column string `json:"column"`
	} `json:"features"`
}

func (t *Train) model() (*trainModel, error) {
	var m trainModel
	if err := json.Unmarshal([]byte(t.Model), &m); err != nil {
		return nil, fmt.Errorf("not a scoring model document: %w", err)
	}
	return &m, nil
}

// params is the number of trainable parameters: the intercept and one
// weight per feature, in scoring's order.
func (m *trainModel) params() int { return len(m.Features) + 1 }

// trainWidth is the block width of a model with p parameters: p gradient
// entries, the p(p+1)/2 upper-triangle Hessian entries and the example
// count.
func trainWidth(p int) int { return p + p*(p+1)/2 + 1 }

// TrainSlots locates a training round's gradient, Hessian and example
// count in the vector.
func (s *Spec) TrainSlots() (offset, params int, ok bool) {
	for _, b := range s.Layout().Blocks {
		if b.Kind == KindTrain {
			m, err := s.Train.model()
			if err != nil {
				return 0, 0, false
			}
			return b.Offset, m.params(), true
		}
	}
	return 0, 0, false
}

func (s *Spec) validateTrain(p *problems) {
	if s.Train == nil {
		return
	}
	m, err := s.Train.model()
	switch {
	case err != nil:
		p.add("train.model", "%v", err)
	case m.params() > MaxTrainParams:
		p.add("train.model", "%d parameters; at most %d", m.params(), MaxTrainParams)
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
	if s.Train == nil {
		return nil
	}
	m, err := s.Train.model()
	if err != nil {
		return nil
	}
	cols := []string{m.Target}
	for _, f := range m.Features {
		cols = append(cols, f.Column)
	}
	return cols
}
