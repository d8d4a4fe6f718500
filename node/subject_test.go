package node

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/policy"
	"github.com/fedscore/fedscore/query"
)

func TestSubjectQueries(t *testing.T) {
	b := dataset.NewBuilder()
	b.AddCategory("customer_id", []string{"c1", "c2", "c3", "c4"})
	b.AddNumber("age", []float64{30, 12, 40, 70})
	b.AddCategory("region", []string{"east", "east", "west", "east"})
	b.AddBool("consent_marketing_analytics", []bool{true, true, true, false}, make([]bool, 4))
	tbl, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	spec := &query.Spec{
		Purpose:     "marketing_analytics",
		GroupBy:     []query.GroupBy{{Column: "age", Bins: []float64{18, 50, 100}}},
		Filter:      []query.Predicate{{Column: "region", Op: query.OpEq, Value: "east"}},
		Metrics:     []query.Metric{{Kind: query.KindCount}},
		MinPartners: 3,
		Decimals:    new(2),
	}
	specJSON, err := spec.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), QueryArchiveFile)
	a, err := openQueryArchive(path)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	rule := policy.CohortRule{Conditions: []policy.Condition{
		{Column: "consent_marketing_analytics", Op: policy.OpEq, Value: true, Code: "CONSENT_REQUIRED"},
		{Column: "age", Op: policy.OpGe, Value: 14.0, Code: "MINOR"},
	}}
	if err := a.append(QueryRecord{QueryID: "q1", Time: at, Spec: specJSON, Cohort: rule}); err != nil {
		t.Fatal(err)
	}
	a.Close()

	tests := []struct {
		row    int
		used   bool
		detail string
	}{
		{0, true, "age=[18,50)"},
		{1, false, "not in the cohort (consent, withdrawal or age)"},
		{2, false, "outside the query's filter or cells"},
		{3, false, "not in the cohort (consent, withdrawal or age)"},
	}
	for _, tt := range tests {
		uses, err := SubjectQueries(context.Background(), path, tbl, tt.row, time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if len(uses) != 1 {
			t.Fatalf("row %d: %d uses", tt.row, len(uses))
		}
		u := uses[0]
		got := u.Reason
		if u.Used {
			got = u.Cell
		}
		if u.Used != tt.used || got != tt.detail {
			t.Errorf("row %d: used %v %q, want %v %q", tt.row, u.Used, got, tt.used, tt.detail)
		}
	}
	if uses, _ := SubjectQueries(context.Background(), path, tbl, 0, at.Add(time.Hour), time.Time{}); len(uses) != 0 {
		t.Errorf("time filter ignored: %v", uses)
	}
}
