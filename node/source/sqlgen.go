package source

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/policy"
	"github.com/fedscore/fedscore/query"
)

// A sqlColumn is one column a database source allows: the name queries
// and policies use, the database column it reads, and its kind.
type sqlColumn struct {
	name   string
	source string
	kind   dataset.Kind
}

// maxOutputColumns bounds the result columns of one statement, below
// PostgreSQL's limit of 1664 target-list entries; metrics beyond it go to
// further statements.
const maxOutputColumns = 1000

// A sqlStatement is one parameterised statement and how to read its rows.
type sqlStatement struct {
	sql  string
	args []any
	// sums and hists are the metrics whose columns the statement returns,
	// in order, after the cell index and the count.
	sums  []sumOut
	hists []histOut
}

type sumOut struct{ offset int }

type histOut struct{ offset, bins int }

// sqlPlan is a spec and a cohort rule compiled for one table.
type sqlPlan struct {
	layout query.Layout
	stmts  []sqlStatement
}

// sqlArgs collects bound parameters.
type sqlArgs struct{ list []any }

// bind adds v as a parameter and returns its placeholder, cast to typ so
// that the statement's meaning never depends on type inference.
func (a *sqlArgs) bind(v any, typ string) string {
	a.list = append(a.list, v)
	return "$" + strconv.Itoa(len(a.list)) + "::" + typ
}

// compileSQL compiles a spec and a cohort rule into statements over
// table, a sanitized identifier, reading only the allowed columns. Every
// value that comes from the spec or the rule is a bound parameter; every
// identifier is one of the allowed columns, quoted with
// pgx.Identifier.Sanitize. The only literals in the text are constants and
// integers the compiler computes itself (cell strides and bin numbers).
// Column names are checked against the allow-list before any text is
// built, so a hostile name never reaches the database.
//
// The statements run in one snapshot and together give exactly
// aggregate.Aggregate's vector over the records that Cohort admits:
//   - numbers are compared, clipped and scaled as float8, like Go's
//     float64; a NULL or NaN number is missing;
//   - a NULL or empty category is missing, as in a CSV file;
//   - cohort conditions are WHERE clauses, a Missing "include" one as
//     (value IS NULL OR value op $n); filter predicates never match a NULL;
//   - a numeric bin is width_bucket over the bound edges, the last bin
//     closed; a category or bool cell is array_position in the bound
//     values;
//   - a sum adds, per record, the clipped and scaled value rounded half
//     away from zero, computed exactly as math.Round does.
func compileSQL(spec *query.Spec, rule policy.CohortRule, table string, cols map[string]sqlColumn) (*sqlPlan, error) {
	col := func(name string) (sqlColumn, error) {
		c, ok := cols[name]
		if !ok {
			return sqlColumn{}, fmt.Errorf("column %q: %w", name, ErrUnknownColumn)
		}
		return c, nil
	}
	// Resolve every column first: nothing is built from an unknown name.
	for _, name := range spec.Columns() {
		if _, err := col(name); err != nil {
			return nil, err
		}
	}
	for _, c := range rule.Conditions {
		sc, ok := cols[c.Column]
		if _, err := checkCondition(c, sc.kind, ok); err != nil {
			return nil, fmt.Errorf("cohort condition %s: %w", c, err)
		}
	}

	p := &sqlPlan{layout: spec.Layout()}
	// Metric batches: the first statement carries the counts, then as
	// many metrics as fit; histograms with many bins go to further ones.
	var batches [][]query.Block
	var cur []query.Block
	width := 2
	for _, b := range p.layout.Blocks[1:] {
		w := 2 // sum and missing count
		if b.Kind == query.KindHistogram {
			w = b.Bins + 2
		}
		if len(cur) > 0 && width+w > maxOutputColumns {
			batches = append(batches, cur)
			cur, width = nil, 2
		}
		cur = append(cur, b)
		width += w
	}
	batches = append(batches, cur)

	for _, batch := range batches {
		st, err := compileStatement(spec, rule, table, cols, p.layout, batch)
		if err != nil {
			return nil, err
		}
		p.stmts = append(p.stmts, st)
	}
	return p, nil
}

// compileStatement builds the statement for one batch of metric blocks.
func compileStatement(spec *query.Spec, rule policy.CohortRule, table string, cols map[string]sqlColumn, layout query.Layout, batch []query.Block) (sqlStatement, error) {
	var a sqlArgs
	var st sqlStatement

	// The inner select: the cell index and the per-record metric values.
	var inner []string
	cell, err := cellExpr(spec, cols, layout, &a)
	if err != nil {
		return st, err
	}
	inner = append(inner, cell+" AS k")
	var outer []string
	outer = append(outer, "k", "count(*)")
	for j, b := range batch {
		m := spec.Metrics[b.Metric]
		v := valueExpr(cols[m.Column])
		mv := "m" + strconv.Itoa(j)
		inner = append(inner, v+" AS "+mv)
		switch b.Kind {
		case query.KindSum, query.KindMean:
			sv := "s" + strconv.Itoa(j)
			inner = append(inner, fmt.Sprintf("(LEAST(GREATEST(%s, %s), %s) * %s) AS %s",
				v, a.bind(m.Clip[0], "float8"), a.bind(m.Clip[1], "float8"), a.bind(spec.MetricScale(b.Metric), "float8"), sv))
			// math.Round: the integral part, plus the sign when the
			// fraction is at least one half. Both steps are exact.
			outer = append(outer,
				fmt.Sprintf("COALESCE(sum((trunc(%[1]s) + CASE WHEN abs(%[1]s - trunc(%[1]s)) >= 0.5 THEN sign(%[1]s) ELSE 0 END)::int8), 0)::text", sv),
				fmt.Sprintf("count(*) FILTER (WHERE %s IS NULL)", mv))
			st.sums = append(st.sums, sumOut{offset: b.Offset})
		case query.KindHistogram:
			hv := "h" + strconv.Itoa(j)
			inner = append(inner, binExpr(v, m.Bins, &a)+" AS "+hv)
			for bin := range b.Bins {
				outer = append(outer, fmt.Sprintf("count(*) FILTER (WHERE %s = %d)", hv, bin))
			}
			outer = append(outer,
				fmt.Sprintf("count(*) FILTER (WHERE %s IS NULL)", mv),
				fmt.Sprintf("count(*) FILTER (WHERE %s IS NOT NULL AND %s IS NULL)", mv, hv))
			st.hists = append(st.hists, histOut{offset: b.Offset, bins: b.Bins})
		}
	}

	var where []string
	for _, c := range rule.Conditions {
		where = append(where, conditionSQL(c, cols[c.Column], &a))
	}
	for _, f := range spec.Filter {
		w, err := predicateSQL(f, cols[f.Column], &a)
		if err != nil {
			return st, err
		}
		where = append(where, w)
	}
	var sb strings.Builder
	sb.WriteString("SELECT ")
	sb.WriteString(strings.Join(outer, ", "))
	sb.WriteString(" FROM (SELECT ")
	sb.WriteString(strings.Join(inner, ", "))
	sb.WriteString(" FROM ")
	sb.WriteString(table)
	if len(where) > 0 {
		sb.WriteString(" WHERE ")
		sb.WriteString(strings.Join(where, " AND "))
	}
	// OFFSET 0 keeps the planner from inlining the inner select, so that
	// each record's cell, bins and scaled values are computed once.
	sb.WriteString(" OFFSET 0) AS r GROUP BY k")
	st.sql = sb.String()
	st.args = a.list
	return st, nil
}

// ident quotes a database column name.
func ident(c sqlColumn) string { return pgx.Identifier{c.source}.Sanitize() }

// valueExpr is a column's value with every missing value as NULL: NaN
// numbers and empty categories too, as the in-memory tables have them.
func valueExpr(c sqlColumn) string {
	switch c.kind {
	case dataset.KindNumber:
		return "NULLIF((" + ident(c) + ")::float8, 'NaN'::float8)"
	case dataset.KindCategory:
		return "NULLIF((" + ident(c) + ")::text, '')"
	}
	return "(" + ident(c) + ")::bool"
}

// binExpr is the 0-based bin of the number v among the bound edges, the
// last bin closed, or NULL when v is missing or outside them.
func binExpr(v string, edges []float64, a *sqlArgs) string {
	n := len(edges)
	return fmt.Sprintf("(CASE WHEN %[1]s >= %[2]s AND %[1]s <= %[3]s THEN LEAST(width_bucket(%[1]s, %[4]s), %[5]d) - 1 END)",
		v, a.bind(edges[0], "float8"), a.bind(edges[n-1], "float8"), a.bind(edges, "float8[]"), n-1)
}

// cellExpr is the record's cell index, or NULL when it belongs to no
// cell. The first group_by varies slowest, as in query.Layout.
func cellExpr(spec *query.Spec, cols map[string]sqlColumn, layout query.Layout, a *sqlArgs) (string, error) {
	if len(spec.GroupBy) == 0 {
		return "0", nil
	}
	stride := layout.Cells
	var terms []string
	var ok bool
	for i, g := range spec.GroupBy {
		c := cols[g.Column]
		stride /= layout.Dims[i]
		v := valueExpr(c)
		var idx string
		switch {
		case g.Bins != nil:
			if c.kind != dataset.KindNumber {
				return "", fmt.Errorf("group_by column %q is %s, want number: %w", g.Column, c.kind, ErrTypeMismatch)
			}
			idx = binExpr(v, g.Bins, a)
		case c.kind == dataset.KindBool:
			vals := make([]bool, len(g.Values))
			for j, s := range g.Values {
				vals[j] = s == "true"
			}
			idx = fmt.Sprintf("(array_position(%s, %s) - 1)", a.bind(vals, "bool[]"), v)
		case c.kind == dataset.KindCategory:
			idx = fmt.Sprintf("(array_position(%s, %s) - 1)", a.bind(g.Values, "text[]"), v)
		case c.kind == dataset.KindNumber:
			// Numeric codes, matched exactly as float8.
			codes := make([]float64, len(g.Values))
			for j, s := range g.Values {
				if codes[j], ok = query.NumericCode(s); !ok {
					return "", fmt.Errorf("group_by column %q holds numbers; %q is not one: %w", g.Column, s, ErrTypeMismatch)
				}
			}
			idx = fmt.Sprintf("(array_position(%s, %s) - 1)", a.bind(codes, "float8[]"), v)
		default:
			return "", fmt.Errorf("group_by column %q is %s, want category or bool: %w", g.Column, c.kind, ErrTypeMismatch)
		}
		terms = append(terms, fmt.Sprintf("%s * %d", idx, stride))
	}
	return "(" + strings.Join(terms, " + ") + ")", nil
}

// sqlOp returns the SQL operator of a comparison; policy and query share
// the names eq, ne, lt, le, gt and ge.
func sqlOp(op string) string {
	switch op {
	case query.OpEq:
		return "="
	case query.OpNe:
		return "<>"
	case query.OpLt:
		return "<"
	case query.OpLe:
		return "<="
	case query.OpGt:
		return ">"
	}
	return ">=" // query.OpGe; callers have validated op
}

// sqlType is the parameter type of a value of kind k.
func sqlType(k dataset.Kind) string {
	switch k {
	case dataset.KindNumber:
		return "float8"
	case dataset.KindCategory:
		return "text"
	}
	return "bool"
}

// conditionSQL compiles a cohort condition that checkCondition has
// accepted. Without Missing "include", SQL's NULL comparison already fails
// a record with no value, as Cohort does.
func conditionSQL(c policy.Condition, col sqlColumn, a *sqlArgs) string {
	v := valueExpr(col)
	cmp := fmt.Sprintf("%s %s %s", v, sqlOp(c.Op), a.bind(c.Value, sqlType(col.kind)))
	if c.Missing == policy.MissingInclude {
		return fmt.Sprintf("(%s IS NULL OR %s)", v, cmp)
	}
	return "(" + cmp + ")"
}

// predicateSQL compiles a filter predicate of a spec that CheckColumns has
// accepted. A NULL never satisfies it: every comparison with NULL, and
// NOT of one, is NULL, which WHERE treats as false.
func predicateSQL(f query.Predicate, col sqlColumn, a *sqlArgs) (string, error) {
	v := valueExpr(col)
	typ := sqlType(col.kind)
	switch f.Op {
	case query.OpEq, query.OpNe, query.OpLt, query.OpLe, query.OpGt, query.OpGe:
		return fmt.Sprintf("(%s %s %s)", v, sqlOp(f.Op), a.bind(f.Value, typ)), nil
	case query.OpBetween:
		return fmt.Sprintf("(%s >= %s AND %s <= %s)", v, a.bind(f.Values[0], typ), v, a.bind(f.Values[1], typ)), nil
	case query.OpIn, query.OpNotIn:
		var set any
		switch col.kind {
		case dataset.KindNumber:
			xs := make([]float64, len(f.Values))
			for i, x := range f.Values {
				xs[i], _ = x.(float64)
			}
			set = xs
		case dataset.KindCategory:
			xs := make([]string, len(f.Values))
			for i, x := range f.Values {
				xs[i], _ = x.(string)
			}
			set = xs
		default:
			xs := make([]bool, len(f.Values))
			for i, x := range f.Values {
				xs[i], _ = x.(bool)
			}
			set = xs
		}
		in := fmt.Sprintf("%s = ANY(%s)", v, a.bind(set, typ+"[]"))
		if f.Op == query.OpNotIn {
			return "(NOT (" + in + "))", nil
		}
		return "(" + in + ")", nil
	}
	return "", fmt.Errorf("filter on %q: unknown op %q", f.Column, f.Op)
}
