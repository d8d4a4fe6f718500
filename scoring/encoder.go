package scoring

import (
	"fmt"
	"math"
	"sort"
	"strconv"

	"github.com/fedscore/fedscore/dataset"
)

// status says why a value cannot be encoded.
type status uint8

const (
	stOK status = iota
	stMissing
	stUnknown
	stOutOfRange
	stNonFinite
)

func (s status) String() string {
	switch s {
	case stMissing:
		return "missing value"
	case stUnknown:
		return "category not in the model"
	case stOutOfRange:
		return "value outside the feature's range"
	case stNonFinite:
		return "non-finite value"
	}
	return "ok"
}

// encoder is a feature compiled against one column of a table.
type encoder struct {
	index  int
	column string
	enc    Encoding
	kind   dataset.Kind

	nums    []float64
	bools   []bool
	missing []bool
	codes   []int32

	mean, inv float64 // inv = 1/Std
	cuts, woe []float64
	codeVal   []float64 // per dictionary code; NaN when not listed
	numVal    map[float64]float64
	boolVal   [2]float64
	boolKnown [2]bool

	missVal float64
	hasMiss bool
	unkVal  float64
	hasUnk  bool
	lo, hi  float64
}

func featureLabel(i int, f *Feature) string {
	return fmt.Sprintf("features[%d] (column %q, %s)", i, f.Column, f.Encoding)
}

// compileFeature binds feature i of a valid model to its column in t.
func compileFeature(i int, f *Feature, t *dataset.Table) (*encoder, error) {
	col, ok := t.Column(f.Column)
	if !ok {
		return nil, fmt.Errorf("scoring: %s: no such column in the data: %w: %w", featureLabel(i, f), ErrColumn, dataset.ErrUnknownColumn)
	}
	e := &encoder{index: i, column: f.Column, enc: f.Encoding, kind: col.Kind, lo: math.Inf(-1), hi: math.Inf(1)}
	if f.Missing != nil {
		e.missVal, e.hasMiss = *f.Missing, true
	}
	if f.Unknown != nil {
		e.unkVal, e.hasUnk = *f.Unknown, true
	}
	if f.Min != nil {
		e.lo = *f.Min
	}
	if f.Max != nil {
		e.hi = *f.Max
	}
	wrongKind := func(want string) error {
		return fmt.Errorf("scoring: %s: column is %s, %s needs %s: %w", featureLabel(i, f), col.Kind, f.Encoding, want, ErrColumn)
	}
	switch col.Kind {
	case dataset.KindNumber:
		e.nums = col.Numbers
	case dataset.KindBool:
		e.bools, e.missing = col.Bools, col.Missing
	case dataset.KindCategory:
		e.codes = col.Codes
	}
	switch f.Encoding {
	case Standardized:
		if col.Kind == dataset.KindCategory {
			return nil, wrongKind("a number or bool column")
		}
		e.mean, e.inv = f.Mean, 1/f.Std
	case WOEBins:
		if col.Kind != dataset.KindNumber {
			return nil, wrongKind("a number column")
		}
		e.cuts, e.woe = f.Bins, f.WOE
	case Categorical:
		switch col.Kind {
		case dataset.KindCategory:
			e.codeVal = make([]float64, len(col.Dict))
			for c, v := range col.Dict {
				x, ok := f.Categories[v]
				if !ok {
					x = math.NaN()
				}
				e.codeVal[c] = x
			}
		case dataset.KindNumber:
			e.numVal = make(map[float64]float64, len(f.Categories))
			seen := make(map[float64]string, len(f.Categories))
			for _, k := range sortedKeys(f.Categories) {
				v, err := strconv.ParseFloat(k, 64)
				if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
					return nil, fmt.Errorf("scoring: %s: category %q is not a number, but the column is: %w", featureLabel(i, f), k, ErrColumn)
				}
				if prev, dup := seen[v]; dup {
					return nil, fmt.Errorf("scoring: %s: categories %q and %q are the same number: %w", featureLabel(i, f), prev, k, ErrColumn)
				}
				seen[v] = k
				e.numVal[v] = f.Categories[k]
			}
		case dataset.KindBool:
			for _, k := range sortedKeys(f.Categories) {
				var b int
				switch k {
				case "false":
				case "true":
					b = 1
				default:
					return nil, fmt.Errorf("scoring: %s: category %q is not true or false, but the column is bool: %w", featureLabel(i, f), k, ErrColumn)
				}
				e.boolVal[b], e.boolKnown[b] = f.Categories[k], true
			}
		}
	}
	return e, nil
}

// at returns the encoded value of row i.
func (e *encoder) at(i int) (float64, status) {
	switch e.kind {
	case dataset.KindNumber:
		v := e.nums[i]
		switch {
		case math.IsNaN(v):
			return e.missingValue()
		case math.IsInf(v, 0):
			return 0, stNonFinite
		case v < e.lo || v > e.hi:
			return 0, stOutOfRange
		}
		switch e.enc {
		case Standardized:
			x := (v - e.mean) * e.inv
			if math.IsInf(x, 0) || math.IsNaN(x) {
				return 0, stNonFinite
			}
			return x, stOK
		case WOEBins:
			return e.woe[sort.SearchFloat64s(e.cuts, v)], stOK
		default:
			if x, ok := e.numVal[v]; ok {
				return x, stOK
			}
			return e.unknownValue()
		}
	case dataset.KindBool:
		if e.missing[i] {
			return e.missingValue()
		}
		b := 0
		if e.bools[i] {
			b = 1
		}
		if e.enc == Standardized {
			v := float64(b)
			if v < e.lo || v > e.hi {
				return 0, stOutOfRange
			}
			return (v - e.mean) * e.inv, stOK
		}
		if e.boolKnown[b] {
			return e.boolVal[b], stOK
		}
		return e.unknownValue()
	default:
		c := e.codes[i]
		if c < 0 {
			return e.missingValue()
		}
		if x := e.codeVal[c]; !math.IsNaN(x) {
			return x, stOK
		}
		return e.unknownValue()
	}
}

func (e *encoder) missingValue() (float64, status) {
	if e.hasMiss {
		return e.missVal, stOK
	}
	return 0, stMissing
}

func (e *encoder) unknownValue() (float64, status) {
	if e.hasUnk {
		return e.unkVal, stOK
	}
	return 0, stUnknown
}

// raw returns row i's value as written in CSV, for explanations.
func (e *encoder) raw(i int) string {
	switch e.kind {
	case dataset.KindNumber:
		if math.IsNaN(e.nums[i]) {
			return ""
		}
		return dataset.FormatNumber(e.nums[i])
	case dataset.KindBool:
		if e.missing[i] {
			return ""
		}
		return strconv.FormatBool(e.bools[i])
	}
	return "" // categories are looked up by the caller
}

// addTo adds w·x to logit[k] for rows off+k, and sets logit[k] to NaN for
// rows it cannot encode, counting those that sel selects (nil: all; sel
// is indexed like logit).
func (e *encoder) addTo(logit []float64, off int, w float64, sel []bool, inv *InvalidCount) {
	bad := func(k int) {
		x, st := e.at(off + k)
		if st == stOK {
			logit[k] += w * x
			return
		}
		logit[k] = math.NaN()
		if sel == nil || sel[k] {
			inv.add(st)
		}
	}
	n := len(logit)
	switch {
	case e.kind == dataset.KindNumber && e.enc == Standardized:
		mean, inv, lo, hi := e.mean, e.inv, e.lo, e.hi
		nums := e.nums[off : off+n]
		for k, v := range nums {
			x := (v - mean) * inv
			if v >= lo && v <= hi && x-x == 0 {
				logit[k] += w * x
			} else {
				bad(k)
			}
		}
	case e.kind == dataset.KindNumber && e.enc == WOEBins:
		cuts, woe, lo, hi := e.cuts, e.woe, e.lo, e.hi
		nums := e.nums[off : off+n]
		for k, v := range nums {
			if v >= lo && v <= hi && v-v == 0 {
				// Binary search for the first cut ≥ v.
				a, b := 0, len(cuts)
				for a < b {
					h := int(uint(a+b) >> 1)
					if cuts[h] < v {
						a = h + 1
					} else {
						b = h
					}
				}
				logit[k] += w * woe[a]
			} else {
				bad(k)
			}
		}
	case e.kind == dataset.KindCategory:
		table := e.codeVal
		codes := e.codes[off : off+n]
		for k, c := range codes {
			if c >= 0 {
				if x := table[c]; x == x {
					logit[k] += w * x
					continue
				}
			}
			bad(k)
		}
	default:
		for k := range logit {
			bad(k)
		}
	}
}

// An InvalidCount counts the rows a feature could not encode, by reason.
type InvalidCount struct {
	Column   string   `json:"column"`
	Encoding Encoding `json:"encoding"`
	// Missing counts missing values, for a feature without a Missing
	// encoding.
	Missing int `json:"missing"`
	// Unknown counts categories the feature does not list, for a feature
	// without an Unknown encoding.
	Unknown int `json:"unknown"`
	// OutOfRange counts values outside the feature's Min/Max.
	OutOfRange int `json:"out_of_range"`
	// NonFinite counts infinite values and values whose encoding
	// overflows.
	NonFinite int `json:"non_finite"`
}

// Total returns the number of invalid values.
func (c *InvalidCount) Total() int { return c.Missing + c.Unknown + c.OutOfRange + c.NonFinite }

func (c *InvalidCount) add(st status) {
	switch st {
	case stMissing:
		c.Missing++
	case stUnknown:
		c.Unknown++
	case stOutOfRange:
		c.OutOfRange++
	case stNonFinite:
		c.NonFinite++
	}
}

func (c *InvalidCount) String() string {
	s := fmt.Sprintf("%s (%s): %d invalid", c.Column, c.Encoding, c.Total())
	sep := " ("
	for _, p := range []struct {
		n    int
		what string
	}{{c.Missing, "missing"}, {c.Unknown, "unknown category"}, {c.OutOfRange, "out of range"}, {c.NonFinite, "non-finite"}} {
		if p.n > 0 {
			s += fmt.Sprintf("%s%d %s", sep, p.n, p.what)
			sep = ", "
		}
	}
	if sep == ", " {
		s += ")"
	}
	return s
}

// Labels is a model's target column bound to a table: each row's label,
// for fitting, evaluating and auditing a model.
type Labels struct {
	name       string
	kind       dataset.Kind
	nums       []float64
	pos, neg   float64
	bools      []bool
	missing    []bool
	posB, negB bool
	codes      []int32
	codeY      []int8 // per code: 1, 0 or −1 (neither)
}

// BindLabels binds the target column name of t, whose values positive and
// negative mean the event and its absence (empty: "1" and "0" for a number
// column, "true" and "false" for a bool column; a category column needs
// both), as [Model.Target], [Model.Positive] and [Model.Negative] say.
func BindLabels(name, positive, negative string, t *dataset.Table) (*Labels, error) {
	if name == "" {
		return nil, fmt.Errorf("scoring: the model names no target column: %w", ErrInvalidArgument)
	}
	col, ok := t.Column(name)
	if !ok {
		return nil, fmt.Errorf("scoring: target column %q: no such column in the data: %w: %w", name, ErrColumn, dataset.ErrUnknownColumn)
	}
	tg := &Labels{name: name, kind: col.Kind}
	switch col.Kind {
	case dataset.KindNumber:
		tg.nums = col.Numbers
		p, n := orDefault(positive, "1"), orDefault(negative, "0")
		var err1, err2 error
		tg.pos, err1 = strconv.ParseFloat(p, 64)
		tg.neg, err2 = strconv.ParseFloat(n, 64)
		if err1 != nil || err2 != nil || tg.pos == tg.neg {
			return nil, fmt.Errorf("scoring: target column %q is number, but positive %q and negative %q are not two distinct numbers: %w", name, p, n, ErrColumn)
		}
	case dataset.KindBool:
		tg.bools, tg.missing = col.Bools, col.Missing
		p, n := orDefault(positive, "true"), orDefault(negative, "false")
		pb, ok1 := parseBoolLabel(p)
		nb, ok2 := parseBoolLabel(n)
		if !ok1 || !ok2 || pb == nb {
			return nil, fmt.Errorf("scoring: target column %q is bool, but positive %q and negative %q are not true and false: %w", name, p, n, ErrColumn)
		}
		tg.posB, tg.negB = pb, nb
	case dataset.KindCategory:
		if positive == "" || negative == "" {
			return nil, fmt.Errorf("scoring: target column %q is a category column: give its positive and negative values: %w", name, ErrColumn)
		}
		tg.codes = col.Codes
		tg.codeY = make([]int8, len(col.Dict))
		for c, v := range col.Dict {
			switch v {
			case positive:
				tg.codeY[c] = 1
			case negative:
				tg.codeY[c] = 0
			default:
				tg.codeY[c] = -1
			}
		}
	}
	return tg, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func parseBoolLabel(s string) (bool, bool) {
	switch s {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

// At returns row i's label: 1, 0, or ok false when the row's target is
// missing or neither value.
func (tg *Labels) At(i int) (y float64, ok bool) {
	switch tg.kind {
	case dataset.KindNumber:
		switch tg.nums[i] {
		case tg.pos:
			return 1, true
		case tg.neg:
			return 0, true
		}
	case dataset.KindBool:
		if tg.missing[i] {
			return 0, false
		}
		switch tg.bools[i] {
		case tg.posB:
			return 1, true
		case tg.negB:
			return 0, true
		}
	default:
		if c := tg.codes[i]; c >= 0 {
			switch tg.codeY[c] {
			case 1:
				return 1, true
			case 0:
				return 0, true
			}
		}
	}
	return 0, false
}

// CheckSelection checks that a row selection (nil: all rows) fits a table
// of n rows.
func CheckSelection(rows []bool, n int) error {
	if rows != nil && len(rows) != n {
		return fmt.Errorf("scoring: row selection has %d entries for %d rows: %w", len(rows), n, ErrInvalidArgument)
	}
	return nil
}
