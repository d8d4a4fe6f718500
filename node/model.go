package node

import (
	"fmt"
	"math"

	"github.com/fedscore/fedscore/internal/query"
	"github.com/fedscore/fedscore/node/dataset"
	"github.com/fedscore/fedscore/node/source"
	"github.com/fedscore/fedscore/policy"
	"github.com/fedscore/fedscore/scoring"
)

// ScoredData is a node's records with the columns a scoring model derives
// for each of them.
type ScoredData struct {
	Table *dataset.Table
	Info  *policy.ModelInfo
	model *scoring.Model
	// invalid counts records the model could not score: they have no
	// score and enter no score metric, and are reported, not dropped.
	invalid int
}

// dataFor returns the table a query reads: the node's records, plus the
// derived score columns when the query names a model. Scores are computed
// once per model and kept.
func (n *Node) dataFor(spec *query.Spec) (source.Source, *ScoredData, error) {
	if spec.Model == "" {
		if n.cfg.Source != nil {
			return n.cfg.Source, nil, nil
		}
		return &source.Memory{Table: n.cfg.Data}, nil, nil
	}
	if n.cfg.Data == nil {
		return nil, nil, fmt.Errorf("scoring model %q: this node's source %s does not score records; scoring needs in-memory data", spec.Model, n.cfg.Source.Name())
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if sd := n.scored[spec.Model]; sd != nil {
		return &source.Memory{Table: sd.Table}, sd, nil
	}
	var m *scoring.Model
	for _, c := range n.cfg.Models {
		if c.Name == spec.Model {
			m = c
		}
	}
	if m == nil {
		return nil, nil, fmt.Errorf("this node has no scoring model %q", spec.Model)
	}
	sd, err := ScoreRecords(n.cfg.Data, m)
	if err != nil {
		return nil, nil, err
	}
	n.scored[spec.Model] = sd
	return &source.Memory{Table: sd.Table}, sd, nil
}

// ScoreRecords scores every record of t with m and returns t with the
// score, propensity and risk_grade columns added.
func ScoreRecords(t *dataset.Table, m *scoring.Model) (*ScoredData, error) {
	for _, name := range []string{query.ScoreColumn, query.PropensityColumn, query.GradeColumn} {
		if _, clash := t.Column(name); clash {
			return nil, fmt.Errorf("model %s: the data already has a column %q", m.Name, name)
		}
	}
	sc, err := scoring.ScoreTable(m, t, nil)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", m.Name, err)
	}
	b := dataset.NewBuilder()
	for _, c := range t.Columns() {
		switch c.Kind {
		case dataset.KindNumber:
			b.AddNumber(c.Name, c.Numbers)
		case dataset.KindCategory:
			b.AddCategoryCodes(c.Name, c.Dict, c.Codes)
		case dataset.KindBool:
			b.AddBool(c.Name, c.Bools, c.Missing)
		}
	}
	// Invalid records have NaN outputs, which the dataset reads as missing.
	b.AddNumber(query.ScoreColumn, sc.Score)
	b.AddNumber(query.PropensityColumn, sc.Probability)
	b.AddCategory(query.GradeColumn, sc.Grade)
	table, err := b.Build()
	if err != nil {
		return nil, err
	}
	digest, err := m.Digest()
	if err != nil {
		return nil, err
	}
	info := &policy.ModelInfo{Name: m.Name, Version: m.Version, Digest: digest, ProtectedInputs: m.ProtectedInputs}
	invalid := 0
	for _, s := range sc.Score {
		if math.IsNaN(s) {
			invalid++
		}
	}
	return &ScoredData{Table: table, model: m, Info: info, invalid: invalid}, nil
}

// schemaTable is an empty table with a source's columns, for checking a
// query's columns against the source without reading a record.
func schemaTable(fields []source.Field) (*dataset.Table, error) {
	b := dataset.NewBuilder()
	for _, f := range fields {
		switch f.Kind {
		case dataset.KindNumber:
			b.AddNumber(f.Name, []float64{})
		case dataset.KindCategory:
			b.AddCategoryCodes(f.Name, nil, []int32{})
		case dataset.KindBool:
			b.AddBool(f.Name, []bool{}, []bool{})
		}
	}
	return b.Build()
}

// trainRound fills the training block of vec with this node's gradient and
// Hessian sums over its cohort at the round's model, and its example count.
func (n *Node) trainRound(spec *query.Spec, cohort policy.CohortRule, vec []int64) (scoring.GradStats, error) {
	var gs scoring.GradStats
	if n.cfg.Data == nil {
		return gs, fmt.Errorf("training needs in-memory data; this node's source is %s", n.cfg.Source.Name())
	}
	m, err := spec.TrainModel()
	if err != nil {
		return gs, err
	}
	rows, err := source.Cohort(n.cfg.Data, cohort)
	if err != nil {
		return gs, err
	}
	grad, hess, gs, err := scoring.GradientHessian(m, n.cfg.Data, rows, spec.Train.Clip, int64(1)<<spec.Train.ScaleBits)
	if err != nil {
		return gs, err
	}
	off, params, ok := spec.TrainSlots()
	if !ok || len(grad) != params {
		return gs, fmt.Errorf("the model has %d parameters, the query's layout another number", len(grad))
	}
	copy(vec[off:], grad)
	copy(vec[off+params:], hess)
	vec[off+params+len(hess)] = int64(gs.Examples)
	return gs, nil
}
