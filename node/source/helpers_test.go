package source

import (
	"context"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/internal/shareddata"
	"github.com/fedscore/fedscore/policy"
	"github.com/fedscore/fedscore/query"
)

// pgDSN returns the test database's DSN, or skips the test when none is
// set. With FEDSCORE_PG_TESTS=1, as in CI, a missing DSN fails it instead.
func pgDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("FEDSCORE_PG_DSN")
	if dsn != "" {
		return dsn
	}
	if os.Getenv("FEDSCORE_PG_TESTS") == "1" {
		t.Fatal("FEDSCORE_PG_TESTS=1 but FEDSCORE_PG_DSN is not set: start a server with `eval $(scripts/postgres-test.sh start)`")
	}
	t.Skip("FEDSCORE_PG_DSN is not set; skipping the PostgreSQL tests (eval $(scripts/postgres-test.sh start) to run them)")
	return ""
}

// testPool connects to the test database.
func testPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), pgDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// sqlTypeOf is the column type a test table stores a dataset column as:
// bigint for whole numbers, numeric or double precision otherwise.
func sqlTypeOf(c *dataset.Column, numeric bool) string {
	switch c.Kind {
	case dataset.KindCategory:
		return "text"
	case dataset.KindBool:
		return "boolean"
	}
	if numeric {
		return "numeric"
	}
	for _, v := range c.Numbers {
		if !math.IsNaN(v) && (v != math.Trunc(v) || math.Abs(v) > 1<<53) {
			return "double precision"
		}
	}
	return "bigint"
}

// loadTable creates table name from t, with NULL for missing values, and
// fills it with COPY. Columns listed in numeric are stored as numeric.
func loadTable(t testing.TB, pool *pgxpool.Pool, name string, tab *dataset.Table, numeric ...string) {
	t.Helper()
	ctx := context.Background()
	cols := tab.Columns()
	var defs, names []string
	for _, c := range cols {
		defs = append(defs, pgx.Identifier{c.Name}.Sanitize()+" "+sqlTypeOf(c, slices.Contains(numeric, c.Name)))
		names = append(names, c.Name)
	}
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := pool.Exec(ctx, "DROP TABLE IF EXISTS "+ident); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "CREATE TABLE "+ident+" ("+strings.Join(defs, ", ")+")"); err != nil {
		t.Fatal(err)
	}
	types := make([]string, len(cols))
	for j, c := range cols {
		types[j] = sqlTypeOf(c, slices.Contains(numeric, c.Name))
	}
	row := 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if row >= tab.Rows() {
			return nil, nil
		}
		vals := make([]any, len(cols))
		for j, c := range cols {
			if c.IsMissing(row) {
				continue
			}
			switch c.Kind {
			case dataset.KindNumber:
				if types[j] == "bigint" {
					vals[j] = int64(c.Numbers[row])
				} else {
					vals[j] = c.Numbers[row]
				}
			case dataset.KindCategory:
				vals[j] = c.Dict[c.Codes[row]]
			case dataset.KindBool:
				vals[j] = c.Bools[row]
			}
		}
		row++
		return vals, nil
	})
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{name}, names, src); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "ANALYZE "+ident); err != nil {
		t.Fatal(err)
	}
}

// loadShared reads a shared data file into memory.
func loadShared(t testing.TB, name string) *dataset.Table {
	t.Helper()
	tab, err := dataset.LoadCSVFile(shareddata.Path(t, name), dataset.CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

// mustSpec parses and validates a spec.
func mustSpec(t testing.TB, text string) *query.Spec {
	t.Helper()
	s, err := query.Parse([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(query.Limits{}); err != nil {
		t.Fatal(err)
	}
	return s
}

// sameResult checks that a source gives the in-memory engine's vector and
// statistics; want.Rows is compared only when checkRows is set.
func sameResult(t *testing.T, src Source, spec *query.Spec, rule policy.CohortRule, mem *Memory, checkRows bool) []int64 {
	t.Helper()
	ctx := context.Background()
	want, wantSt, err := mem.Aggregate(ctx, spec, rule)
	if err != nil {
		t.Fatal(err)
	}
	got, gotSt, err := src.Aggregate(ctx, spec, rule)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		for i := range want {
			if i < len(got) && got[i] != want[i] {
				t.Errorf("slot %d: %s gives %d, memory %d", i, src.Name(), got[i], want[i])
			}
		}
		t.Fatalf("%s: vector of %d slots differs from memory's %d", src.Name(), len(got), len(want))
	}
	if !checkRows {
		gotSt.Rows = wantSt.Rows
	}
	if gotSt != wantSt {
		t.Errorf("%s: stats %+v, memory %+v", src.Name(), gotSt, wantSt)
	}
	return got
}
