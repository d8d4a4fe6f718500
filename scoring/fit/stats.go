package fit

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"

	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/scoring"
)

// DefaultWOEBins is the number of quantile bins of a woe_bins feature
// whose FeatureSpec gives neither Bins nor Cuts.
const DefaultWOEBins = 10

// woeSmoothing is added to every event and non-event count when computing
// weights of evidence, so that a bin without events has a finite WOE.
const woeSmoothing = 0.5

// A FeatureSpec asks [Fit] for one feature.
type FeatureSpec struct {
	Column   string           `json:"column"`
	Encoding scoring.Encoding `json:"encoding"`
	// Bins is the number of quantile bins of a woe_bins feature (default
	// DefaultWOEBins); a column with at most Bins distinct values gets
	// one bin per value. Cuts gives the cut points instead, as a
	// federation must, so that every partner bins alike.
	Bins int       `json:"bins,omitempty"`
	Cuts []float64 `json:"cuts,omitempty"`
	// Missing learns an encoded value for missing inputs (the mean for a
	// standardized feature, the WOE of the rows with a missing value
	// otherwise) instead of leaving such rows out.
	Missing bool `json:"missing,omitempty"`
	// Unknown encodes categories unseen in training as 0, neutral
	// evidence, instead of making them invalid.
	Unknown bool `json:"unknown,omitempty"`
	// Min and Max bound the valid values of a standardized or woe_bins
	// feature; the model keeps them.
	Min *float64 `json:"min,omitempty"`
	Max *float64 `json:"max,omitempty"`
}

// An EventCounts holds the (weighted) numbers of rows with and without
// the target event.
type EventCounts struct {
	Events    float64 `json:"events"`
	NonEvents float64 `json:"non_events"`
}

func (c *EventCounts) add(y, w float64) {
	if y == 1 {
		c.Events += w
	} else {
		c.NonEvents += w
	}
}

// EncodingStats are the additive statistics that fix a model's encodings:
// counts, sums and sums of squares for standardized features and event
// counts per bin or category for WOE encodings. Stats of disjoint row sets
// add up ([EncodingStats.Add]), so partners can compute them locally and a
// federation can sum them under encryption.
type EncodingStats struct {
	// Rows counts the selected rows; Used those with a valid target and
	// valid feature values, the only rows counted below.
	Rows int `json:"rows"`
	Used int `json:"used"`
	// InvalidTarget counts rows whose target is missing or neither the
	// positive nor the negative value; InvalidWeight rows whose sample
	// weight is missing or negative.
	InvalidTarget int `json:"invalid_target"`
	InvalidWeight int `json:"invalid_weight,omitempty"`
	// Target holds the (weighted) event counts of the used rows.
	Target   EventCounts    `json:"target"`
	Features []FeatureStats `json:"features"`
}

// FeatureStats are the statistics of one feature.
type FeatureStats struct {
	Column   string           `json:"column"`
	Encoding scoring.Encoding `json:"encoding"`
	// Cuts are the bin cut points of a woe_bins feature.
	Cuts []float64 `json:"cuts,omitempty"`
	// Count, Sum and SumSq are the weighted count, sum and sum of squares
	// of the present values of a standardized feature.
	Count float64 `json:"count,omitempty"`
	Sum   float64 `json:"sum,omitempty"`
	SumSq float64 `json:"sum_sq,omitempty"`
	// Bins holds the event counts per bin of a woe_bins feature.
	Bins []EventCounts `json:"bins,omitempty"`
	// Categories holds the event counts per category of a categorical
	// feature.
	Categories map[string]EventCounts `json:"categories,omitempty"`
	// Missing holds the event counts of used rows whose value is missing.
	Missing EventCounts `json:"missing"`
	// Invalid counts the selected rows left out because of this feature.
	Invalid scoring.InvalidCount `json:"invalid"`
}

// specColumn is a FeatureSpec bound to its column.
type specColumn struct {
	spec   FeatureSpec
	col    *dataset.Column
	lo, hi float64
}

func bindSpecs(cfg *Config, t *dataset.Table) ([]*specColumn, error) {
	if len(cfg.Features) == 0 {
		return nil, fmt.Errorf("scoring: fit: no features: %w", scoring.ErrInvalidArgument)
	}
	if len(cfg.Features) > scoring.MaxFeatures {
		return nil, fmt.Errorf("scoring: fit: %d features, at most %d: %w", len(cfg.Features), scoring.MaxFeatures, scoring.ErrInvalidArgument)
	}
	out := make([]*specColumn, len(cfg.Features))
	for i, s := range cfg.Features {
		label := fmt.Sprintf("features[%d] (column %q, %s)", i, s.Column, s.Encoding)
		col, ok := t.Column(s.Column)
		if !ok {
			return nil, fmt.Errorf("scoring: fit: %s: no such column in the data: %w: %w", label, scoring.ErrColumn, dataset.ErrUnknownColumn)
		}
		bad := func(format string, args ...any) error {
			return fmt.Errorf("scoring: fit: %s: %s: %w", label, fmt.Sprintf(format, args...), scoring.ErrInvalidArgument)
		}
		switch s.Encoding {
		case scoring.Standardized:
			if col.Kind == dataset.KindCategory {
				return nil, fmt.Errorf("scoring: fit: %s: column is category, standardized needs a number or bool column: %w", label, scoring.ErrColumn)
			}
		case scoring.WOEBins:
			if col.Kind != dataset.KindNumber {
				return nil, fmt.Errorf("scoring: fit: %s: column is %s, woe_bins needs a number column: %w", label, col.Kind, scoring.ErrColumn)
			}
			if s.Bins < 0 || s.Bins > scoring.MaxBins+1 {
				return nil, bad("bins %d is outside [2, %d]", s.Bins, scoring.MaxBins+1)
			}
			if s.Bins == 1 {
				return nil, bad("bins 1: a woe_bins feature needs at least 2 bins")
			}
			for j, c := range s.Cuts {
				if math.IsNaN(c) || math.IsInf(c, 0) || j > 0 && !(c > s.Cuts[j-1]) {
					return nil, bad("cuts must be finite and strictly ascending, got %v", s.Cuts)
				}
			}
			if len(s.Cuts) > scoring.MaxBins {
				return nil, bad("%d cut points, at most %d", len(s.Cuts), scoring.MaxBins)
			}
		case scoring.Categorical:
			if s.Min != nil || s.Max != nil {
				return nil, bad("min and max do not apply to a categorical feature")
			}
		default:
			return nil, bad("encoding %q is not standardized, woe_bins or categorical", string(s.Encoding))
		}
		if s.Encoding != scoring.WOEBins && (s.Bins != 0 || s.Cuts != nil) {
			return nil, bad("bins and cuts apply only to woe_bins")
		}
		if s.Unknown && s.Encoding != scoring.Categorical {
			return nil, bad("unknown applies only to categorical")
		}
		sc := &specColumn{spec: s, col: col, lo: math.Inf(-1), hi: math.Inf(1)}
		if s.Min != nil {
			sc.lo = *s.Min
		}
		if s.Max != nil {
			sc.hi = *s.Max
		}
		if math.IsNaN(sc.lo) || math.IsNaN(sc.hi) || sc.lo > sc.hi {
			return nil, bad("min %v and max %v are not a range", sc.lo, sc.hi)
		}
		out[i] = sc
	}
	return out, nil
}

// check classifies row i: present reports a value, ok a present value or
// an allowed missing one. With inv, an invalid value is counted there.
func (c *specColumn) check(i int, inv *scoring.InvalidCount) (present, ok bool) {
	if c.col.IsMissing(i) {
		if c.spec.Missing {
			return false, true
		}
		if inv != nil {
			inv.Missing++
		}
		return false, false
	}
	if c.col.Kind == dataset.KindNumber {
		v := c.col.Numbers[i]
		if math.IsInf(v, 0) {
			if inv != nil {
				inv.NonFinite++
			}
			return false, false
		}
		if v < c.lo || v > c.hi {
			if inv != nil {
				inv.OutOfRange++
			}
			return false, false
		}
	}
	return true, true
}

// number returns row i's value of a number or bool column.
func (c *specColumn) number(i int) float64 {
	if c.col.Kind == dataset.KindBool {
		if c.col.Bools[i] {
			return 1
		}
		return 0
	}
	return c.col.Numbers[i]
}

// category returns row i's value as a category key.
func (c *specColumn) category(i int) string {
	switch c.col.Kind {
	case dataset.KindCategory:
		return c.col.Dict[c.col.Codes[i]]
	case dataset.KindBool:
		return strconv.FormatBool(c.col.Bools[i])
	}
	return dataset.FormatNumber(c.col.Numbers[i])
}

// sampleWeights binds the weight column; nil means unit weights.
func sampleWeights(name string, t *dataset.Table) ([]float64, error) {
	if name == "" {
		return nil, nil
	}
	col, ok := t.Column(name)
	if !ok {
		return nil, fmt.Errorf("scoring: fit: weight column %q: no such column in the data: %w: %w", name, scoring.ErrColumn, dataset.ErrUnknownColumn)
	}
	if col.Kind != dataset.KindNumber {
		return nil, fmt.Errorf("scoring: fit: weight column %q is %s, not number: %w", name, col.Kind, scoring.ErrColumn)
	}
	return col.Numbers, nil
}

// usableRows marks the selected rows with a valid target, weight and
// feature values, counting the others into st.
func usableRows(cfg *Config, t *dataset.Table, specs []*specColumn, tg *scoring.Labels, weights []float64, st *EncodingStats) (used []bool, y []float64) {
	n := t.Rows()
	used = make([]bool, n)
	y = make([]float64, n)
	for i := range n {
		if cfg.Rows != nil && !cfg.Rows[i] {
			continue
		}
		st.Rows++
		ok := true
		yi, valid := tg.At(i)
		if !valid {
			st.InvalidTarget++
			ok = false
		}
		if weights != nil {
			if w := weights[i]; !(w >= 0) || math.IsInf(w, 0) {
				st.InvalidWeight++
				ok = false
			}
		}
		for j, s := range specs {
			if _, valid := s.check(i, &st.Features[j].Invalid); !valid {
				ok = false
			}
		}
		if ok {
			used[i], y[i] = true, yi
			st.Used++
		}
	}
	return used, y
}

// ComputeStats computes the encoding statistics of the rows cfg.Rows
// selects (nil: all rows). A woe_bins feature without Cuts is binned at
// quantiles of these rows.
func ComputeStats(t *dataset.Table, cfg Config) (*EncodingStats, error) {
	if err := scoring.CheckSelection(cfg.Rows, t.Rows()); err != nil {
		return nil, err
	}
	specs, err := bindSpecs(&cfg, t)
	if err != nil {
		return nil, err
	}
	tg, err := scoring.BindLabels(cfg.Target, cfg.Positive, cfg.Negative, t)
	if err != nil {
		return nil, err
	}
	weights, err := sampleWeights(cfg.WeightColumn, t)
	if err != nil {
		return nil, err
	}
	st := &EncodingStats{Features: make([]FeatureStats, len(specs))}
	for j, s := range specs {
		st.Features[j] = FeatureStats{Column: s.spec.Column, Encoding: s.spec.Encoding,
			Invalid: scoring.InvalidCount{Column: s.spec.Column, Encoding: s.spec.Encoding}}
	}
	used, y := usableRows(&cfg, t, specs, tg, weights, st)
	w := func(i int) float64 {
		if weights == nil {
			return 1
		}
		return weights[i]
	}
	for i, ok := range used {
		if ok {
			st.Target.add(y[i], w(i))
		}
	}
	for j, s := range specs {
		fs := &st.Features[j]
		if s.spec.Encoding == scoring.WOEBins {
			cuts := slices.Clone(s.spec.Cuts)
			if cuts == nil {
				cuts, err = quantileCuts(s, used, cmpOr(s.spec.Bins, DefaultWOEBins))
				if err != nil {
					return nil, err
				}
			}
			fs.Cuts = cuts
			fs.Bins = make([]EventCounts, len(cuts)+1)
		}
		if s.spec.Encoding == scoring.Categorical {
			fs.Categories = make(map[string]EventCounts)
		}
		for i, ok := range used {
			if !ok {
				continue
			}
			wi := w(i)
			if present, _ := s.check(i, nil); !present {
				fs.Missing.add(y[i], wi)
				continue
			}
			switch s.spec.Encoding {
			case scoring.Standardized:
				v := s.number(i)
				fs.Count += wi
				fs.Sum += wi * v
				fs.SumSq += wi * v * v
			case scoring.WOEBins:
				fs.Bins[sort.SearchFloat64s(fs.Cuts, s.number(i))].add(y[i], wi)
			case scoring.Categorical:
				k := s.category(i)
				c := fs.Categories[k]
				c.add(y[i], wi)
				fs.Categories[k] = c
			}
		}
	}
	return st, nil
}

func cmpOr(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// quantileCuts returns cut points that split the present values of the
// used rows into about bins equally large bins; a column with at most
// bins distinct values gets one bin per value.
func quantileCuts(s *specColumn, used []bool, bins int) ([]float64, error) {
	var vals []float64
	for i, ok := range used {
		if ok {
			if present, _ := s.check(i, nil); present {
				vals = append(vals, s.col.Numbers[i])
			}
		}
	}
	slices.Sort(vals)
	distinct := slices.Compact(slices.Clone(vals))
	if len(distinct) < 2 {
		return nil, fmt.Errorf("scoring: fit: feature %q (woe_bins) has %d distinct values in the data; it needs at least 2: %w", s.spec.Column, len(distinct), ErrFit)
	}
	if len(distinct) <= bins {
		return distinct[:len(distinct)-1], nil
	}
	top := distinct[len(distinct)-1]
	var cuts []float64
	for k := 1; k < bins; k++ {
		c := vals[(k*len(vals)+bins-1)/bins-1]
		if c < top && (len(cuts) == 0 || c > cuts[len(cuts)-1]) {
			cuts = append(cuts, c)
		}
	}
	if len(cuts) == 0 {
		cuts = []float64{distinct[len(distinct)-2]}
	}
	return cuts, nil
}

// Add adds the statistics of other, computed on other rows under the same
// feature specs and cut points.
func (s *EncodingStats) Add(other *EncodingStats) error {
	if len(s.Features) != len(other.Features) {
		return fmt.Errorf("scoring: adding stats of %d features to stats of %d: %w", len(other.Features), len(s.Features), scoring.ErrInvalidArgument)
	}
	for j := range s.Features {
		a, b := &s.Features[j], &other.Features[j]
		if a.Column != b.Column || a.Encoding != b.Encoding {
			return fmt.Errorf("scoring: adding stats: feature %d is %q (%s) here and %q (%s) there: %w", j, a.Column, a.Encoding, b.Column, b.Encoding, scoring.ErrInvalidArgument)
		}
		if !slices.Equal(a.Cuts, b.Cuts) {
			return fmt.Errorf("scoring: adding stats: feature %q has cuts %v here and %v there; give the federation fixed cuts: %w", a.Column, a.Cuts, b.Cuts, scoring.ErrInvalidArgument)
		}
	}
	s.Rows += other.Rows
	s.Used += other.Used
	s.InvalidTarget += other.InvalidTarget
	s.InvalidWeight += other.InvalidWeight
	s.Target.Events += other.Target.Events
	s.Target.NonEvents += other.Target.NonEvents
	for j := range s.Features {
		a, b := &s.Features[j], &other.Features[j]
		a.Count += b.Count
		a.Sum += b.Sum
		a.SumSq += b.SumSq
		for k := range a.Bins {
			a.Bins[k].Events += b.Bins[k].Events
			a.Bins[k].NonEvents += b.Bins[k].NonEvents
		}
		if b.Categories != nil && a.Categories == nil {
			a.Categories = make(map[string]EventCounts)
		}
		for k, c := range b.Categories {
			ac := a.Categories[k]
			ac.Events += c.Events
			ac.NonEvents += c.NonEvents
			a.Categories[k] = ac
		}
		a.Missing.Events += b.Missing.Events
		a.Missing.NonEvents += b.Missing.NonEvents
		a.Invalid.Missing += b.Invalid.Missing
		a.Invalid.Unknown += b.Invalid.Unknown
		a.Invalid.OutOfRange += b.Invalid.OutOfRange
		a.Invalid.NonFinite += b.Invalid.NonFinite
	}
	return nil
}

// woe returns the weight of evidence ln(%non-events / %events) of each
// group, smoothed.
func woe(groups []EventCounts) []float64 {
	var e, ne float64
	for _, g := range groups {
		e += g.Events
		ne += g.NonEvents
	}
	k := float64(len(groups))
	out := make([]float64, len(groups))
	for i, g := range groups {
		out[i] = math.Log((g.NonEvents+woeSmoothing)/(ne+woeSmoothing*k)) - math.Log((g.Events+woeSmoothing)/(e+woeSmoothing*k))
	}
	return out
}

func (c EventCounts) total() float64 { return c.Events + c.NonEvents }

// InitModel builds the model that cfg describes, with encodings from st
// and zero weights; the intercept is the logit of the event rate.
func InitModel(cfg Config, st *EncodingStats) (*scoring.Model, error) {
	if len(st.Features) != len(cfg.Features) {
		return nil, fmt.Errorf("scoring: stats of %d features for %d feature specs: %w", len(st.Features), len(cfg.Features), scoring.ErrInvalidArgument)
	}
	if st.Target.Events <= 0 || st.Target.NonEvents <= 0 {
		return nil, fmt.Errorf("scoring: fit: %v events and %v non-events among %d usable rows; both classes are needed: %w",
			st.Target.Events, st.Target.NonEvents, st.Used, ErrFit)
	}
	m := &scoring.Model{
		Name: cfg.Name, Version: cfg.Version, Description: cfg.Description,
		Target: cfg.Target, Positive: cfg.Positive, Negative: cfg.Negative,
		Intercept: math.Log(st.Target.Events / st.Target.NonEvents),
		Score:     cfg.Scale, Grades: slices.Clone(cfg.Grades),
	}
	if m.Score == (scoring.ScoreScale{}) {
		m.Score = scoring.DefaultScoreScale()
	}
	if m.Grades == nil {
		m.Grades = scoring.DefaultGrades()
	}
	for j, s := range cfg.Features {
		fs := &st.Features[j]
		if fs.Column != s.Column || fs.Encoding != s.Encoding {
			return nil, fmt.Errorf("scoring: stats feature %d is %q (%s), spec is %q (%s): %w", j, fs.Column, fs.Encoding, s.Column, s.Encoding, scoring.ErrInvalidArgument)
		}
		f := scoring.Feature{Column: s.Column, Encoding: s.Encoding}
		if s.Min != nil {
			f.Min = new(*s.Min)
		}
		if s.Max != nil {
			f.Max = new(*s.Max)
		}
		var missing float64
		switch s.Encoding {
		case scoring.Standardized:
			if fs.Count <= 0 {
				return nil, fmt.Errorf("scoring: fit: feature %q has no values: %w", s.Column, ErrFit)
			}
			mean := fs.Sum / fs.Count
			variance := fs.SumSq/fs.Count - mean*mean
			std := math.Sqrt(max(variance, 0))
			if !(std > 1e-12*max(1, math.Abs(mean))) || math.IsInf(std, 0) {
				return nil, fmt.Errorf("scoring: fit: feature %q is constant (mean %v, std %v) on the usable rows: %w", s.Column, mean, std, ErrFit)
			}
			f.Mean, f.Std = mean, std
		case scoring.WOEBins:
			f.Bins = slices.Clone(fs.Cuts)
			groups := fs.Bins
			if s.Missing && fs.Missing.total() > 0 {
				groups = append(slices.Clone(groups), fs.Missing)
			}
			w := woe(groups)
			f.WOE = w[:len(fs.Bins)]
			if len(w) > len(fs.Bins) {
				missing = w[len(fs.Bins)]
			}
		case scoring.Categorical:
			keys := slices.Sorted(maps.Keys(fs.Categories))
			if len(keys) == 0 {
				return nil, fmt.Errorf("scoring: fit: feature %q has no values: %w", s.Column, ErrFit)
			}
			groups := make([]EventCounts, 0, len(keys)+1)
			for _, k := range keys {
				groups = append(groups, fs.Categories[k])
			}
			if s.Missing && fs.Missing.total() > 0 {
				groups = append(groups, fs.Missing)
			}
			w := woe(groups)
			f.Categories = make(map[string]float64, len(keys))
			for i, k := range keys {
				f.Categories[k] = w[i]
			}
			if len(w) > len(keys) {
				missing = w[len(keys)]
			}
			if s.Unknown {
				f.Unknown = new(float64)
			}
		}
		if s.Missing {
			f.Missing = &missing
		}
		m.Features = append(m.Features, f)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	m.ProtectedInputs = scoring.ProtectedInputs(m, nil)
	return m, nil
}
