package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"

	"gopkg.in/yaml.v3"

	"github.com/fedscore/fedscore/dataset"
)

// Column types of a published schema.
const (
	TypeNumeric     = "numeric"
	TypeCategorical = "categorical"
	TypeBoolean     = "boolean"
	// TypeDate is a time in Unix seconds, compared and binned as a number.
	TypeDate = "date"
)

// ErrSchema reports an unusable schema file.
var ErrSchema = errors.New("catalog: invalid column schema")

// Schema is the column schema a consortium publishes: what its partners'
// data holds, so that queriers can write queries without seeing any record.
type Schema struct {
	// Name names the data set or federation.
	Name    string   `json:"name,omitempty" yaml:"name,omitempty"`
	Columns []Column `json:"columns" yaml:"columns"`
}

// Column describes one published column.
type Column struct {
	Name        string `json:"name" yaml:"name"`
	Type        string `json:"type" yaml:"type"`
	Unit        string `json:"unit,omitempty" yaml:"unit,omitempty"`
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
	// Bins are typical group_by edges for a numeric or date column.
	Bins []float64 `json:"bins,omitempty" yaml:"bins,omitempty"`
	// Range is the [min, max] of the values, when published.
	Range []float64 `json:"range,omitempty" yaml:"range,omitempty"`
	// Values are the values of a categorical column.
	Values []string `json:"values,omitempty" yaml:"values,omitempty"`
}

// ParseSchema reads a schema from YAML or JSON (JSON is YAML). Unknown
// fields, unknown types, duplicate columns, unsorted bins and a range that
// is not [min, max] are errors.
func ParseSchema(data []byte) (*Schema, error) {
	var s Schema
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSchema, err)
	}
	if err := s.validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// LoadSchema reads a schema file.
func LoadSchema(path string) (*Schema, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := ParseSchema(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

func (s *Schema) validate() error {
	if len(s.Columns) == 0 {
		return fmt.Errorf("%w: no columns", ErrSchema)
	}
	seen := map[string]bool{}
	for i, c := range s.Columns {
		at := fmt.Sprintf("columns[%d]", i)
		switch {
		case c.Name == "":
			return fmt.Errorf("%w: %s: no name", ErrSchema, at)
		case seen[c.Name]:
			return fmt.Errorf("%w: %s: column %q listed twice", ErrSchema, at, c.Name)
		}
		seen[c.Name] = true
		switch c.Type {
		case TypeNumeric, TypeDate:
			if len(c.Values) > 0 {
				return fmt.Errorf("%w: %s (%s): a %s column has no values", ErrSchema, at, c.Name, c.Type)
			}
		case TypeCategorical, TypeBoolean:
			if len(c.Bins) > 0 || len(c.Range) > 0 {
				return fmt.Errorf("%w: %s (%s): a %s column has no bins or range", ErrSchema, at, c.Name, c.Type)
			}
		default:
			return fmt.Errorf("%w: %s (%s): type %q, want numeric, categorical, boolean or date", ErrSchema, at, c.Name, c.Type)
		}
		for j := 1; j < len(c.Bins); j++ {
			if !(c.Bins[j] > c.Bins[j-1]) {
				return fmt.Errorf("%w: %s (%s): bins must increase strictly", ErrSchema, at, c.Name)
			}
		}
		if len(c.Range) > 0 && (len(c.Range) != 2 || c.Range[0] > c.Range[1]) {
			return fmt.Errorf("%w: %s (%s): range must be [min, max]", ErrSchema, at, c.Name)
		}
	}
	return nil
}

// Column returns the named column.
func (s *Schema) Column(name string) (Column, bool) {
	i := slices.IndexFunc(s.Columns, func(c Column) bool { return c.Name == name })
	if i < 0 {
		return Column{}, false
	}
	return s.Columns[i], true
}

// Marshal encodes the schema as YAML.
func (s *Schema) Marshal() ([]byte, error) { return yaml.Marshal(s) }

// SchemaFromTables derives a schema from partner tables with the same
// columns, as the sandbox publishes for its synthetic data: categorical
// values in dictionary order (the union over tables), numeric ranges, and
// five bins at rounded quantile-like edges. hints supplies units and
// descriptions by column name; a hint's Type "date" marks a time column.
func SchemaFromTables(name string, tables []*dataset.Table, hints map[string]Column) *Schema {
	s := &Schema{Name: name}
	if len(tables) == 0 {
		return s
	}
	for _, col := range tables[0].Columns() {
		c := Column{Name: col.Name}
		h := hints[col.Name]
		c.Unit, c.Description = h.Unit, h.Description
		switch col.Kind {
		case dataset.KindCategory:
			c.Type = TypeCategorical
			for _, t := range tables {
				if tc, ok := t.Column(col.Name); ok {
					for _, v := range tc.Dict {
						if !slices.Contains(c.Values, v) {
							c.Values = append(c.Values, v)
						}
					}
				}
			}
			if len(c.Values) > 50 {
				c.Values = nil // an identifier-like column: no useful values
			}
		case dataset.KindBool:
			c.Type = TypeBoolean
			c.Values = []string{"false", "true"}
		default:
			c.Type = TypeNumeric
			if h.Type == TypeDate {
				c.Type = TypeDate
			}
			lo, hi := math.Inf(1), math.Inf(-1)
			for _, t := range tables {
				if tc, ok := t.Column(col.Name); ok {
					for _, v := range tc.Numbers {
						if !math.IsNaN(v) {
							lo, hi = min(lo, v), max(hi, v)
						}
					}
				}
			}
			if lo <= hi {
				c.Range = []float64{lo, hi}
				c.Bins = h.Bins
				if c.Bins == nil && c.Type == TypeNumeric {
					c.Bins = niceBins(lo, hi, 5)
				}
			}
		}
		s.Columns = append(s.Columns, c)
	}
	return s
}

// niceBins returns about n equal-width bins covering [lo, hi] with edges
// rounded to one significant step (1, 2 or 5 times a power of ten).
func niceBins(lo, hi float64, n int) []float64 {
	if hi <= lo {
		return nil
	}
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	start := math.Floor(lo/step) * step
	var out []float64
	for e := start; ; e += step {
		out = append(out, math.Round(e*1e9)/1e9)
		if e >= hi {
			break
		}
	}
	if len(out) < 2 {
		out = append(out, out[0]+step)
	}
	return out
}
