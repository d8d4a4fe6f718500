package query

import (
	"fmt"

	"github.com/fedscore/fedscore/node/dataset"
)

// CheckColumns reports, as a *ValidationError wrapping ErrColumnMismatch,
// every column the spec reads that t lacks or holds with the wrong kind:
// bins, ordered comparisons, sums and histograms need numbers; group_by
// values need a category or bool column; eq, ne, in and not_in need
// literals of the column's kind (number, string or bool).
func (s *Spec) CheckColumns(t *dataset.Table) error {
	var p problems
	mismatch := func(field, format string, args ...any) {
		p = append(p, &FieldError{Field: field, Msg: fmt.Sprintf(format, args...), Err: ErrColumnMismatch})
	}
	need := func(field, name string, kinds ...dataset.Kind) *dataset.Column {
		c, ok := t.Column(name)
		if !ok {
			mismatch(field, "unknown column %q", name)
			return nil
		}
		for _, k := range kinds {
			if c.Kind == k {
				return c
			}
		}
		mismatch(field, "column %q is %v, want %v", name, c.Kind, kinds[0])
		return nil
	}
	for i, g := range s.GroupBy {
		field := fmt.Sprintf("group_by[%d].column", i)
		if g.Bins != nil {
			need(field, g.Column, dataset.KindNumber)
			continue
		}
		c := need(field, g.Column, dataset.KindCategory, dataset.KindBool)
		if c != nil && c.Kind == dataset.KindBool {
			for j, v := range g.Values {
				if v != "true" && v != "false" {
					mismatch(fmt.Sprintf("group_by[%d].values[%d]", i, j), "bool column %q has no value %q", g.Column, v)
				}
			}
		}
	}
	for i, f := range s.Filter {
		field := fmt.Sprintf("filter[%d].column", i)
		switch f.Op {
		case OpLt, OpLe, OpGt, OpGe, OpBetween:
			need(field, f.Column, dataset.KindNumber)
		default:
			lit := f.Value
			if len(f.Values) > 0 {
				lit = f.Values[0]
			}
			need(field, f.Column, literalKind(lit))
		}
	}
	for i, m := range s.Metrics {
		if m.Kind != KindCount {
			need(fmt.Sprintf("metrics[%d].column", i), m.Column, dataset.KindNumber)
		}
	}
	return p.err()
}

// literalKind is the column kind a filter literal compares with.
func literalKind(v any) dataset.Kind {
	switch v.(type) {
	case string:
		return dataset.KindCategory
	case bool:
		return dataset.KindBool
	}
	return dataset.KindNumber
}
