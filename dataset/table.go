package dataset

// A Table is a set of equally long, uniquely named columns. It is safe for
// concurrent reads.
type Table struct {
	cols   []*Column
	byName map[string]int
	rows   int
}

// Rows returns the number of rows.
func (t *Table) Rows() int { return t.rows }

// Column returns the column with the given name.
func (t *Table) Column(name string) (*Column, bool) {
	i, ok := t.byName[name]
	if !ok {
		return nil, false
	}
	return t.cols[i], true
}

// Columns returns the columns in order. The slice is a copy; the columns
// are shared and must not be modified.
func (t *Table) Columns() []*Column {
	return append([]*Column(nil), t.cols...)
}

// ColumnKind returns the kind of the named column as its name, "number",
// "category" or "bool", so that a table serves as the schema a query is
// checked against.
func (t *Table) ColumnKind(name string) (string, bool) {
	c, ok := t.Column(name)
	if !ok {
		return "", false
	}
	return c.Kind.String(), true
}

// ColumnNames returns the names of the columns in order, so that a query
// naming a column the table lacks is told the names close to it.
func (t *Table) ColumnNames() []string {
	names := make([]string, len(t.cols))
	for i, c := range t.cols {
		names[i] = c.Name
	}
	return names
}
