package dataset

import (
	"math"
	"strconv"
)

// Kind is the type of the values in a column.
type Kind int

// The kinds of column.
const (
	KindNumber Kind = iota
	KindCategory
	KindBool
)

// String returns "number", "category" or "bool".
func (k Kind) String() string {
	switch k {
	case KindNumber:
		return "number"
	case KindCategory:
		return "category"
	case KindBool:
		return "bool"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// ParseKind returns the Kind named by s, as returned by [Kind.String].
func ParseKind(s string) (Kind, bool) {
	switch s {
	case "number":
		return KindNumber, true
	case "category":
		return KindCategory, true
	case "bool":
		return KindBool, true
	}
	return 0, false
}

// A Column is one named, typed column of a [Table]. Only the slices that
// belong to its Kind are set. Columns handed out by a Table are shared and
// must not be modified.
type Column struct {
	Name string
	Kind Kind

	// Numbers holds the values of a KindNumber column; NaN marks a missing
	// value. Other values are always finite.
	Numbers []float64

	// Codes holds the values of a KindCategory column as indexes into
	// Dict; -1 marks a missing value. Dict entries are distinct.
	Codes []int32
	Dict  []string

	// Bools holds the values of a KindBool column. Missing[i] reports that
	// row i has no value, in which case Bools[i] is false.
	Bools   []bool
	Missing []bool
}

// Len returns the number of rows in the column.
func (c *Column) Len() int {
	switch c.Kind {
	case KindNumber:
		return len(c.Numbers)
	case KindCategory:
		return len(c.Codes)
	case KindBool:
		return len(c.Bools)
	}
	return 0
}

// IsMissing reports whether row i has no value.
func (c *Column) IsMissing(i int) bool {
	switch c.Kind {
	case KindNumber:
		return math.IsNaN(c.Numbers[i])
	case KindCategory:
		return c.Codes[i] < 0
	case KindBool:
		return c.Missing[i]
	}
	return true
}

// String returns the value of row i as written to CSV, or "" when the value
// is missing.
func (c *Column) String(i int) string {
	if c.IsMissing(i) {
		return ""
	}
	switch c.Kind {
	case KindNumber:
		return FormatNumber(c.Numbers[i])
	case KindCategory:
		return c.Dict[c.Codes[i]]
	case KindBool:
		return strconv.FormatBool(c.Bools[i])
	}
	return ""
}

// Code returns the dictionary code of value in a KindCategory column, or -1
// when the value does not occur.
func (c *Column) Code(value string) int32 {
	for i, v := range c.Dict {
		if v == value {
			return int32(i)
		}
	}
	return -1
}

// FormatNumber formats v so that parsing the result gives v back exactly.
// Whole numbers of moderate size are written without an exponent.
func FormatNumber(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
