package source

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/policy"
)

// nan marks a missing number.
var nan = math.NaN()

func cohortTable(t *testing.T) *dataset.Table {
	t.Helper()
	b := dataset.NewBuilder()
	b.AddNumber("age", []float64{30, 12, 40, nan, 50, 14})
	b.AddBool("consent_marketing_analytics", []bool{true, true, false, true, true, true}, []bool{false, false, false, false, true, false})
	b.AddBool("consent_withdrawn", []bool{false, false, false, false, false, true}, make([]bool, 6))
	b.AddNumber("consent_withdrawn_at", []float64{nan, nan, 1000, 3000, nan, 500})
	b.AddCategory("region", []string{"east", "east", "west", "east", "", "east"})
	tbl, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

func TestCohort(t *testing.T) {
	tbl := cohortTable(t)
	consent := policy.Condition{Column: "consent_marketing_analytics", Op: policy.OpEq, Value: true, Missing: policy.MissingExclude, Code: "PURPOSE_CONSENT"}
	notWithdrawn := policy.Condition{Column: "consent_withdrawn", Op: policy.OpNe, Value: true, Code: "CONSENT_WITHDRAWN"}
	withdrawnLater := policy.Condition{Column: "consent_withdrawn_at", Op: policy.OpGt, Value: 2000.0, Missing: policy.MissingInclude, Code: "CONSENT_WITHDRAWN"}
	adult := policy.Condition{Column: "age", Op: policy.OpGe, Value: 14.0, Code: "MINOR"}
	rule := func(cs ...policy.Condition) policy.CohortRule { return policy.CohortRule{Conditions: cs} }
	number := func(op string, v float64) policy.CohortRule {
		return rule(policy.Condition{Column: "age", Op: op, Value: v, Code: "X"})
	}
	tests := []struct {
		name string
		rule policy.CohortRule
		want []bool
		err  string
	}{
		{"no conditions", rule(), []bool{true, true, true, true, true, true}, ""},
		{"consent, missing excluded", rule(consent), []bool{true, true, false, true, false, true}, ""},
		{"missing is exclude by default", rule(policy.Condition{Column: "consent_marketing_analytics", Op: policy.OpEq, Value: true, Code: "X"}),
			[]bool{true, true, false, true, false, true}, ""},
		{"bool ne", rule(notWithdrawn), []bool{true, true, true, true, true, false}, ""},
		{"bool eq false", rule(policy.Condition{Column: "consent_withdrawn", Op: policy.OpEq, Value: false, Code: "X"}),
			[]bool{true, true, true, true, true, false}, ""},
		{"missing included", rule(withdrawnLater), []bool{true, true, false, true, true, false}, ""},
		{"minors and missing age", rule(adult), []bool{true, false, true, false, true, true}, ""},
		{"number eq", number(policy.OpEq, 40), []bool{false, false, true, false, false, false}, ""},
		{"number ne", number(policy.OpNe, 40), []bool{true, true, false, false, true, true}, ""},
		{"number lt", number(policy.OpLt, 30), []bool{false, true, false, false, false, true}, ""},
		{"number le", number(policy.OpLe, 30), []bool{true, true, false, false, false, true}, ""},
		{"number gt", number(policy.OpGt, 30), []bool{false, false, true, false, true, false}, ""},
		{"category eq", rule(policy.Condition{Column: "region", Op: policy.OpEq, Value: "east", Code: "X"}),
			[]bool{true, true, false, true, false, true}, ""},
		{"category ne, missing included", rule(policy.Condition{Column: "region", Op: policy.OpNe, Value: "east", Missing: policy.MissingInclude, Code: "X"}),
			[]bool{false, false, true, false, true, false}, ""},
		{"category value not in the data", rule(policy.Condition{Column: "region", Op: policy.OpNe, Value: "north", Code: "X"}),
			[]bool{true, true, true, true, false, true}, ""},
		{"all, ANDed", rule(consent, notWithdrawn, withdrawnLater, adult), []bool{true, false, false, false, false, false}, ""},
		{"missing column", rule(policy.Condition{Column: "consent_credit_scoring", Op: policy.OpEq, Value: true, Code: "X"}), nil, "does not have"},
		{"bool on a category", rule(policy.Condition{Column: "region", Op: policy.OpEq, Value: true, Code: "X"}), nil, "is category"},
		{"number on a bool", rule(policy.Condition{Column: "consent_withdrawn", Op: policy.OpGe, Value: 1.0, Code: "X"}), nil, "is bool"},
		{"string on a number", rule(policy.Condition{Column: "age", Op: policy.OpEq, Value: "30", Code: "X"}), nil, "is number"},
		{"ordering on a bool", rule(policy.Condition{Column: "consent_withdrawn", Op: policy.OpLt, Value: true, Code: "X"}), nil, "is bool"},
		{"ordering on a category", rule(policy.Condition{Column: "region", Op: policy.OpGt, Value: "a", Code: "X"}), nil, "is category"},
		{"int value", rule(policy.Condition{Column: "age", Op: policy.OpGe, Value: 14, Code: "X"}), nil, "not a bool, number or string"},
		{"unknown op", rule(policy.Condition{Column: "age", Op: "between", Value: 14.0, Code: "X"}), nil, `unknown op "between"`},
		{"unknown missing", rule(policy.Condition{Column: "age", Op: policy.OpGe, Value: 14.0, Missing: "skip", Code: "X"}), nil, `"skip"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Cohort(tbl, tt.rule)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("cohort %v, want %v", got, tt.want)
			}
		})
	}
}

// TestCohortFromDefaultBundle applies the default bundle's decision for a
// marketing query to records that each fail one condition.
func TestCohortFromDefaultBundle(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	s := float64(now.Unix())
	const day = 86400
	// Row 0 passes; each later row fails for one reason.
	b := dataset.NewBuilder()
	b.AddNumber("age", []float64{30, 30, 30, 30, 30, 30, 13, 30, 30})
	b.AddCategory("region", []string{"east", "east", "east", "east", "east", "east", "east", "east", "east"})
	b.AddNumber("annual_txn_amount", []float64{1, 1, 1, 1, 1, 1, 1, 1, 1})
	b.AddBool("consent_marketing_analytics", []bool{true, false, true, true, true, true, true, true, true}, nil)
	b.AddNumber("consent_marketing_analytics_notice_version", []float64{3, 3, 2, 3, 3, 3, 3, 3, 3})
	b.AddBool("consent_withdrawn", []bool{false, false, false, true, false, false, false, false, false}, nil)
	b.AddNumber("consent_withdrawn_at", []float64{nan, nan, nan, nan, s - day, nan, nan, nan, s + day})
	b.AddNumber("collected_at", []float64{s - 700*day, s - day, s - day, s - day, s - day, s - 731*day, s - day, s - day, s - day})
	b.AddBool("consent_sensitive", []bool{true, true, true, true, true, true, true, false, true}, nil)
	tbl, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	var cols []string
	for _, c := range tbl.Columns() {
		cols = append(cols, c.Name)
	}
	e, err := policy.NewEngine(ctx, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Admit(ctx, policy.AdmissionInput{
		Query: policy.QueryInfo{
			ID: "q-1", Purpose: "marketing_analytics", Columns: []string{"age", "annual_txn_amount", "region"},
			Metrics: []string{"count"}, MinPartners: 3, PipiaID: "PIPIA-2026-MA-01", Epsilon: 1, // the default bundle requires noise
		},
		NodeName: "bank-a", NodeColumns: cols, Time: now,
	})
	if err != nil || !d.Allow {
		t.Fatalf("Admit = %+v, %v", d, err)
	}
	got, err := Cohort(tbl, d.Cohort)
	if err != nil {
		t.Fatal(err)
	}
	// Withdrawn after the query time (row 8) still counts.
	want := []bool{true, false, false, false, false, false, false, false, true}
	if !slices.Equal(got, want) {
		t.Errorf("cohort %v, want %v; conditions %v", got, want, d.Cohort.Conditions)
	}
}
