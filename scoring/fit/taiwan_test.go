package fit

import (
	"cmp"
	"math"
	"slices"
	"testing"

	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/internal/shareddata"
	"github.com/fedscore/fedscore/scoring"
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
func taiwanConfig(rows []bool) Config {
	return Config{
		Name: "taiwan-default", Version: "1", Target: taiwanTarget,
		Features: []FeatureSpec{
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
func testAUC(t testing.TB, m *scoring.Model, tab *dataset.Table, rows []bool) float64 {
	t.Helper()
	sc, err := scoring.ScoreTable(m, tab, rows)
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

// TestTaiwanScoresAndGrades scores the Taiwan test rows with the fitted
// model: every score lies in [300, 850], every row has a grade, and a
// higher score never gets a worse grade.
func TestTaiwanScoresAndGrades(t *testing.T) {
	tab, train, test := loadTaiwan(t)
	m, _, err := Fit(tab, taiwanConfig(train))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := scoring.ScoreTable(m, tab, test)
	if err != nil {
		t.Fatal(err)
	}
	if sc.Selected != 9000 || sc.Scored != 9000 {
		t.Fatalf("selected %d scored %d: %v", sc.Selected, sc.Scored, sc.Err())
	}
	rank := make(map[string]int)
	for k, g := range m.Grades {
		rank[g.Grade] = k
	}
	type sg struct {
		score float64
		grade int
	}
	var rows []sg
	counts := make(map[string]int)
	labels := labelsOf(t, tab)
	events := make(map[string]int)
	for i, ok := range test {
		if !ok {
			continue
		}
		s, g := sc.Score[i], sc.Grade[i]
		if s < 300 || s > 850 || s != math.Round(s) {
			t.Fatalf("row %d: score %v outside [300, 850] or not whole", i, s)
		}
		k, ok := rank[g]
		if !ok {
			t.Fatalf("row %d: grade %q", i, g)
		}
		rows = append(rows, sg{s, k})
		counts[g]++
		if labels[i] {
			events[g]++
		}
	}
	slices.SortFunc(rows, func(a, b sg) int { return cmp.Compare(a.score, b.score) })
	for i := 1; i < len(rows); i++ {
		if rows[i].score > rows[i-1].score && rows[i].grade > rows[i-1].grade {
			t.Fatalf("score %v has grade %d, lower score %v grade %d", rows[i].score, rows[i].grade, rows[i-1].score, rows[i-1].grade)
		}
	}
	// Observed default rates must rise from grade to grade.
	prev := -1.0
	for _, g := range m.Grades {
		if counts[g.Grade] == 0 {
			continue
		}
		rate := float64(events[g.Grade]) / float64(counts[g.Grade])
		t.Logf("grade %s: %d rows, default rate %.3f", g.Grade, counts[g.Grade], rate)
		if rate < prev {
			t.Errorf("grade %s default rate %.3f is below the better grade's %.3f", g.Grade, rate, prev)
		}
		prev = rate
	}
	// scoring.Scores fall as the default probability rises (adverse target).
	if auc := AUC(labels, sc.Score); auc > 0.3 {
		t.Errorf("AUC of the score for defaults %.3f; a higher score should mean fewer defaults", auc)
	}
}
