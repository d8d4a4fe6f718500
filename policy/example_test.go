package policy_test

import (
	"context"
	"fmt"
	"log"

	"github.com/fedscore/fedscore/policy"
)

func ExampleEngine_Admit() {
	ctx := context.Background()
	engine, err := policy.NewEngine(ctx, policy.Options{})
	if err != nil {
		log.Fatal(err)
	}
	d, err := engine.Admit(ctx, policy.AdmissionInput{
		Query: policy.QueryInfo{
			ID:          "q-42",
			Purpose:     "marketing_analytics",
			Columns:     []string{"age", "region", "credit_score"},
			Metrics:     []string{"count"},
			MinPartners: 3,
			PipiaID:     "PIPIA-2026-MA-01",
			// The default bundle requires differential-privacy noise.
			Epsilon: 1,
		},
		NodeName:    "bank-a",
		NodeColumns: []string{"customer_id", "age", "region", "credit_score", "consent_marketing_analytics", "consent_sensitive"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(d.Allow)
	fmt.Println(d.Err())
	fmt.Printf("DP required %v, epsilon at most %v per query and %v per day\n",
		d.Privacy.DPRequired, d.Privacy.MaxEpsilonPerQuery, d.Privacy.DailyEpsilon)
	for _, c := range d.Cohort.Conditions {
		fmt.Println(c)
	}
	// Output:
	// false
	// policy denied: PURPOSE_COLUMNS (PIPL Art. 6): column credit_score is not allowed for purpose marketing_analytics
	// DP required true, epsilon at most 2 per query and 10 per day
	// consent_marketing_analytics eq true (PURPOSE_CONSENT, PIPL Art. 13-14)
	// age ge 14 (MINOR, PIPL Art. 28, 31)
	// consent_sensitive eq true (SENSITIVE_CONSENT, PIPL Art. 28-29)
}
