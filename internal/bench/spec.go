package bench

import (
	"fmt"

	"github.com/fedscore/fedscore/internal/sandbox"
	"github.com/fedscore/fedscore/query"
)

// ValuesPerCell is the number of vector slots one group-by cell of a
// benchmark query takes: its count and three means.
const ValuesPerCell = 4

// MaxGroupCells is the largest number of group-by cells a benchmark query
// may have: the slot count of the default parameter set, which the
// querier, coordinator and nodes enforce.
const MaxGroupCells = 8192

// benchPurpose is a purpose of the default policy bundle whose allowed
// columns cover every column the benchmark queries read.
const benchPurpose = "risk_analytics"

// dimension is a categorical group-by of the synthetic schema.
type dimension struct {
	column string
	values []string
}

// fixedDimensions are tried in order; each is used when its size divides
// what is left of the requested number of group-by cells.
func fixedDimensions() []dimension {
	return []dimension{
		{"income_tier", []string{"low", "middle", "high", "ultra_high"}},
		{"education", []string{"high_school", "college", "bachelor", "postgraduate"}},
		{"has_credit_card", []string{"true", "false"}},
		{"region", []string{"north", "east", "south", "southwest", "northwest", "northeast"}},
		{"occupation", []string{"employee", "manager", "entrepreneur", "freelancer", "student", "retired"}},
	}
}

// maxAgeBins bounds the age dimension; the rest goes to credit-score bins.
const maxAgeBins = 16

// Spec returns a query over the synthetic schema whose vector holds at
// least cells values: ceil(cells/ValuesPerCell) group-by cells, each with
// a count and the means of credit_score, credit_utilization and
// delinquencies_12m. The group-by uses categorical columns whose sizes
// divide the cell count, then age bins and credit-score bins for the rest,
// so the number of group-by cells is exact. It fails when the group-by
// cells would exceed MaxGroupCells.
func Spec(cells int) (*query.Spec, error) {
	if cells < 1 {
		return nil, fmt.Errorf("bench: %d cells: need at least 1", cells)
	}
	groups := (cells + ValuesPerCell - 1) / ValuesPerCell
	if groups > MaxGroupCells {
		return nil, fmt.Errorf("bench: %d cells need %d group-by cells, more than the %d one query may have", cells, groups, MaxGroupCells)
	}
	// The purpose's approved impact assessment, which the policy requires
	// for the credit columns, is the one the sandbox's own query names.
	def, err := sandbox.DefaultQuery()
	if err != nil {
		return nil, fmt.Errorf("bench: default query: %w", err)
	}
	if def.Purpose != benchPurpose {
		return nil, fmt.Errorf("bench: the sandbox query's purpose is %q, not %q", def.Purpose, benchPurpose)
	}
	s := &query.Spec{
		Purpose:     benchPurpose,
		PipiaID:     def.PipiaID,
		MinPartners: 3,
		Decimals:    new(2),
		Metrics: []query.Metric{
			{Kind: query.KindCount},
			{Kind: query.KindMean, Column: "credit_score", Clip: &[2]float64{300, 850}},
			{Kind: query.KindMean, Column: "credit_utilization", Clip: &[2]float64{0, 1.5}},
			{Kind: query.KindMean, Column: "delinquencies_12m", Clip: &[2]float64{0, 12}},
		},
	}
	rest := groups
	for _, d := range fixedDimensions() {
		if n := len(d.values); rest%n == 0 {
			s.GroupBy = append(s.GroupBy, query.GroupBy{Column: d.column, Values: d.values})
			rest /= n
		}
	}
	ageBins := 1
	for a := min(rest, maxAgeBins); a >= 1; a-- {
		if rest%a == 0 {
			ageBins = a
			break
		}
	}
	if ageBins > 1 || rest == 1 && len(s.GroupBy) == 0 {
		s.GroupBy = append(s.GroupBy, query.GroupBy{Column: "age", Bins: edges(14, 81, ageBins)})
	}
	if scoreBins := rest / ageBins; scoreBins > 1 {
		s.GroupBy = append(s.GroupBy, query.GroupBy{Column: "credit_score", Bins: edges(300, 850, scoreBins)})
	}
	if err := s.Validate(query.Limits{MaxCells: MaxGroupCells, MaxVectorLen: 8 * MaxGroupCells}); err != nil {
		return nil, fmt.Errorf("bench: spec for %d cells: %w", cells, err)
	}
	return s, nil
}

// edges returns n equal-width bins over [lo, hi] as n+1 edges.
func edges(lo, hi float64, n int) []float64 {
	out := make([]float64, n+1)
	for i := range out {
		out[i] = lo + (hi-lo)*float64(i)/float64(n)
	}
	out[n] = hi
	return out
}
