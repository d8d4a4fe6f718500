package aggregate

import (
	"reflect"
	"slices"
	"testing"

	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/query"
	"github.com/fedscore/fedscore/scoring"
	"github.com/fedscore/fedscore/scoring/fit"
)

// TestTrainMatchesModel holds the spec's view of a training round's model
// (its parameter count and columns) to package scoring's, and checks that
// the block Train fills is the model's gradient, Hessian and example count.
func TestTrainMatchesModel(t *testing.T) {
	tab := randomTable(t, 2000, 11)
	b := dataset.NewBuilder()
	b.AddColumns(tab.Columns()...)
	label := make([]bool, tab.Rows())
	for i := range label {
		label[i] = i%3 == 0
	}
	b.AddBool("responded", label, make([]bool, tab.Rows()))
	tab, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	m := &scoring.Model{
		Name: "propensity", Version: "1", Target: "responded",
		Features: []scoring.Feature{
			{Column: "age", Encoding: scoring.Standardized, Mean: 50, Std: 20, Weight: 0.3},
			{Column: "score", Encoding: scoring.Standardized, Mean: 575, Std: 150, Weight: -0.2},
			{Column: "region", Encoding: scoring.Categorical, Categories: map[string]float64{"north": 1, "east": -1}, Unknown: new(float64), Weight: 0.5},
		},
		Intercept: -0.4, Score: scoring.DefaultScoreScale(), Grades: scoring.DefaultGrades(),
	}
	doc, err := scoring.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	spec := &query.Spec{
		Purpose: "model_training", MinPartners: 2,
		Metrics: []query.Metric{{Kind: query.KindCount}},
		Train:   &query.Train{Model: string(doc), Clip: 5, ScaleBits: 12},
	}
	if err := spec.Validate(query.Limits{}); err != nil {
		t.Fatal(err)
	}
	off, params, ok := spec.TrainSlots()
	if !ok || params != len(m.Params()) {
		t.Fatalf("TrainSlots = %d, %d, %v; the model has %d parameters", off, params, ok, len(m.Params()))
	}
	if want := []string{"age", "region", "responded", "score"}; !slices.Equal(spec.Columns(), want) {
		t.Errorf("Columns = %v, want %v", spec.Columns(), want)
	}

	vec := make([]int64, spec.Layout().VectorLen)
	gs, err := Train(spec, tab, nil, vec)
	if err != nil {
		t.Fatal(err)
	}
	grad, hess, wantStats, err := fit.GradientHessian(m, tab, nil, 5, 1<<12)
	if err != nil {
		t.Fatal(err)
	}
	want := append(append(slices.Clone(grad), hess...), int64(wantStats.Examples))
	if got := vec[off:]; !slices.Equal(got, want) {
		t.Errorf("training block = %v, want %v", got, want)
	}
	if !reflect.DeepEqual(gs, wantStats) || gs.Examples == 0 {
		t.Errorf("stats = %+v, want %+v", gs, wantStats)
	}
}
