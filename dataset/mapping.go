package dataset

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"gopkg.in/yaml.v3"
)

// A Mapping adjusts the columns of a CSV file as it is read: it renames
// them, forces their kind, or drops them. Columns it does not mention are
// read as they are.
type Mapping struct {
	Columns []ColumnMapping `yaml:"columns"`
}

// A ColumnMapping describes what to do with one source column.
type ColumnMapping struct {
	Source string `yaml:"source"`         // header name in the file
	Name   string `yaml:"name,omitempty"` // new name; "" keeps Source
	Type   string `yaml:"type,omitempty"` // number, category or bool; "" infers
	Skip   bool   `yaml:"skip,omitempty"` // drop the column
}

// LoadMapping reads a YAML mapping file.
func LoadMapping(path string) (*Mapping, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: load mapping: %w", err)
	}
	m, err := ParseMapping(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// ParseMapping decodes a YAML mapping. Unknown fields are errors.
func ParseMapping(data []byte) (*Mapping, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var m Mapping
	if err := dec.Decode(&m); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("dataset: %w: %w", ErrInvalidMapping, err)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Validate checks that every entry names a source column once and that
// types are known.
func (m *Mapping) Validate() error {
	seen := make(map[string]bool)
	for i, c := range m.Columns {
		switch {
		case c.Source == "":
			return fmt.Errorf("dataset: %w: columns[%d]: source is required", ErrInvalidMapping, i)
		case seen[c.Source]:
			return fmt.Errorf("dataset: %w: columns[%d]: source %q mapped twice", ErrInvalidMapping, i, c.Source)
		}
		seen[c.Source] = true
		if _, ok := ParseKind(c.Type); c.Type != "" && !ok {
			return fmt.Errorf("dataset: %w: columns[%d]: type %q is not number, category or bool", ErrInvalidMapping, i, c.Type)
		}
	}
	return nil
}

// lookup returns the entry for a source column.
func (m *Mapping) lookup(source string) (ColumnMapping, bool) {
	if m == nil {
		return ColumnMapping{}, false
	}
	for _, c := range m.Columns {
		if c.Source == source {
			return c, true
		}
	}
	return ColumnMapping{}, false
}
