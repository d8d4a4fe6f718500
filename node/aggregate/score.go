package aggregate

import (
	"fmt"
	"math"

	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/query"
	"github.com/fedscore/fedscore/scoring"
)

// WithScores scores every record of t with m and returns t with the
// columns a query naming the model reads: query.ScoreColumn,
// query.PropensityColumn and query.GradeColumn. Records the model cannot
// score have no value in them (they enter no score metric) and are counted
// in unscorable.
func WithScores(t *dataset.Table, m *scoring.Model) (scored *dataset.Table, unscorable int, err error) {
	for _, name := range []string{query.ScoreColumn, query.PropensityColumn, query.GradeColumn} {
		if _, clash := t.Column(name); clash {
			return nil, 0, fmt.Errorf("model %s: the data already has a column %q", m.Name, name)
		}
	}
	sc, err := scoring.ScoreTable(m, t, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("model %s: %w", m.Name, err)
	}
	b := dataset.NewBuilder()
	b.AddColumns(t.Columns()...)
	// Invalid records have NaN outputs, which the dataset reads as missing.
	b.AddNumber(query.ScoreColumn, sc.Score)
	b.AddNumber(query.PropensityColumn, sc.Probability)
	b.AddCategory(query.GradeColumn, sc.Grade)
	scored, err = b.Build()
	if err != nil {
		return nil, 0, err
	}
	for _, s := range sc.Score {
		if math.IsNaN(s) {
			unscorable++
		}
	}
	return scored, unscorable, nil
}
