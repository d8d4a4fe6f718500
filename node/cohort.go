package node

import (
	"fmt"

	"github.com/fedscore/fedscore/node/dataset"
	"github.com/fedscore/fedscore/policy"
)

// Cohort returns which records a policy decision admits into a query: every
// RequireTrue column (consent for the purpose) is true, no ExcludeTrue
// column (withdrawal, opt-out) is true, and the age is at least MinAge.
// Where a record's value is missing, the record is left out: consent,
// non-withdrawal and adulthood must be shown, not assumed.
func Cohort(t *dataset.Table, r policy.CohortRule) ([]bool, error) {
	n := t.Rows()
	in := make([]bool, n)
	for i := range in {
		in[i] = true
	}
	flag := func(name string) (*dataset.Column, error) {
		c, ok := t.Column(name)
		if !ok {
			return nil, fmt.Errorf("the policy needs column %q, which the data does not have", name)
		}
		if c.Kind != dataset.KindBool {
			return nil, fmt.Errorf("the policy needs column %q to be true/false, it is %s", name, c.Kind)
		}
		return c, nil
	}
	for _, name := range r.RequireTrue {
		c, err := flag(name)
		if err != nil {
			return nil, err
		}
		for i := range in {
			in[i] = in[i] && c.Bools[i] && !c.Missing[i]
		}
	}
	for _, name := range r.ExcludeTrue {
		c, err := flag(name)
		if err != nil {
			return nil, err
		}
		for i := range in {
			in[i] = in[i] && !c.Bools[i] && !c.Missing[i]
		}
	}
	if r.MinAge > 0 && r.AgeColumn != "" {
		c, ok := t.Column(r.AgeColumn)
		if !ok {
			return nil, fmt.Errorf("the policy needs age column %q, which the data does not have", r.AgeColumn)
		}
		if c.Kind != dataset.KindNumber {
			return nil, fmt.Errorf("age column %q is %s, not a number", r.AgeColumn, c.Kind)
		}
		minAge := float64(r.MinAge)
		for i, age := range c.Numbers {
			// NaN (missing) fails the comparison and is left out.
			in[i] = in[i] && age >= minAge
		}
	}
	return in, nil
}
