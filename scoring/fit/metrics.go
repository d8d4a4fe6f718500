package fit

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/scoring"
)

type scored struct {
	s float64
	y bool
}

// sortedPairs returns the pairs with a non-NaN score, by ascending score,
// and the numbers of positive and negative labels among them.
func sortedPairs(labels []bool, scores []float64) (ps []scored, pos, neg float64) {
	if len(labels) != len(scores) {
		return nil, 0, 0
	}
	ps = make([]scored, 0, len(scores))
	for i, s := range scores {
		if math.IsNaN(s) {
			continue
		}
		ps = append(ps, scored{s, labels[i]})
		if labels[i] {
			pos++
		} else {
			neg++
		}
	}
	slices.SortFunc(ps, func(a, b scored) int { return cmp.Compare(a.s, b.s) })
	return ps, pos, neg
}

// AUC returns the area under the ROC curve of scores for labels: the
// probability that a random positive scores higher than a random negative
// (the Mann–Whitney U statistic over the product of the class sizes), a
// tie counting one half. Entries with a NaN score are left out. It
// returns NaN when the lengths differ or either class is empty.
func AUC(labels []bool, scores []float64) float64 {
	ps, pos, neg := sortedPairs(labels, scores)
	if pos == 0 || neg == 0 {
		return math.NaN()
	}
	var u, negBelow float64
	for i := 0; i < len(ps); {
		j := i
		var p, n float64
		for ; j < len(ps) && ps[j].s == ps[i].s; j++ {
			if ps[j].y {
				p++
			} else {
				n++
			}
		}
		u += p*negBelow + 0.5*p*n
		negBelow += n
		i = j
	}
	return u / (pos * neg)
}

// KS returns the Kolmogorov–Smirnov statistic of scores for labels: the
// largest gap between the score distributions of positives and negatives,
// with tied scores moved together. Entries with a NaN score are left out.
// It returns NaN when the lengths differ or either class is empty.
func KS(labels []bool, scores []float64) float64 {
	ps, pos, neg := sortedPairs(labels, scores)
	if pos == 0 || neg == 0 {
		return math.NaN()
	}
	var cp, cn, ks float64
	for i := 0; i < len(ps); {
		j := i
		for ; j < len(ps) && ps[j].s == ps[i].s; j++ {
			if ps[j].y {
				cp++
			} else {
				cn++
			}
		}
		ks = max(ks, math.Abs(cp/pos-cn/neg))
		i = j
	}
	return ks
}

// Evaluate scores t with m and returns the AUC over the rows with a valid
// target and score, and how many rows that was.
func Evaluate(m *scoring.Model, t *dataset.Table) (auc float64, rows int, err error) {
	sc, err := scoring.ScoreTable(m, t, nil)
	if err != nil {
		return 0, 0, err
	}
	tg, err := scoring.BindLabels(m.Target, m.Positive, m.Negative, t)
	if err != nil {
		return 0, 0, err
	}
	var labels []bool
	var scores []float64
	for i, p := range sc.Probability {
		y, ok := tg.At(i)
		if !ok || math.IsNaN(p) {
			continue
		}
		labels = append(labels, y == 1)
		scores = append(scores, p)
	}
	if len(labels) == 0 {
		return 0, 0, fmt.Errorf("scoring: evaluate: no row with a valid target and score: %w", scoring.ErrInvalidArgument)
	}
	return AUC(labels, scores), len(labels), nil
}
