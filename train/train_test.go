package train

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/internal/sandbox"
	"github.com/fedscore/fedscore/internal/shareddata"
	"github.com/fedscore/fedscore/query"
	"github.com/fedscore/fedscore/scoring"
	"github.com/fedscore/fedscore/scoring/fit"
)

const target = "default_next_month"

func features() []fit.FeatureSpec {
	return []fit.FeatureSpec{
		{Column: "LIMIT_BAL", Encoding: scoring.Standardized},
		{Column: "PAY_0", Encoding: scoring.WOEBins, Cuts: []float64{-2, -1, 0, 1, 2}},
		{Column: "PAY_2", Encoding: scoring.Standardized},
		{Column: "PAY_3", Encoding: scoring.Standardized},
		{Column: "BILL_AMT1", Encoding: scoring.Standardized},
		{Column: "PAY_AMT1", Encoding: scoring.Standardized},
		{Column: "PAY_AMT2", Encoding: scoring.Standardized},
	}
}

// subset builds a table of the rows of t that keep selects.
func subset(t *testing.T, tab *dataset.Table, keep func(i int) bool) *dataset.Table {
	t.Helper()
	var rows []int
	for i := range tab.Rows() {
		if keep(i) {
			rows = append(rows, i)
		}
	}
	b := dataset.NewBuilder()
	for _, c := range tab.Columns() {
		if c.Kind != dataset.KindNumber {
			t.Fatalf("column %s is %v; the Taiwan data is all numbers", c.Name, c.Kind)
		}
		v := make([]float64, len(rows))
		for j, i := range rows {
			v[j] = c.Numbers[i]
		}
		b.AddNumber(c.Name, v)
	}
	out, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func auc(t *testing.T, m *scoring.Model, tab *dataset.Table) float64 {
	t.Helper()
	a, _, err := fit.Evaluate(m, tab)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestFederatedTrainingMatchesCentral trains a scorecard on the Taiwan
// credit-default data split across three partners, through the encrypted
// pipeline, and compares its held-out AUC with a model trained centrally
// on the same rows.
func TestFederatedTrainingMatchesCentral(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	mapping := &dataset.Mapping{Columns: []dataset.ColumnMapping{
		{Source: "AGE", Name: "age"},
		{Source: "default.payment.next.month", Name: target},
	}}
	all, err := dataset.LoadCSVFile(shareddata.Path(t, "credit-card-default-taiwan.csv"), dataset.CSVOptions{Mapping: mapping})
	if err != nil {
		t.Fatal(err)
	}
	ids, _ := all.Column("ID")
	isTrain := func(i int) bool { return int(ids.Numbers[i])%10 < 7 }
	train := subset(t, all, isTrain)
	holdout := subset(t, all, func(i int) bool { return !isTrain(i) })
	var partners []sandbox.Partner
	for p, name := range []string{"bank-north", "bank-south", "card-issuer"} {
		tid, _ := train.Column("ID")
		partners = append(partners, sandbox.Partner{Name: name, Data: subset(t, train, func(i int) bool { return int(tid.Numbers[i])%3 == p })})
	}

	central, _, err := fit.Fit(train, fit.Config{Name: "central", Version: "1", Target: target, Features: features(), L2: 1e-4})
	if err != nil {
		t.Fatal(err)
	}
	// The model owner starts from a model fitted on its own data (the
	// first partner's): its encodings, and weights to refine.
	init, _, err := fit.Fit(partners[0].Data, fit.Config{Name: "taiwan-default", Version: "1", Target: target, Features: features(), L2: 1e-4})
	if err != nil {
		t.Fatal(err)
	}

	allowed := []string{"LIMIT_BAL", "PAY_0", "PAY_2", "PAY_3", "BILL_AMT1", "PAY_AMT1", "PAY_AMT2", target, "age"}
	// The comparison with central training needs exact sums: this
	// federation's policy relaxes the default bundle's noise requirement.
	fed, err := sandbox.Start(ctx, sandbox.Config{Partners: partners, PolicyData: map[string]any{
		"assume_consent_when_absent": true,
		"purposes":                   map[string]any{"risk_analytics": map[string]any{"allowed_columns": allowed}},
		"dp":                         map[string]any{"required": false},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer fed.Close()
	rounds := 0
	m, rep, err := Run(ctx, fed.Querier(), Config{
		Purpose: "risk_analytics", PipiaID: "PIPIA-2026-RA-01", MinPartners: 3, Init: init, L2: 1e-4,
		Progress: func(round int, g float64, n int64) { rounds = round },
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Examples != int64(train.Rows()) {
		t.Errorf("the federation trained on %d examples, want all %d", rep.Examples, train.Rows())
	}
	centralAUC, fedAUC, initAUC := auc(t, central, holdout), auc(t, m, holdout), auc(t, init, holdout)
	t.Logf("held-out AUC: central %.4f, federated %.4f after %d rounds (converged %v), one partner alone %.4f",
		centralAUC, fedAUC, rounds, rep.Converged, initAUC)
	if math.Abs(fedAUC-centralAUC) > 0.01 {
		t.Errorf("federated AUC %.4f is not within 0.01 of the central %.4f", fedAUC, centralAUC)
	}
	if !rep.Converged {
		t.Errorf("training did not converge in %d rounds", rep.Rounds)
	}

	// Every partner scores its customers with the trained model; the
	// per-segment score histograms equal the central computation.
	scored, err := sandbox.Start(ctx, sandbox.Config{Partners: partners, Models: []*scoring.Model{m}, PolicyData: map[string]any{
		"assume_consent_when_absent": true,
		"purposes": map[string]any{"risk_analytics": map[string]any{
			"allowed_columns": append(allowed, "score", "propensity", "risk_grade"),
		}},
		"dp": map[string]any{"required": false},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer scored.Close()
	spec, err := query.Parse([]byte(`
purpose: risk_analytics
pipia_id: PIPIA-2026-RA-01
model: taiwan-default
group_by:
  - {column: age, bins: [20, 30, 40, 50, 80]}
metrics:
  - {kind: count}
  - {kind: score_histogram, bins: [300, 450, 500, 550, 600, 850]}
  - {kind: propensity_sum}
min_partners: 3
decimals: 4
`))
	if err != nil {
		t.Fatal(err)
	}
	ans, err := scored.Query(ctx, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := scored.Verify(ctx, spec, ans.Result); err != nil {
		t.Error(err)
	}
}
