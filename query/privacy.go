package query

import (
	"math"
	"slices"
	"strings"
)

// MaxEpsilon is the largest ε a query may ask for.
const MaxEpsilon = 10

// NoiseBlock is one block of the vector and the L1 sensitivity of each of
// its slots: how much one record can change a slot, given that a record
// falls in one cell and, per histogram, in one bin, and that sums are
// clipped.
type NoiseBlock struct {
	Offset, Len int
	Sensitivity int64
}

// NoiseBlocks lists the blocks of s's vector with their sensitivities, in
// fixed-point units for sums. The query's ε is split evenly across them
// (sequential composition: a record contributes to every block once).
func (s *Spec) NoiseBlocks() []NoiseBlock {
	l := s.Layout()
	var out []NoiseBlock
	for _, b := range l.Blocks {
		nb := NoiseBlock{Offset: b.Offset, Len: b.Len, Sensitivity: 1}
		if b.Kind == KindTrain {
			// One example moves the gradient by at most clip (L2), the
			// Hessian's upper triangle by at most clip²·P/4 in L1, and the
			// example count by 1; the block's L1 sensitivity bounds all.
			_, params, _ := s.TrainSlots()
			clip := s.Train.Clip * math.Pow(2, float64(s.Train.ScaleBits))
			l1 := clip*math.Sqrt(float64(params)) + clip*s.Train.Clip*float64(params)/4 + 1
			nb.Sensitivity = int64(math.Ceil(l1))
		}
		if b.Kind == KindSum || b.Kind == KindMean {
			nb.Sensitivity = int64(math.Ceil(clipBound(*s.Metrics[b.Metric].Clip) * s.MetricScale(b.Metric)))
			nb.Sensitivity = max(nb.Sensitivity, 1)
		}
		out = append(out, nb)
	}
	return out
}

// SegmentFamily names the segmentation a query uses, for privacy budgets:
// its group_by columns, sorted.
func (s *Spec) SegmentFamily() string {
	cols := make([]string, len(s.GroupBy))
	for i, g := range s.GroupBy {
		cols[i] = g.Column
	}
	slices.Sort(cols)
	return strings.Join(cols, ",")
}

func (s *Spec) validateEpsilon(p *problems) {
	if s.Epsilon < 0 || s.Epsilon > MaxEpsilon || math.IsNaN(s.Epsilon) {
		p.add("epsilon", "%v must be in (0, %d], or absent for no noise", s.Epsilon, MaxEpsilon)
	}
}
