package query

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

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

// A ListedSchema also lists its columns, so that an unknown column is
// reported with the names close to it.
type ListedSchema interface {
	Schema
	ColumnNames() []string
}

// CheckColumns reports, as a *ValidationError wrapping ErrColumnMismatch,
// every column the spec reads that the schema lacks (ErrUnknownColumn,
// with the columns whose names are close when the schema is a
// [ListedSchema]) or holds with the wrong kind: bins, ordered comparisons,
// sums and histograms need numbers; group_by values need a category or
// bool column, or a number column whose values are numeric codes such as
// "1" and "2", matched exactly; eq, ne, in and not_in need literals of the
// column's kind (number, string or bool).
func (s *Spec) CheckColumns(t Schema) error {
	var p problems
	mismatch := func(field, format string, args ...any) {
		p = append(p, &FieldError{Field: field, Msg: fmt.Sprintf(format, args...), Err: ErrColumnMismatch})
	}
	need := func(field, name string, kinds ...string) (kind string) {
		c, ok := t.ColumnKind(name)
		if !ok {
			msg := fmt.Sprintf("unknown column %q", name)
			if l, ok := t.(ListedSchema); ok {
				if close := CloseNames(name, l.ColumnNames()); len(close) > 0 {
					msg += "; close: " + strings.Join(close, ", ")
				}
			}
			p = append(p, &FieldError{Field: field, Msg: msg, Err: ErrUnknownColumn})
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
		switch need(field, g.Column, ColumnCategory, ColumnBool, ColumnNumber) {
		case ColumnBool:
			for j, v := range g.Values {
				if v != "true" && v != "false" {
					mismatch(fmt.Sprintf("group_by[%d].values[%d]", i, j), "bool column %q has no value %q", g.Column, v)
				}
			}
		case ColumnNumber:
			// Values on a number column make it categorical for the
			// query: each value is a numeric code, matched exactly.
			seen := map[float64]string{}
			for j, v := range g.Values {
				vf := fmt.Sprintf("group_by[%d].values[%d]", i, j)
				x, ok := NumericCode(v)
				switch {
				case !ok:
					mismatch(vf, "column %q holds numbers; %q is not a number (use bins, or numeric codes such as \"1\")", g.Column, v)
				case seen[x] != "":
					mismatch(vf, "%q is the same number as %q", v, seen[x])
				default:
					seen[x] = v
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

// NumericCode parses a group_by value on a number column: a finite
// number, such as the "1" of an EDUCATION code.
func NumericCode(v string) (float64, bool) {
	x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	return x, err == nil && !math.IsInf(x, 0) && !math.IsNaN(x)
}

// CloseNames returns, quoted, the names that differ from name only in case or
// punctuation, or by at most two edits, closest first.
func CloseNames(name string, names []string) []string {
	fold := func(s string) string {
		return strings.Map(func(r rune) rune {
			if strings.ContainsRune("_-. ", r) {
				return -1
			}
			return r
		}, strings.ToLower(s))
	}
	type match struct {
		name string
		dist int
	}
	var out []match
	for _, n := range names {
		d := editDistance(fold(name), fold(n))
		if d == 0 || (d <= 2 && len(name) > 3) {
			out = append(out, match{n, d})
		}
	}
	slices.SortStableFunc(out, func(a, b match) int { return a.dist - b.dist })
	var res []string
	for _, m := range out {
		res = append(res, strconv.Quote(m.name))
	}
	return res
}

// editDistance is the Levenshtein distance between a and b, in runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
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
