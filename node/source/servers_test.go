package source

import (
	"context"
	"testing"

	"github.com/fedscore/fedscore/dataset"
)

// A testServer is a real database server of one engine that the SQL
// tests load tables into and open sources on.
type testServer struct {
	engine Engine
	// load creates table name from tab, with NULL for missing values;
	// the columns listed in numeric are stored as exact decimals.
	load func(t testing.TB, name string, tab *dataset.Table, numeric ...string)
	// open opens a source on a table.
	open func(t *testing.T, table string, m *dataset.Mapping) Source
	// exactRows says that Stats.Rows, the server's estimate, is exact for
	// the analysed test tables.
	exactRows bool
	// exec runs setup statements.
	exec func(t testing.TB, stmts ...string)
}

// testServers are the servers every SQL test runs against, each skipped
// (or, in CI, failed) when its server is not configured.
var testServers = []struct {
	engine Engine
	get    func(t *testing.T) *testServer
}{
	{EnginePostgres, postgresServer},
	{EngineMariaDB, mariadbServer},
}

// forEachServer runs f against every test server, as a subtest named
// after the engine.
func forEachServer(t *testing.T, f func(t *testing.T, s *testServer)) {
	for _, ts := range testServers {
		t.Run(string(ts.engine), func(t *testing.T) { f(t, ts.get(t)) })
	}
}

func postgresServer(t *testing.T) *testServer {
	pool := testPool(t)
	return &testServer{
		engine: EnginePostgres, exactRows: true,
		load: func(t testing.TB, name string, tab *dataset.Table, numeric ...string) {
			loadTable(t, pool, name, tab, numeric...)
		},
		open: func(t *testing.T, table string, m *dataset.Mapping) Source { return openTest(t, table, m) },
		exec: func(t testing.TB, stmts ...string) {
			t.Helper()
			for _, s := range stmts {
				if _, err := pool.Exec(context.Background(), s); err != nil {
					t.Fatalf("%s: %v", s, err)
				}
			}
		},
	}
}

func mariadbServer(t *testing.T) *testServer {
	db := testMySQL(t)
	return &testServer{
		engine: EngineMariaDB,
		load: func(t testing.TB, name string, tab *dataset.Table, numeric ...string) {
			loadMySQLTable(t, db, name, tab, numeric...)
		},
		open: func(t *testing.T, table string, m *dataset.Mapping) Source { return openMySQLTest(t, table, m) },
		exec: func(t testing.TB, stmts ...string) { t.Helper(); mustExec(t, db, stmts...) },
	}
}
