package query

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
)

// MinDecimals is the coarsest scale a metric may be summed at: each value
// rounded to millions.
const MinDecimals = -6

// DefaultCellRecords is how many records one partner may put in one cell
// at the decimals [Spec.Resolve] chooses.
const DefaultCellRecords = 1_000_000

// ErrInexact reports a sum that would not decode exactly: the partners'
// values, at the metric's decimals, could wrap around the plaintext
// modulus.
var ErrInexact = errors.New("sum would not decode exactly")

// A Capacity is what a federation can sum exactly. The querier builds it
// from the crypto parameters and the federation's members; a node from
// the parameters and the partners of a run.
type Capacity struct {
	// ExactLimit is the largest |sum| over all partners that decodes
	// exactly: (T-1)/2 for the plaintext modulus T.
	ExactLimit int64
	// Partners is how many partners may add their values.
	Partners int
	// CellRecords is how many records one partner may put in one cell at
	// the decimals Resolve chooses; zero means DefaultCellRecords.
	CellRecords int64
}

// perPartner is the largest |value| one partner may add to a slot for the
// sum of all partners to stay within ExactLimit.
func (c Capacity) perPartner() int64 { return c.ExactLimit / int64(max(c.Partners, 1)) }

func (c Capacity) cellRecords() int64 {
	if c.CellRecords > 0 {
		return c.CellRecords
	}
	return DefaultCellRecords
}

// MetricDecimals returns the decimals metric i is summed at: the metric's
// own, else the query's, else DefaultDecimals.
func (s *Spec) MetricDecimals(i int) int {
	if d := s.Metrics[i].Decimals; d != nil {
		return *d
	}
	if s.Decimals != nil {
		return *s.Decimals
	}
	return DefaultDecimals
}

// MetricScale returns 10^MetricDecimals(i), the factor metric i's clipped
// values are multiplied by before they are rounded and summed.
func (s *Spec) MetricScale(i int) float64 { return math.Pow10(s.MetricDecimals(i)) }

// clipBound is the largest |value| a clipped record contributes.
func clipBound(c [2]float64) float64 { return max(math.Abs(c[0]), math.Abs(c[1])) }

// normalizeVersion derives the version from the fields used. A version
// above the known ones is kept, for Validate to refuse.
func (s *Spec) normalizeVersion() {
	if s.Version < 0 || s.Version > Version2 {
		return
	}
	s.Version = 0
	for _, m := range s.Metrics {
		if m.Decimals != nil {
			s.Version = Version2
		}
	}
}

// Resolve returns the spec as the querier signs it, every sum and mean
// metric at decimals the federation of c can sum exactly: a metric's own
// decimals; for a sum without them, the query's decimals when it states
// them; otherwise, for every mean and the other sums, the most decimals
// (up to MaxDecimals) at which each of c.Partners partners can add
// c.CellRecords records of the metric's clip bound in one cell. So a mean
// of a 0/1 flag gets at least 4 decimals in a federation of up to 54
// partners, whatever the sums beside it need.
//
// A metric that cannot fit even one record per partner at its decimals is
// an error naming the metric and what would fit. Whether the records a
// node actually holds fit is checked by the node ([Spec.CheckExact]).
//
// The result is in its canonical form: version 1, every metric at the
// query's decimals, when all sums and means share them (a query that
// states decimals and sums only is signed exactly as before); version 2,
// every sum and mean with its own decimals, otherwise. s is not changed.
func (s *Spec) Resolve(c Capacity) (*Spec, error) {
	r := s.clone()
	per := c.perPartner()
	var p problems
	resolved := map[int]int{}
	for i, m := range r.Metrics {
		if (m.Kind != KindSum && m.Kind != KindMean) || m.Clip == nil {
			continue
		}
		bound := clipBound(*m.Clip)
		field := fmt.Sprintf("metrics[%d].decimals", i)
		var d int
		switch {
		case m.Decimals != nil:
			d = *m.Decimals
		case m.Kind == KindSum && s.Decimals != nil:
			d = *s.Decimals
		default:
			var ok bool
			if d, ok = autoDecimals(bound, per, c.cellRecords()); !ok {
				p.add(field, "%s: clip %v cannot be summed exactly even at %d decimals: %s", metricName(m), *m.Clip, MinDecimals, fitAdvice(bound, MinDecimals, c))
				continue
			}
		}
		if bound*math.Pow10(d) > float64(per) {
			p.add(field, "%s at %d decimals: one record may add %s, more than the %s each of %d partners may add in all: %s",
				metricName(m), d, formatNumber(bound*math.Pow10(d)), formatNumber(float64(per)), max(c.Partners, 1), fitAdvice(bound, d, c))
			continue
		}
		resolved[i] = d
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	values := slices.Compact(slices.Sorted(maps.Values(resolved)))
	switch {
	case len(values) == 0:
		// Nothing to scale: keep the form a version 1 querier signed.
		if r.Decimals == nil {
			r.Decimals = new(DefaultDecimals)
		}
	case len(values) == 1:
		r.Decimals = new(values[0])
		for i := range r.Metrics {
			r.Metrics[i].Decimals = nil
		}
	default:
		r.Decimals = nil
		for i, d := range resolved {
			r.Metrics[i].Decimals = new(d)
		}
	}
	r.normalizeVersion()
	return r, nil
}

// autoDecimals returns the most decimals, MaxDecimals down to MinDecimals,
// at which records values of |bound| sum to at most per, exactly.
func autoDecimals(bound float64, per, records int64) (int, bool) {
	for d := MaxDecimals; d >= MinDecimals; d-- {
		v := bound * math.Pow10(d)
		if v*float64(records) <= float64(per) && v <= maxExact {
			return d, true
		}
	}
	return 0, false
}

// fitAdvice says, from the spec and the capacity alone, what fits a metric
// of clip bound |bound| at d decimals: how many records per cell a
// partner has room for, what the decimals Resolve would choose give, and
// the clip bound that fits the default number of records at d decimals.
func fitAdvice(bound float64, d int, c Capacity) string {
	per, records := float64(c.perPartner()), c.cellRecords()
	room := func(d int) string {
		return strconv.FormatFloat(math.Floor(per/(bound*math.Pow10(d))), 'f', 0, 64)
	}
	msg := fmt.Sprintf("at clip bound ±%s and %d decimals each partner has room for %s records per cell", formatNumber(bound), d, room(d))
	if auto, ok := autoDecimals(bound, c.perPartner(), records); ok && auto < d {
		msg += fmt.Sprintf("; %d decimals (what is chosen when the metric states none) leave room for %s", auto, room(auto))
	}
	clip := per / float64(records) / math.Pow10(d)
	return msg + fmt.Sprintf("; or a clip range within ±%s keeps %d decimals for %d records per cell",
		strconv.FormatFloat(clip, 'g', 3, 64), d, records)
}

// CheckExact checks one partner's vector before it is encrypted: every
// slot must stay within what each of c.Partners partners may add for the
// sum of all to decode exactly. The error wraps ErrInexact and names the
// metric and what would fit, from the spec alone, so that it reveals
// nothing of the partner's values.
func (s *Spec) CheckExact(vec []int64, c Capacity) error {
	per := c.perPartner()
	for _, b := range s.Layout().Blocks {
		for i := b.Offset; i < b.Offset+b.Len && i < len(vec); i++ {
			if v := vec[i]; v > per || v < -per {
				return s.inexact(b, c)
			}
		}
	}
	return nil
}

func (s *Spec) inexact(b Block, c Capacity) error {
	limit := fmt.Sprintf("exceeds %s, the most each of %d partners may add", formatNumber(float64(c.perPartner())), max(c.Partners, 1))
	switch b.Kind {
	case KindSum, KindMean:
		m := s.Metrics[b.Metric]
		d := s.MetricDecimals(b.Metric)
		return fmt.Errorf("%w: metrics[%d] (%s) at %d decimals: a cell's sum %s; %s; set the metric's decimals lower, leave them out to have them chosen, or narrow its clip",
			ErrInexact, b.Metric, metricName(m), d, limit, fitAdvice(clipBound(*m.Clip), d, c))
	case KindTrain:
		return fmt.Errorf("%w: the training sums %s; lower train.scale_bits or train.clip", ErrInexact, limit)
	case KindHistogram:
		return fmt.Errorf("%w: metrics[%d] (%s): a bin count %s", ErrInexact, b.Metric, metricName(s.Metrics[b.Metric]), limit)
	}
	return fmt.Errorf("%w: a cell count %s", ErrInexact, limit)
}

// clone returns a copy of s whose metrics can be changed independently.
func (s *Spec) clone() *Spec {
	r := *s
	r.Metrics = slices.Clone(s.Metrics)
	if s.Decimals != nil {
		r.Decimals = new(*s.Decimals)
	}
	return &r
}
