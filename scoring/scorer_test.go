package scoring

import (
	"cmp"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/fedscore/fedscore/dataset"
)

func TestScoreRows(t *testing.T) {
	nan := math.NaN()
	tab := testTable(t,
		[]float64{10, 14, nan, 8, 12, 10},
		[]float64{-1, 3, 6, nan, 5, 0},
		[]string{"a", "b", "a", "b", "z", ""})
	s, err := Compile(testModel(), tab)
	if err != nil {
		t.Fatal(err)
	}
	// logit = −1 + 0.5·(x−10)/2 − WOE(n) + c.
	tests := []struct {
		row     int
		logit   float64
		invalid string // the feature an invalid row names
	}{
		{0, -1 + 0 - 0.3 + 0.2, ""},
		{1, -1 + 1 - 0 - 0.1, ""},
		{2, 0, `column "x"`},
		{3, 0, `column "n"`},
		{4, -1 + 0.5 - 0 + 0, `column "c"`},
		{5, 0, `column "c"`},
	}
	sc, err := s.ScoreAll(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		r, err := s.Score(tt.row)
		if tt.invalid != "" {
			if !errors.Is(err, ErrInvalidValue) || !strings.Contains(err.Error(), tt.invalid) {
				t.Errorf("row %d: Score error %v, want ErrInvalidValue naming %s", tt.row, err, tt.invalid)
			}
			if !math.IsNaN(sc.Score[tt.row]) || !math.IsNaN(sc.Logit[tt.row]) || sc.Grade[tt.row] != "" {
				t.Errorf("row %d: ScoreAll gave %v/%v/%q for an invalid row", tt.row, sc.Logit[tt.row], sc.Score[tt.row], sc.Grade[tt.row])
			}
			continue
		}
		if err != nil {
			t.Fatalf("row %d: %v", tt.row, err)
		}
		if math.Abs(r.Logit-tt.logit) > 1e-12 {
			t.Errorf("row %d: logit %v, want %v", tt.row, r.Logit, tt.logit)
		}
		want := Result{Logit: sc.Logit[tt.row], Probability: sc.Probability[tt.row], Score: sc.Score[tt.row], Grade: sc.Grade[tt.row]}
		if r != want {
			t.Errorf("row %d: Score %+v, ScoreAll %+v", tt.row, r, want)
		}
		if p := 1 / (1 + math.Exp(-tt.logit)); math.Abs(r.Probability-p) > 1e-12 {
			t.Errorf("row %d: probability %v, want %v", tt.row, r.Probability, p)
		}
	}
	// Invalid rows are counted, by feature and reason, never dropped.
	if sc.Selected != 6 || sc.Scored != 2 || sc.Invalid != 4 || !slices.Equal(sc.FirstInvalid, []int{2, 3, 4, 5}) {
		t.Errorf("counts: selected %d scored %d invalid %d first %v", sc.Selected, sc.Scored, sc.Invalid, sc.FirstInvalid)
	}
	wantInv := []InvalidCount{
		{Column: "x", Encoding: Standardized, Missing: 1},
		{Column: "n", Encoding: WOEBins, Missing: 1},
		{Column: "c", Encoding: Categorical, Missing: 1, Unknown: 1},
	}
	if !slices.Equal(sc.InvalidByFeature, wantInv) {
		t.Errorf("InvalidByFeature = %+v, want %+v", sc.InvalidByFeature, wantInv)
	}
	if err := sc.Err(); !errors.Is(err, ErrInvalidValue) || !strings.Contains(err.Error(), "4 of 6 rows") {
		t.Errorf("Err() = %v", err)
	}

	// With a selection, unselected rows are neither scored nor counted.
	sel := []bool{true, false, true, false, false, false}
	sc, err = s.ScoreAll(sel)
	if err != nil {
		t.Fatal(err)
	}
	if sc.Selected != 2 || sc.Scored != 1 || sc.Invalid != 1 || !math.IsNaN(sc.Score[1]) || sc.InvalidByFeature[2].Total() != 0 {
		t.Errorf("selection: %+v", sc)
	}
	if _, err := s.ScoreAll([]bool{true}); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("short selection: %v", err)
	}
	if _, err := s.Score(6); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("row out of range: %v", err)
	}
}

func TestScoreMissingUnknownRange(t *testing.T) {
	nan := math.NaN()
	tab := testTable(t, []float64{nan, 30, -5}, []float64{nan, 1, 1}, []string{"", "z", "a"})
	m := testModel()
	zero, half, lo, hi := 0.0, 0.5, 0.0, 20.0
	m.Features[0].Missing = &zero
	m.Features[0].Min, m.Features[0].Max = &lo, &hi
	m.Features[1].Missing = &half
	m.Features[2].Missing = &half
	m.Features[2].Unknown = &zero
	sc, err := ScoreTable(m, tab, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Row 0: every input missing, each with a Missing encoding.
	if want := -1 + 0 - 0.5 + 0.5; sc.Logit[0] != want {
		t.Errorf("row 0 logit %v, want %v", sc.Logit[0], want)
	}
	// Rows 1 and 2: x = 30 and −5 are outside [0, 20].
	if sc.Invalid != 2 || sc.InvalidByFeature[0].OutOfRange != 2 || sc.InvalidByFeature[2].Unknown != 0 {
		t.Errorf("invalid %d, by feature %+v", sc.Invalid, sc.InvalidByFeature)
	}
}

func TestCompileErrors(t *testing.T) {
	b := dataset.NewBuilder()
	b.AddNumber("x", []float64{1, 2})
	b.AddCategory("n", []string{"p", "q"})
	b.AddNumber("c", []float64{1, 2})
	b.AddBool("flag", []bool{true, false}, nil)
	tab, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		edit     func(m *Model)
		contains string
		want     error
	}{
		{"missing column", func(m *Model) { m.Features[0].Column = "income" }, `features[0] (column "income", standardized): no such column`, dataset.ErrUnknownColumn},
		{"woe on a category column", func(m *Model) {}, `features[1] (column "n", woe_bins): column is category, woe_bins needs a number column`, ErrColumn},
		{"non-numeric category of a number column", func(m *Model) {
			m.Features[1].Column = "x"
		}, `features[2] (column "c", categorical): category "a" is not a number`, ErrColumn},
		{"bool category", func(m *Model) {
			m.Features[1].Column = "x"
			m.Features[2].Column = "flag"
		}, `category "a" is not true or false`, ErrColumn},
		{"standardized category", func(m *Model) {
			m.Features[0].Column = "n"
		}, `features[0] (column "n", standardized): column is category`, ErrColumn},
		{"invalid model", func(m *Model) { m.Features[0].Std = -1 }, "features[0].std", ErrInvalidModel},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := testModel()
			tt.edit(m)
			_, err := Compile(m, tab)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("Compile = %v; want %v containing %q", err, tt.want, tt.contains)
			}
		})
	}
	// Number and bool columns work as categories with matching keys.
	m := testModel()
	m.Features[1].Column = "x"
	m.Features[2].Column = "c"
	m.Features[2].Categories = map[string]float64{"1": 0.25, "2.0": -0.25}
	m.Features = append(m.Features, Feature{Column: "flag", Encoding: Categorical, Categories: map[string]float64{"true": 1, "false": 0}, Weight: 2},
		Feature{Column: "flag", Encoding: Standardized, Mean: 0.5, Std: 0.5, Weight: 1})
	sc, err := ScoreTable(m, tab, nil)
	if err != nil || sc.Invalid != 0 {
		t.Fatalf("ScoreTable: %v, %+v", err, sc)
	}
	want0 := -1 + 0.5*(1-10)/2.0 - 0.0 + 0.25 + 2 + 1
	if math.Abs(sc.Logit[0]-want0) > 1e-12 {
		t.Errorf("logit %v, want %v", sc.Logit[0], want0)
	}
	m.Features[2].Categories["2"] = 1
	if _, err := Compile(m, tab); !errors.Is(err, ErrColumn) || !strings.Contains(err.Error(), "same number") {
		t.Errorf("duplicate numeric categories: %v", err)
	}
}

func TestScoreIntoAllocates(t *testing.T) {
	n := 1000
	x, v := make([]float64, n), make([]float64, n)
	c := make([]string, n)
	for i := range n {
		x[i], v[i], c[i] = float64(i%20), float64(i%9-2), []string{"a", "b"}[i%2]
	}
	s, err := Compile(testModel(), testTable(t, x, v, c))
	if err != nil {
		t.Fatal(err)
	}
	var sc Scores
	if err := s.ScoreInto(&sc, nil); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(10, func() {
		if err := s.ScoreInto(&sc, nil); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("ScoreInto allocates %v times per call, want 0", allocs)
	}
}

func TestExplain(t *testing.T) {
	tab := testTable(t, []float64{14}, []float64{7}, []string{"b"})
	s, err := Compile(testModel(), tab)
	if err != nil {
		t.Fatal(err)
	}
	r, contrib, err := s.Explain(0)
	if err != nil {
		t.Fatal(err)
	}
	sum := s.Model().Intercept
	for _, c := range contrib {
		sum += c.Logit
	}
	if math.Abs(sum-r.Logit) > 1e-12 {
		t.Errorf("contributions sum to %v, logit %v", sum, r.Logit)
	}
	// For an adverse target, a positive logit contribution costs points;
	// the most costly comes first.
	if contrib[0].Column != "x" || contrib[0].Value != "14" || !(contrib[0].Points < 0) {
		t.Errorf("most costly contribution %+v, want x = 14 with negative points", contrib[0])
	}
	values := make(map[string]string)
	for _, c := range contrib {
		values[c.Column] = c.Value
	}
	if values["n"] != "7" || values["c"] != "b" {
		t.Errorf("contribution values %v", values)
	}
	if !slices.IsSortedFunc(contrib, func(a, b Contribution) int { return cmp.Compare(a.Points, b.Points) }) {
		t.Errorf("contributions not sorted: %+v", contrib)
	}
}

// TestScoreLargeTable checks the chunked, multi-goroutine path of
// ScoreInto against row-by-row scoring, with invalid rows spread over the
// table.
func TestScoreLargeTable(t *testing.T) {
	const n = 300_000
	b := dataset.NewBuilder()
	x, pay := make([]float64, n), make([]float64, n)
	codes := make([]int32, n)
	var wantInvalid []int
	for i := range n {
		x[i] = float64(i%97) - 40
		pay[i] = float64(i%11 - 2)
		codes[i] = int32(i % 2)
		switch {
		case i%50_000 == 7:
			x[i] = math.NaN()
			wantInvalid = append(wantInvalid, i)
		case i%70_001 == 3:
			codes[i] = 2 // "z": not in the model
			wantInvalid = append(wantInvalid, i)
		}
	}
	b.AddNumber("x", x)
	b.AddNumber("n", pay)
	b.AddCategoryCodes("c", []string{"a", "b", "z"}, codes)
	tab, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	s, err := Compile(testModel(), tab)
	if err != nil {
		t.Fatal(err)
	}
	sel := make([]bool, n)
	for i := range sel {
		sel[i] = i%5 != 4
	}
	for _, rows := range [][]bool{nil, sel} {
		sc, err := s.ScoreAll(rows)
		if err != nil {
			t.Fatal(err)
		}
		var want []int
		selected := 0
		for i := range n {
			if rows == nil || rows[i] {
				selected++
			}
		}
		for _, i := range wantInvalid {
			if rows == nil || rows[i] {
				want = append(want, i)
			}
		}
		if sc.Selected != selected || sc.Invalid != len(want) || sc.Scored != selected-len(want) ||
			!slices.Equal(sc.FirstInvalid, want[:min(len(want), 10)]) ||
			sc.InvalidByFeature[0].Missing+sc.InvalidByFeature[2].Unknown != len(want) {
			t.Errorf("selected %d scored %d invalid %d first %v by feature %+v; want %d selected, invalid %v",
				sc.Selected, sc.Scored, sc.Invalid, sc.FirstInvalid, sc.InvalidByFeature, selected, want)
		}
		for i := 0; i < n; i += 997 {
			r, err := s.Score(i)
			switch {
			case rows != nil && !rows[i]:
				if !math.IsNaN(sc.Score[i]) {
					t.Fatalf("unselected row %d scored", i)
				}
			case err != nil:
				if !math.IsNaN(sc.Score[i]) {
					t.Fatalf("row %d: Score error %v, ScoreAll %v", i, err, sc.Score[i])
				}
			case r.Logit != sc.Logit[i] || r.Score != sc.Score[i] || r.Grade != sc.Grade[i]:
				t.Fatalf("row %d: Score %+v, ScoreAll %v %v %q", i, r, sc.Logit[i], sc.Score[i], sc.Grade[i])
			}
		}
	}
}
