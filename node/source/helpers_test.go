package source

import (
	"context"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/internal/pgtest"
	"github.com/fedscore/fedscore/internal/shareddata"
	"github.com/fedscore/fedscore/policy"
	"github.com/fedscore/fedscore/query"
)

// pgDSN returns the test database's DSN, or skips the test when none is
// set (see internal/pgtest).
func pgDSN(t testing.TB) string {
	t.Helper()
	return pgtest.DSN(t)
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

// loadTable creates table name from t, with NULL for missing values, and
// fills it with COPY. Columns listed in numeric are stored as numeric.
func loadTable(t testing.TB, pool *pgxpool.Pool, name string, tab *dataset.Table, numeric ...string) {
	t.Helper()
	if err := pgtest.LoadTable(context.Background(), pool, name, tab, numeric...); err != nil {
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
