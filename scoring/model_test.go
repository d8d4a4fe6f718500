package scoring

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/fedscore/fedscore/dataset"
)

// testModel is a small valid model over testTable's columns.
func testModel() *Model {
	return &Model{
		Name: "test-model", Version: "1.0",
		Features: []Feature{
			{Column: "x", Encoding: Standardized, Mean: 10, Std: 2, Weight: 0.5},
			{Column: "n", Encoding: WOEBins, Bins: []float64{0, 5}, WOE: []float64{0.3, 0, -0.4}, Weight: -1},
			{Column: "c", Encoding: Categorical, Categories: map[string]float64{"a": 0.2, "b": -0.1}, Weight: 1},
		},
		Intercept: -1,
		Score:     DefaultScoreScale(),
		Grades:    DefaultGrades(),
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

const validModelJSON = `{
  "name": "test-model",
  "version": "1.0",
  "features": [
    {"column": "x", "encoding": "standardized", "mean": 10, "std": 2, "weight": 0.5},
    {"column": "n", "encoding": "woe_bins", "bins": [0, 5], "woe": [0.3, 0, -0.4], "weight": -1},
    {"column": "c", "encoding": "categorical", "categories": {"a": 0.2, "b": -0.1}, "weight": 1}
  ],
  "intercept": -1,
  "score": {"pdo": 20, "base_score": 600, "base_odds": 50, "min": 300, "max": 850, "event": "adverse"},
  "grades": [
    {"grade": "A", "min_score": 600}, {"grade": "B", "min_score": 570}, {"grade": "C", "min_score": 550},
    {"grade": "D", "min_score": 525}, {"grade": "E", "min_score": 300}
  ]
}`

func TestDecodeValid(t *testing.T) {
	m, err := Decode([]byte(validModelJSON))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := testModel().Digest()
	if got, _ := m.Digest(); got != want {
		t.Errorf("digest of decoded model %s, of the same model built in Go %s", got, want)
	}
	// Encode and Canonical round-trip to the same digest.
	enc, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := m2.Digest(); got != want {
		t.Errorf("digest after Encode/Decode %s, want %s", got, want)
	}
}

func TestDecodeMalformed(t *testing.T) {
	edit := func(old, new string) string {
		if !strings.Contains(validModelJSON, old) {
			panic("test edit does not apply: " + old)
		}
		return strings.Replace(validModelJSON, old, new, 1)
	}
	tests := []struct {
		name, doc string
		path      string // the field the error must name
		contains  string
	}{
		{"unknown field", edit(`"weight": 0.5`, `"weight": 0.5, "wieght": 1`), "features[0].wieght", "unknown field"},
		{"unknown top-level field", edit(`"intercept": -1`, `"intercept": -1, "bias": 2`), "bias", "unknown field"},
		{"wrong case", edit(`"intercept": -1`, `"Intercept": -1`), "Intercept", "unknown field"},
		{"duplicate key", edit(`"weight": -1`, `"weight": -1, "weight": 5`), "features[1].weight", "duplicate key"},
		{"NaN literal weight", edit(`"weight": 0.5`, `"weight": NaN`), "features[0].weight", "invalid character"},
		{"NaN string weight", edit(`"weight": 0.5`, `"weight": "NaN"`), "features[0].weight", `want a number, got string "NaN"`},
		{"infinite weight", edit(`"weight": 0.5`, `"weight": 1e400`), "features[0].weight", "out of range"},
		{"null weight", edit(`"weight": 0.5`, `"weight": null`), "features[0].weight", "want a number, got null"},
		{"missing bins", edit(`"bins": [0, 5], `, ``), "features[1].bins", "missing"},
		{"bins not ascending", edit(`"bins": [0, 5]`, `"bins": [5, 0]`), "features[1].bins[1]", "does not exceed"},
		{"woe length", edit(`"woe": [0.3, 0, -0.4]`, `"woe": [0.3, 0]`), "features[1].woe", "2 values for 2 cut points"},
		{"zero std", edit(`"std": 2`, `"std": 0`), "features[0].std", "not positive"},
		{"missing std", edit(`"std": 2, `, ``), "features[0].std", "not positive"},
		{"unknown encoding", edit(`"encoding": "categorical"`, `"encoding": "one_hot"`), "features[2].encoding", `"one_hot"`},
		{"stray field for encoding", edit(`"mean": 10, "std": 2`, `"mean": 10, "std": 2, "bins": [1]`), "features[0].bins", "not used"},
		{"empty categories", edit(`{"a": 0.2, "b": -0.1}`, `{}`), "features[2].categories", "missing"},
		{"empty category key", edit(`{"a": 0.2, "b": -0.1}`, `{"": 0.2}`), `features[2].categories[""]`, "empty category"},
		{"grades not descending", edit(`"min_score": 570`, `"min_score": 610`), "grades[1].min_score", "not below"},
		{"grades leave a gap", edit(`{"grade": "E", "min_score": 300}`, `{"grade": "E", "min_score": 400}`), "grades[4].min_score", "without a grade"},
		{"bad event", edit(`"event": "adverse"`, `"event": "bad"`), "score.event", "is not"},
		{"empty name", edit(`"name": "test-model"`, `"name": ""`), "name", "empty"},
		{"bad version", edit(`"version": "1.0"`, `"version": "1 0"`), "version", "character"},
		{"string for array", edit(`"bins": [0, 5]`, `"bins": "0,5"`), "features[1].bins", "want an array"},
		{"trailing data", validModelJSON + `{}`, "", "after the document"},
		{"truncated", validModelJSON[:200], "", "unexpected end of input"},
		{"not an object", `[1, 2]`, "", "want an object"},
		{"empty", ``, "", "unexpected end of input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.doc))
			if err == nil {
				t.Fatal("decoded without error")
			}
			if !errors.Is(err, ErrInvalidModel) {
				t.Errorf("error %v does not match ErrInvalidModel", err)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a *FieldError", err)
			}
			if tt.path != "" && !strings.Contains(err.Error(), tt.path+": ") {
				t.Errorf("error %q does not name field %s", err, tt.path)
			}
			if !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("error %q does not say %q", err, tt.contains)
			}
		})
	}
}

func TestValidateGoValues(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(m *Model)
		paths []string
	}{
		{"NaN weight", func(m *Model) { m.Features[0].Weight = math.NaN() }, []string{"features[0].weight"}},
		{"infinite intercept", func(m *Model) { m.Intercept = math.Inf(1) }, []string{"intercept"}},
		{"NaN WOE", func(m *Model) { m.Features[1].WOE[2] = math.NaN() }, []string{"features[1].woe[2]"}},
		{"NaN missing", func(m *Model) { v := math.NaN(); m.Features[0].Missing = &v }, []string{"features[0].missing"}},
		{"min above max", func(m *Model) { lo, hi := 5.0, 1.0; m.Features[0].Min, m.Features[0].Max = &lo, &hi }, []string{"features[0].max"}},
		{"no features", func(m *Model) { m.Features = nil }, []string{"features"}},
		{"duplicate feature", func(m *Model) { m.Features = append(m.Features, m.Features[0]) }, []string{"features[3]"}},
		{"several problems", func(m *Model) { m.Name = ""; m.Features[2].Weight = math.NaN(); m.Score.PDO = -1 },
			[]string{"name", "features[2].weight", "score.pdo"}},
		{"positive without target", func(m *Model) { m.Positive = "1" }, []string{"positive"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := testModel()
			tt.edit(m)
			err := m.Validate()
			if !errors.Is(err, ErrInvalidModel) {
				t.Fatalf("Validate = %v, want ErrInvalidModel", err)
			}
			for _, p := range tt.paths {
				if !strings.Contains(err.Error(), p+": ") {
					t.Errorf("error %q does not name %s", err, p)
				}
			}
			if _, err := Encode(m); err == nil {
				t.Error("Encode accepted an invalid model")
			}
			if _, err := m.Digest(); err == nil {
				t.Error("Digest accepted an invalid model")
			}
		})
	}
}

func TestParams(t *testing.T) {
	m := testModel()
	p := m.Params()
	if len(p) != 4 || p[0] != -1 || p[1] != 0.5 || p[2] != -1 || p[3] != 1 {
		t.Fatalf("Params = %v", p)
	}
	if err := m.SetParams([]float64{1, 2, 3, 4}); err != nil || m.Intercept != 1 || m.Features[2].Weight != 4 {
		t.Fatalf("SetParams: %v, %+v", err, m)
	}
	if err := m.SetParams([]float64{1}); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("SetParams with too few = %v", err)
	}
	if err := m.SetParams([]float64{1, math.NaN(), 0, 0}); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("SetParams with NaN = %v", err)
	}
}

func TestScoreScale(t *testing.T) {
	s := DefaultScoreScale()
	tests := []struct {
		name  string
		event string
		p     float64 // event probability
		want  float64
	}{
		{"base odds adverse", EventAdverse, 1.0 / 51, 600},
		{"double the odds", EventAdverse, 1.0 / 101, 620},
		{"half the odds", EventAdverse, 1.0 / 26, 580},
		{"clamped low", EventAdverse, 0.999999, 300},
		{"clamped high", EventAdverse, 1e-12, 850},
		{"favourable base", EventFavourable, 50.0 / 51, 600},
		{"favourable worse", EventFavourable, 25.0 / 26, 580},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.Event = tt.event
			logit := math.Log(tt.p / (1 - tt.p))
			if got := s.Points(logit); got != tt.want {
				t.Errorf("Points(logit(%v)) = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
}
