package query

// Columns a node derives from a scoring model for every record, when a
// query names the model.
const (
	ScoreColumn      = "score"      // the 300–850 style score
	PropensityColumn = "propensity" // the model's probability
	GradeColumn      = "risk_grade" // A–E
)

// Score metric shorthands, expanded by Parse into plain metrics over the
// derived columns.
const (
	KindScoreMean      = "score_mean"      // mean of score, clipped to [300, 850]
	KindScoreHistogram = "score_histogram" // histogram of score; bins default to DefaultScoreBins
	KindPropensitySum  = "propensity_sum"  // sum of propensity, clipped to [0, 1]
)

// DefaultScoreBins are the score_histogram bins when the query gives none.
func DefaultScoreBins() []float64 { return []float64{300, 500, 550, 600, 650, 700, 850} }

// expandScoreMetrics rewrites the score shorthands, so that nodes and the
// canonical (signed) form see only plain metrics.
func (s *Spec) expandScoreMetrics() {
	for i := range s.Metrics {
		m := &s.Metrics[i]
		switch m.Kind {
		case KindScoreMean:
			m.Kind, m.Column, m.Clip = KindMean, ScoreColumn, &[2]float64{300, 850}
		case KindScoreHistogram:
			m.Kind, m.Column = KindHistogram, ScoreColumn
			if m.Bins == nil {
				m.Bins = DefaultScoreBins()
			}
		case KindPropensitySum:
			m.Kind, m.Column, m.Clip = KindSum, PropensityColumn, &[2]float64{0, 1}
		}
	}
}

// UsesModelColumns reports whether the query reads a column derived from a
// scoring model.
func (s *Spec) UsesModelColumns() bool {
	for _, c := range s.Columns() {
		if c == ScoreColumn || c == PropensityColumn || c == GradeColumn {
			return true
		}
	}
	return false
}

// validateModel checks the model name. Without a model, score and the
// other derived names are ordinary columns of the partners' data.
func (s *Spec) validateModel(p *problems) {
	if s.Model != "" && !validModelName(s.Model) {
		p.add("model", "%q must be a model name: letters, digits and ._-, at most 64", s.Model)
	}
}

func validModelName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}
