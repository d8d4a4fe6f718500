package source

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/internal/mysqltest"
	"github.com/fedscore/fedscore/policy"
	"github.com/fedscore/fedscore/query"
)

// mysqlURL returns the test server's mysql:// URL (see internal/mysqltest).
func mysqlURL(t testing.TB) string {
	t.Helper()
	return mysqltest.URL(t)
}

// mysqlTestDSN returns the test server's driver DSN.
func mysqlTestDSN(t testing.TB) string {
	t.Helper()
	u, err := url.Parse(mysqlURL(t))
	if err != nil {
		t.Fatal(err)
	}
	dsn, err := mysqlDSN(u)
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}

// testMySQL connects to the test database, for setting up tables.
func testMySQL(t testing.TB) *sql.DB {
	t.Helper()
	db, err := mysqltest.Open(context.Background(), mysqlURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// mustExec runs setup statements.
func mustExec(t testing.TB, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// openMySQLTest opens a MySQL source on a test table.
func openMySQLTest(t *testing.T, table string, m *dataset.Mapping) *MySQL {
	t.Helper()
	s, err := OpenMySQL(context.Background(), MySQLConfig{DSN: mysqlTestDSN(t), Table: table, Mapping: m, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// loadMySQLTable creates table name from tab (see mysqltest.LoadTable).
func loadMySQLTable(t testing.TB, db *sql.DB, name string, tab *dataset.Table, decimal ...string) {
	t.Helper()
	if err := mysqltest.LoadTable(context.Background(), db, name, tab, decimal...); err != nil {
		t.Fatal(err)
	}
}

// TestMySQLDSN checks how a mysql:// URL maps to the driver's DSN.
func TestMySQLDSN(t *testing.T) {
	tests := []struct{ url, want string }{
		{"mysql://u:p@db.example:3307/sales?tls=true", "u:p@tcp(db.example:3307)/sales?tls=true"},
		{"mysql://u@db.example/sales", "u@tcp(db.example:3306)/sales"},
		{"mysql://u:p%40ss%2Fw@[::1]:3306/d?charset=utf8mb4", "u:p@ss/w@tcp([::1]:3306)/d?charset=utf8mb4"},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		got, err := mysqlDSN(u)
		if err != nil || got != tt.want {
			t.Errorf("mysqlDSN(%s) = %q, %v; want %q", tt.url, got, err, tt.want)
		}
		if cfg, err := mysql.ParseDSN(got); err != nil || cfg.Passwd != func() string { p, _ := u.User.Password(); return p }() {
			t.Errorf("DSN %q does not parse back: %v", got, err)
		}
	}
}

// TestMySQLHostile checks that hostile identifiers are quoted safely or
// refused, and that hostile values are mere parameters compared byte for
// byte, whatever the column's collation says.
func TestMySQLHostile(t *testing.T) {
	ctx := context.Background()
	db := testMySQL(t)
	const evilTable = "host`ile'\"\\; DROP TABLE bank; --"
	const evilColumn = "x`; DROP TABLE hostile; -- ' \" \\ ü"
	names := []string{"a", "A", "a ", "é", "e", `'; DROP TABLE hostile; --`, `\' OR 1=1 -- `, `back\slash`, "nul\x00byte", "Ünïcødé ✓", "b"}
	build := func(evil string) *dataset.Table {
		b := dataset.NewBuilder()
		ids := make([]float64, len(names))
		xs := make([]float64, len(names))
		for i := range names {
			ids[i], xs[i] = float64(i), float64(10*i)
		}
		b.AddNumber("id", ids)
		b.AddCategory("name", names)
		b.AddNumber(evil, xs)
		tab, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		return tab
	}
	loadMySQLTable(t, db, evilTable, build(evilColumn))
	mem := &Memory{Table: build("x")}
	src := openMySQLTest(t, evilTable, &dataset.Mapping{Columns: []dataset.ColumnMapping{
		{Source: "id"}, {Source: "name"}, {Source: evilColumn, Name: "x"},
	}})
	stillThere := func() {
		t.Helper()
		var n int
		if err := db.QueryRow("SELECT count(*) FROM " + mysqltest.Quote(evilTable)).Scan(&n); err != nil || n != len(names) {
			t.Fatalf("table %q: %d rows, %v", evilTable, n, err)
		}
	}

	base := "purpose: marketing_analytics\nmin_partners: 2\ndecimals: 0\n"
	for _, bad := range []string{
		"group_by: [{column: \"x`; DROP TABLE hostile; --\", values: [a]}]\nmetrics: [{kind: count}]",
		"group_by: []\nfilter: [{column: \"name` = name; DROP TABLE hostile; --\", op: eq, value: a}]\nmetrics: [{kind: count}]",
		"group_by: []\nmetrics: [{kind: sum, column: \"id); DROP TABLE hostile; --\", clip: [0, 1]}]",
	} {
		spec := mustSpec(t, base+bad)
		if _, _, err := src.Aggregate(ctx, spec, policy.CohortRule{}); !errors.Is(err, query.ErrColumnMismatch) {
			t.Errorf("hostile spec %q: error %v, want a column mismatch", bad, err)
		}
		if _, err := compileSQL(src.d, spec, policy.CohortRule{}, src.table, src.cols); !errors.Is(err, ErrUnknownColumn) {
			t.Errorf("compileSQL(%q): %v, want ErrUnknownColumn", bad, err)
		}
	}
	stillThere()

	// Each hostile value selects itself and nothing else: no case
	// folding, accent folding, padding or escaping.
	values := `["a", "A", "a ", "é", "e", "'; DROP TABLE hostile; --", "\\' OR 1=1 -- ", "back\\slash", "nul\u0000byte", "Ünïcødé ✓"]`
	spec := mustSpec(t, base+`group_by: [{column: name, values: `+values+`}]
filter: [{column: name, op: ne, value: "' OR 1=1; --"}]
metrics: [{kind: count}, {kind: sum, column: x, clip: [0, 1000]}]`)
	for _, rule := range []policy.CohortRule{
		{},
		{Conditions: []policy.Condition{{Column: "name", Op: policy.OpNe, Value: "b'); DROP TABLE hostile; --", Code: "X"}}},
		{Conditions: []policy.Condition{{Column: "name", Op: policy.OpNe, Value: "nul\x00byte", Code: "X"}}},
	} {
		vec := sameResult(t, src, spec, rule, mem, false)
		if vec[0] != 1 || vec[1] != 1 || vec[2] != 1 {
			t.Errorf("a, A and 'a ' are not one record each: %v", vec)
		}
	}
	in := mustSpec(t, base+`group_by: []
filter: [{column: name, op: in, values: ["A", "é", "nul\u0000byte", "x"]}]
metrics: [{kind: count}]`)
	if vec := sameResult(t, src, in, policy.CohortRule{}, mem, false); vec[0] != 3 {
		t.Errorf("in filter selects %d records, want 3", vec[0])
	}
	stillThere()

	// Names the engine cannot hold are refused before any statement.
	for _, bad := range []string{"", strings.Repeat("x", 65), "nul\x00", "trailing ", "emoji 🙂"} {
		_, err := OpenMySQL(ctx, MySQLConfig{DSN: mysqlTestDSN(t), Table: bad, Timeout: time.Minute})
		if !errors.Is(err, ErrInvalidIdentifier) {
			t.Errorf("table %q: %v, want ErrInvalidIdentifier", bad, err)
		}
	}
}

// TestMySQLErrors checks that bad configurations, a dropped column and a
// statement over the time limit fail with clear errors naming the source
// and never the password.
func TestMySQLErrors(t *testing.T) {
	ctx := context.Background()
	db := testMySQL(t)
	mustExec(t, db, "DROP VIEW IF EXISTS slow", "DROP TABLE IF EXISTS errs",
		"CREATE TABLE errs (age BIGINT, region VARCHAR(10), seen DATETIME)",
		"INSERT INTO errs VALUES (30, 'east', NOW()), (40, 'west', NOW()), (50, 'east', NOW()), (60, 'west', NOW())",
		// Each row sleeps: a full scan outlasts any short limit.
		"CREATE VIEW slow AS SELECT age, region FROM errs WHERE SLEEP(1) = 0")
	dsn := mysqlTestDSN(t)
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	with := func(f func(c *mysql.Config)) string {
		c := cfg.Clone()
		f(c)
		return c.FormatDSN()
	}
	wrongPassword := with(func(c *mysql.Config) { c.Passwd = "not-the-password" })
	unreachable := with(func(c *mysql.Config) { c.Addr = "127.0.0.1:1" })
	noDB := with(func(c *mysql.Config) { c.DBName = "no_such_db" })

	tests := []struct {
		name    string
		cfg     MySQLConfig
		want    error
		mention string
	}{
		{"unreachable", MySQLConfig{Name: "bank-a-dwh", DSN: unreachable, Table: "errs"}, ErrUnavailable, "bank-a-dwh"},
		{"wrong password", MySQLConfig{DSN: wrongPassword, Table: "errs"}, ErrUnavailable, "Access denied"},
		{"unknown database", MySQLConfig{DSN: noDB, Table: "errs"}, ErrUnavailable, "no_such_db"},
		{"missing table", MySQLConfig{DSN: dsn, Table: "no_such_table"}, ErrUnknownTable, "no_such_table"},
		{"table in another case", MySQLConfig{DSN: dsn, Table: "ERRS"}, ErrUnknownTable, "ERRS"},
		{"missing column", MySQLConfig{DSN: dsn, Table: "errs", Mapping: &dataset.Mapping{Columns: []dataset.ColumnMapping{{Source: "age"}, {Source: "income"}}}}, ErrUnknownColumn, `"income"`},
		{"kind mismatch", MySQLConfig{DSN: dsn, Table: "errs", Mapping: &dataset.Mapping{Columns: []dataset.ColumnMapping{{Source: "region", Type: "number"}}}}, ErrTypeMismatch, `"region"`},
		{"unsupported type", MySQLConfig{DSN: dsn, Table: "errs", Mapping: &dataset.Mapping{Columns: []dataset.ColumnMapping{{Source: "seen"}}}}, ErrTypeMismatch, "datetime"},
		{"empty table name", MySQLConfig{DSN: dsn}, ErrInvalidIdentifier, "empty table"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Timeout = 5 * time.Second
			s, err := OpenMySQL(ctx, tt.cfg)
			if err == nil {
				s.Close()
				t.Fatal("no error")
			}
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.mention) || tt.cfg.Name == "" && !strings.HasPrefix(err.Error(), "source mysql") {
				t.Errorf("error %q, want %v mentioning %s", err, tt.want, tt.mention)
			}
			if strings.Contains(err.Error(), "not-the-password") || strings.Contains(err.Error(), cfg.Passwd) {
				t.Errorf("error %q reveals the password", err)
			}
		})
	}

	src := openMySQLTest(t, "errs", &dataset.Mapping{Columns: []dataset.ColumnMapping{{Source: "age"}, {Source: "region"}}})
	if src.Engine() != EngineMariaDB || strings.Contains(src.Name(), cfg.Passwd) {
		t.Errorf("engine %s, name %q", src.Engine(), src.Name())
	}
	count := mustSpec(t, "purpose: marketing_analytics\ngroup_by: []\nmetrics: [{kind: count}]\nmin_partners: 2\n")
	rule := policy.CohortRule{Conditions: []policy.Condition{{Column: "region", Op: policy.OpGe, Value: 1.0, Code: "X"}}}
	if _, _, err := src.Aggregate(ctx, count, rule); err == nil || !strings.Contains(err.Error(), "is category") {
		t.Errorf("number condition on a text column: %v", err)
	}

	// The server stops a statement at the time limit.
	slow, err := OpenMySQL(ctx, MySQLConfig{DSN: dsn, Table: "slow", Timeout: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	vec, _, err := slow.Aggregate(ctx, count, policy.CohortRule{})
	if !errors.Is(err, ErrTimeout) || vec != nil || !strings.Contains(err.Error(), "max_statement_time") || !strings.Contains(err.Error(), slow.Name()) {
		t.Errorf("statement over the time limit: %v, %v", vec, err)
	}

	// A column dropped after the source was opened.
	mustExec(t, db, "DROP VIEW slow", "ALTER TABLE errs DROP COLUMN region")
	byRegion := mustSpec(t, "purpose: marketing_analytics\ngroup_by: [{column: region, values: [east]}]\nmetrics: [{kind: count}]\nmin_partners: 2\n")
	if vec, _, err := src.Aggregate(ctx, byRegion, policy.CohortRule{}); !errors.Is(err, ErrUnknownColumn) || vec != nil || !strings.Contains(err.Error(), src.Name()) {
		t.Errorf("dropped column: %v, %v", vec, err)
	}
}

// TestMySQLStatementsPerBatch counts, with the server's own counters, the
// prepared statements one aggregation executes: the row estimate and one
// per metric batch, whatever the number of cells and metrics.
func TestMySQLStatementsPerBatch(t *testing.T) {
	ctx := context.Background()
	db := testMySQL(t)
	loadMySQLTable(t, db, "bank_batches", head(t, loadShared(t, "bank-full.csv"), 2000))
	src := openMySQLTest(t, "bank_batches", nil)
	executed := func() int {
		var name string
		var n int
		if err := db.QueryRow("SHOW GLOBAL STATUS LIKE 'Com_stmt_execute'").Scan(&name, &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, text := range []string{bankSpecs["bins x values, sum, mean, histogram"], manyBins()} {
		spec := mustSpec(t, text)
		plan, err := src.compile(spec, policy.CohortRule{})
		if err != nil {
			t.Fatal(err)
		}
		before := executed()
		if _, _, err := src.Aggregate(ctx, spec, policy.CohortRule{}); err != nil {
			t.Fatal(err)
		}
		if got, want := executed()-before, 1+len(plan.stmts); got != want {
			t.Errorf("%d statements executed for %d metric batches, want %d", got, len(plan.stmts), want)
		}
	}
}

// head returns the first n rows of tab.
func head(t testing.TB, tab *dataset.Table, n int) *dataset.Table {
	t.Helper()
	b := dataset.NewBuilder()
	for _, c := range tab.Columns() {
		switch c.Kind {
		case dataset.KindNumber:
			b.AddNumber(c.Name, c.Numbers[:n:n])
		case dataset.KindCategory:
			b.AddCategoryCodes(c.Name, c.Dict, c.Codes[:n:n])
		default:
			b.AddBool(c.Name, c.Bools[:n:n], c.Missing[:n:n])
		}
	}
	out, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return out
}
