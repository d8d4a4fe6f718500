package source

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/policy"
)

// TestCompileSQLParameters checks, without a database, that values only
// ever travel as parameters and identifiers only as quoted allowed names.
func TestCompileSQLParameters(t *testing.T) {
	cols := map[string]sqlColumn{
		"age":    {name: "age", source: "AGE", kind: dataset.KindNumber},
		"region": {name: "region", source: `re"gion`, kind: dataset.KindCategory},
		"ok":     {name: "ok", source: "ok", kind: dataset.KindBool},
	}
	const evil = `'); DROP TABLE t; --`
	spec := mustSpec(t, `
purpose: marketing_analytics
group_by:
  - {column: age, bins: [18, 30, 60]}
  - {column: region, values: ["east", "'); DROP TABLE t; --"]}
filter:
  - {column: region, op: ne, value: "'); DROP TABLE t; --"}
  - {column: ok, op: eq, value: true}
metrics:
  - {kind: sum, column: age, clip: [0, 100]}
min_partners: 2
`)
	rule := policy.CohortRule{Conditions: []policy.Condition{{Column: "region", Op: policy.OpEq, Value: evil, Missing: policy.MissingInclude, Code: "X"}}}
	plan, err := compileSQL(postgresDialect(t), spec, rule, `"t"`, cols)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.stmts) != 1 {
		t.Fatalf("%d statements, want 1", len(plan.stmts))
	}
	st := plan.stmts[0]
	if strings.Contains(st.sql, "DROP") || strings.Contains(st.sql, "east") {
		t.Errorf("a value reached the SQL text: %s", st.sql)
	}
	for _, want := range []string{`"AGE"`, `"re""gion"`, `"ok"`, "IS NULL OR", "width_bucket", "GROUP BY k"} {
		if !strings.Contains(st.sql, want) {
			t.Errorf("SQL lacks %s: %s", want, st.sql)
		}
	}
	found := 0
	for _, a := range st.args {
		if a == evil {
			found++
		}
	}
	if found != 2 {
		t.Errorf("hostile value bound %d times, want 2 (filter and cohort); args %v", found, st.args)
	}

	for _, bad := range []string{`x"; DROP TABLE t; --`, "AGE", "re\"gion"} {
		s := *spec
		s.Filter = append(s.Filter[:0:0], s.Filter...)
		s.Filter[0].Column = bad
		if _, err := compileSQL(postgresDialect(t), &s, policy.CohortRule{}, `"t"`, cols); !errors.Is(err, ErrUnknownColumn) {
			t.Errorf("column %q: %v, want ErrUnknownColumn", bad, err)
		}
	}
}

// TestCompileSQLBatches checks that many histogram bins split the metrics
// over several statements, each within PostgreSQL's column limit.
func TestCompileSQLBatches(t *testing.T) {
	cols := map[string]sqlColumn{
		"x": {name: "x", source: "x", kind: dataset.KindNumber},
		"y": {name: "y", source: "y", kind: dataset.KindNumber},
	}
	var edges []string
	for i := range 700 {
		edges = append(edges, strconv.Itoa(i))
	}
	bins := "[" + strings.Join(edges, ", ") + "]"
	spec := mustSpec(t, "purpose: marketing_analytics\ngroup_by: []\nmetrics:\n  - {kind: histogram, column: x, bins: "+bins+"}\n  - {kind: sum, column: x, clip: [0, 1]}\n  - {kind: histogram, column: y, bins: "+bins+"}\nmin_partners: 2\n")
	plan, err := compileSQL(postgresDialect(t), spec, policy.CohortRule{}, `"t"`, cols)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.stmts) != 2 {
		t.Fatalf("%d statements, want 2", len(plan.stmts))
	}
	if got := len(plan.stmts[0].sums) + len(plan.stmts[0].hists); got != 2 {
		t.Errorf("first statement holds %d metrics, want 2", got)
	}
}

// manyBins returns a spec over bank data whose histograms need several
// statements.
func manyBins() string {
	var edges []string
	for i := range 700 {
		edges = append(edges, strconv.Itoa(i*5))
	}
	bins := "[" + strings.Join(edges, ", ") + "]"
	return "purpose: marketing_analytics\ngroup_by: [{column: housing, values: [\"yes\", \"no\"]}]\nmetrics:\n" +
		"  - {kind: histogram, column: duration, bins: " + bins + "}\n" +
		"  - {kind: sum, column: balance, clip: [0, 1000]}\n" +
		"  - {kind: histogram, column: pdays, bins: " + bins + "}\nmin_partners: 2\n"
}

func postgresDialect(t *testing.T) *dialect {
	t.Helper()
	d, err := dialectOf(EnginePostgres)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestDialects compiles one hostile spec in every dialect of the table,
// the engines tested against a server and those that are not, and checks
// that values only travel as parameters, one per placeholder in the order
// of the text, and that every statement carries its time limit.
func TestDialects(t *testing.T) {
	cols := map[string]sqlColumn{
		"age":    {name: "age", source: "a`g\"e", kind: dataset.KindNumber},
		"region": {name: "region", source: "region", kind: dataset.KindCategory},
		"ok":     {name: "ok", source: "ok", kind: dataset.KindBool},
	}
	const evil = "'); DROP TABLE t; -- \\ `"
	spec := mustSpec(t, `
purpose: marketing_analytics
group_by:
  - {column: age, bins: [18, 30, 60]}
  - {column: region, values: ["east", "'); DROP TABLE t; -- \\ `+"`"+`"]}
  - {column: ok, values: ["true"]}
filter:
  - {column: region, op: not_in, values: ["'); DROP TABLE t; -- \\ `+"`"+`", "west"]}
  - {column: age, op: between, values: [1, 99]}
metrics:
  - {kind: sum, column: age, clip: [0, 100]}
  - {kind: histogram, column: age, bins: [0, 50, 100]}
min_partners: 2
`)
	rule := policy.CohortRule{Conditions: []policy.Condition{{Column: "region", Op: policy.OpEq, Value: evil, Missing: policy.MissingInclude, Code: "X"}}}
	limits := map[Engine]string{
		EngineMariaDB: "SET STATEMENT max_statement_time=2.500 FOR SELECT ", EngineMySQL: "SELECT /*+ MAX_EXECUTION_TIME(2500) */ ",
		EngineTiDB: "SELECT /*+ MAX_EXECUTION_TIME(2500) */ ", EngineStarRocks: "SELECT /*+ SET_VAR(query_timeout = 3) */ ",
		EngineDoris: "SELECT /*+ SET_VAR(query_timeout = 3) */ ",
	}
	for i := range dialects {
		d := &dialects[i]
		t.Run(string(d.engine), func(t *testing.T) {
			table := d.ident("t")
			plan, err := compileSQL(d, spec, rule, table, cols)
			if err != nil {
				t.Fatal(err)
			}
			st := plan.stmts[0]
			if strings.Contains(st.sql, "DROP") || strings.Contains(st.sql, "east") || strings.Contains(st.sql, marker) {
				t.Errorf("a value or marker reached the SQL text: %s", st.sql)
			}
			if !strings.Contains(st.sql, d.ident("a`g\"e")) {
				t.Errorf("the column is not quoted as %s: %s", d.ident("a`g\"e"), st.sql)
			}
			placeholders := strings.Count(st.sql, "?")
			if d.numbered {
				placeholders = strings.Count(st.sql, "$")
				for n := 1; n <= len(st.args); n++ {
					if !strings.Contains(st.sql, "$"+strconv.Itoa(n)+"::") {
						t.Errorf("placeholder $%d missing", n)
					}
				}
			}
			if placeholders != len(st.args) {
				t.Errorf("%d placeholders for %d parameters: %s", placeholders, len(st.args), st.sql)
			}
			found := 0
			for _, a := range st.args {
				if xs, ok := a.([]string); ok {
					found += strings.Count(strings.Join(xs, "\x00"), evil)
				} else if a == evil {
					found++
				}
			}
			if found != 3 {
				t.Errorf("hostile value bound %d times, want 3 (cell, filter and cohort); args %v", found, st.args)
			}
			tab := sqlTable{d: d, timeout: 2500 * time.Millisecond}
			if want := limits[d.engine]; !strings.HasPrefix(tab.statement(st), want) {
				t.Errorf("statement does not start with its time limit %q: %.80s", want, tab.statement(st))
			}
		})
	}
}
