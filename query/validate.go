package query

import (
	"fmt"
	"math"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Metric kinds.
const (
	KindCount     = "count"
	KindSum       = "sum"
	KindMean      = "mean"
	KindHistogram = "histogram"
)

// Predicate operators.
const (
	OpEq      = "eq"
	OpNe      = "ne"
	OpLt      = "lt"
	OpLe      = "le"
	OpGt      = "gt"
	OpGe      = "ge"
	OpIn      = "in"
	OpNotIn   = "not_in"
	OpBetween = "between"
)

// Default limits.
const (
	DefaultMaxCells     = 8192
	DefaultMaxVectorLen = 65536
	MaxDecimals         = 6
)

// maxExact bounds |clip| x 10^decimals so that every scaled value is an
// exactly representable integer.
const maxExact = 1 << 53

// Limits bound the size of a query. Zero fields take the defaults.
type Limits struct {
	MaxCells     int // default DefaultMaxCells
	MaxVectorLen int // default DefaultMaxVectorLen
}

func (l Limits) withDefaults() Limits {
	if l.MaxCells <= 0 {
		l.MaxCells = DefaultMaxCells
	}
	if l.MaxVectorLen <= 0 {
		l.MaxVectorLen = DefaultMaxVectorLen
	}
	return l
}

// Validate reports every problem with s as a *ValidationError whose
// FieldErrors name the offending fields. It returns nil for a valid spec.
func (s *Spec) Validate(l Limits) error {
	l = l.withDefaults()
	var p problems
	if !validPurpose(s.Purpose) {
		p.add("purpose", "%q must match ^[a-z][a-z0-9_]{1,63}$", s.Purpose)
	}
	s.validateModel(&p)
	s.validateEpsilon(&p)
	s.validateTrain(&p)
	if s.PipiaID != "" && !validPipiaID(s.PipiaID) {
		p.add("pipia_id", "%q must match ^[A-Za-z0-9._-]{1,64}$", s.PipiaID)
	}
	if s.Destination != "" && !validCountry(s.Destination) {
		p.add("destination", "%q is not an ISO 3166-1 alpha-2 country code such as CN", s.Destination)
	}
	if s.Recipient != "" && !validRecipient(s.Recipient) {
		p.add("recipient", "%q must be %q or a processor's name: at most %d letters, digits, spaces and ._-&()/:@, starting with a letter or digit", s.Recipient, RecipientSelf, maxRecipient)
	}
	s.validateGroupBy(&p, l)
	for i, f := range s.Filter {
		validatePredicate(&p, fmt.Sprintf("filter[%d]", i), f)
	}
	s.validateMetrics(&p)
	if s.MinPartners < 2 {
		p.add("min_partners", "%d is below 2", s.MinPartners)
	}
	if s.Decimals != nil && (*s.Decimals < MinDecimals || *s.Decimals > MaxDecimals) {
		p.add("decimals", "%d is outside %d..%d", *s.Decimals, MinDecimals, MaxDecimals)
	}
	if s.Version < 0 || s.Version > Version2 {
		p.add("version", "%d is not a spec version this release understands (1 or 2)", s.Version)
	}
	if len(p) == 0 {
		s.validateSize(&p, l)
	}
	return p.err()
}

func validPurpose(s string) bool {
	if len(s) < 2 || len(s) > 64 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, c := range []byte(s) {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

func validPipiaID(s string) bool {
	if len(s) < 1 || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		if (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// validCountry accepts the form of an ISO 3166-1 alpha-2 code; the policy
// decides which countries a result may go to.
func validCountry(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}

// maxRecipient is the longest recipient name, in characters.
const maxRecipient = 128

// validRecipient accepts a processor's name, such as "acme-consumer-finance",
// "某某消费金融有限公司" or a SPIFFE ID.
func validRecipient(s string) bool {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxRecipient {
		return false
	}
	for i, r := range s {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
		case i > 0 && strings.ContainsRune(" ._-&()/:@", r):
		default:
			return false
		}
	}
	return !strings.HasSuffix(s, " ")
}

func (s *Spec) validateGroupBy(p *problems, l Limits) {
	seen := make(map[string]bool)
	for i, g := range s.GroupBy {
		field := fmt.Sprintf("group_by[%d]", i)
		switch {
		case g.Column == "":
			p.add(field+".column", "is required")
		case seen[g.Column]:
			p.add(field+".column", "duplicate group_by column %q", g.Column)
		}
		seen[g.Column] = true
		switch {
		case (g.Bins == nil) == (g.Values == nil):
			p.add(field, "exactly one of bins or values is required")
		case g.Bins != nil:
			validateBins(p, field+".bins", g.Bins)
		default:
			values := make(map[string]bool)
			for j, v := range g.Values {
				switch {
				case v == "":
					p.add(fmt.Sprintf("%s.values[%d]", field, j), "empty value")
				case values[v]:
					p.add(fmt.Sprintf("%s.values[%d]", field, j), "duplicate value %q", v)
				}
				values[v] = true
			}
		}
	}
	if cells := s.Layout().Cells; cells > l.MaxCells {
		p.add("group_by", "%d cells exceed the limit of %d", cells, l.MaxCells)
	}
}

func validateBins(p *problems, field string, bins []float64) {
	if len(bins) < 2 {
		p.add(field, "at least two edges are required")
		return
	}
	for j, e := range bins {
		if math.IsNaN(e) || math.IsInf(e, 0) {
			p.add(fmt.Sprintf("%s[%d]", field, j), "edge is not finite")
			return
		}
		if j > 0 && e <= bins[j-1] {
			p.add(fmt.Sprintf("%s[%d]", field, j), "edges must be strictly increasing (%v after %v)", e, bins[j-1])
			return
		}
	}
}

func validatePredicate(p *problems, field string, f Predicate) {
	if f.Column == "" {
		p.add(field+".column", "is required")
	}
	switch f.Op {
	case OpEq, OpNe, OpLt, OpLe, OpGt, OpGe:
		if f.Values != nil {
			p.add(field+".values", "not used by op %s", f.Op)
		}
		switch {
		case f.Value == nil:
			p.add(field+".value", "is required by op %s", f.Op)
		case f.Op == OpEq || f.Op == OpNe:
			validateLiteral(p, field+".value", f.Value)
		default:
			validateNumber(p, field+".value", f.Value)
		}
	case OpIn, OpNotIn:
		if f.Value != nil {
			p.add(field+".value", "not used by op %s; use values", f.Op)
		}
		if len(f.Values) == 0 {
			p.add(field+".values", "at least one value is required")
		}
		for j, v := range f.Values {
			vf := fmt.Sprintf("%s.values[%d]", field, j)
			validateLiteral(p, vf, v)
			if j > 0 && fmt.Sprintf("%T", v) != fmt.Sprintf("%T", f.Values[0]) {
				p.add(vf, "mixes %T with %T", v, f.Values[0])
			}
		}
	case OpBetween:
		if f.Value != nil {
			p.add(field+".value", "not used by op between; use values [lo, hi]")
		}
		if len(f.Values) != 2 {
			p.add(field+".values", "between needs exactly [lo, hi]")
			return
		}
		lo, okLo := validateNumber(p, field+".values[0]", f.Values[0])
		hi, okHi := validateNumber(p, field+".values[1]", f.Values[1])
		if okLo && okHi && lo > hi {
			p.add(field+".values", "lo %v exceeds hi %v", lo, hi)
		}
	case "":
		p.add(field+".op", "is required")
	default:
		p.add(field+".op", "unknown op %q", f.Op)
	}
}

// validateLiteral accepts a finite number, a string or a bool.
func validateLiteral(p *problems, field string, v any) {
	switch x := v.(type) {
	case string, bool:
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			p.add(field, "number is not finite")
		}
	default:
		p.add(field, "must be a number, string or bool, not %T", v)
	}
}

func validateNumber(p *problems, field string, v any) (float64, bool) {
	x, ok := v.(float64)
	switch {
	case !ok:
		p.add(field, "must be a number, not %T", v)
	case math.IsNaN(x) || math.IsInf(x, 0):
		p.add(field, "number is not finite")
		ok = false
	}
	return x, ok
}

func (s *Spec) validateMetrics(p *problems) {
	if len(s.Metrics) == 0 {
		p.add("metrics", "at least one metric is required")
	}
	names := map[string]string{countColumn: "the count"}
	for i, g := range s.GroupBy {
		if g.Column == countColumn {
			p.add(fmt.Sprintf("group_by[%d].column", i), "%q is reserved for the count", g.Column)
		}
		names[g.Column] = "group_by"
	}
	counts := 0
	for i, m := range s.Metrics {
		field := fmt.Sprintf("metrics[%d]", i)
		switch m.Kind {
		case KindCount:
			counts++
			if counts > 1 {
				p.add(field+".kind", "count is given twice")
			}
			if m.Column != "" {
				p.add(field+".column", "not used by count")
			}
			if m.Clip != nil {
				p.add(field+".clip", "not used by count")
			}
			if m.Bins != nil {
				p.add(field+".bins", "not used by count")
			}
			if m.Decimals != nil {
				p.add(field+".decimals", "not used by count")
			}
			continue
		case KindSum, KindMean:
			if m.Decimals != nil && (*m.Decimals < MinDecimals || *m.Decimals > MaxDecimals) {
				p.add(field+".decimals", "%d is outside %d..%d", *m.Decimals, MinDecimals, MaxDecimals)
			}
			if m.Clip == nil {
				p.add(field+".clip", "[lo, hi] is required by %s", m.Kind)
			} else {
				validateClip(p, field+".clip", *m.Clip, s.MetricDecimals(i))
			}
			if m.Bins != nil {
				p.add(field+".bins", "not used by %s", m.Kind)
			}
		case KindHistogram:
			validateBins(p, field+".bins", m.Bins)
			if m.Clip != nil {
				p.add(field+".clip", "not used by histogram")
			}
			if m.Decimals != nil {
				p.add(field+".decimals", "not used by histogram")
			}
		case "":
			p.add(field+".kind", "is required")
			continue
		default:
			p.add(field+".kind", "unknown metric kind %q", m.Kind)
			continue
		}
		if m.Column == "" {
			p.add(field+".column", "is required by %s", m.Kind)
			continue
		}
		name := metricName(m)
		if prev, ok := names[name]; ok {
			p.add(field, "result column %q is already produced by %s", name, prev)
		}
		names[name] = field
	}
}

func validateClip(p *problems, field string, c [2]float64, decimals int) {
	lo, hi := c[0], c[1]
	switch {
	case math.IsNaN(lo) || math.IsInf(lo, 0) || math.IsNaN(hi) || math.IsInf(hi, 0):
		p.add(field, "bounds are not finite")
	case lo >= hi:
		p.add(field, "lo %v must be below hi %v", lo, hi)
	case clipBound(c)*math.Pow10(decimals) > maxExact:
		p.add(field, "bounds exceed 2^53 at %d decimals", decimals)
	}
}

// validateSize checks the vector length; it runs only on an otherwise valid
// spec, whose layout is meaningful.
func (s *Spec) validateSize(p *problems, l Limits) {
	if n := s.Layout().VectorLen; n > l.MaxVectorLen {
		p.add("metrics", "vector length %d exceeds the limit of %d", n, l.MaxVectorLen)
	}
}
