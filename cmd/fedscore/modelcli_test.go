package main

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/internal/shareddata"
	"github.com/fedscore/fedscore/scoring"
	"github.com/fedscore/fedscore/scoring/fit"
)

// TestFitReportText: the report names the rows a fit left out, and why.
func TestFitReportText(t *testing.T) {
	nan := math.NaN()
	b := dataset.NewBuilder()
	b.AddNumber("x", []float64{1, 2, 3, 4, 5, 6, 7, 8, nan, 3, 5})
	b.AddNumber("y", []float64{0, 0, 1, 0, 1, 1, 0, 1, 1, nan, 2})
	b.AddCategory("c", []string{"a", "b", "a", "b", "a", "b", "a", "", "a", "b", "a"})
	tab, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	cfg := fit.Config{Name: "m", Version: "1", Target: "y", L2: 0.1,
		Features: []fit.FeatureSpec{{Column: "x", Encoding: scoring.Standardized}, {Column: "c", Encoding: scoring.Categorical}}}
	_, rep, err := fit.Fit(tab, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	if err := writeFitReport(&text, rep); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "invalid target: 2 rows") || !strings.Contains(text.String(), "x (standardized): 1 invalid (1 missing)") {
		t.Errorf("report text:\n%s", text.String())
	}
}

func TestParseFeatureSpecs(t *testing.T) {
	tests := []struct {
		in   string
		want []fit.FeatureSpec
		err  bool
	}{
		{"LIMIT_BAL, AGE:standardized", []fit.FeatureSpec{{Column: "LIMIT_BAL", Encoding: scoring.Standardized}, {Column: "AGE", Encoding: scoring.Standardized}}, false},
		{"PAY_0:woe_bins:-1/0/1/2", []fit.FeatureSpec{{Column: "PAY_0", Encoding: scoring.WOEBins, Cuts: []float64{-1, 0, 1, 2}}}, false},
		{"BILL:woe_bins:8:missing", []fit.FeatureSpec{{Column: "BILL", Encoding: scoring.WOEBins, Bins: 8, Missing: true}}, false},
		{"EDU:categorical:unknown:missing", []fit.FeatureSpec{{Column: "EDU", Encoding: scoring.Categorical, Unknown: true, Missing: true}}, false},
		{"X:onehot", nil, true},
		{"X:woe_bins:1/NaN", nil, true},
		{":standardized", nil, true},
		{" , ", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseFeatureSpecs(tt.in)
			if tt.err {
				if !errors.Is(err, scoring.ErrInvalidArgument) {
					t.Errorf("parseFeatureSpecs = %v, %v; want ErrInvalidArgument", got, err)
				}
				return
			}
			if err != nil || len(got) != len(tt.want) {
				t.Fatalf("parseFeatureSpecs = %+v, %v", got, err)
			}
			for i := range got {
				g, w := got[i], tt.want[i]
				if g.Column != w.Column || g.Encoding != w.Encoding || g.Bins != w.Bins || !slices.Equal(g.Cuts, w.Cuts) || g.Missing != w.Missing || g.Unknown != w.Unknown {
					t.Errorf("spec %d = %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

func TestFitFromCSVAndConfig(t *testing.T) {
	data := []byte(`{"name": "taiwan", "version": "2", "target": "default.payment.next.month",
		"features": [{"column": "PAY_0", "encoding": "woe_bins", "cuts": [-1, 0, 1]}, {"column": "LIMIT_BAL", "encoding": "standardized"}],
		"l2": 0.0001, "max_iter": 50, "scale": {"pdo": 20, "base_score": 600, "base_odds": 50, "min": 300, "max": 850, "event": "adverse"}}`)
	cfg, err := decodeFitConfig(data)
	if err != nil {
		t.Fatal(err)
	}
	tab, err := dataset.LoadCSVFile(shareddata.Path(t, "credit-card-default-taiwan.csv"), dataset.CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m, rep, err := fit.Fit(tab, *cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Used != 30000 || m.Version != "2" || len(m.Features) != 2 || rep.TrainAUC < 0.68 {
		t.Errorf("model %+v report %+v", m, rep)
	}
	var sum strings.Builder
	if err := writeModelSummary(&sum, m); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sum.String(), "PAY_0") || !strings.Contains(sum.String(), "sha256 ") {
		t.Errorf("summary:\n%s", sum.String())
	}
	for _, bad := range []string{
		`{"name": "m", "features": [], "l2": "high"}`,
		`{"name": "m", "max_iter": 1.5}`,
		`{"name": "m", "featrues": []}`,
	} {
		if _, err := decodeFitConfig([]byte(bad)); !errors.Is(err, scoring.ErrInvalidModel) {
			t.Errorf("decodeFitConfig(%s) = %v", bad, err)
		}
	}
}
