package node

import (
	"fmt"

	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/node/aggregate"
	"github.com/fedscore/fedscore/node/source"
	"github.com/fedscore/fedscore/policy"
	"github.com/fedscore/fedscore/query"
	"github.com/fedscore/fedscore/scoring"
	"github.com/fedscore/fedscore/scoring/fit"
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
	table, invalid, err := aggregate.WithScores(t, m)
	if err != nil {
		return nil, err
	}
	digest, err := m.Digest()
	if err != nil {
		return nil, err
	}
	info := &policy.ModelInfo{Name: m.Name, Version: m.Version, Digest: digest, ProtectedInputs: m.ProtectedInputs}
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
func (n *Node) trainRound(spec *query.Spec, cohort policy.CohortRule, vec []int64) (fit.GradStats, error) {
	if n.cfg.Data == nil {
		return fit.GradStats{}, fmt.Errorf("training needs in-memory data; this node's source is %s", n.cfg.Source.Name())
	}
	rows, err := source.Cohort(n.cfg.Data, cohort)
	if err != nil {
		return fit.GradStats{}, err
	}
	return aggregate.Train(spec, n.cfg.Data, rows, vec)
}
