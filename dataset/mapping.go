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
// read as they are. Roles tell the node's policy which column holds what
// it needs to know of every customer.
type Mapping struct {
	Columns []ColumnMapping `yaml:"columns"`
	// Roles maps a role the policy reads (RoleAge or RoleBirthDate) to the
	// column, by its name after mapping, that holds it.
	Roles map[string]string `yaml:"roles,omitempty"`
}

// Roles a mapping can give a column. The minors rule (no child under 14)
// reads the customer's age in years, or the birth date, from which the
// age at the query time follows.
const (
	RoleAge       = "age"
	RoleBirthDate = "birth_date"
)

// TypeDate is the mapping type of a date or time column: ISO dates such
// as 1990-05-12, 1990/05/12 or 19900512 (midnight UTC), RFC 3339 times,
// or numbers of Unix seconds, read as a number column of Unix seconds.
const TypeDate = "date"

// A ColumnMapping describes what to do with one source column.
type ColumnMapping struct {
	Source string `yaml:"source"`         // header name in the file
	Name   string `yaml:"name,omitempty"` // new name; "" keeps Source
	Type   string `yaml:"type,omitempty"` // number, category, bool or date; "" infers
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
		if _, ok := ParseKind(c.Type); c.Type != "" && c.Type != TypeDate && !ok {
			return fmt.Errorf("dataset: %w: columns[%d]: type %q is not number, category, bool or date", ErrInvalidMapping, i, c.Type)
		}
	}
	for role, col := range m.Roles {
		switch {
		case role != RoleAge && role != RoleBirthDate:
			return fmt.Errorf("dataset: %w: roles: unknown role %q; the roles are %s and %s", ErrInvalidMapping, role, RoleAge, RoleBirthDate)
		case col == "":
			return fmt.Errorf("dataset: %w: roles.%s: no column", ErrInvalidMapping, role)
		}
	}
	if m.Roles[RoleAge] != "" && m.Roles[RoleBirthDate] != "" {
		return fmt.Errorf("dataset: %w: roles: give the %s or the %s, not both", ErrInvalidMapping, RoleAge, RoleBirthDate)
	}
	return nil
}

// CheckRoles checks that every column the roles name is a number column
// of t (an age in years, or a date in Unix seconds).
func (m *Mapping) CheckRoles(t *Table) error {
	if m == nil {
		return nil
	}
	for _, role := range []string{RoleAge, RoleBirthDate} {
		name, ok := m.Roles[role]
		if !ok {
			continue
		}
		c, ok := t.Column(name)
		switch {
		case !ok:
			return fmt.Errorf("dataset: %w: roles.%s names column %q, which the data does not have", ErrInvalidMapping, role, name)
		case c.Kind != KindNumber:
			return fmt.Errorf("dataset: %w: roles.%s: column %q is %s; the %s must be a number (give a date column type: date)", ErrInvalidMapping, role, name, c.Kind, role)
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
