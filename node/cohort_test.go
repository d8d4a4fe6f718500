package node

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/fedscore/fedscore/node/dataset"
	"github.com/fedscore/fedscore/policy"
)

func cohortTable(t *testing.T) *dataset.Table {
	t.Helper()
	b := dataset.NewBuilder()
	b.AddNumber("age", []float64{30, 12, 40, math.NaN(), 50, 14})
	b.AddBool("consent_marketing_analytics", []bool{true, true, false, true, true, true}, []bool{false, false, false, false, true, false})
	b.AddBool("consent_withdrawn", []bool{false, false, false, false, false, true}, make([]bool, 6))
	b.AddCategory("region", []string{"east", "east", "west", "east", "east", "east"})
	tbl, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

func TestCohort(t *testing.T) {
	tbl := cohortTable(t)
	tests := []struct {
		name string
		rule policy.CohortRule
		want []bool
		err  string
	}{
		{"no rule", policy.CohortRule{}, []bool{true, true, true, true, true, true}, ""},
		{"consent", policy.CohortRule{RequireTrue: []string{"consent_marketing_analytics"}},
			[]bool{true, true, false, true, false, true}, ""},
		{"withdrawn", policy.CohortRule{ExcludeTrue: []string{"consent_withdrawn"}},
			[]bool{true, true, true, true, true, false}, ""},
		{"minors and missing age", policy.CohortRule{MinAge: 14, AgeColumn: "age"},
			[]bool{true, false, true, false, true, true}, ""},
		{"all", policy.CohortRule{RequireTrue: []string{"consent_marketing_analytics"}, ExcludeTrue: []string{"consent_withdrawn"}, MinAge: 14, AgeColumn: "age"},
			[]bool{true, false, false, false, false, false}, ""},
		{"missing consent column", policy.CohortRule{RequireTrue: []string{"consent_credit_scoring"}}, nil, "does not have"},
		{"consent column of wrong kind", policy.CohortRule{RequireTrue: []string{"region"}}, nil, "true/false"},
		{"age column of wrong kind", policy.CohortRule{MinAge: 14, AgeColumn: "region"}, nil, "not a number"},
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
