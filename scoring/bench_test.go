package scoring

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/fedscore/fedscore/dataset"
)

// benchModel has ten features over benchTable: seven standardized, one
// WOE-binned with ten bins and two categorical.
func benchModel() *Model {
	m := &Model{Name: "bench", Version: "1", Intercept: -1.2, Score: DefaultScoreScale(), Grades: DefaultGrades()}
	for k := range 7 {
		m.Features = append(m.Features, Feature{Column: fmt.Sprintf("x%d", k), Encoding: Standardized, Mean: 50, Std: 20, Weight: 0.1 * float64(k-3)})
	}
	cuts := []float64{-3, -2, -1, 0, 1, 2, 3, 4, 5}
	woe := []float64{1, 0.8, 0.6, 0.3, 0, -0.3, -0.6, -0.9, -1.2, -1.5}
	m.Features = append(m.Features, Feature{Column: "pay", Encoding: WOEBins, Bins: cuts, WOE: woe, Weight: -0.9})
	for k := range 2 {
		m.Features = append(m.Features, Feature{Column: fmt.Sprintf("c%d", k), Encoding: Categorical,
			Categories: map[string]float64{"a": 0.4, "b": 0.1, "c": 0, "d": -0.2, "e": -0.5}, Weight: 1})
	}
	return m
}

func benchTable(b testing.TB, n int) *dataset.Table {
	r := rand.New(rand.NewPCG(7, 11))
	bld := dataset.NewBuilder()
	for k := range 7 {
		v := make([]float64, n)
		for i := range v {
			v[i] = r.NormFloat64()*20 + 50
		}
		bld.AddNumber(fmt.Sprintf("x%d", k), v)
	}
	pay := make([]float64, n)
	for i := range pay {
		pay[i] = float64(r.IntN(11) - 2)
	}
	bld.AddNumber("pay", pay)
	dict := []string{"a", "b", "c", "d", "e"}
	for k := range 2 {
		codes := make([]int32, n)
		for i := range codes {
			codes[i] = int32(r.IntN(len(dict)))
		}
		bld.AddCategoryCodes(fmt.Sprintf("c%d", k), append([]string(nil), dict...), codes)
	}
	t, err := bld.Build()
	if err != nil {
		b.Fatal(err)
	}
	return t
}

// BenchmarkScoreTable scores one million rows with a ten-feature model.
func BenchmarkScoreTable(b *testing.B) {
	const n = 1_000_000
	tab := benchTable(b, n)
	s, err := Compile(benchModel(), tab)
	if err != nil {
		b.Fatal(err)
	}
	var sc Scores
	b.ReportAllocs()
	for b.Loop() {
		if err := s.ScoreInto(&sc, nil); err != nil {
			b.Fatal(err)
		}
	}
	if sc.Scored != n {
		b.Fatalf("scored %d of %d", sc.Scored, n)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/row")
}

// BenchmarkScoreTableFresh includes compiling and allocating the outputs.
func BenchmarkScoreTableFresh(b *testing.B) {
	const n = 1_000_000
	tab := benchTable(b, n)
	m := benchModel()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ScoreTable(m, tab, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/row")
}
