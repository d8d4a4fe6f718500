package source

import (
	"context"
	"errors"
	"maps"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/internal/synth"
	"github.com/fedscore/fedscore/policy"
	"github.com/fedscore/fedscore/query"
)

// openTest opens a Postgres source on a test table.
func openTest(t *testing.T, table string, m *dataset.Mapping) *Postgres {
	t.Helper()
	p, err := OpenPostgres(context.Background(), PostgresConfig{DSN: pgDSN(t), Table: table, Mapping: m, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

var bankSpecs = map[string]string{
	"bins x values, sum, mean, histogram": `
purpose: marketing_analytics
group_by:
  - {column: age, bins: [18, 25, 35, 45, 55, 65, 95]}
  - {column: marital, values: [married, single, divorced]}
metrics:
  - {kind: count}
  - {kind: sum, column: balance, clip: [-10000, 100000]}
  - {kind: mean, column: duration, clip: [0, 3000]}
  - {kind: histogram, column: campaign, bins: [1, 2, 3, 5, 10, 63]}
min_partners: 2
`,
	"filters": `
purpose: marketing_analytics
group_by:
  - {column: job, values: [management, technician, blue-collar, retired, student, nobody]}
filter:
  - {column: education, op: in, values: [secondary, tertiary]}
  - {column: balance, op: between, values: [-500, 20000]}
  - {column: housing, op: eq, value: "yes"}
  - {column: day, op: lt, value: 20}
  - {column: poutcome, op: not_in, values: [failure]}
  - {column: pdays, op: ne, value: 5}
metrics:
  - {kind: sum, column: balance, clip: [-1000, 50000]}
min_partners: 2
`,
	"half-way rounding with fractional clips": `
purpose: marketing_analytics
group_by:
  - {column: month, values: [jan, feb, mar, apr, may, jun, jul, aug, sep, oct, nov, dec]}
metrics:
  - {kind: sum, column: balance, clip: [-1000.5, 5000.25]}
  - {kind: mean, column: duration, clip: [0.125, 1000.375]}
min_partners: 2
decimals: 1
`,
	"no group_by": `
purpose: marketing_analytics
group_by: []
metrics:
  - {kind: count}
  - {kind: histogram, column: age, bins: [0, 30, 60, 90]}
min_partners: 2
decimals: 0
`,
}

// TestSQLBank loads bank-full.csv into every test server and checks that
// every spec gives exactly the in-memory engine's vector.
func TestSQLBank(t *testing.T) {
	forEachServer(t, testSQLBank)
}

func testSQLBank(t *testing.T, srv *testServer) {
	tab := loadShared(t, "bank-full.csv")
	srv.load(t, "bank", tab)
	pg := srv.open(t, "bank", nil)
	mem := &Memory{Table: tab}
	rules := map[string]policy.CohortRule{
		"no rule": {},
		"rule": {Conditions: []policy.Condition{
			{Column: "age", Op: policy.OpGe, Value: 18.0, Code: "MINOR"},
			{Column: "default", Op: policy.OpNe, Value: "yes", Code: "X"},
			{Column: "contact", Op: policy.OpNe, Value: "unknown", Missing: policy.MissingInclude, Code: "X"},
		}},
	}
	specs := maps.Clone(bankSpecs)
	specs["histograms over several statements"] = manyBins()
	for name, text := range specs {
		spec := mustSpec(t, text)
		for rname, rule := range rules {
			t.Run(name+"/"+rname, func(t *testing.T) {
				sameResult(t, pg, spec, rule, mem, srv.exactRows)
			})
		}
	}
}

// TestSQLTaiwan does the same with the Taiwan credit card data, whose
// column names hold dots, and an exact decimal column.
func TestSQLTaiwan(t *testing.T) {
	forEachServer(t, testSQLTaiwan)
}

func testSQLTaiwan(t *testing.T, srv *testServer) {
	tab := loadShared(t, "credit-card-default-taiwan.csv")
	srv.load(t, "taiwan", tab, "BILL_AMT1")
	pg := srv.open(t, "taiwan", nil)
	mem := &Memory{Table: tab}
	spec := mustSpec(t, `
purpose: risk_analytics
group_by:
  - {column: LIMIT_BAL, bins: [0, 50000, 100000, 200000, 500000, 1000000]}
  - {column: AGE, bins: [20, 30, 40, 50, 80]}
filter:
  - {column: EDUCATION, op: in, values: [1, 2, 3]}
  - {column: MARRIAGE, op: ne, value: 0}
metrics:
  - {kind: sum, column: BILL_AMT1, clip: [-50000, 500000]}
  - {kind: mean, column: PAY_AMT1, clip: [0, 100000]}
  - {kind: histogram, column: PAY_0, bins: [-2, -1, 0, 1, 2, 3, 9]}
min_partners: 2
decimals: 3
`)
	rule := policy.CohortRule{Conditions: []policy.Condition{
		{Column: "default.payment.next.month", Op: policy.OpEq, Value: 1.0, Code: "X"},
		{Column: "AGE", Op: policy.OpGe, Value: 21.0, Missing: policy.MissingInclude, Code: "MINOR"},
	}}
	sameResult(t, pg, spec, rule, mem, srv.exactRows)
	sameResult(t, pg, spec, policy.CohortRule{}, mem, srv.exactRows)

	// EDUCATION and SEX codes as group_by values, and a metric at its own
	// decimals.
	codes := mustSpec(t, `
purpose: risk_analytics
group_by:
  - {column: EDUCATION, values: ["1", "2", "3", "4", "5", "6", "0"]}
  - {column: SEX, values: ["2", "1.0"]}
metrics:
  - {kind: mean, column: default.payment.next.month, clip: [0, 1], decimals: 5}
  - {kind: sum, column: LIMIT_BAL, clip: [0, 1000000], decimals: -2}
min_partners: 2
`)
	sameResult(t, pg, codes, rule, mem, srv.exactRows)
	sameResult(t, pg, codes, policy.CohortRule{}, mem, srv.exactRows)
}

// TestSQLPolicyCohort takes the cohort rule from the default Rego bundle,
// as a node does, and checks that the SQL and the in-memory path select
// the same records, condition by condition and together, and give the
// same vector.
func TestSQLPolicyCohort(t *testing.T) {
	forEachServer(t, testSQLPolicyCohort)
}

func testSQLPolicyCohort(t *testing.T, srv *testServer) {
	ctx := context.Background()
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	tab, err := synth.Generate(synth.Config{Partner: "bank-a", Rows: 30000, Seed: 7, AsOf: now})
	if err != nil {
		t.Fatal(err)
	}
	srv.load(t, "synth_policy", tab, "credit_utilization")
	pg := srv.open(t, "synth_policy", nil)
	mem := &Memory{Table: tab}

	e, err := policy.NewEngine(ctx, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Admit(ctx, policy.AdmissionInput{
		Query: policy.QueryInfo{
			ID: "q-1", Purpose: "marketing_analytics", Columns: []string{"age", "annual_txn_amount", "region"},
			Metrics: []string{"count", "sum"}, MinPartners: 3, PipiaID: "PIPIA-2026-MA-01", Epsilon: 1, // the default bundle requires noise
		},
		NodeName: "bank-a", NodeColumns: synth.Columns(), Time: now,
	})
	if err != nil || !d.Allow {
		t.Fatalf("Admit = %+v, %v", d, err)
	}
	include := slices.ContainsFunc(d.Cohort.Conditions, func(c policy.Condition) bool { return c.Missing == policy.MissingInclude })
	if len(d.Cohort.Conditions) < 3 || !include {
		t.Fatalf("the policy's cohort rule %v should hold several conditions, one with missing include", d.Cohort.Conditions)
	}
	spec := mustSpec(t, `
purpose: marketing_analytics
group_by:
  - {column: age, bins: [18, 26, 36, 46, 56, 100]}
  - {column: region, values: [north, east, south, southwest, northwest, northeast]}
metrics:
  - {kind: sum, column: annual_txn_amount, clip: [0, 2000000]}
  - {kind: mean, column: credit_utilization, clip: [0, 1]}
  - {kind: histogram, column: credit_score, bins: [300, 500, 600, 700, 850]}
min_partners: 3
decimals: 4
`)
	for _, c := range d.Cohort.Conditions {
		rule := policy.CohortRule{Conditions: []policy.Condition{c}}
		in, err := Cohort(tab, rule)
		if err != nil {
			t.Fatal(err)
		}
		all := mustSpec(t, "purpose: marketing_analytics\ngroup_by: []\nmetrics: [{kind: count}]\nmin_partners: 2\n")
		vec := sameResult(t, pg, all, rule, mem, srv.exactRows)
		if n := int64(countTrue(in)); vec[0] != n {
			t.Errorf("condition %s: SQL selects %d records, Cohort %d", c, vec[0], n)
		}
	}
	vec := sameResult(t, pg, spec, d.Cohort, mem, srv.exactRows)
	if vec[0] == 0 {
		t.Fatal("empty cohort")
	}
}

func countTrue(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// TestPostgresHostile checks that hostile column names are rejected
// before any SQL runs, that hostile values are mere parameters, and that
// a hostile but mapped database column name is quoted safely.
func TestPostgresHostile(t *testing.T) {
	ctx := context.Background()
	pool := testPool(t)
	const evil = `x"; DROP TABLE hostile; --`
	if _, err := pool.Exec(ctx, `DROP TABLE IF EXISTS hostile; CREATE TABLE hostile (id bigint, name text, "x""; DROP TABLE hostile; --" bigint);
INSERT INTO hostile VALUES (1, 'a', 10), (2, 'b', 20), (3, $$'; DROP TABLE hostile; --$$, 30)`); err != nil {
		t.Fatal(err)
	}
	pg := openTest(t, "hostile", &dataset.Mapping{Columns: []dataset.ColumnMapping{
		{Source: "id"}, {Source: "name"}, {Source: evil, Name: "x"},
	}})
	stillThere := func() {
		t.Helper()
		var n int
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM hostile").Scan(&n); err != nil || n != 3 {
			t.Fatalf("table hostile: %d rows, %v", n, err)
		}
	}
	base := "purpose: marketing_analytics\nmin_partners: 2\ndecimals: 0\n"
	for _, bad := range []string{
		`group_by: [{column: "x\"; DROP TABLE hostile; --", values: [a]}]` + "\nmetrics: [{kind: count}]",
		`group_by: []` + "\nfilter: [{column: \"name\\\" = name; DROP TABLE hostile; --\", op: eq, value: a}]\nmetrics: [{kind: count}]",
		`group_by: []` + "\nmetrics: [{kind: sum, column: \"id); DROP TABLE hostile; --\", clip: [0, 1]}]",
	} {
		spec := mustSpec(t, base+bad)
		_, _, err := pg.Aggregate(ctx, spec, policy.CohortRule{})
		if !errors.Is(err, query.ErrColumnMismatch) {
			t.Errorf("hostile spec %q: error %v, want a column mismatch", bad, err)
		}
		if _, err := compileSQL(pg.d, spec, policy.CohortRule{}, pg.table, pg.cols); !errors.Is(err, ErrUnknownColumn) {
			t.Errorf("compileSQL(%q): %v, want ErrUnknownColumn", bad, err)
		}
	}
	rule := policy.CohortRule{Conditions: []policy.Condition{{Column: evil, Op: policy.OpEq, Value: 1.0, Code: "X"}}}
	if _, _, err := pg.Aggregate(ctx, mustSpec(t, base+"group_by: []\nmetrics: [{kind: count}]"), rule); err == nil || !strings.Contains(err.Error(), "does not have") {
		t.Errorf("hostile cohort column: %v", err)
	}
	stillThere()

	// Hostile values select what they equal and nothing else.
	spec := mustSpec(t, base+`group_by: [{column: name, values: ["a", "'; DROP TABLE hostile; --"]}]
filter: [{column: name, op: ne, value: "' OR 1=1; --"}]
metrics: [{kind: sum, column: x, clip: [0, 100]}]`)
	rule = policy.CohortRule{Conditions: []policy.Condition{{Column: "name", Op: policy.OpNe, Value: "b'); DROP TABLE hostile; --", Code: "X"}}}
	vec, _, err := pg.Aggregate(ctx, spec, rule)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{1, 1, 10, 30}; !slices.Equal(vec, want) {
		t.Errorf("vector %v, want %v", vec, want)
	}
	stillThere()
}

// TestPostgresErrors checks that bad configurations fail with clear errors
// naming the source, before any result.
func TestPostgresErrors(t *testing.T) {
	ctx := context.Background()
	dsn := pgDSN(t)
	pool := testPool(t)
	if _, err := pool.Exec(ctx, "DROP TABLE IF EXISTS errs; CREATE TABLE errs (age bigint, region text, score timestamptz)"); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	wrongPassword := *u
	wrongPassword.User = url.UserPassword(u.User.Username(), "not-the-password")
	unreachable := *u
	unreachable.Host = "127.0.0.1:1"

	tests := []struct {
		name    string
		cfg     PostgresConfig
		want    error
		mention string
	}{
		{"unreachable", PostgresConfig{Name: "bank-a-dwh", DSN: unreachable.String(), Table: "errs"}, ErrUnavailable, "bank-a-dwh"},
		{"wrong password", PostgresConfig{DSN: wrongPassword.String(), Table: "errs"}, ErrUnavailable, "table errs"},
		{"missing table", PostgresConfig{DSN: dsn, Table: "no_such_table"}, ErrUnknownTable, `"no_such_table"`},
		{"missing column", PostgresConfig{DSN: dsn, Table: "errs", Mapping: &dataset.Mapping{Columns: []dataset.ColumnMapping{{Source: "age"}, {Source: "income"}}}}, ErrUnknownColumn, `"income"`},
		{"kind mismatch", PostgresConfig{DSN: dsn, Table: "errs", Mapping: &dataset.Mapping{Columns: []dataset.ColumnMapping{{Source: "region", Type: "number"}}}}, ErrTypeMismatch, `"region"`},
		{"unsupported type", PostgresConfig{DSN: dsn, Table: "errs", Mapping: &dataset.Mapping{Columns: []dataset.ColumnMapping{{Source: "score"}}}}, ErrTypeMismatch, "timestamp with time zone"},
		{"empty table name", PostgresConfig{DSN: dsn}, ErrInvalidIdentifier, "empty table"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Timeout = 5 * time.Second
			p, err := OpenPostgres(ctx, tt.cfg)
			if err == nil {
				p.Close()
				t.Fatal("no error")
			}
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.mention) || !strings.HasPrefix(err.Error(), "source postgres") && tt.cfg.Name == "" {
				t.Errorf("error %q, want %v mentioning %s", err, tt.want, tt.mention)
			}
			if strings.Contains(err.Error(), "not-the-password") || strings.Contains(err.Error(), u.User.String()) {
				t.Errorf("error %q reveals the password", err)
			}
		})
	}

	// A query that does not fit the columns fails before any SQL runs.
	p := openTest(t, "errs", &dataset.Mapping{Columns: []dataset.ColumnMapping{{Source: "age"}, {Source: "region"}}})
	spec := mustSpec(t, "purpose: marketing_analytics\ngroup_by: []\nmetrics: [{kind: sum, column: region, clip: [0, 1]}]\nmin_partners: 2\n")
	if _, _, err := p.Aggregate(ctx, spec, policy.CohortRule{}); !errors.Is(err, query.ErrColumnMismatch) || !strings.Contains(err.Error(), p.Name()) {
		t.Errorf("sum over a text column: %v", err)
	}
	rule := policy.CohortRule{Conditions: []policy.Condition{{Column: "region", Op: policy.OpGe, Value: 1.0, Code: "X"}}}
	ok := mustSpec(t, "purpose: marketing_analytics\ngroup_by: []\nmetrics: [{kind: count}]\nmin_partners: 2\n")
	if _, _, err := p.Aggregate(ctx, ok, rule); err == nil || !strings.Contains(err.Error(), "is category") {
		t.Errorf("number condition on a text column: %v", err)
	}
	// A column dropped after the source was opened: a database error,
	// naming the source, and no vector.
	if _, err := pool.Exec(ctx, "ALTER TABLE errs DROP COLUMN region"); err != nil {
		t.Fatal(err)
	}
	byRegion := mustSpec(t, "purpose: marketing_analytics\ngroup_by: [{column: region, values: [east]}]\nmetrics: [{kind: count}]\nmin_partners: 2\n")
	if vec, _, err := p.Aggregate(ctx, byRegion, policy.CohortRule{}); err == nil || vec != nil || !strings.Contains(err.Error(), p.Name()) {
		t.Errorf("dropped column: %v, %v", vec, err)
	}
}
