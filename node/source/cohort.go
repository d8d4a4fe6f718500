package source

import (
	"fmt"
	"math"

	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/policy"
)

// Cohort returns which records a policy decision admits into a query: those
// that satisfy every condition of the rule. A record with no value in a
// condition's column fails it unless the condition says Missing "include":
// consent, non-withdrawal and adulthood must be shown, not assumed. A
// condition on a column the table lacks, or whose value does not fit the
// column's kind, is an error rather than a condition skipped.
func Cohort(t *dataset.Table, r policy.CohortRule) ([]bool, error) {
	in := make([]bool, t.Rows())
	for i := range in {
		in[i] = true
	}
	for _, c := range r.Conditions {
		test, err := compile(t, c)
		if err != nil {
			return nil, fmt.Errorf("cohort condition %s: %w", c, err)
		}
		for i := range in {
			in[i] = in[i] && test(i)
		}
	}
	return in, nil
}

// checkCondition validates condition c against the kind of its column
// (ok false when the data has no such column) and returns whether a record
// with no value passes it. The in-memory and the SQL path share it, so
// both accept and reject the same rules.
func checkCondition(c policy.Condition, kind dataset.Kind, ok bool) (missing bool, err error) {
	if !ok {
		return false, fmt.Errorf("the policy needs column %q, which the data does not have", c.Column)
	}
	switch c.Missing {
	case policy.MissingExclude, "":
	case policy.MissingInclude:
		missing = true
	default:
		return false, fmt.Errorf("unknown missing-value treatment %q", c.Missing)
	}
	ordering := false
	switch c.Op {
	case policy.OpEq, policy.OpNe:
	case policy.OpLt, policy.OpLe, policy.OpGt, policy.OpGe:
		ordering = true
	default:
		return false, fmt.Errorf("unknown op %q", c.Op)
	}
	var fits bool
	switch c.Value.(type) {
	case bool:
		fits = kind == dataset.KindBool && !ordering
	case float64:
		fits = kind == dataset.KindNumber
	case string:
		fits = kind == dataset.KindCategory && !ordering
	default:
		return false, fmt.Errorf("value %v is a %T, not a bool, number or string", c.Value, c.Value)
	}
	if !fits {
		return false, fmt.Errorf("column %q is %s; the policy compares it with %T %v", c.Column, kind, c.Value, c.Value)
	}
	return missing, nil
}

// compile returns the test of condition c on the rows of t.
func compile(t *dataset.Table, c policy.Condition) (func(row int) bool, error) {
	col, ok := t.Column(c.Column)
	var kind dataset.Kind
	if ok {
		kind = col.Kind
	}
	missing, err := checkCondition(c, kind, ok)
	if err != nil {
		return nil, err
	}

	switch v := c.Value.(type) {
	case bool:
		eq := c.Op == policy.OpEq
		return func(i int) bool {
			if col.Missing[i] {
				return missing
			}
			return (col.Bools[i] == v) == eq
		}, nil
	case float64:
		cmp := numberOp(c.Op, v)
		return func(i int) bool {
			if math.IsNaN(col.Numbers[i]) {
				return missing
			}
			return cmp(col.Numbers[i])
		}, nil
	case string:
		// The value's code in the column's dictionary; -2 matches no row,
		// as -1 marks a missing one.
		code := int32(-2)
		for j, s := range col.Dict {
			if s == v {
				code = int32(j)
				break
			}
		}
		eq := c.Op == policy.OpEq
		return func(i int) bool {
			if col.Codes[i] < 0 {
				return missing
			}
			return (col.Codes[i] == code) == eq
		}, nil
	}
	return nil, fmt.Errorf("value %v is a %T, not a bool, number or string", c.Value, c.Value)
}

// numberOp returns the comparison x op v.
func numberOp(op string, v float64) func(x float64) bool {
	switch op {
	case policy.OpEq:
		return func(x float64) bool { return x == v }
	case policy.OpNe:
		return func(x float64) bool { return x != v }
	case policy.OpLt:
		return func(x float64) bool { return x < v }
	case policy.OpLe:
		return func(x float64) bool { return x <= v }
	case policy.OpGt:
		return func(x float64) bool { return x > v }
	default: // policy.OpGe
		return func(x float64) bool { return x >= v }
	}
}
