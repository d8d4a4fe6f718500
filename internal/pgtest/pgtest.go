// Package pgtest connects tests to the throw-away PostgreSQL cluster that
// scripts/postgres-test.sh starts, and loads partner tables into it. The
// node/source tests and the process launcher (internal/cluster) share it,
// so that a table holds the same values wherever a test loads it.
package pgtest

import (
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fedscore/fedscore/dataset"
)

// TB is the part of testing.TB that DSN needs.
type TB interface {
	Helper()
	Fatal(args ...any)
	Skip(args ...any)
}

// DSN returns the test database's DSN from FEDSCORE_PG_DSN, or skips the
// test when none is set. With FEDSCORE_PG_TESTS=1, as in CI, a missing DSN
// fails it instead.
func DSN(t TB) string {
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

// SQLType is the column type a test table stores a dataset column as:
// bigint for whole numbers, numeric when asked, double precision otherwise.
func SQLType(c *dataset.Column, numeric bool) string {
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

// LoadTable (re)creates table name from tab, with NULL for missing values,
// and fills it with COPY. Columns listed in numeric are stored as numeric.
func LoadTable(ctx context.Context, pool *pgxpool.Pool, name string, tab *dataset.Table, numeric ...string) error {
	cols := tab.Columns()
	var defs, names []string
	types := make([]string, len(cols))
	for j, c := range cols {
		types[j] = SQLType(c, slices.Contains(numeric, c.Name))
		defs = append(defs, pgx.Identifier{c.Name}.Sanitize()+" "+types[j])
		names = append(names, c.Name)
	}
	ident := pgx.Identifier{name}.Sanitize()
	if err := DropTable(ctx, pool, name); err != nil {
		return err
	}
	if _, err := pool.Exec(ctx, "CREATE TABLE "+ident+" ("+strings.Join(defs, ", ")+")"); err != nil {
		return fmt.Errorf("pgtest: create %s: %w", name, err)
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
		return fmt.Errorf("pgtest: copy into %s: %w", name, err)
	}
	if _, err := pool.Exec(ctx, "ANALYZE "+ident); err != nil {
		return fmt.Errorf("pgtest: analyze %s: %w", name, err)
	}
	return nil
}

// DropTable drops table name if it exists.
func DropTable(ctx context.Context, pool *pgxpool.Pool, name string) error {
	if _, err := pool.Exec(ctx, "DROP TABLE IF EXISTS "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("pgtest: drop %s: %w", name, err)
	}
	return nil
}

// SocketDSN returns a DSN that reaches the same server and database as dsn
// through the server's first Unix socket directory instead of TCP. A
// process in another network namespace (the filesystem is shared) reaches
// the server this way although it listens on loopback only.
func SocketDSN(ctx context.Context, pool *pgxpool.Pool) (string, error) {
	var dirs, port string
	if err := pool.QueryRow(ctx, "SELECT current_setting('unix_socket_directories'), current_setting('port')").Scan(&dirs, &port); err != nil {
		return "", fmt.Errorf("pgtest: socket directory: %w", err)
	}
	dir := strings.TrimSpace(strings.Split(dirs, ",")[0])
	if !strings.HasPrefix(dir, "/") {
		return "", fmt.Errorf("pgtest: the server has no Unix socket directory (unix_socket_directories = %q)", dirs)
	}
	cc := pool.Config().ConnConfig
	kv := map[string]string{"host": dir, "port": port, "user": cc.User, "password": cc.Password, "dbname": cc.Database, "sslmode": "disable"}
	var parts []string
	for _, k := range []string{"host", "port", "user", "password", "dbname", "sslmode"} {
		v := strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(kv[k])
		parts = append(parts, k+"='"+v+"'")
	}
	return strings.Join(parts, " "), nil
}
