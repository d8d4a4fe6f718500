package scoring

import (
	"math"
	"testing"

	"github.com/fedscore/fedscore/internal/shareddata"
	"github.com/fedscore/fedscore/node/dataset"
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
func taiwanConfig(rows []bool) FitConfig {
	return FitConfig{
		Name: "taiwan-default", Version: "1", Target: taiwanTarget,
		Features: []FeatureSpec{
			{Column: "LIMIT_BAL", Encoding: Standardized},
			{Column: "AGE", Encoding: Standardized},
			{Column: "PAY_0", Encoding: WOEBins, Cuts: []float64{-2, -1, 0, 1, 2}},
			{Column: "PAY_2", Encoding: Standardized},
			{Column: "PAY_3", Encoding: Standardized},
			{Column: "PAY_4", Encoding: Standardized},
			{Column: "BILL_AMT1", Encoding: Standardized},
			{Column: "PAY_AMT1", Encoding: Standardized},
			{Column: "PAY_AMT2", Encoding: Standardized},
			{Column: "PAY_AMT3", Encoding: Standardized},
			{Column: "EDUCATION", Encoding: Categorical, Unknown: true},
		},
		L2:   1e-4,
		Rows: rows,
	}
}

func labelsOf(t testing.TB, tab *dataset.Table) []bool {
	t.Helper()
	col, _ := tab.Column(taiwanTarget)
	out := make([]bool, tab.Rows())
	for i, v := range col.Numbers {
		out[i] = v == 1
	}
	return out
}

// testAUC returns the AUC of the model's probabilities on the test rows.
func testAUC(t testing.TB, m *Model, tab *dataset.Table, rows []bool) float64 {
	t.Helper()
	sc, err := ScoreTable(m, tab, rows)
	if err != nil {
		t.Fatal(err)
	}
	if sc.Invalid != 0 {
		t.Fatalf("%d invalid test rows: %v", sc.Invalid, sc.Err())
	}
	return AUC(labelsOf(t, tab), sc.Probability)
}

func TestFitTaiwan(t *testing.T) {
	tab, train, test := loadTaiwan(t)
	m, rep, err := Fit(tab, taiwanConfig(train))
	if err != nil {
		t.Fatal(err)
	}
	auc := testAUC(t, m, tab, test)
	t.Logf("central fit: %d iterations, train AUC %.4f, test AUC %.4f", rep.Iterations, rep.TrainAUC, auc)
	if !rep.Converged || rep.Used != 21000 || rep.Excluded() != 0 {
		t.Errorf("report %+v", rep)
	}
	if auc < 0.70 || math.IsNaN(auc) {
		t.Errorf("test AUC %.4f, want at least 0.70", auc)
	}
}
