package aggregate

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/query"
)

// ErrCohortLength reports a cohort mask not as long as the table.
var ErrCohortLength = errors.New("cohort length differs from the table")

// Stats describes one partner's aggregation. It stays on the partner.
type Stats struct {
	Rows          int // rows in the table
	Selected      int // rows in the cohort that pass the filter
	OutOfCells    int // selected rows whose group_by value is missing or outside every bin or value
	MissingValues int // (row, metric) pairs counted in a cell whose metric value is missing
	OutOfBins     int // (row, histogram) pairs whose value lies outside the histogram edges
}

// blockRows is how many rows are processed together: small enough that
// the per-block cell indexes stay in cache, large enough that loops are
// tight. Cancellation is checked once per block.
const blockRows = 4096

// Aggregate computes this partner's vector, laid out as [query.Spec.Layout],
// over the rows where cohort[i] is true (a nil cohort selects every row)
// and every filter predicate holds.
//
// A record whose group_by value is missing or falls outside the bins or
// values belongs to no cell; it is counted only in Stats.OutOfCells. For
// sum and mean metrics each value is clipped to [lo, hi], scaled by
// 10^decimals of its metric ([query.Spec.MetricDecimals]) and rounded half
// away from zero. A record whose metric value
// is missing still counts in its cell's count but adds 0 to that metric's
// sum (so a mean treats it as 0) and is reported in Stats.MissingValues;
// filter on the column to exclude such records instead. Histogram values
// outside the edges, or missing, are not counted in any bin.
//
// s must be valid under the default [query.Limits] and fit t (see
// [query.Spec.CheckColumns]). Sums that overflow int64 fail with
// [query.ErrOverflow].
func Aggregate(ctx context.Context, s *query.Spec, t *dataset.Table, cohort []bool) ([]int64, Stats, error) {
	st := Stats{Rows: t.Rows()}
	if err := s.Validate(query.Limits{}); err != nil {
		return nil, st, err
	}
	if err := s.CheckColumns(t); err != nil {
		return nil, st, err
	}
	if cohort != nil && len(cohort) != t.Rows() {
		return nil, st, fmt.Errorf("aggregate: %w: %d entries for %d rows", ErrCohortLength, len(cohort), t.Rows())
	}
	p := compile(s, t)
	vec := make([]int64, p.layout.VectorLen)
	cell := make([]int32, blockRows)
	for lo := 0; lo < t.Rows(); lo += blockRows {
		if err := ctx.Err(); err != nil {
			return nil, st, fmt.Errorf("aggregate: %w", err)
		}
		hi := min(lo+blockRows, t.Rows())
		if err := p.block(vec, cell[:hi-lo], lo, cohort, &st); err != nil {
			return nil, st, err
		}
	}
	return vec, st, nil
}

// A plan is a spec compiled against one table.
type plan struct {
	layout  query.Layout
	filters []filterPlan
	groups  []groupPlan
	sums    []sumPlan
	hists   []histPlan
}

type filterPlan struct {
	op      string
	nums    []float64 // number column
	x, y    float64   // operands of comparisons and between
	set     []float64 // operands of in and not_in on numbers
	codes   []int32   // category column
	codeOK  []bool    // per dictionary code: does it match
	bools   []bool    // bool column
	missing []bool
	boolOK  [2]bool // indexed by 0 = false, 1 = true
}

type groupPlan struct {
	stride   int32
	nums     []float64
	edges    []float64
	numCell  map[float64]int32 // numeric codes, for values on a number column
	codes    []int32
	codeCell []int32 // per dictionary code: its cell index, or -1
	bools    []bool
	missing  []bool
	boolCell [2]int32
}

type sumPlan struct {
	nums   []float64
	lo, hi float64
	scale  float64
	offset int
}

type histPlan struct {
	nums   []float64
	edges  []float64
	offset int
	bins   int32
}

func compile(s *query.Spec, t *dataset.Table) *plan {
	p := &plan{layout: s.Layout()}
	col := func(name string) *dataset.Column {
		c, _ := t.Column(name) // CheckColumns has vouched for it
		return c
	}
	for _, f := range s.Filter {
		p.filters = append(p.filters, compileFilter(f, col(f.Column)))
	}
	stride := int32(p.layout.Cells)
	for i, g := range s.GroupBy {
		c := col(g.Column)
		stride /= int32(p.layout.Dims[i])
		gp := groupPlan{stride: stride}
		switch {
		case g.Bins != nil:
			gp.nums, gp.edges = c.Numbers, g.Bins
		case c.Kind == dataset.KindNumber:
			gp.nums, gp.numCell = c.Numbers, map[float64]int32{}
			for j, v := range g.Values {
				x, _ := query.NumericCode(v) // CheckColumns has vouched for it
				gp.numCell[x] = int32(j)
			}
		case c.Kind == dataset.KindBool:
			gp.bools, gp.missing = c.Bools, c.Missing
			gp.boolCell = [2]int32{-1, -1}
			for j, v := range g.Values {
				gp.boolCell[boolIndex(v == "true")] = int32(j)
			}
		default:
			gp.codes = c.Codes
			gp.codeCell = make([]int32, len(c.Dict))
			for k := range gp.codeCell {
				gp.codeCell[k] = -1
			}
			for j, v := range g.Values {
				if k := c.Code(v); k >= 0 {
					gp.codeCell[k] = int32(j)
				}
			}
		}
		p.groups = append(p.groups, gp)
	}
	for _, b := range p.layout.Blocks {
		switch b.Kind {
		case query.KindSum, query.KindMean:
			m := s.Metrics[b.Metric]
			p.sums = append(p.sums, sumPlan{nums: col(m.Column).Numbers, lo: m.Clip[0], hi: m.Clip[1], scale: s.MetricScale(b.Metric), offset: b.Offset})
		case query.KindHistogram:
			m := s.Metrics[b.Metric]
			p.hists = append(p.hists, histPlan{nums: col(m.Column).Numbers, edges: m.Bins, offset: b.Offset, bins: int32(b.Bins)})
		}
	}
	return p
}

func compileFilter(f query.Predicate, c *dataset.Column) filterPlan {
	fp := filterPlan{op: f.Op}
	lits := f.Values
	if f.Value != nil {
		lits = []any{f.Value}
	}
	negate := f.Op == query.OpNe || f.Op == query.OpNotIn
	switch c.Kind {
	case dataset.KindNumber:
		fp.nums = c.Numbers
		switch f.Op {
		case query.OpIn, query.OpNotIn:
			for _, v := range lits {
				fp.set = append(fp.set, v.(float64))
			}
		case query.OpBetween:
			fp.x, fp.y = lits[0].(float64), lits[1].(float64)
		default:
			fp.x = lits[0].(float64)
		}
	case dataset.KindCategory:
		fp.codes = c.Codes
		fp.codeOK = make([]bool, len(c.Dict))
		for k := range fp.codeOK {
			fp.codeOK[k] = negate
		}
		for _, v := range lits {
			if k := c.Code(v.(string)); k >= 0 {
				fp.codeOK[k] = !negate
			}
		}
	case dataset.KindBool:
		fp.bools, fp.missing = c.Bools, c.Missing
		fp.boolOK = [2]bool{negate, negate}
		for _, v := range lits {
			fp.boolOK[boolIndex(v.(bool))] = !negate
		}
	}
	return fp
}

func boolIndex(b bool) int {
	if b {
		return 1
	}
	return 0
}

// block aggregates rows [lo, lo+len(cell)). cell[j] holds the cell of row
// lo+j, or -1 once the row is out.
func (p *plan) block(vec []int64, cell []int32, lo int, cohort []bool, st *Stats) error {
	if cohort == nil {
		for j := range cell {
			cell[j] = 0
		}
	} else {
		for j, in := range cohort[lo : lo+len(cell)] {
			cell[j] = int32(boolIndex(in)) - 1
		}
	}
	for i := range p.filters {
		p.filters[i].apply(cell, lo)
	}
	selected := countIn(cell)
	st.Selected += selected
	for i := range p.groups {
		p.groups[i].apply(cell, lo)
	}
	inCells := 0
	for _, c := range cell {
		if c >= 0 {
			vec[c]++
			inCells++
		}
	}
	st.OutOfCells += selected - inCells
	for i := range p.sums {
		if err := p.sums[i].apply(vec, cell, lo, st); err != nil {
			return err
		}
	}
	for i := range p.hists {
		p.hists[i].apply(vec, cell, lo, st)
	}
	return nil
}

func countIn(cell []int32) int {
	n := 0
	for _, c := range cell {
		if c >= 0 {
			n++
		}
	}
	return n
}

func (f *filterPlan) apply(cell []int32, lo int) {
	switch {
	case f.nums != nil:
		nums := f.nums[lo : lo+len(cell)]
		for j, v := range nums {
			if cell[j] >= 0 && !f.matchNumber(v) {
				cell[j] = -1
			}
		}
	case f.codes != nil:
		codes := f.codes[lo : lo+len(cell)]
		for j, k := range codes {
			if cell[j] >= 0 && (k < 0 || !f.codeOK[k]) {
				cell[j] = -1
			}
		}
	default:
		bools, missing := f.bools[lo:lo+len(cell)], f.missing[lo:lo+len(cell)]
		for j, b := range bools {
			if cell[j] >= 0 && (missing[j] || !f.boolOK[boolIndex(b)]) {
				cell[j] = -1
			}
		}
	}
}

// matchNumber evaluates the predicate on v; NaN, a missing value, never
// matches.
func (f *filterPlan) matchNumber(v float64) bool {
	if v != v {
		return false
	}
	switch f.op {
	case query.OpEq:
		return v == f.x
	case query.OpNe:
		return v != f.x
	case query.OpLt:
		return v < f.x
	case query.OpLe:
		return v <= f.x
	case query.OpGt:
		return v > f.x
	case query.OpGe:
		return v >= f.x
	case query.OpBetween:
		return v >= f.x && v <= f.y
	}
	in := false
	for _, x := range f.set {
		if v == x {
			in = true
			break
		}
	}
	return in == (f.op == query.OpIn)
}

func (g *groupPlan) apply(cell []int32, lo int) {
	switch {
	case g.numCell != nil:
		nums := g.nums[lo : lo+len(cell)]
		for j, v := range nums {
			if cell[j] < 0 {
				continue
			}
			if k, ok := g.numCell[v]; ok { // NaN, a missing value, is never a key
				cell[j] += k * g.stride
			} else {
				cell[j] = -1
			}
		}
	case g.nums != nil:
		nums := g.nums[lo : lo+len(cell)]
		for j, v := range nums {
			if cell[j] < 0 {
				continue
			}
			if b := binIndex(g.edges, v); b >= 0 {
				cell[j] += int32(b) * g.stride
			} else {
				cell[j] = -1
			}
		}
	case g.codes != nil:
		codes := g.codes[lo : lo+len(cell)]
		for j, k := range codes {
			if cell[j] < 0 {
				continue
			}
			if k >= 0 && g.codeCell[k] >= 0 {
				cell[j] += g.codeCell[k] * g.stride
			} else {
				cell[j] = -1
			}
		}
	default:
		bools, missing := g.bools[lo:lo+len(cell)], g.missing[lo:lo+len(cell)]
		for j, b := range bools {
			if cell[j] < 0 {
				continue
			}
			if c := g.boolCell[boolIndex(b)]; !missing[j] && c >= 0 {
				cell[j] += c * g.stride
			} else {
				cell[j] = -1
			}
		}
	}
}

func (s *sumPlan) apply(vec []int64, cell []int32, lo int, st *Stats) error {
	nums := s.nums[lo : lo+len(cell)]
	out := vec[s.offset:]
	for j, c := range cell {
		if c < 0 {
			continue
		}
		v := nums[j]
		if v != v {
			st.MissingValues++
			continue
		}
		x := int64(math.Round(min(max(v, s.lo), s.hi) * s.scale))
		sum := out[c] + x
		if (x > 0 && sum < out[c]) || (x < 0 && sum > out[c]) {
			return fmt.Errorf("aggregate: cell %d: %w", c, query.ErrOverflow)
		}
		out[c] = sum
	}
	return nil
}

func (h *histPlan) apply(vec []int64, cell []int32, lo int, st *Stats) {
	nums := h.nums[lo : lo+len(cell)]
	out := vec[h.offset:]
	for j, c := range cell {
		if c < 0 {
			continue
		}
		v := nums[j]
		if v != v {
			st.MissingValues++
			continue
		}
		b := binIndex(h.edges, v)
		if b < 0 {
			st.OutOfBins++
			continue
		}
		out[c*h.bins+int32(b)]++
	}
}

// binIndex returns the bin of v among strictly increasing edges, or -1
// when v is outside them or NaN. The last bin is closed.
func binIndex(edges []float64, v float64) int {
	n := len(edges)
	if !(v >= edges[0] && v <= edges[n-1]) {
		return -1
	}
	lo, hi := 0, n-1 // edges[lo] <= v, and v < edges[hi] or hi is last
	for hi-lo > 1 {
		mid := int(uint(lo+hi) >> 1)
		if v >= edges[mid] {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}
