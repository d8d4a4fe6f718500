package release

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/fedscore/fedscore/query"
)

func spec2D(hist bool) *query.Spec {
	s := &query.Spec{
		Purpose: "marketing_analytics",
		GroupBy: []query.GroupBy{
			{Column: "age", Bins: []float64{18, 30, 50, 100}},
			{Column: "region", Values: []string{"east", "south"}},
		},
		Metrics:     []query.Metric{{Kind: query.KindCount}, {Kind: query.KindSum, Column: "amount", Clip: &[2]float64{0, 10}}},
		MinPartners: 3,
		Decimals:    new(2),
	}
	if hist {
		s.Metrics = append(s.Metrics, query.Metric{Kind: query.KindHistogram, Column: "score", Bins: []float64{0, 1, 2, 3}})
	}
	return s
}

func TestComputeCells(t *testing.T) {
	l := spec2D(false).Layout() // 3 x 2 cells: count block [0,6), sum block [6,12)
	tests := []struct {
		name       string
		counts     []int64
		suppressed []int // cells
		primary    int
	}{
		{"all large", []int64{100, 90, 80, 70, 60, 50}, nil, 0},
		// Cell 0 is small: its row (cells 0,1) and its column (0,2,4) each
		// need a second suppression; cell 1 (row) and cell 4 (column,
		// smallest of 2 and 4) are withheld, and then cell 5 protects cell 4's row.
		{"one small", []int64{5, 90, 80, 70, 60, 50}, []int{0, 1, 4, 5}, 1},
		{"two small in one column", []int64{5, 90, 6, 70, 60, 50}, []int{0, 1, 2, 3}, 2},
		{"everything small", []int64{1, 2, 3, 4, 5, 6}, []int{0, 1, 2, 3, 4, 5}, 6},
		{"exactly the minimum is released", []int64{50, 50, 50, 50, 50, 50}, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Compute(l, tt.counts, 50)
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for c := range l.Cells {
				if !m.Released[c] {
					got = append(got, c)
				}
				if m.Released[c] != m.Released[6+c] {
					t.Errorf("cell %d: count released %v but sum released %v", c, m.Released[c], m.Released[6+c])
				}
			}
			if !slices.Equal(got, tt.suppressed) {
				t.Errorf("suppressed cells %v, want %v", got, tt.suppressed)
			}
			if m.Primary != tt.primary || m.SuppressedCells != len(tt.suppressed) {
				t.Errorf("primary %d suppressed %d, want %d and %d", m.Primary, m.SuppressedCells, tt.primary, len(tt.suppressed))
			}
		})
	}
}

// TestNoSuppressedCellIsDerivable checks the property complementary
// suppression exists for, on random tables: no line of the table has
// exactly one suppressed cell.
func TestNoSuppressedCellIsDerivable(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		s := spec2D(true)
		l := s.Layout()
		counts := make([]int64, len(CountSlots(l)))
		for i := range counts {
			counts[i] = rng.Int64N(120)
		}
		m, err := Compute(l, counts, 50)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range lines(l.Dims) {
			n := 0
			for _, c := range line {
				if !m.Released[c] {
					n++
				}
			}
			if n == 1 {
				t.Fatalf("line %v has exactly one suppressed cell: %v", line, m.Released[:l.Cells])
			}
		}
		hist := l.Blocks[len(l.Blocks)-1]
		for c := range l.Cells {
			n := 0
			for i := range hist.Bins {
				if !m.Released[hist.Offset+c*hist.Bins+i] {
					n++
				}
				if !m.Released[c] && m.Released[hist.Offset+c*hist.Bins+i] {
					t.Fatalf("bin %d of suppressed cell %d released", i, c)
				}
			}
			if n == 1 {
				t.Fatalf("cell %d has exactly one suppressed histogram bin", c)
			}
		}
	}
}

func TestLines(t *testing.T) {
	got := lines([]int{2, 3})
	want := [][]int{{0, 3}, {1, 4}, {2, 5}, {0, 1, 2}, {3, 4, 5}}
	if !slices.EqualFunc(got, want, slices.Equal[[]int]) {
		t.Errorf("lines(2x3) = %v, want %v", got, want)
	}
}

func TestBitmapRoundTrip(t *testing.T) {
	for _, n := range []int{1, 7, 8, 9, 100} {
		m := &Mask{Released: make([]bool, n)}
		for i := range n {
			m.Released[i] = i%3 == 0
		}
		got, err := FromBitmap(m.Bitmap(), n)
		if err != nil || !slices.Equal(got, m.Released) {
			t.Fatalf("n=%d: round trip %v, %v", n, got, err)
		}
	}
	if _, err := FromBitmap([]byte{0xff}, 3); err == nil {
		t.Error("bits beyond the slots accepted")
	}
	if _, err := FromBitmap([]byte{0}, 9); err == nil {
		t.Error("short bitmap accepted")
	}
}

func TestComputeRejectsWrongCounts(t *testing.T) {
	if _, err := Compute(spec2D(false).Layout(), []int64{1, 2}, 50); !errors.Is(err, ErrCounts) {
		t.Errorf("got %v", err)
	}
}

func TestApply(t *testing.T) {
	v := []int64{1, 2, 3}
	Apply(v, []bool{true, false, true})
	if !slices.Equal(v, []int64{1, 0, 3}) {
		t.Errorf("got %v", v)
	}
}
