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
		},
		NodeName:    "bank-a",
		NodeColumns: []string{"customer_id", "age", "region", "credit_score", "consent_marketing_analytics"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(d.Allow)
	fmt.Println(d.Err())
	fmt.Printf("%+v\n", d.Cohort)
	// Output:
	// false
	// policy denied: PURPOSE_COLUMNS (PIPL Art. 6): column credit_score is not allowed for purpose marketing_analytics
	// {RequireTrue:[consent_marketing_analytics] ExcludeTrue:[] MinAge:14 AgeColumn:age}
}
