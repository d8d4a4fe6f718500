package fairness

import (
	"testing"

	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/internal/shareddata"
	"github.com/fedscore/fedscore/scoring"
	"github.com/fedscore/fedscore/scoring/fit"
)

const taiwanTarget = "default.payment.next.month"

// loadTaiwan loads the Taiwan credit-card default data and splits it 70/30
// by ID: IDs ending in 0–6 train, 7–9 test.
func loadTaiwan(t testing.TB) (tab *dataset.Table, train, test []bool) {
	t.Helper()
	tab, err := dataset.LoadCSVFile(shareddata.Path(t, "credit-card-default-taiwan.csv"), dataset.CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if tab.Rows() != 30000 {
		t.Fatalf("rows = %d, want 30000", tab.Rows())
	}
	ids, _ := tab.Column("ID")
	train = make([]bool, tab.Rows())
	test = make([]bool, tab.Rows())
	for i, id := range ids.Numbers {
		if int(id)%10 < 7 {
			train[i] = true
		} else {
			test[i] = true
		}
	}
	return tab, train, test
}

// taiwanConfig is the scorecard the Taiwan tests fit: ten features, PAY_0
// (the latest repayment status) binned with WOE at fixed cut points.
func taiwanConfig(rows []bool) fit.Config {
	return fit.Config{
		Name: "taiwan-default", Version: "1", Target: taiwanTarget,
		Features: []fit.FeatureSpec{
			{Column: "LIMIT_BAL", Encoding: scoring.Standardized},
			{Column: "AGE", Encoding: scoring.Standardized},
			{Column: "PAY_0", Encoding: scoring.WOEBins, Cuts: []float64{-2, -1, 0, 1, 2}},
			{Column: "PAY_2", Encoding: scoring.Standardized},
			{Column: "PAY_3", Encoding: scoring.Standardized},
			{Column: "PAY_4", Encoding: scoring.Standardized},
			{Column: "BILL_AMT1", Encoding: scoring.Standardized},
			{Column: "PAY_AMT1", Encoding: scoring.Standardized},
			{Column: "PAY_AMT2", Encoding: scoring.Standardized},
			{Column: "PAY_AMT3", Encoding: scoring.Standardized},
			{Column: "EDUCATION", Encoding: scoring.Categorical, Unknown: true},
		},
		L2:   1e-4,
		Rows: rows,
	}
}

// testModel is a small valid model over testTable's columns.
func testModel() *scoring.Model {
	return &scoring.Model{
		Name: "test-model", Version: "1.0",
		Features: []scoring.Feature{
			{Column: "x", Encoding: scoring.Standardized, Mean: 10, Std: 2, Weight: 0.5},
			{Column: "n", Encoding: scoring.WOEBins, Bins: []float64{0, 5}, WOE: []float64{0.3, 0, -0.4}, Weight: -1},
			{Column: "c", Encoding: scoring.Categorical, Categories: map[string]float64{"a": 0.2, "b": -0.1}, Weight: 1},
		},
		Intercept: -1,
		Score:     scoring.DefaultScoreScale(),
		Grades:    scoring.DefaultGrades(),
	}
}

// testTable has the columns testModel reads, and a bool and a label.
func testTable(t testing.TB, x, n []float64, c []string) *dataset.Table {
	t.Helper()
	b := dataset.NewBuilder()
	b.AddNumber("x", x)
	b.AddNumber("n", n)
	b.AddCategory("c", c)
	tab, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return tab
}
