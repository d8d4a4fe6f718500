package source

import (
	"math"
	"testing"

	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/policy"
)

// missingSetup creates the table of TestSQLMissingValues per engine:
// PostgreSQL has NaN, MySQL-protocol engines only NULL.
var missingSetup = map[Engine][]string{
	EnginePostgres: {`DROP TABLE IF EXISTS missing;
CREATE TABLE missing (age float8, region text, consent boolean, amount numeric);
INSERT INTO missing VALUES
 (30, 'east', true, 10.5), ('NaN', 'east', true, 20), (40, '', true, 30), (NULL, NULL, NULL, NULL),
 (50, 'west', false, 'NaN'), (60, 'west', NULL, 2.25), (70, 'east', true, NULL), (80, 'west', true, 99)`},
	EngineMariaDB: {"DROP TABLE IF EXISTS missing",
		"CREATE TABLE missing (age DOUBLE, region VARCHAR(20), consent BOOLEAN, amount DECIMAL(10, 2))",
		`INSERT INTO missing VALUES
 (30, 'east', true, 10.5), (NULL, 'east', true, 20), (40, '', true, 30), (NULL, NULL, NULL, NULL),
 (50, 'west', false, NULL), (60, 'west', NULL, 2.25), (70, 'east', true, NULL), (80, 'west', true, 99)`},
}

// TestSQLMissingValues checks that NULL, NaN and empty text are missing
// values in SQL as NaN and "" are in memory: in cohort conditions with and
// without Missing include, filters, cells and metrics, and in clipped sums
// whose lower bound is not zero.
func TestSQLMissingValues(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *testServer) {
		srv.exec(t, missingSetup[srv.engine]...)
		testSQLMissingValues(t, srv.open(t, "missing", nil))
	})
}

func testSQLMissingValues(t *testing.T, pg Source) {
	b := dataset.NewBuilder()
	b.AddNumber("age", []float64{30, math.NaN(), 40, math.NaN(), 50, 60, 70, 80})
	b.AddCategory("region", []string{"east", "east", "", "", "west", "west", "east", "west"})
	b.AddBool("consent", []bool{true, true, true, false, false, false, true, true}, []bool{false, false, false, true, false, true, false, false})
	b.AddNumber("amount", []float64{10.5, 20, 30, math.NaN(), math.NaN(), 2.25, math.NaN(), 99})
	tab, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	mem := &Memory{Table: tab}
	spec := mustSpec(t, `
purpose: marketing_analytics
group_by:
  - {column: region, values: [east, west]}
  - {column: consent, values: ["true", "false"]}
filter:
  - {column: amount, op: ne, value: 20}
metrics:
  - {kind: sum, column: amount, clip: [0, 50]}
  - {kind: histogram, column: age, bins: [0, 45, 75]}
min_partners: 2
`)
	rules := []policy.CohortRule{
		{},
		{Conditions: []policy.Condition{{Column: "age", Op: policy.OpGe, Value: 35.0, Missing: policy.MissingInclude, Code: "X"}}},
		{Conditions: []policy.Condition{{Column: "region", Op: policy.OpNe, Value: "west", Missing: policy.MissingInclude, Code: "X"}}},
		{Conditions: []policy.Condition{{Column: "consent", Op: policy.OpEq, Value: true, Code: "X"}}},
		{Conditions: []policy.Condition{{Column: "consent", Op: policy.OpNe, Value: false, Missing: policy.MissingInclude, Code: "X"}}},
	}
	noFilter := mustSpec(t, "purpose: marketing_analytics\ngroup_by: [{column: age, bins: [0, 50, 80]}]\nmetrics: [{kind: mean, column: amount, clip: [0, 100]}]\nmin_partners: 2\n")
	// A missing value adds 0, not the lower clip bound.
	lowClip := mustSpec(t, "purpose: marketing_analytics\ngroup_by: [{column: region, values: [east, west]}]\nmetrics: [{kind: sum, column: amount, clip: [5, 50]}, {kind: mean, column: age, clip: [-10, 100]}]\nmin_partners: 2\n")
	for _, r := range rules {
		sameResult(t, pg, spec, r, mem, false)
		sameResult(t, pg, noFilter, r, mem, false)
		sameResult(t, pg, lowClip, r, mem, false)
	}
}
