package dataset

import (
	"fmt"
	"math"
)

// A Builder assembles a [Table] column by column. The first error is kept
// and returned by Build, so a sequence of Add calls needs one check. The
// Builder takes ownership of the slices passed to it.
type Builder struct {
	cols   []*Column
	byName map[string]int
	rows   int
	err    error
}

// NewBuilder returns an empty Builder.
func NewBuilder() *Builder {
	return &Builder{byName: make(map[string]int), rows: -1}
}

// AddNumber adds a number column; NaN marks a missing value.
func (b *Builder) AddNumber(name string, values []float64) {
	for i, v := range values {
		if math.IsInf(v, 0) {
			b.fail(fmt.Errorf("dataset: column %q row %d: %w", name, i, ErrNonFinite))
			return
		}
	}
	b.add(&Column{Name: name, Kind: KindNumber, Numbers: values})
}

// AddCategory adds a category column from its values; "" marks a missing
// value. The dictionary lists values in order of first appearance.
func (b *Builder) AddCategory(name string, values []string) {
	c := &Column{Name: name, Kind: KindCategory, Codes: make([]int32, len(values))}
	index := make(map[string]int32)
	for i, v := range values {
		if v == "" {
			c.Codes[i] = -1
			continue
		}
		code, ok := index[v]
		if !ok {
			code = int32(len(c.Dict))
			index[v] = code
			c.Dict = append(c.Dict, v)
		}
		c.Codes[i] = code
	}
	b.add(c)
}

// AddCategoryCodes adds a category column from dictionary codes; -1 marks a
// missing value. Dict entries must be distinct and non-empty.
func (b *Builder) AddCategoryCodes(name string, dict []string, codes []int32) {
	seen := make(map[string]bool, len(dict))
	for _, v := range dict {
		if v == "" || seen[v] {
			b.fail(fmt.Errorf("dataset: column %q: dictionary entry %q: %w", name, v, ErrInvalidColumn))
			return
		}
		seen[v] = true
	}
	for i, c := range codes {
		if c < -1 || int(c) >= len(dict) {
			b.fail(fmt.Errorf("dataset: column %q row %d: code %d out of range: %w", name, i, c, ErrInvalidColumn))
			return
		}
	}
	b.add(&Column{Name: name, Kind: KindCategory, Codes: codes, Dict: dict})
}

// AddBool adds a bool column. missing may be nil when no value is missing;
// otherwise it must be as long as values.
func (b *Builder) AddBool(name string, values, missing []bool) {
	if missing == nil {
		missing = make([]bool, len(values))
	}
	if len(missing) != len(values) {
		b.fail(fmt.Errorf("dataset: column %q: %d missing flags for %d values: %w", name, len(missing), len(values), ErrLengthMismatch))
		return
	}
	values = append([]bool(nil), values...)
	for i, m := range missing {
		if m {
			values[i] = false
		}
	}
	b.add(&Column{Name: name, Kind: KindBool, Bools: values, Missing: missing})
}

// AddColumns adds columns of a built table, such as t.Columns() to extend
// t with more. The tables share them; neither may modify them.
func (b *Builder) AddColumns(cols ...*Column) {
	for _, c := range cols {
		b.add(c)
	}
}

// Build returns the table, or the first error met while adding columns.
func (b *Builder) Build() (*Table, error) {
	if b.err != nil {
		return nil, b.err
	}
	rows := max(b.rows, 0)
	return &Table{cols: b.cols, byName: b.byName, rows: rows}, nil
}

func (b *Builder) add(c *Column) {
	if b.err != nil {
		return
	}
	_, dup := b.byName[c.Name]
	switch {
	case c.Name == "":
		b.fail(fmt.Errorf("dataset: %w", ErrEmptyHeader))
		return
	case dup:
		b.fail(fmt.Errorf("dataset: column %q: %w", c.Name, ErrDuplicateColumn))
		return
	case b.rows >= 0 && c.Len() != b.rows:
		b.fail(fmt.Errorf("dataset: column %q has %d rows, want %d: %w", c.Name, c.Len(), b.rows, ErrLengthMismatch))
		return
	}
	b.rows = c.Len()
	b.byName[c.Name] = len(b.cols)
	b.cols = append(b.cols, c)
}

func (b *Builder) fail(err error) {
	if b.err == nil {
		b.err = err
	}
}
