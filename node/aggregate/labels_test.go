package aggregate

import (
	"testing"

	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/query"
)

// TestBinLabelsReadLikeData checks that the spec labels bins with numbers
// written as the partners' data files write them.
func TestBinLabelsReadLikeData(t *testing.T) {
	edges := []float64{-1e16, -2.5, 0, 1, 1e3, 123456789012, 1e15, 1.5e300}
	s := &query.Spec{Purpose: "label_check", MinPartners: 2, Decimals: new(2), GroupBy: []query.GroupBy{{Column: "x", Bins: edges}}, Metrics: []query.Metric{{Kind: query.KindCount}}}
	res, err := query.Decode(s, make([]int64, s.Layout().VectorLen))
	if err != nil {
		t.Fatal(err)
	}
	for i, row := range res.Rows {
		closing := ")"
		if i == len(res.Rows)-1 {
			closing = "]"
		}
		want := "[" + dataset.FormatNumber(edges[i]) + "," + dataset.FormatNumber(edges[i+1]) + closing
		if got := row.Values[0]; got != want {
			t.Errorf("bin %d: label %q, want %q", i, got, want)
		}
	}
}
