package source

import (
	"fmt"
	"strconv"
	"strings"

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

// A param is a bound value and its kind, which numbered placeholders
// cast to.
type param struct {
	value any
	kind  dataset.Kind
	array bool
}

// sqlArgs collects the bound parameters of one statement. bind returns a
// marker, not a placeholder: the statement's parts are written out of
// order (the outer select before the inner one), and render numbers the
// placeholders, and orders the values, as they appear in the final text.
type sqlArgs struct{ list []param }

// marker delimits a parameter's index in the statement text. Identifiers
// cannot hold it (checkIdentifier) and values never enter the text.
const marker = "\x00"

func (a *sqlArgs) bind(v any, k dataset.Kind) string {
	a.list = append(a.list, param{value: v, kind: k})
	return marker + strconv.Itoa(len(a.list)-1) + marker
}

func (a *sqlArgs) bindArray(v any, k dataset.Kind) string {
	a.list = append(a.list, param{value: v, kind: k, array: true})
	return marker + strconv.Itoa(len(a.list)-1) + marker
}

// render replaces the markers of text with d's placeholders and returns
// the parameters in their order.
func (a *sqlArgs) render(d *dialect, text string) (string, []any) {
	var sb strings.Builder
	var args []any
	for {
		i := strings.Index(text, marker)
		if i < 0 {
			sb.WriteString(text)
			return sb.String(), args
		}
		j := strings.Index(text[i+1:], marker) + i + 1
		n, _ := strconv.Atoi(text[i+1 : j])
		p := a.list[n]
		args = append(args, p.value)
		sb.WriteString(text[:i])
		sb.WriteString(d.placeholder(len(args), p))
		text = text[j+1:]
	}
}

// compileSQL compiles a spec and a cohort rule into statements of dialect
// d over table, a quoted identifier, reading only the allowed columns.
// Every value that comes from the spec or the rule is a bound parameter;
// every identifier is one of the allowed columns, quoted by the dialect.
// The only literals in the text are constants and integers the compiler
// computes itself (cell strides and bin numbers). Column names are checked
// against the allow-list before any text is built, so a hostile name never
// reaches the database.
//
// The statements run in one snapshot and together give exactly
// aggregate.Aggregate's vector over the records that Cohort admits:
//   - numbers are compared, clipped and scaled as doubles, like Go's
//     float64; a NULL or NaN number is missing;
//   - a NULL or empty category is missing, as in a CSV file; categories
//     compare byte for byte;
//   - cohort conditions are WHERE clauses, a Missing "include" one as
//     (value IS NULL OR value op ?); filter predicates never match a NULL;
//   - a numeric bin is the last edge not above the value, the last bin
//     closed; a category or bool cell is the value's position in the
//     bound values;
//   - a sum adds, per record, the clipped and scaled value rounded half
//     away from zero, computed exactly as math.Round does, as an exact
//     integer sum.
func compileSQL(d *dialect, spec *query.Spec, rule policy.CohortRule, table string, cols map[string]sqlColumn) (*sqlPlan, error) {
	// Resolve every column first: nothing is built from an unknown name.
	for _, name := range spec.Columns() {
		if _, ok := cols[name]; !ok {
			return nil, fmt.Errorf("column %q: %w", name, ErrUnknownColumn)
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
		if len(cur) > 0 && width+w > d.maxColumns {
			batches = append(batches, cur)
			cur, width = nil, 2
		}
		cur = append(cur, b)
		width += w
	}
	batches = append(batches, cur)

	for _, batch := range batches {
		c := &compiler{d: d, spec: spec, cols: cols}
		st, err := c.statement(rule, table, p.layout, batch)
		if err != nil {
			return nil, err
		}
		p.stmts = append(p.stmts, st)
	}
	return p, nil
}

// A compiler builds one statement.
type compiler struct {
	d    *dialect
	spec *query.Spec
	cols map[string]sqlColumn
	args sqlArgs
}

// statement builds the statement for one batch of metric blocks: an
// inner select of the cell index and the per-record metric values over
// the admitted records, and an outer one aggregating them per cell.
func (c *compiler) statement(rule policy.CohortRule, table string, layout query.Layout, batch []query.Block) (sqlStatement, error) {
	var st sqlStatement
	cell, err := c.cell(layout)
	if err != nil {
		return st, err
	}
	inner := []string{cell + " AS k"}
	outer := []string{"k", "count(*)"}
	for j, b := range batch {
		m := c.spec.Metrics[b.Metric]
		v := c.d.value(c.cols[m.Column])
		mv := "m" + strconv.Itoa(j)
		inner = append(inner, v+" AS "+mv)
		switch b.Kind {
		case query.KindSum, query.KindMean:
			sv := "s" + strconv.Itoa(j)
			// CASE keeps a missing value NULL: PostgreSQL's LEAST and
			// GREATEST skip NULL arguments.
			inner = append(inner, fmt.Sprintf("(CASE WHEN %[1]s IS NOT NULL THEN LEAST(GREATEST(%[1]s, %[2]s), %[3]s) * %[4]s END) AS %[5]s",
				v, c.number(m.Clip[0]), c.number(m.Clip[1]), c.number(c.spec.MetricScale(b.Metric)), sv))
			// math.Round: the integral part, plus the sign when the
			// fraction is at least one half. Both steps are exact.
			t := fmt.Sprintf(c.d.trunc, sv)
			outer = append(outer,
				fmt.Sprintf(c.d.sumInts, fmt.Sprintf("%[1]s + CASE WHEN abs(%[2]s - %[1]s) >= 0.5 THEN sign(%[2]s) ELSE 0 END", t, sv)),
				fmt.Sprintf(c.d.countIf, mv+" IS NULL"))
			st.sums = append(st.sums, sumOut{offset: b.Offset})
		case query.KindHistogram:
			if c.d.arrays {
				hv := "h" + strconv.Itoa(j)
				inner = append(inner, c.bin(v, m.Bins)+" AS "+hv)
				for bin := range b.Bins {
					outer = append(outer, fmt.Sprintf(c.d.countIf, fmt.Sprintf("%s = %d", hv, bin)))
				}
				outer = append(outer,
					fmt.Sprintf(c.d.countIf, mv+" IS NULL"),
					fmt.Sprintf(c.d.countIf, fmt.Sprintf("%s IS NOT NULL AND %s IS NULL", mv, hv)))
			} else {
				// A range test per bin: the bin index, a CASE chain, would
				// be evaluated once per bin.
				e := m.Bins
				for bin := range b.Bins {
					le := "<"
					if bin == b.Bins-1 {
						le = "<="
					}
					outer = append(outer, fmt.Sprintf(c.d.countIf, fmt.Sprintf("%s >= %s AND %s %s %s", mv, c.number(e[bin]), mv, le, c.number(e[bin+1]))))
				}
				outer = append(outer,
					fmt.Sprintf(c.d.countIf, mv+" IS NULL"),
					fmt.Sprintf(c.d.countIf, fmt.Sprintf("(%s < %s OR %s > %s)", mv, c.number(e[0]), mv, c.number(e[len(e)-1]))))
			}
			st.hists = append(st.hists, histOut{offset: b.Offset, bins: b.Bins})
		}
	}

	var where []string
	for _, cond := range rule.Conditions {
		where = append(where, c.condition(cond))
	}
	for _, f := range c.spec.Filter {
		w, err := c.predicate(f)
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
	sb.WriteString(c.d.fence)
	sb.WriteString(") AS r GROUP BY k")
	st.sql, st.args = c.args.render(c.d, sb.String())
	return st, nil
}

// number binds a number parameter.
func (c *compiler) number(x float64) string { return c.args.bind(x, dataset.KindNumber) }

// bin is the 0-based bin of the number v among the bound edges, the last
// bin closed, or NULL when v is missing or outside them.
func (c *compiler) bin(v string, edges []float64) string {
	n := len(edges)
	if c.d.arrays {
		return fmt.Sprintf("(CASE WHEN %[1]s >= %[2]s AND %[1]s <= %[3]s THEN LEAST(width_bucket(%[1]s, %[4]s), %[5]d) - 1 END)",
			v, c.number(edges[0]), c.number(edges[n-1]), c.args.bindArray(edges, dataset.KindNumber), n-1)
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "(CASE WHEN %s < %s THEN NULL", v, c.number(edges[0]))
	for b := 1; b < n-1; b++ {
		fmt.Fprintf(&sb, " WHEN %s < %s THEN %d", v, c.number(edges[b]), b-1)
	}
	fmt.Fprintf(&sb, " WHEN %s <= %s THEN %d END)", v, c.number(edges[n-1]), n-2)
	return sb.String()
}

// position is the 0-based position of v among the bound values, or NULL.
func (c *compiler) position(v string, values any, kind dataset.Kind) string {
	if c.d.arrays {
		return fmt.Sprintf("(array_position(%s, %s) - 1)", c.args.bindArray(values, kind), v)
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "(CASE %s", v)
	for i, x := range listOf(values) {
		fmt.Fprintf(&sb, " WHEN %s THEN %d", c.args.bind(x, kind), i)
	}
	sb.WriteString(" END)")
	return sb.String()
}

// in is the test that v is one of the bound values.
func (c *compiler) in(v string, values any, kind dataset.Kind) string {
	if c.d.arrays {
		return fmt.Sprintf("%s = ANY(%s)", v, c.args.bindArray(values, kind))
	}
	var ps []string
	for _, x := range listOf(values) {
		ps = append(ps, c.args.bind(x, kind))
	}
	return fmt.Sprintf("%s IN (%s)", v, strings.Join(ps, ", "))
}

// listOf returns the elements of a []float64, []string or []bool.
func listOf(values any) []any {
	var out []any
	switch xs := values.(type) {
	case []float64:
		for _, x := range xs {
			out = append(out, x)
		}
	case []string:
		for _, x := range xs {
			out = append(out, x)
		}
	case []bool:
		for _, x := range xs {
			out = append(out, x)
		}
	}
	return out
}

// cell is the record's cell index, or NULL when it belongs to no cell.
// The first group_by varies slowest, as in query.Layout.
func (c *compiler) cell(layout query.Layout) (string, error) {
	if len(c.spec.GroupBy) == 0 {
		return "0", nil
	}
	stride := layout.Cells
	var terms []string
	for i, g := range c.spec.GroupBy {
		col := c.cols[g.Column]
		stride /= layout.Dims[i]
		v := c.d.value(col)
		var idx string
		switch {
		case g.Bins != nil:
			if col.kind != dataset.KindNumber {
				return "", fmt.Errorf("group_by column %q is %s, want number: %w", g.Column, col.kind, ErrTypeMismatch)
			}
			idx = c.bin(v, g.Bins)
		case col.kind == dataset.KindBool:
			vals := make([]bool, len(g.Values))
			for j, s := range g.Values {
				vals[j] = s == "true"
			}
			idx = c.position(v, vals, dataset.KindBool)
		case col.kind == dataset.KindCategory:
			idx = c.position(v, g.Values, dataset.KindCategory)
		case col.kind == dataset.KindNumber:
			// Numeric codes, matched exactly as doubles.
			codes := make([]float64, len(g.Values))
			for j, s := range g.Values {
				var ok bool
				if codes[j], ok = query.NumericCode(s); !ok {
					return "", fmt.Errorf("group_by column %q holds numbers; %q is not one: %w", g.Column, s, ErrTypeMismatch)
				}
			}
			idx = c.position(v, codes, dataset.KindNumber)
		default:
			return "", fmt.Errorf("group_by column %q is %s, want category or bool: %w", g.Column, col.kind, ErrTypeMismatch)
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

// condition compiles a cohort condition that checkCondition has accepted.
// Without Missing "include", SQL's NULL comparison already fails a record
// with no value, as Cohort does.
func (c *compiler) condition(cond policy.Condition) string {
	col := c.cols[cond.Column]
	v := c.d.value(col)
	cmp := fmt.Sprintf("%s %s %s", v, sqlOp(cond.Op), c.args.bind(cond.Value, col.kind))
	if cond.Missing == policy.MissingInclude {
		return fmt.Sprintf("(%s IS NULL OR %s)", v, cmp)
	}
	return "(" + cmp + ")"
}

// predicate compiles a filter predicate of a spec that CheckColumns has
// accepted. A NULL never satisfies it: every comparison with NULL, and
// NOT of one, is NULL, which WHERE treats as false.
func (c *compiler) predicate(f query.Predicate) (string, error) {
	col := c.cols[f.Column]
	v := c.d.value(col)
	switch f.Op {
	case query.OpEq, query.OpNe, query.OpLt, query.OpLe, query.OpGt, query.OpGe:
		return fmt.Sprintf("(%s %s %s)", v, sqlOp(f.Op), c.args.bind(f.Value, col.kind)), nil
	case query.OpBetween:
		return fmt.Sprintf("(%s >= %s AND %s <= %s)", v, c.args.bind(f.Values[0], col.kind), v, c.args.bind(f.Values[1], col.kind)), nil
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
		in := c.in(v, set, col.kind)
		if f.Op == query.OpNotIn {
			return "(NOT (" + in + "))", nil
		}
		return "(" + in + ")", nil
	}
	return "", fmt.Errorf("filter on %q: unknown op %q", f.Column, f.Op)
}
