package query

import "fmt"

// Column kinds, as a [Schema] reports them.
const (
	ColumnNumber   = "number"
	ColumnCategory = "category"
	ColumnBool     = "bool"
)

// A Schema is what a spec is checked against: the columns a partner holds
// and the kind of each, ColumnNumber, ColumnCategory or ColumnBool. A
// node's table (*dataset.Table) is one.
type Schema interface {
	ColumnKind(name string) (kind string, ok bool)
}

// CheckColumns reports, as a *ValidationError wrapping ErrColumnMismatch,
// every column the spec reads that the schema lacks or holds with the wrong kind:
// bins, ordered comparisons, sums and histograms need numbers; group_by
// values need a category or bool column; eq, ne, in and not_in need
// literals of the column's kind (number, string or bool).
func (s *Spec) CheckColumns(t Schema) error {
	var p problems
	mismatch := func(field, format string, args ...any) {
		p = append(p, &FieldError{Field: field, Msg: fmt.Sprintf(format, args...), Err: ErrColumnMismatch})
	}
	need := func(field, name string, kinds ...string) (kind string) {
		c, ok := t.ColumnKind(name)
		if !ok {
			mismatch(field, "unknown column %q", name)
			return ""
		}
		for _, k := range kinds {
			if c == k {
				return c
			}
		}
		mismatch(field, "column %q is %v, want %v", name, c, kinds[0])
		return ""
	}
	for i, g := range s.GroupBy {
		field := fmt.Sprintf("group_by[%d].column", i)
		if g.Bins != nil {
			need(field, g.Column, ColumnNumber)
			continue
		}
		if need(field, g.Column, ColumnCategory, ColumnBool) == ColumnBool {
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
			need(field, f.Column, ColumnNumber)
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
			need(fmt.Sprintf("metrics[%d].column", i), m.Column, ColumnNumber)
		}
	}
	return p.err()
}

// literalKind is the column kind a filter literal compares with.
func literalKind(v any) string {
	switch v.(type) {
	case string:
		return ColumnCategory
	case bool:
		return ColumnBool
	}
	return ColumnNumber
}
