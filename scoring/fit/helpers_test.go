package fit

import "github.com/fedscore/fedscore/scoring"

// testModel is a small valid model over the columns x, n and c.
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
