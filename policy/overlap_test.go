package policy_test

import (
	"context"
	"testing"
	"time"

	"github.com/fedscore/fedscore/policy"
)

var overlapNodeColumns = []string{"phone_number", "age", "region", "consent_marketing_analytics", "consent_withdrawn"}

func TestAdmitOverlap(t *testing.T) {
	ctx := context.Background()
	e, err := policy.NewEngine(ctx, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	in := policy.AdmissionInput{
		Query:    policy.QueryInfo{ID: "q-1", Purpose: "marketing_analytics", Columns: []string{"age"}, Metrics: []string{"count"}, MinPartners: 2, Epsilon: 1},
		NodeName: "bank-a", NodeColumns: overlapNodeColumns, Time: time.Now(),
	}
	ov := policy.OverlapInfo{IdentifierKind: "mobile", IdentifierColumn: "phone_number", Parties: 2, Delta: 1e-9}
	d, err := e.AdmitOverlap(ctx, in, ov)
	if err != nil || !d.Allow {
		t.Fatalf("overlap denied: %v %+v", err, d.Reasons)
	}
	if len(d.Cohort.Conditions) == 0 {
		t.Error("an overlap admission without a consent cohort")
	}
	ov.IdentifierColumn = "customer_id"
	if d, err := e.AdmitOverlap(ctx, in, ov); err != nil || d.Allow || d.Reasons[0].Code != "OVERLAP_IDENTIFIER_COLUMN" {
		t.Errorf("customer_id as a mobile number: %v %+v", err, d.Reasons)
	}
	// The same input without the overlap is a joint query of two partners.
	if d, _ := e.Admit(ctx, in); d.Allow {
		t.Error("a joint query of two partners was admitted")
	}
}

func TestOverlapSet(t *testing.T) {
	ctx := context.Background()
	e, err := policy.NewEngine(ctx, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	q := policy.QueryInfo{ID: "q-1", Purpose: "marketing_analytics"}
	d, err := e.OverlapSet(ctx, policy.OverlapSetInput{Query: q, NodeName: "bank-a", Size: 999})
	if err != nil || d.Allow || d.MinSetSize != 1000 || d.Reasons[0].Code != "OVERLAP_SET_TOO_SMALL" || d.Err() == nil {
		t.Fatalf("a set of 999: %v %+v", err, d)
	}
	d, err = e.OverlapSet(ctx, policy.OverlapSetInput{Query: q, NodeName: "bank-a", Size: 1000})
	if err != nil || !d.Allow || d.ID == "" || d.BundleRevision == "" {
		t.Fatalf("a set of 1000: %v %+v", err, d)
	}
	d, _ = e.OverlapSet(ctx, policy.OverlapSetInput{Query: q, NodeName: "bank-a", Size: 1500, MinSetSize: 2000})
	if d.Allow || d.MinSetSize != 2000 {
		t.Errorf("the query's minimum: %+v", d)
	}
}
