package scoring

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// Encoding names how a [Feature] turns a column value into a number.
type Encoding string

// The encodings.
const (
	// Standardized: x = (v − Mean) / Std.
	Standardized Encoding = "standardized"
	// WOEBins: x = WOE[k] for the bin k that v falls in.
	WOEBins Encoding = "woe_bins"
	// Categorical: x = Categories[v].
	Categorical Encoding = "categorical"
)

// Score orientations: whether the target event is bad or good news.
const (
	// EventAdverse means the target event is adverse (a default): the
	// score falls as the event probability rises.
	EventAdverse = "adverse"
	// EventFavourable means the target event is favourable (a response,
	// a conversion): the score rises with the event probability.
	EventFavourable = "favourable"
)

// Limits on a model's size, so that a hostile model file cannot exhaust a
// node's memory.
const (
	MaxFeatures   = 1000
	MaxBins       = 1000
	MaxCategories = 10000
	MaxGrades     = 26
)

// A Model is a logistic scorecard: the versioned, signed and reviewed
// artefact every partner node scores its customers with.
type Model struct {
	// Name and Version identify the model, as in "credit-propensity" and
	// "2025.1". Letters, digits, '.', '_', '-' and '+' only.
	Name    string `json:"name"`
	Version string `json:"version"`
	// Description says what the model predicts, for reviewers.
	Description string `json:"description,omitempty"`

	// Target is the label column, used only to fit, evaluate and audit
	// the model; scoring does not need it. Positive and Negative are the
	// target values meaning the event (y = 1) and its absence (y = 0);
	// empty means "1" and "0" for a number column and "true" and "false"
	// for a bool column. A category column needs both.
	Target   string `json:"target,omitempty"`
	Positive string `json:"positive,omitempty"`
	Negative string `json:"negative,omitempty"`

	// Features are the inputs, in order.
	Features []Feature `json:"features"`
	// Intercept is the logit of a row whose every encoded value is 0.
	Intercept float64 `json:"intercept"`

	// Score maps the logit to the points scale.
	Score ScoreScale `json:"score"`
	// Grades maps scores to risk grades, best grade first.
	Grades []GradeCut `json:"grades"`

	// ProtectedInputs lists the columns among Features that are protected
	// attributes by [DefaultProtectedAttributes]. It is computed when a
	// model is decoded, verified or fitted, and is not part of the file.
	ProtectedInputs []string `json:"-"`
}

// A Feature is one input of a [Model]. Only the fields of its Encoding are
// set. Its contribution to the logit is Weight·x, where x is the encoded
// value.
type Feature struct {
	// Column names the input column.
	Column string `json:"column"`
	// Encoding is "standardized", "woe_bins" or "categorical".
	Encoding Encoding `json:"encoding"`

	// Mean and Std standardise a "standardized" feature; Std > 0.
	Mean float64 `json:"mean,omitempty"`
	Std  float64 `json:"std,omitempty"`

	// Bins are the strictly ascending cut points of a "woe_bins" feature,
	// and WOE the encoded value of each of the len(Bins)+1 bins: bin 0
	// covers v ≤ Bins[0], bin k covers Bins[k−1] < v ≤ Bins[k], and the
	// last bin covers v > Bins[len(Bins)−1].
	Bins []float64 `json:"bins,omitempty"`
	WOE  []float64 `json:"woe,omitempty"`

	// Categories holds the encoded value of each category of a
	// "categorical" feature. For a number column the keys are the numbers
	// as written in CSV (such as "2"), for a bool column "true" and
	// "false".
	Categories map[string]float64 `json:"categories,omitempty"`

	// Weight multiplies the encoded value.
	Weight float64 `json:"weight"`

	// Missing is the encoded value used when the input is missing; nil
	// makes a row with a missing input invalid.
	Missing *float64 `json:"missing,omitempty"`
	// Unknown is the encoded value of a category that Categories does not
	// list; nil makes such a row invalid.
	Unknown *float64 `json:"unknown,omitempty"`
	// Min and Max, when set, bound the valid input values of a
	// "standardized" or "woe_bins" feature; a value outside makes the row
	// invalid.
	Min *float64 `json:"min,omitempty"`
	Max *float64 `json:"max,omitempty"`
}

// A ScoreScale maps a logit to points: score = Offset + Factor·ln(odds),
// where odds are the odds of the good outcome, Factor = PDO/ln 2 and
// Offset = BaseScore − Factor·ln(BaseOdds). The score is rounded to a
// whole number and clamped to [Min, Max].
type ScoreScale struct {
	// PDO is the number of points that doubles the odds.
	PDO float64 `json:"pdo"`
	// BaseScore is the score at odds BaseOdds.
	BaseScore float64 `json:"base_score"`
	BaseOdds  float64 `json:"base_odds"`
	Min       float64 `json:"min"`
	Max       float64 `json:"max"`
	// Event is "adverse" (the target event is a default, so the good
	// outcome is its absence) or "favourable" (the target event is the
	// good outcome).
	Event string `json:"event"`
}

// A GradeCut assigns Grade to scores of at least MinScore. Cuts are listed
// best grade first, with strictly decreasing MinScore; the last cut must
// cover the lowest score.
type GradeCut struct {
	Grade    string  `json:"grade"`
	MinScore float64 `json:"min_score"`
}

// DefaultScoreScale returns the industry scale: 600 points at good:bad
// odds of 50:1, 20 points to double the odds, clamped to [300, 850], for
// an adverse target.
func DefaultScoreScale() ScoreScale {
	return ScoreScale{PDO: 20, BaseScore: 600, BaseOdds: 50, Min: 300, Max: 850, Event: EventAdverse}
}

// DefaultGrades returns grades A–E for [DefaultScoreScale]. The cut-offs
// sit near event probabilities of 2 %, 5 %, 10 % and 20 %: A is 600 and
// above (odds 49:1), B 570 (19:1), C 550 (9:1), D 525 (4:1), E the rest.
func DefaultGrades() []GradeCut {
	return []GradeCut{
		{Grade: "A", MinScore: 600},
		{Grade: "B", MinScore: 570},
		{Grade: "C", MinScore: 550},
		{Grade: "D", MinScore: 525},
		{Grade: "E", MinScore: 300},
	}
}

// Clone returns a deep copy of m.
func (m *Model) Clone() *Model {
	c := *m
	c.Features = make([]Feature, len(m.Features))
	for i, f := range m.Features {
		c.Features[i] = f.clone()
	}
	c.Grades = slices.Clone(m.Grades)
	c.ProtectedInputs = slices.Clone(m.ProtectedInputs)
	return &c
}

func (f Feature) clone() Feature {
	f.Bins = slices.Clone(f.Bins)
	f.WOE = slices.Clone(f.WOE)
	if f.Categories != nil {
		c := make(map[string]float64, len(f.Categories))
		for k, v := range f.Categories {
			c[k] = v
		}
		f.Categories = c
	}
	f.Missing = clonePtr(f.Missing)
	f.Unknown = clonePtr(f.Unknown)
	f.Min = clonePtr(f.Min)
	f.Max = clonePtr(f.Max)
	return f
}

func clonePtr(p *float64) *float64 {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// Params returns the model's trainable parameters: the intercept, then
// each feature's weight. This is the order of [fit.Gradient]'s entries.
func (m *Model) Params() []float64 {
	p := make([]float64, len(m.Features)+1)
	p[0] = m.Intercept
	for i, f := range m.Features {
		p[i+1] = f.Weight
	}
	return p
}

// SetParams sets the intercept and the weights from p, in the order of
// [Model.Params].
func (m *Model) SetParams(p []float64) error {
	if len(p) != len(m.Features)+1 {
		return fmt.Errorf("scoring: %d parameters for a model with %d features: %w", len(p), len(m.Features), ErrInvalidArgument)
	}
	for i, v := range p {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("scoring: parameter %d is %v: %w", i, v, ErrInvalidArgument)
		}
	}
	m.Intercept = p[0]
	for i := range m.Features {
		m.Features[i].Weight = p[i+1]
	}
	return nil
}

// Validate checks that m is complete and consistent. The error joins one
// [FieldError] per problem, each naming its field.
func (m *Model) Validate() error {
	var v validator
	v.ident("name", m.Name, 128)
	v.ident("version", m.Version, 64)
	if len(m.Description) > 4096 {
		v.add("description", "longer than 4096 bytes")
	}
	if m.Target == "" && (m.Positive != "" || m.Negative != "") {
		v.add("positive", "set without a target")
	}
	if m.Positive != "" && m.Positive == m.Negative {
		v.add("negative", fmt.Sprintf("equals positive (%q)", m.Positive))
	}
	switch {
	case len(m.Features) == 0:
		v.add("features", "no features")
	case len(m.Features) > MaxFeatures:
		v.add("features", fmt.Sprintf("%d features, at most %d", len(m.Features), MaxFeatures))
	}
	type key struct {
		col string
		enc Encoding
	}
	seen := make(map[key]int)
	for i, f := range m.Features {
		p := "features[" + strconv.Itoa(i) + "]"
		v.feature(p, &f)
		k := key{f.Column, f.Encoding}
		if j, dup := seen[k]; dup && f.Column != "" {
			v.add(p, fmt.Sprintf("repeats features[%d] (column %q, encoding %q)", j, f.Column, f.Encoding))
		} else {
			seen[k] = i
		}
	}
	v.finite("intercept", m.Intercept)
	v.scale("score", m.Score)
	v.grades("grades", m.Grades, m.Score)
	return v.err()
}

type validator struct{ errs []error }

func (v *validator) add(path, problem string) { v.errs = append(v.errs, fieldErr(path, problem)) }

func (v *validator) err() error { return errors.Join(v.errs...) }

func (v *validator) finite(path string, x float64) bool {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		v.add(path, fmt.Sprintf("%v is not a finite number", x))
		return false
	}
	return true
}

func (v *validator) finitePtr(path string, x *float64) {
	if x != nil {
		v.finite(path, *x)
	}
}

func (v *validator) ident(path, s string, maxLen int) {
	switch {
	case s == "":
		v.add(path, "empty")
		return
	case len(s) > maxLen:
		v.add(path, fmt.Sprintf("longer than %d bytes", maxLen))
		return
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-' || r == '+') {
			v.add(path, fmt.Sprintf("%q has character %q; use letters, digits, '.', '_', '-' and '+'", s, r))
			return
		}
	}
}

func (v *validator) feature(p string, f *Feature) {
	if f.Column == "" {
		v.add(p+".column", "empty")
	} else if len(f.Column) > 256 {
		v.add(p+".column", "longer than 256 bytes")
	}
	v.finite(p+".weight", f.Weight)
	v.finitePtr(p+".missing", f.Missing)
	v.finitePtr(p+".unknown", f.Unknown)
	v.finitePtr(p+".min", f.Min)
	v.finitePtr(p+".max", f.Max)
	if f.Min != nil && f.Max != nil && *f.Min > *f.Max {
		v.add(p+".max", fmt.Sprintf("%v is below min %v", *f.Max, *f.Min))
	}
	absent := func(name string, set bool) {
		if set {
			v.add(p+"."+name, fmt.Sprintf("not used by encoding %q", f.Encoding))
		}
	}
	switch f.Encoding {
	case Standardized:
		v.finite(p+".mean", f.Mean)
		if v.finite(p+".std", f.Std) && !(f.Std > 0) {
			v.add(p+".std", fmt.Sprintf("%v is not positive", f.Std))
		}
		absent("bins", f.Bins != nil)
		absent("woe", f.WOE != nil)
		absent("categories", f.Categories != nil)
		absent("unknown", f.Unknown != nil)
	case WOEBins:
		switch {
		case len(f.Bins) == 0:
			v.add(p+".bins", "missing: a woe_bins feature needs at least one cut point")
		case len(f.Bins) > MaxBins:
			v.add(p+".bins", fmt.Sprintf("%d cut points, at most %d", len(f.Bins), MaxBins))
		}
		for j, b := range f.Bins {
			bp := p + ".bins[" + strconv.Itoa(j) + "]"
			if v.finite(bp, b) && j > 0 && !(b > f.Bins[j-1]) {
				v.add(bp, fmt.Sprintf("%v does not exceed the previous cut point %v", b, f.Bins[j-1]))
			}
		}
		if len(f.WOE) != len(f.Bins)+1 {
			v.add(p+".woe", fmt.Sprintf("%d values for %d cut points; want %d", len(f.WOE), len(f.Bins), len(f.Bins)+1))
		}
		for j, w := range f.WOE {
			v.finite(p+".woe["+strconv.Itoa(j)+"]", w)
		}
		absent("mean", f.Mean != 0)
		absent("std", f.Std != 0)
		absent("categories", f.Categories != nil)
		absent("unknown", f.Unknown != nil)
	case Categorical:
		switch {
		case len(f.Categories) == 0:
			v.add(p+".categories", "missing: a categorical feature needs at least one category")
		case len(f.Categories) > MaxCategories:
			v.add(p+".categories", fmt.Sprintf("%d categories, at most %d", len(f.Categories), MaxCategories))
		}
		for _, k := range sortedKeys(f.Categories) {
			cp := p + ".categories[" + strconv.Quote(k) + "]"
			if k == "" {
				v.add(cp, "empty category")
			}
			v.finite(cp, f.Categories[k])
		}
		absent("mean", f.Mean != 0)
		absent("std", f.Std != 0)
		absent("bins", f.Bins != nil)
		absent("woe", f.WOE != nil)
		absent("min", f.Min != nil)
		absent("max", f.Max != nil)
	case "":
		v.add(p+".encoding", "empty; want standardized, woe_bins or categorical")
	default:
		v.add(p+".encoding", fmt.Sprintf("%q is not standardized, woe_bins or categorical", string(f.Encoding)))
	}
}

func (v *validator) scale(p string, s ScoreScale) {
	if v.finite(p+".pdo", s.PDO) && !(s.PDO > 0) {
		v.add(p+".pdo", fmt.Sprintf("%v is not positive", s.PDO))
	}
	v.finite(p+".base_score", s.BaseScore)
	if v.finite(p+".base_odds", s.BaseOdds) && !(s.BaseOdds > 0) {
		v.add(p+".base_odds", fmt.Sprintf("%v is not positive", s.BaseOdds))
	}
	if v.finite(p+".min", s.Min) && v.finite(p+".max", s.Max) && !(s.Min < s.Max) {
		v.add(p+".max", fmt.Sprintf("%v does not exceed min %v", s.Max, s.Min))
	}
	if s.Event != EventAdverse && s.Event != EventFavourable {
		v.add(p+".event", fmt.Sprintf("%q is not %q or %q", s.Event, EventAdverse, EventFavourable))
	}
}

func (v *validator) grades(p string, g []GradeCut, s ScoreScale) {
	switch {
	case len(g) == 0:
		v.add(p, "no grades")
		return
	case len(g) > MaxGrades:
		v.add(p, fmt.Sprintf("%d grades, at most %d", len(g), MaxGrades))
	}
	seen := make(map[string]bool, len(g))
	for i, c := range g {
		gp := p + "[" + strconv.Itoa(i) + "]"
		switch {
		case c.Grade == "":
			v.add(gp+".grade", "empty")
		case len(c.Grade) > 16:
			v.add(gp+".grade", "longer than 16 bytes")
		case seen[c.Grade]:
			v.add(gp+".grade", fmt.Sprintf("%q repeats an earlier grade", c.Grade))
		}
		seen[c.Grade] = true
		if v.finite(gp+".min_score", c.MinScore) && i > 0 && !(c.MinScore < g[i-1].MinScore) {
			v.add(gp+".min_score", fmt.Sprintf("%v is not below the previous grade's %v; list grades best first", c.MinScore, g[i-1].MinScore))
		}
	}
	if last := g[len(g)-1]; last.MinScore > s.Min {
		v.add(p+"["+strconv.Itoa(len(g)-1)+"].min_score", fmt.Sprintf("%v leaves scores from %v without a grade", last.MinScore, s.Min))
	}
}

func sortedKeys(m map[string]float64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// scaleConsts are the precomputed constants of a ScoreScale.
type scaleConsts struct {
	offset, factor, sign, min, max float64
}

func (s ScoreScale) consts() scaleConsts {
	factor := s.PDO / math.Ln2
	c := scaleConsts{offset: s.BaseScore - factor*math.Log(s.BaseOdds), factor: factor, sign: 1, min: s.Min, max: s.Max}
	if s.Event == EventAdverse {
		c.sign = -1 // ln(odds good) = −logit
	}
	return c
}

// points maps a logit to the clamped, rounded score.
func (c *scaleConsts) points(logit float64) float64 {
	s := math.Round(c.offset + c.factor*c.sign*logit)
	if s < c.min {
		return c.min
	}
	if s > c.max {
		return c.max
	}
	return s
}

// Points maps a logit to the score on this scale.
func (s ScoreScale) Points(logit float64) float64 {
	c := s.consts()
	return c.points(logit)
}

// GradeOf returns the grade of score under m's grade cuts, or "" when the
// score is NaN or below every cut.
func (m *Model) GradeOf(score float64) string {
	for _, g := range m.Grades {
		if score >= g.MinScore {
			return g.Grade
		}
	}
	return ""
}

// Probability is the event probability of a logit: the logistic function,
// stable for large |x|.
func Probability(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}
