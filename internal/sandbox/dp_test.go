package sandbox

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fedscore/fedscore/query"
)

// TestDifferentialPrivacy runs a query with ε set: the opened values
// differ from the exact ones (the noise is really there) but stay within
// the stated noise bound, and each node's privacy budget runs out.
func TestDifferentialPrivacy(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	partners, err := GeneratePartners(DefaultPartnerNames(), 6000, 31)
	if err != nil {
		t.Fatal(err)
	}
	fed, err := Start(ctx, Config{Partners: partners, PolicyData: map[string]any{
		"purposes": map[string]any{"marketing_analytics": map[string]any{"dp": map[string]any{"daily_epsilon": 3.5}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer fed.Close()
	spec, err := query.Parse([]byte(`
purpose: marketing_analytics
group_by:
  - {column: age, bins: [18, 30, 45, 60, 100]}
  - {column: region, values: [east, south, north, southwest]}
metrics:
  - {kind: count}
  - {kind: histogram, column: city_tier, bins: [1, 2, 3, 6]}
epsilon: 1
min_partners: 3
`))
	if err != nil {
		t.Fatal(err)
	}
	exact, err := fed.Expected(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	differs := 0
	for run := range 3 {
		ans, err := fed.Query(ctx, spec, nil)
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		// β = 1e-9 per value: a false alarm over this table's few hundred
		// values has probability below 1e-6.
		if err := fed.VerifyNoisy(ctx, spec, ans.Result, 1e-9); err != nil {
			t.Fatal(err)
		}
		for r, row := range ans.Result.Rows {
			if v, ok := row.Values[2].(int64); ok && v != exact.Rows[r].Values[2] {
				differs++
			}
		}
	}
	if differs == 0 {
		t.Error("no released count carries noise")
	}
	// Three queries at ε = 1 spent 3 of the 3.5 budget; a fourth is refused.
	if _, err := fed.Query(ctx, spec, nil); err == nil || !strings.Contains(err.Error(), "DP_BUDGET_EXHAUSTED") {
		t.Errorf("query beyond the privacy budget: %v", err)
	}
}
