package aggregate

import (
	"context"
	"errors"
	"fmt"
	"github.com/fedscore/fedscore/query"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/fedscore/fedscore/dataset"
)

var regions = []string{"north", "east", "south", "southwest", "northwest", "northeast"}

// randomTable builds a table with some missing values in every column.
func randomTable(t testing.TB, rows int, seed uint64) *dataset.Table {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	age := make([]float64, rows)
	income := make([]float64, rows)
	score := make([]float64, rows)
	region := make([]string, rows)
	card := make([]bool, rows)
	cardMissing := make([]bool, rows)
	for i := range rows {
		age[i] = float64(10 + r.IntN(85))
		income[i] = math.Round(r.ExpFloat64()*30000*100) / 100
		if r.IntN(3) == 0 {
			income[i] = -income[i] / 10
		}
		score[i] = float64(300 + r.IntN(551))
		region[i] = regions[r.IntN(len(regions))]
		card[i] = r.IntN(2) == 0
		if r.IntN(50) == 0 {
			age[i] = math.NaN()
		}
		if r.IntN(40) == 0 {
			income[i] = math.NaN()
		}
		if r.IntN(60) == 0 {
			region[i] = ""
		}
		cardMissing[i] = r.IntN(30) == 0
	}
	b := dataset.NewBuilder()
	b.AddNumber("age", age)
	b.AddNumber("income", income)
	b.AddNumber("score", score)
	b.AddCategory("region", region)
	b.AddBool("has_card", card, cardMissing)
	tab, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

// referenceAggregate is a deliberately naive implementation of Aggregate:
// row by row, through generic accessors.
func referenceAggregate(s *query.Spec, t *dataset.Table, cohort []bool) ([]int64, Stats) {
	l := s.Layout()
	vec := make([]int64, l.VectorLen)
	st := Stats{Rows: t.Rows()}
	col := func(name string) *dataset.Column { c, _ := t.Column(name); return c }
	value := func(c *dataset.Column, i int) any {
		if c.IsMissing(i) {
			return nil
		}
		switch c.Kind {
		case dataset.KindNumber:
			return c.Numbers[i]
		case dataset.KindBool:
			return c.Bools[i]
		}
		return c.Dict[c.Codes[i]]
	}
	inBins := func(edges []float64, v float64) int {
		for k := 0; k+1 < len(edges); k++ {
			if v >= edges[k] && (v < edges[k+1] || (k+2 == len(edges) && v == edges[k+1])) {
				return k
			}
		}
		return -1
	}
	for i := range t.Rows() {
		if cohort != nil && !cohort[i] {
			continue
		}
		ok := true
		for _, f := range s.Filter {
			v := value(col(f.Column), i)
			if v == nil {
				ok = false
				break
			}
			x, _ := v.(float64)
			switch f.Op {
			case query.OpEq:
				ok = v == f.Value
			case query.OpNe:
				ok = v != f.Value
			case query.OpLt:
				ok = x < f.Value.(float64)
			case query.OpLe:
				ok = x <= f.Value.(float64)
			case query.OpGt:
				ok = x > f.Value.(float64)
			case query.OpGe:
				ok = x >= f.Value.(float64)
			case query.OpBetween:
				ok = x >= f.Values[0].(float64) && x <= f.Values[1].(float64)
			case query.OpIn, query.OpNotIn:
				found := false
				for _, w := range f.Values {
					found = found || v == w
				}
				ok = found == (f.Op == query.OpIn)
			}
			if !ok {
				break
			}
		}
		if !ok {
			continue
		}
		st.Selected++
		cell := 0
		for g, gb := range s.GroupBy {
			v := value(col(gb.Column), i)
			k := -1
			if v != nil && gb.Bins != nil {
				k = inBins(gb.Bins, v.(float64))
			} else if v != nil {
				for j, w := range gb.Values {
					if fmt.Sprint(v) == w {
						k = j
					}
				}
			}
			if k < 0 {
				cell = -1
				break
			}
			cell = cell*l.Dims[g] + k
		}
		if cell < 0 {
			st.OutOfCells++
			continue
		}
		vec[cell]++
		for _, b := range l.Blocks[1:] {
			m := s.Metrics[b.Metric]
			v := value(col(m.Column), i)
			if v == nil {
				st.MissingValues++
				continue
			}
			x := v.(float64)
			if m.Kind == query.KindHistogram {
				if k := inBins(m.Bins, x); k >= 0 {
					vec[b.Offset+cell*b.Bins+k]++
				} else {
					st.OutOfBins++
				}
				continue
			}
			x = math.Max(m.Clip[0], math.Min(m.Clip[1], x))
			vec[b.Offset+cell] += int64(math.Round(x * s.MetricScale(b.Metric)))
		}
	}
	return vec, st
}

func TestAggregateMatchesReference(t *testing.T) {
	tab := randomTable(t, 20000, 7)
	clip := func(lo, hi float64) *[2]float64 { return &[2]float64{lo, hi} }
	specs := map[string]*query.Spec{
		"count only": {Metrics: []query.Metric{{Kind: query.KindCount}}},
		"bins and values": {
			GroupBy: []query.GroupBy{
				{Column: "age", Bins: []float64{18, 25, 35, 45, 55, 65, 100}},
				{Column: "region", Values: []string{"east", "north", "west"}},
			},
			Metrics: []query.Metric{
				{Kind: query.KindSum, Column: "income", Clip: clip(-1000, 50000)},
				{Kind: query.KindMean, Column: "score", Clip: clip(300, 850)},
			},
		},
		"filters and histogram": {
			GroupBy: []query.GroupBy{{Column: "has_card", Values: []string{"true", "false"}}},
			Filter: []query.Predicate{
				{Column: "age", Op: query.OpGe, Value: 18.0},
				{Column: "region", Op: query.OpNotIn, Values: []any{"northwest"}},
				{Column: "score", Op: query.OpBetween, Values: []any{400.0, 800.0}},
			},
			Metrics: []query.Metric{
				{Kind: query.KindHistogram, Column: "score", Bins: []float64{300, 500, 600, 700, 760}},
				{Kind: query.KindSum, Column: "income", Clip: clip(0, 1e5)},
			},
			Decimals: new(0),
		},
		"decimals per metric": {
			GroupBy: []query.GroupBy{{Column: "region", Values: regions}},
			Metrics: []query.Metric{
				{Kind: query.KindSum, Column: "income", Clip: clip(-1000, 50000), Decimals: new(-2)},
				{Kind: query.KindMean, Column: "score", Clip: clip(300, 850), Decimals: new(5)},
				{Kind: query.KindSum, Column: "score", Clip: clip(300, 850)},
			},
			Decimals: new(1),
		},
		"numeric codes": {
			GroupBy: []query.GroupBy{{Column: "age", Values: []string{"30", "31", "64"}}, {Column: "has_card", Values: []string{"true"}}},
			Metrics: []query.Metric{{Kind: query.KindMean, Column: "score", Clip: clip(300, 850)}},
		},
		"every op": {
			GroupBy: []query.GroupBy{{Column: "region", Values: regions}},
			Filter: []query.Predicate{
				{Column: "age", Op: query.OpLt, Value: 80.0},
				{Column: "age", Op: query.OpGt, Value: 20.0},
				{Column: "age", Op: query.OpLe, Value: 70.0},
				{Column: "age", Op: query.OpNe, Value: 30.0},
				{Column: "score", Op: query.OpIn, Values: []any{500.0, 600.0, 700.0, 701.0, 702.0}},
				{Column: "has_card", Op: query.OpEq, Value: true},
				{Column: "region", Op: query.OpNe, Value: "east"},
			},
			Metrics:  []query.Metric{{Kind: query.KindMean, Column: "income", Clip: clip(-500, 500)}},
			Decimals: new(6),
		},
		"equality on category": {
			GroupBy: []query.GroupBy{{Column: "score", Bins: []float64{300, 850}}},
			Filter:  []query.Predicate{{Column: "region", Op: query.OpEq, Value: "south"}, {Column: "has_card", Op: query.OpIn, Values: []any{false}}},
			Metrics: []query.Metric{{Kind: query.KindCount}},
		},
	}
	for name, s := range specs {
		t.Run(name, func(t *testing.T) {
			s.Purpose, s.MinPartners = "test_purpose", 2
			if s.Decimals == nil {
				s.Decimals = new(2)
			}
			r := rand.New(rand.NewPCG(3, 4))
			for _, cohort := range [][]bool{nil, randomCohort(r, tab.Rows())} {
				got, gotStats, err := Aggregate(context.Background(), s, tab, cohort)
				if err != nil {
					t.Fatal(err)
				}
				want, wantStats := referenceAggregate(s, tab, cohort)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("vector differs from reference:\n got %v\nwant %v", got, want)
				}
				if gotStats != wantStats {
					t.Errorf("stats = %+v, want %+v", gotStats, wantStats)
				}
				if gotStats.Selected == 0 {
					t.Error("spec selects no rows; the test proves little")
				}
			}
		})
	}
}

func randomCohort(r *rand.Rand, n int) []bool {
	c := make([]bool, n)
	for i := range c {
		c[i] = r.IntN(4) != 0
	}
	return c
}

func TestAggregateRounding(t *testing.T) {
	b := dataset.NewBuilder()
	b.AddNumber("x", []float64{0.125, -0.125, 0.5, 2, math.NaN(), 1e9})
	tab, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	s := &query.Spec{Purpose: "test_purpose", MinPartners: 2, Decimals: new(2),
		Metrics: []query.Metric{{Kind: query.KindSum, Column: "x", Clip: &[2]float64{-1, 1}}}}
	vec, st, err := Aggregate(context.Background(), s, tab, nil)
	if err != nil {
		t.Fatal(err)
	}
	// 13 - 13 + 50 + 100 (clipped) + 0 (missing) + 100 (clipped)
	if want := []int64{6, 250}; !reflect.DeepEqual(vec, want) {
		t.Errorf("vector = %v, want %v", vec, want)
	}
	if st.MissingValues != 1 || st.Selected != 6 {
		t.Errorf("stats = %+v", st)
	}
}

func TestAggregateErrors(t *testing.T) {
	big := make([]float64, 3000)
	for i := range big {
		big[i] = 4e12
	}
	b := dataset.NewBuilder()
	b.AddNumber("x", big)
	b.AddCategory("c", make([]string, len(big)))
	tab, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	sum := func(col string, hi float64) *query.Spec {
		return &query.Spec{Purpose: "test_purpose", MinPartners: 2, Decimals: new(3),
			Metrics: []query.Metric{{Kind: query.KindSum, Column: col, Clip: &[2]float64{0, hi}}}}
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name   string
		ctx    context.Context
		spec   *query.Spec
		cohort []bool
		want   error
	}{
		{"overflow", context.Background(), sum("x", 4e12), nil, query.ErrOverflow},
		{"invalid spec", context.Background(), &query.Spec{}, nil, query.ErrInvalidSpec},
		{"unknown column", context.Background(), sum("y", 1), nil, query.ErrColumnMismatch},
		{"wrong kind", context.Background(), sum("c", 1), nil, query.ErrColumnMismatch},
		{"cohort length", context.Background(), sum("x", 1), make([]bool, 2), ErrCohortLength},
		{"cancelled", cancelled, sum("x", 1), nil, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Aggregate(tt.ctx, tt.spec, tab, tt.cohort)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestCheckColumns(t *testing.T) {
	tab := randomTable(t, 10, 1)
	tests := []struct {
		name  string
		spec  query.Spec
		field string
	}{
		{"unknown group", query.Spec{GroupBy: []query.GroupBy{{Column: "nope", Values: []string{"a"}}}}, "group_by[0].column"},
		{"bins on category", query.Spec{GroupBy: []query.GroupBy{{Column: "region", Bins: []float64{0, 1}}}}, "group_by[0].column"},
		{"words on number", query.Spec{GroupBy: []query.GroupBy{{Column: "age", Values: []string{"30", "young"}}}}, "group_by[0].values[1]"},
		{"one code twice", query.Spec{GroupBy: []query.GroupBy{{Column: "age", Values: []string{"30", "30.0"}}}}, "group_by[0].values[1]"},
		{"bool values", query.Spec{GroupBy: []query.GroupBy{{Column: "has_card", Values: []string{"yes"}}}}, "group_by[0].values[0]"},
		{"order on category", query.Spec{Filter: []query.Predicate{{Column: "region", Op: query.OpLt, Value: 1.0}}}, "filter[0].column"},
		{"string on number", query.Spec{Filter: []query.Predicate{{Column: "age", Op: query.OpEq, Value: "30"}}}, "filter[0].column"},
		{"number on bool", query.Spec{Filter: []query.Predicate{{Column: "has_card", Op: query.OpIn, Values: []any{1.0}}}}, "filter[0].column"},
		{"sum of category", query.Spec{Metrics: []query.Metric{{Kind: query.KindSum, Column: "region"}}}, "metrics[0].column"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.spec.CheckColumns(tab)
			var fe *query.FieldError
			if !errors.Is(err, query.ErrColumnMismatch) || !errors.Is(err, query.ErrInvalidSpec) || !errors.As(err, &fe) {
				t.Fatalf("got %v, want a FieldError wrapping ErrColumnMismatch", err)
			}
			if fe.Field != tt.field {
				t.Errorf("field = %s, want %s (%v)", fe.Field, tt.field, err)
			}
		})
	}
	absent := &query.Spec{
		GroupBy: []query.GroupBy{{Column: "city_tier", Bins: []float64{1, 2, 3}}},
		Metrics: []query.Metric{{Kind: query.KindSum, Column: "annual_txn_amount", Clip: &[2]float64{0, 1e6}}},
	}
	if err := absent.CheckColumns(tab); err == nil {
		t.Error("spec with columns absent from the table passed")
	}
}

func BenchmarkAggregate(b *testing.B) {
	tab := randomTable(b, 1_000_000, 42)
	s := &query.Spec{
		Purpose: "bench_purpose", MinPartners: 2, Decimals: new(2),
		GroupBy: []query.GroupBy{
			{Column: "age", Bins: []float64{18, 25, 35, 45, 55, 65, 100}},
			{Column: "region", Values: regions},
		},
		Metrics: []query.Metric{
			{Kind: query.KindCount},
			{Kind: query.KindSum, Column: "income", Clip: &[2]float64{-10000, 100000}},
			{Kind: query.KindSum, Column: "score", Clip: &[2]float64{300, 850}},
		},
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Aggregate(ctx, s, tab, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSegmentsMatchAggregate checks that Segments selects exactly the rows
// and cells Aggregate counts.
func TestSegmentsMatchAggregate(t *testing.T) {
	tab := randomTable(t, 2000, 7)
	spec := &query.Spec{
		Purpose: "marketing_analytics", MinPartners: 2, Metrics: []query.Metric{{Kind: query.KindCount}},
		GroupBy: []query.GroupBy{{Column: "age", Bins: []float64{18, 30, 45, 70}}},
		Filter:  []query.Predicate{{Column: "region", Op: query.OpNe, Value: "east"}},
	}
	cohort := make([]bool, tab.Rows())
	for i := range cohort {
		cohort[i] = i%3 != 0
	}
	vec, want, err := Aggregate(context.Background(), spec, tab, cohort)
	if err != nil {
		t.Fatal(err)
	}
	cells, got, err := Segments(context.Background(), spec, tab, cohort)
	if err != nil {
		t.Fatal(err)
	}
	counts := make([]int64, len(vec))
	for _, c := range cells {
		if c >= 0 {
			counts[c]++
		}
	}
	if !slices.Equal(counts, vec) || got != want {
		t.Errorf("segments %v %+v, aggregate %v %+v", counts, got, vec, want)
	}
}
