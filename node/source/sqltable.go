package source

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/node/aggregate"
	"github.com/fedscore/fedscore/policy"
	"github.com/fedscore/fedscore/query"
)

// sqlTable is what the database sources share: one table of one engine,
// the columns the node may read from it, and the compiler for its
// dialect.
type sqlTable struct {
	name    string // the source's name, for errors and logs
	d       *dialect
	table   string // quoted, possibly schema-qualified
	cols    map[string]sqlColumn
	fields  []Field
	schema  *dataset.Table
	timeout time.Duration
}

// sourceName is name, or else a database source's name from where its
// table is ("host:port/database", "" when the connection string does not
// parse), never from its credentials.
func sourceName(name, kind, where, schema, table string) string {
	if name != "" {
		return name
	}
	if schema != "" {
		table = schema + "." + table
	}
	if where == "" {
		return kind + " table " + table
	}
	return kind + " " + where + " table " + table
}

// A dbColumn is a table column as the database's catalog describes it.
type dbColumn struct {
	name    string
	kind    dataset.Kind
	ok      bool // the kind is supported
	sqlType string
}

// checkNames checks the table, schema and mapped column names against
// the dialect's identifier rules.
func (t *sqlTable) checkNames(schema, table string, m *dataset.Mapping) error {
	if err := t.d.checkIdentifier("table", table); err != nil {
		return err
	}
	if schema != "" {
		if err := t.d.checkIdentifier("schema", schema); err != nil {
			return err
		}
	}
	if m == nil {
		return nil
	}
	if err := m.Validate(); err != nil {
		return err
	}
	for _, cm := range m.Columns {
		if err := t.d.checkIdentifier("column", cm.Source); err != nil {
			return err
		}
	}
	return nil
}

// allow builds the allow-list from the table's columns, in table order,
// and the mapping: every column of a supported type when m is nil,
// otherwise the mapped columns, each of which must exist with a type of
// the kind the mapping says.
func (t *sqlTable) allow(db []dbColumn, m *dataset.Mapping) error {
	t.cols = make(map[string]sqlColumn)
	add := func(c sqlColumn) error {
		if _, dup := t.cols[c.name]; dup {
			return fmt.Errorf("column name %q used twice: %w", c.name, ErrInvalidIdentifier)
		}
		t.cols[c.name] = c
		t.fields = append(t.fields, Field{Name: c.name, Kind: c.kind})
		return nil
	}
	if m == nil {
		for _, d := range db {
			if d.ok {
				if err := add(sqlColumn{name: d.name, source: d.name, kind: d.kind}); err != nil {
					return err
				}
			}
		}
	} else {
		byName := make(map[string]dbColumn, len(db))
		for _, d := range db {
			byName[d.name] = d
		}
		for _, cm := range m.Columns {
			if cm.Skip {
				continue
			}
			d, exists := byName[cm.Source]
			switch {
			case !exists:
				return fmt.Errorf("table %s has no column %q: %w", t.table, cm.Source, ErrUnknownColumn)
			case !d.ok:
				return fmt.Errorf("column %q of %s is %s, which is not a number, text or boolean type: %w", cm.Source, t.table, d.sqlType, ErrTypeMismatch)
			}
			if cm.Type != "" {
				if want, _ := dataset.ParseKind(cm.Type); want != d.kind {
					return fmt.Errorf("column %q of %s is %s, but the mapping says %s: %w", cm.Source, t.table, d.sqlType, cm.Type, ErrTypeMismatch)
				}
			}
			name := cm.Name
			if name == "" {
				name = cm.Source
			}
			if err := add(sqlColumn{name: name, source: cm.Source, kind: d.kind}); err != nil {
				return err
			}
		}
	}
	st, err := SchemaTable(t.fields)
	if err != nil {
		return err
	}
	t.schema = st
	return nil
}

// Name returns the source's name.
func (t *sqlTable) Name() string { return t.name }

// Schema returns the allowed columns, as read when the source was opened.
func (t *sqlTable) Schema() []Field { return append([]Field(nil), t.fields...) }

// compile checks spec and the cohort rule against the allowed columns and
// compiles them; nothing is sent to the database before.
func (t *sqlTable) compile(spec *query.Spec, cohort policy.CohortRule) (*sqlPlan, error) {
	if err := spec.Validate(query.Limits{}); err != nil {
		return nil, err
	}
	if err := spec.CheckColumns(t.schema); err != nil {
		return nil, err
	}
	return compileSQL(t.d, spec, cohort, t.table, t.cols)
}

// statement returns a statement's text as sent, with the dialect's time
// limit when the dialect sets it per statement.
func (t *sqlTable) statement(s sqlStatement) string {
	if t.d.timeLimit == nil {
		return s.sql
	}
	return t.d.timeLimit(s.sql, t.timeout)
}

// resultRows are the rows of one statement; pgx.Rows and *sql.Rows are.
type resultRows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// readRows adds the per-cell rows of statement s into vec and st. The
// counts and the cohort statistics are taken from the first statement
// only.
func readRows(rows resultRows, s sqlStatement, cells int, vec []int64, st *aggregate.Stats, first bool) error {
	width := 2
	for _, h := range s.hists {
		width += h.bins + 2
	}
	width += 2 * len(s.sums)
	var (
		cell  *int64
		count int64
		sums  = make([]string, len(s.sums))
		ints  = make([]int64, width-2-2*len(s.sums))
		miss  = make([]int64, len(s.sums))
		dests = make([]any, 0, width)
	)
	dests = append(dests, &cell, &count)
	for j := range s.sums {
		dests = append(dests, &sums[j], &miss[j])
	}
	for j := range ints {
		dests = append(dests, &ints[j])
	}
	for rows.Next() {
		if err := rows.Scan(dests...); err != nil {
			return fmt.Errorf("aggregate: read result: %w", err)
		}
		if first {
			st.Selected += int(count)
		}
		if cell == nil {
			if first {
				st.OutOfCells += int(count)
			}
			continue
		}
		c := *cell
		if c < 0 || c >= int64(cells) {
			return fmt.Errorf("aggregate: the database returned cell %d outside the layout", c)
		}
		if first {
			vec[c] = count
		}
		for j, so := range s.sums {
			x, err := strconv.ParseInt(sums[j], 10, 64)
			if errors.Is(err, strconv.ErrRange) {
				return fmt.Errorf("aggregate: cell %d: %w", c, query.ErrOverflow)
			}
			if err != nil {
				return fmt.Errorf("aggregate: cell %d: sum %q: %w", c, sums[j], err)
			}
			vec[so.offset+int(c)] = x
			st.MissingValues += int(miss[j])
		}
		k := 0
		for _, h := range s.hists {
			copy(vec[h.offset+int(c)*h.bins:], ints[k:k+h.bins])
			st.MissingValues += int(ints[k+h.bins])
			st.OutOfBins += int(ints[k+h.bins+1])
			k += h.bins + 2
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("aggregate: %w", err)
	}
	return nil
}
