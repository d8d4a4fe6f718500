package aggregate

import (
	"context"
	"fmt"

	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/query"
)

// Segments returns, for every row of t, the cell of s's group-by the row
// falls in when it is in the cohort (nil: every row) and passes s's
// filter, or -1: exactly the rows and cells Aggregate counts. An overlap
// query takes a partner's segment from it.
func Segments(ctx context.Context, s *query.Spec, t *dataset.Table, cohort []bool) ([]int32, Stats, error) {
	st := Stats{Rows: t.Rows()}
	if err := s.Validate(query.Limits{MaxCells: 1 << 16}); err != nil {
		return nil, st, err
	}
	if err := s.CheckColumns(t); err != nil {
		return nil, st, err
	}
	if cohort != nil && len(cohort) != t.Rows() {
		return nil, st, fmt.Errorf("aggregate: %w: %d entries for %d rows", ErrCohortLength, len(cohort), t.Rows())
	}
	p := compile(s, t)
	cells := make([]int32, t.Rows())
	for lo := 0; lo < t.Rows(); lo += blockRows {
		if err := ctx.Err(); err != nil {
			return nil, st, fmt.Errorf("aggregate: %w", err)
		}
		hi := min(lo+blockRows, t.Rows())
		cell := cells[lo:hi]
		if cohort == nil {
			clear(cell)
		} else {
			for j, in := range cohort[lo:hi] {
				cell[j] = int32(boolIndex(in)) - 1
			}
		}
		for i := range p.filters {
			p.filters[i].apply(cell, lo)
		}
		selected := countIn(cell)
		st.Selected += selected
		for i := range p.groups {
			p.groups[i].apply(cell, lo)
		}
		st.OutOfCells += selected - countIn(cell)
	}
	return cells, st, nil
}
