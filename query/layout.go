package query

import (
	"math"
	"strconv"
)

// countColumn is the result column holding cell counts.
const countColumn = "count"

// A Layout places a spec's aggregates in the vector. It is meaningful only
// for a valid spec.
type Layout struct {
	// Dims holds the number of cells of each group_by, in order.
	Dims []int
	// Cells is the product of Dims: the number of group-by combinations.
	Cells int
	// Blocks lists the parts of the vector in order, starting with the
	// count block at offset 0.
	Blocks []Block
	// VectorLen is the total number of slots.
	VectorLen int
}

// A Block is one contiguous part of the vector.
type Block struct {
	Kind   string // count, sum, mean or histogram
	Metric int    // index in Spec.Metrics; -1 for the count block
	Offset int    // first slot
	Bins   int    // histogram bins per cell; 1 otherwise
	Len    int    // Cells x Bins slots
}

// Layout returns where each aggregate lives in the vector: the count
// block, then one block per sum or mean metric, then one block per
// histogram metric, each in spec order. Within a block, slot
// Offset + cell*Bins + bin holds the value for that cell and bin. Sizes
// saturate instead of overflowing, so an oversized spec shows as huge.
func (s *Spec) Layout() Layout {
	l := Layout{Cells: 1}
	for _, g := range s.GroupBy {
		d := groupCells(g)
		l.Dims = append(l.Dims, d)
		l.Cells = satMul(l.Cells, d)
	}
	add := func(kind string, metric, bins int) {
		n := satMul(l.Cells, bins)
		l.Blocks = append(l.Blocks, Block{Kind: kind, Metric: metric, Offset: l.VectorLen, Bins: bins, Len: n})
		l.VectorLen = satAdd(l.VectorLen, n)
	}
	add(KindCount, -1, 1)
	for i, m := range s.Metrics {
		if m.Kind == KindSum || m.Kind == KindMean {
			add(m.Kind, i, 1)
		}
	}
	for i, m := range s.Metrics {
		if m.Kind == KindHistogram {
			add(m.Kind, i, max(len(m.Bins)-1, 0))
		}
	}
	if s.Train != nil {
		if m, err := s.Train.model(); err == nil {
			add(KindTrain, -2, trainWidth(m.params()))
		}
	}
	return l
}

func groupCells(g GroupBy) int {
	if g.Bins != nil {
		return max(len(g.Bins)-1, 0)
	}
	return len(g.Values)
}

func satMul(a, b int) int {
	if a == 0 || b == 0 {
		return 0
	}
	if a > math.MaxInt/b {
		return math.MaxInt
	}
	return a * b
}

func satAdd(a, b int) int {
	if a > math.MaxInt-b {
		return math.MaxInt
	}
	return a + b
}

// binLabels names numeric bins "[e0,e1)", ..., with the last one closed.
func binLabels(edges []float64) []string {
	labels := make([]string, 0, max(len(edges)-1, 0))
	for i := 0; i+1 < len(edges); i++ {
		closing := ")"
		if i+2 == len(edges) {
			closing = "]"
		}
		labels = append(labels, "["+formatNumber(edges[i])+","+formatNumber(edges[i+1])+closing)
	}
	return labels
}

// groupLabels names the cells of one group_by.
func groupLabels(g GroupBy) []string {
	if g.Bins != nil {
		return binLabels(g.Bins)
	}
	return g.Values
}

// metricName is the result column of a sum, mean or histogram metric; a
// histogram's columns add "_<label>" per bin.
func metricName(m Metric) string {
	switch m.Kind {
	case KindSum:
		return "sum_" + m.Column
	case KindMean:
		return "mean_" + m.Column
	case KindHistogram:
		return "hist_" + m.Column
	}
	return m.Kind
}

// formatNumber writes a bin edge as partners' data files write numbers
// (as package dataset does): exactly, and without an exponent for whole numbers
// of moderate size, so that labels read like the data.
func formatNumber(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
