package sandbox

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fedscore/fedscore/query"
	"github.com/fedscore/fedscore/scoring"
	"github.com/fedscore/fedscore/scoring/fit"
)

// fitTestModel fits a small scorecard on one partner's own data.
func fitTestModel(t *testing.T, p Partner, name string, specs ...fit.FeatureSpec) *scoring.Model {
	t.Helper()
	m, _, err := fit.Fit(p.Data, fit.Config{
		Name: name, Version: "1", Target: "has_credit_card", Positive: "true", Negative: "false",
		Features: specs, L2: 1e-3,
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestScoreQueries scores every partner's records with a shared model and
// checks score_mean, score_histogram and propensity_sum against the
// central plaintext computation, and that a model taking a protected
// attribute as a direct input is refused by policy.
func TestScoreQueries(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	partners, err := GeneratePartners(DefaultPartnerNames(), 4000, 21)
	if err != nil {
		t.Fatal(err)
	}
	std := func(col string) fit.FeatureSpec { return fit.FeatureSpec{Column: col, Encoding: scoring.Standardized} }
	fair := fitTestModel(t, partners[0], "card-propensity", std("annual_txn_amount"), std("credit_utilization"), std("delinquencies_12m"),
		fit.FeatureSpec{Column: "income_tier", Encoding: scoring.Categorical})
	biased := fitTestModel(t, partners[0], "card-propensity-age", std("age"), std("annual_txn_amount"))
	if len(biased.ProtectedInputs) == 0 {
		t.Fatal("a model on age reports no protected input")
	}
	fed, err := Start(ctx, Config{Partners: partners, Models: []*scoring.Model{fair, biased}, PolicyData: exactResults(nil)})
	if err != nil {
		t.Fatal(err)
	}
	defer fed.Close()

	spec, err := query.Parse([]byte(`
purpose: risk_analytics
pipia_id: PIPIA-2026-RA-01
model: card-propensity
group_by:
  - {column: income_tier, values: [low, middle, high]}
  - {column: risk_grade, values: [A, B, C, D, E]}
metrics:
  - {kind: count}
  - {kind: score_mean}
  - {kind: score_histogram}
  - {kind: propensity_sum}
min_partners: 3
decimals: 4
`))
	if err != nil {
		t.Fatal(err)
	}
	ans, err := fed.Query(ctx, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := fed.Verify(ctx, spec, ans.Result); err != nil {
		t.Fatal(err)
	}
	released := 0
	for _, row := range ans.Result.Rows {
		if row.Values[2] != nil {
			released++
		}
	}
	if released == 0 {
		t.Error("no cell of the score table was released")
	}

	spec.Model = biased.Name
	_, err = fed.Query(ctx, spec, nil)
	if err == nil || !strings.Contains(err.Error(), "MODEL_PROTECTED_INPUT") || !strings.Contains(err.Error(), "PIPL Art. 24") {
		t.Errorf("a model with a protected input was not refused citing Art. 24: %v", err)
	}
	spec.Model = "no-such-model"
	if _, err := fed.Query(ctx, spec, nil); err == nil || !strings.Contains(err.Error(), "no scoring model") {
		t.Errorf("an unknown model: %v", err)
	}
}
