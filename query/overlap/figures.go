package overlap

import (
	"cmp"
	"math"
	"slices"

	"github.com/fedscore/fedscore/psi"
)

// Figure kinds.
const (
	KindIntersection = "intersection"
	KindSize         = "size"
	KindUnion        = "union"
)

// AllSegments is the Segment of a figure over the whole set.
const AllSegments = -1

// Figure is one released number.
type Figure struct {
	Kind string `json:"kind"`
	// Partners are the partners it is about: those sharing the counted
	// identifiers (intersection), the set's owner (size), or all (union).
	Partners []string `json:"partners"`
	// Segment is the grouping partner's segment, or AllSegments.
	Segment int   `json:"segment"`
	Value   int64 `json:"value"`
	// Withheld marks a figure under the minimum cell size, or one that
	// would reveal such a figure; its Value is zero.
	Withheld bool `json:"withheld,omitempty"`
	// Cells is how many released cells the figure sums: its noise variance
	// is Cells times the per-cell variance.
	Cells int `json:"cells"`
}

// Figures derives what the querier is shown from a released result: the
// intersection of all partners and, with three or more, of every pair;
// every partner's set size; the union; each per segment of the grouping
// partner where it is among them. Every figure below minCell is withheld,
// and so are the figures that would let one compute it: another segment
// of a family with exactly one withheld segment (the smallest released
// one), and the union when any whole-set figure is withheld.
func Figures(s *Spec, r *psi.Result, minCell int64) []Figure {
	names := s.Names()
	k := len(names)
	var masks []uint16
	masks = append(masks, uint16(1<<k)-1)
	if k >= 3 {
		for a := 0; a < k; a++ {
			for b := a + 1; b < k; b++ {
				masks = append(masks, psi.Mask(a, b))
			}
		}
	}
	var out []Figure
	family := func(fs []Figure) {
		for i := range fs {
			fs[i].Withheld = fs[i].Value < minCell
		}
		suppressComplement(fs)
		out = append(out, fs...)
	}
	for _, m := range masks {
		var fs []Figure
		fs = append(fs, Figure{Kind: KindIntersection, Partners: pick(names, m), Segment: AllSegments,
			Value: r.Intersection(m, -1), Cells: cellsUnder(r, m, -1)})
		if r.GroupBy >= 0 && m&(1<<r.GroupBy) != 0 {
			for seg := 0; seg < r.Segments; seg++ {
				fs = append(fs, Figure{Kind: KindIntersection, Partners: pick(names, m), Segment: seg,
					Value: r.Intersection(m, seg), Cells: cellsUnder(r, m, seg)})
			}
		}
		family(fs)
	}
	for p := 0; p < k; p++ {
		fs := []Figure{{Kind: KindSize, Partners: []string{names[p]}, Segment: AllSegments, Value: r.Size(p), Cells: listsOf(r, p)}}
		if p == r.GroupBy {
			for _, l := range r.Sizes {
				if l.Owner == p {
					fs = append(fs, Figure{Kind: KindSize, Partners: []string{names[p]}, Segment: int(l.Segment), Value: l.Elements, Cells: 1})
				}
			}
		}
		family(fs)
	}
	union := Figure{Kind: KindUnion, Partners: names, Segment: AllSegments, Value: r.Union(), Cells: len(r.Cells) + len(r.Sizes)}
	for _, f := range out {
		if f.Segment == AllSegments && f.Withheld {
			union.Withheld = true
		}
	}
	union.Withheld = union.Withheld || union.Value < minCell
	out = append(out, union)
	for i := range out {
		if out[i].Withheld {
			out[i].Value = 0
		}
	}
	return out
}

// suppressComplement withholds, in a family whose first figure is the
// whole set and the others its segments, the smallest released segment
// when exactly one segment is withheld and the whole set is not: the
// whole less the others would reveal it.
func suppressComplement(fs []Figure) {
	if len(fs) < 3 || fs[0].Withheld {
		return
	}
	segs := fs[1:]
	withheld := 0
	for _, f := range segs {
		if f.Withheld {
			withheld++
		}
	}
	if withheld != 1 {
		return
	}
	i := -1
	for j, f := range segs {
		if !f.Withheld && (i < 0 || f.Value < segs[i].Value) {
			i = j
		}
	}
	if i >= 0 {
		segs[i].Withheld = true
	}
}

// cellsUnder counts the cells an intersection sums.
func cellsUnder(r *psi.Result, mask uint16, segment int) int {
	n := 0
	for _, c := range r.Cells {
		if c.Parties&mask == mask && (segment < 0 || int(c.Segment) == segment) {
			n++
		}
	}
	return n
}

// listsOf counts the lists a set size sums.
func listsOf(r *psi.Result, party int) int {
	n := 0
	for _, l := range r.Sizes {
		if l.Owner == party {
			n++
		}
	}
	return n
}

func pick(names []string, mask uint16) []string {
	var out []string
	for i, n := range names {
		if mask&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// StdDev is the standard deviation of a figure's noise for a per-cell
// variance (psi's Result.Noise.Variance), assuming independent cells.
func (f Figure) StdDev(cellVariance float64) float64 {
	return math.Sqrt(float64(f.Cells) * cellVariance)
}

// Less orders figures for display: kind, partners, segment.
func Less(a, b Figure) int {
	return cmp.Or(cmp.Compare(a.Kind, b.Kind), slices.Compare(a.Partners, b.Partners), cmp.Compare(a.Segment, b.Segment))
}
