package fit

import (
	"errors"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/internal/shareddata"
	"github.com/fedscore/fedscore/scoring"
)

var germanColumns = []string{
	"status", "duration", "credit_history", "purpose", "amount", "savings",
	"employment", "installment_rate", "personal_status_sex", "other_debtors",
	"residence_since", "property", "age", "other_plans", "housing",
	"existing_credits", "job", "liable", "telephone", "foreign_worker", "class",
}

// loadGerman reads german.data, which has no header and space-separated
// fields, with the attribute names of its documentation.
func loadGerman(t testing.TB) *dataset.Table {
	t.Helper()
	f, err := os.Open(shareddata.Path(t, "german.data"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	header := strings.NewReader(strings.Join(germanColumns, " ") + "\n")
	tab, err := dataset.ReadCSV(io.MultiReader(header, f), dataset.CSVOptions{Delimiter: ' '})
	if err != nil {
		t.Fatal(err)
	}
	if tab.Rows() != 1000 {
		t.Fatalf("rows = %d, want 1000", tab.Rows())
	}
	return tab
}

// TestFitGerman fits a categorical scorecard on the German credit data
// (class 2 = bad) and checks it on a held-out 30 %.
func TestFitGerman(t *testing.T) {
	tab := loadGerman(t)
	train := make([]bool, tab.Rows())
	test := make([]bool, tab.Rows())
	for i := range train {
		train[i] = i%10 < 7
		test[i] = !train[i]
	}
	cfg := Config{
		Name: "german-credit", Version: "1", Target: "class", Positive: "2", Negative: "1",
		Features: []FeatureSpec{
			{Column: "status", Encoding: scoring.Categorical},
			{Column: "duration", Encoding: scoring.WOEBins, Bins: 5},
			{Column: "credit_history", Encoding: scoring.Categorical},
			{Column: "purpose", Encoding: scoring.Categorical, Unknown: true},
			{Column: "amount", Encoding: scoring.Standardized},
			{Column: "savings", Encoding: scoring.Categorical},
			{Column: "employment", Encoding: scoring.Categorical},
			{Column: "installment_rate", Encoding: scoring.Standardized},
			{Column: "other_debtors", Encoding: scoring.Categorical},
			{Column: "property", Encoding: scoring.Categorical},
			{Column: "housing", Encoding: scoring.Categorical},
			{Column: "personal_status_sex", Encoding: scoring.Categorical},
		},
		L2: 1e-3, Rows: train,
	}
	m, rep, err := Fit(tab, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Converged || rep.Used != 700 || rep.Events+rep.NonEvents != 700 {
		t.Errorf("report %+v", rep)
	}
	if got := m.Features[1].Bins; len(got) < 3 || len(got) > 4 {
		t.Errorf("duration cuts %v, want about 5 quantile bins", got)
	}
	sc, err := scoring.ScoreTable(m, tab, test)
	if err != nil {
		t.Fatal(err)
	}
	class, _ := tab.Column("class")
	labels := make([]bool, tab.Rows())
	for i, v := range class.Numbers {
		labels[i] = v == 2
	}
	auc := AUC(labels, sc.Probability)
	t.Logf("German credit: train AUC %.4f, test AUC %.4f, %d invalid test rows", rep.TrainAUC, auc, sc.Invalid)
	if auc < 0.72 {
		t.Errorf("test AUC %.4f, want at least 0.72", auc)
	}
	if sc.Invalid != 0 {
		t.Errorf("invalid test rows: %v", sc.Err())
	}
	if !slices.Equal(m.ProtectedInputs, []string{"personal_status_sex"}) {
		t.Errorf("ProtectedInputs = %v", m.ProtectedInputs)
	}
}

// fitTable builds a small table with a label column y.
func fitTable(t testing.TB, cols map[string][]float64, cats map[string][]string) *dataset.Table {
	t.Helper()
	b := dataset.NewBuilder()
	for _, name := range slices.Sorted(maps.Keys(cols)) {
		b.AddNumber(name, cols[name])
	}
	for _, name := range slices.Sorted(maps.Keys(cats)) {
		b.AddCategory(name, cats[name])
	}
	tab, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

// TestFitCountsInvalidRows: rows with a NaN target or feature are left out
// of the fit and counted, never dropped silently.
func TestFitCountsInvalidRows(t *testing.T) {
	nan := math.NaN()
	x := []float64{1, 2, 3, 4, 5, 6, 7, 8, nan, 3, 5}
	y := []float64{0, 0, 1, 0, 1, 1, 0, 1, 1, nan, 2}
	c := []string{"a", "b", "a", "b", "a", "b", "a", "", "a", "b", "a"}
	tab := fitTable(t, map[string][]float64{"x": x, "y": y}, map[string][]string{"c": c})
	cfg := Config{Name: "m", Version: "1", Target: "y", L2: 0.1,
		Features: []FeatureSpec{{Column: "x", Encoding: scoring.Standardized}, {Column: "c", Encoding: scoring.Categorical}}}
	_, rep, err := Fit(tab, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Row 8: NaN x; row 9: NaN target; row 10: target 2; row 7: no c.
	if rep.Rows != 11 || rep.Used != 7 || rep.InvalidTarget != 2 || rep.Excluded() != 4 ||
		rep.InvalidFeatures[0].Missing != 1 || rep.InvalidFeatures[1].Missing != 1 {
		t.Errorf("report %+v", rep)
	}
	// With Missing, the rows with a missing input are kept and encoded.
	cfg.Features[0].Missing = true
	cfg.Features[1].Missing = true
	m2, rep2, err := Fit(tab, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep2.Used != 9 || m2.Features[0].Missing == nil || *m2.Features[0].Missing != 0 || m2.Features[1].Missing == nil {
		t.Errorf("with missing: report %+v, features %+v", rep2, m2.Features)
	}
	// The mean of x is over present values only.
	if want := (1 + 2 + 3 + 4 + 5 + 6 + 7 + 8.0) / 8; math.Abs(m2.Features[0].Mean-want) > 1e-12 {
		t.Errorf("mean %v, want %v", m2.Features[0].Mean, want)
	}
}

// TestFitWeights: a sample weight of 2 is the same as the row twice.
func TestFitWeights(t *testing.T) {
	x := []float64{1, 2, 3, 4, 5, 6, 7, 8, 2.5, 6.5}
	y := []float64{0, 0, 1, 0, 1, 0, 1, 1, 1, 0}
	w := []float64{1, 2, 1, 1, 2, 1, 1, 1, 1, 2}
	var xd, yd []float64
	for i := range x {
		for range int(w[i]) {
			xd = append(xd, x[i])
			yd = append(yd, y[i])
		}
	}
	cfg := Config{Name: "m", Version: "1", Target: "y", L2: 0.01, Features: []FeatureSpec{{Column: "x", Encoding: scoring.Standardized}}}
	dup, _, err := Fit(fitTable(t, map[string][]float64{"x": xd, "y": yd}, nil), cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.WeightColumn = "w"
	wt, rep, err := Fit(fitTable(t, map[string][]float64{"x": x, "y": y, "w": w}, nil), cfg)
	if err != nil {
		t.Fatal(err)
	}
	a, b := dup.Params(), wt.Params()
	for k := range a {
		if math.Abs(a[k]-b[k]) > 1e-9 {
			t.Errorf("param %d: duplicated rows %v, weights %v", k, a[k], b[k])
		}
	}
	if dup.Features[0].Mean != wt.Features[0].Mean || math.Abs(dup.Features[0].Std-wt.Features[0].Std) > 1e-12 {
		t.Errorf("encodings differ: %+v vs %+v", dup.Features[0], wt.Features[0])
	}
	if rep.Used != 10 {
		t.Errorf("used %d", rep.Used)
	}
}

// TestFitMatchesKnownSolution checks Newton's method against the
// closed-form optimum of a one-hot model: with one binary feature and no
// penalty, the fitted probabilities equal the group event rates.
func TestFitMatchesKnownSolution(t *testing.T) {
	// Group a: 3 of 10 events; group b: 6 of 8 events.
	var c []string
	var y []float64
	for i := range 10 {
		c = append(c, "a")
		y = append(y, float64(min(1, max(0, i-6))))
	}
	for i := range 8 {
		c = append(c, "b")
		y = append(y, float64(min(1, i/2)))
	}
	tab := fitTable(t, map[string][]float64{"y": y}, map[string][]string{"c": c})
	m, rep, err := Fit(tab, Config{Name: "m", Version: "1", Target: "y", Features: []FeatureSpec{{Column: "c", Encoding: scoring.Categorical}}})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := scoring.ScoreTable(m, tab, nil)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(sc.Probability[0]-0.3) > 1e-9 || math.Abs(sc.Probability[10]-0.75) > 1e-9 {
		t.Errorf("probabilities %v and %v, want 0.3 and 0.75 (%d iterations)", sc.Probability[0], sc.Probability[10], rep.Iterations)
	}
}

func TestFitErrors(t *testing.T) {
	x := []float64{1, 2, 3, 4, 5, 6}
	tab := fitTable(t, map[string][]float64{
		"x": x, "const": {7, 7, 7, 7, 7, 7}, "y": {0, 1, 0, 1, 1, 0}, "ones": {1, 1, 1, 1, 1, 1},
	}, map[string][]string{"c": {"a", "b", "a", "b", "a", "b"}})
	base := func() Config {
		return Config{Name: "m", Version: "1", Target: "y", Features: []FeatureSpec{{Column: "x", Encoding: scoring.Standardized}}}
	}
	tests := []struct {
		name     string
		edit     func(c *Config)
		want     error
		contains string
	}{
		{"missing feature column", func(c *Config) { c.Features[0].Column = "income" }, dataset.ErrUnknownColumn, `features[0] (column "income", standardized)`},
		{"missing target column", func(c *Config) { c.Target = "label" }, dataset.ErrUnknownColumn, `target column "label"`},
		{"no target", func(c *Config) { c.Target = "" }, scoring.ErrInvalidArgument, "no target"},
		{"constant feature", func(c *Config) { c.Features[0].Column = "const" }, ErrFit, `"const" is constant`},
		{"single class", func(c *Config) { c.Target = "ones" }, ErrFit, "both classes"},
		{"woe on category", func(c *Config) { c.Features[0] = FeatureSpec{Column: "c", Encoding: scoring.WOEBins} }, scoring.ErrColumn, "woe_bins needs a number column"},
		{"bad encoding", func(c *Config) { c.Features[0].Encoding = "onehot" }, scoring.ErrInvalidArgument, `"onehot"`},
		{"cuts not ascending", func(c *Config) {
			c.Features[0] = FeatureSpec{Column: "x", Encoding: scoring.WOEBins, Cuts: []float64{3, 1}}
		}, scoring.ErrInvalidArgument, "ascending"},
		{"cuts on standardized", func(c *Config) { c.Features[0].Cuts = []float64{3} }, scoring.ErrInvalidArgument, "only to woe_bins"},
		{"woe on constant", func(c *Config) { c.Features[0] = FeatureSpec{Column: "const", Encoding: scoring.WOEBins} }, ErrFit, "1 distinct values"},
		{"negative L2", func(c *Config) { c.L2 = -1 }, scoring.ErrInvalidArgument, "l2"},
		{"NaN tolerance", func(c *Config) { c.Tolerance = math.NaN() }, scoring.ErrInvalidArgument, "tolerance"},
		{"no features", func(c *Config) { c.Features = nil }, scoring.ErrInvalidArgument, "no features"},
		{"short selection", func(c *Config) { c.Rows = []bool{true} }, scoring.ErrInvalidArgument, "selection"},
		{"nothing selected", func(c *Config) { c.Rows = make([]bool, 6) }, ErrFit, "both classes"},
		{"invalid name", func(c *Config) { c.Name = "" }, scoring.ErrInvalidModel, "name: empty"},
		{"category target without labels", func(c *Config) { c.Target = "c" }, scoring.ErrColumn, "positive and negative"},
		{"number target with bad labels", func(c *Config) { c.Positive = "yes" }, scoring.ErrColumn, "not two distinct numbers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base()
			tt.edit(&cfg)
			_, _, err := Fit(tab, cfg)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("Fit = %v; want %v containing %q", err, tt.want, tt.contains)
			}
		})
	}
}

func TestStatsAddMismatch(t *testing.T) {
	tab, train, _ := loadTaiwan(t)
	first := make([]bool, tab.Rows())
	second := make([]bool, tab.Rows())
	for i := range train {
		first[i] = train[i] && i%2 == 0
		second[i] = train[i] && i%2 == 1
	}
	cfg := Config{Name: "m", Version: "1", Target: taiwanTarget,
		Features: []FeatureSpec{{Column: "BILL_AMT1", Encoding: scoring.WOEBins}}}
	cfg.Rows = first
	a, err := ComputeStats(tab, cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Rows = second
	b, err := ComputeStats(tab, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Quantile cuts differ between partners: the federation must fix them.
	if err := a.Add(b); !errors.Is(err, scoring.ErrInvalidArgument) || !strings.Contains(err.Error(), "fixed cuts") {
		t.Errorf("Add with different cuts = %v", err)
	}
	other, err := ComputeStats(tab, Config{Target: taiwanTarget, Features: []FeatureSpec{{Column: "AGE", Encoding: scoring.Standardized}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Add(other); !errors.Is(err, scoring.ErrInvalidArgument) {
		t.Errorf("Add of another feature = %v", err)
	}
}
