// Package mysqltest connects tests to the throw-away MariaDB server that
// scripts/mariadb-test.sh starts, and loads partner tables into it. The
// node/source tests and the process launcher (internal/cluster) share it,
// so that a table holds the same values wherever a test loads it.
package mysqltest

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/go-sql-driver/mysql"

	"github.com/fedscore/fedscore/dataset"
)

// TB is the part of testing.TB that URL needs.
type TB interface {
	Helper()
	Fatal(args ...any)
	Skip(args ...any)
}

// URL returns the test server's mysql:// URL from FEDSCORE_MYSQL_DSN, or
// skips the test when none is set. With FEDSCORE_MYSQL_TESTS=1, as in CI,
// a missing URL fails it instead.
func URL(t TB) string {
	t.Helper()
	if u := os.Getenv("FEDSCORE_MYSQL_DSN"); u != "" {
		return u
	}
	if os.Getenv("FEDSCORE_MYSQL_TESTS") == "1" {
		t.Fatal("FEDSCORE_MYSQL_TESTS=1 but FEDSCORE_MYSQL_DSN is not set: start a server with `eval $(scripts/mariadb-test.sh start)`")
	}
	t.Skip("FEDSCORE_MYSQL_DSN is not set; skipping the MariaDB tests (eval $(scripts/mariadb-test.sh start) to run them)")
	return ""
}

// Open connects to the server of a mysql:// URL for setting up tables,
// with LOAD DATA LOCAL from readers allowed.
func Open(ctx context.Context, rawURL string) (*sql.DB, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("mysqltest: the server URL does not parse")
	}
	cfg := mysql.NewConfig()
	cfg.Net, cfg.Addr = "tcp", u.Host
	if u.Port() == "" {
		cfg.Addr = net.JoinHostPort(u.Hostname(), "3306")
	}
	cfg.DBName = strings.TrimPrefix(u.Path, "/")
	cfg.User = u.User.Username()
	cfg.Passwd, _ = u.User.Password()
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("mysqltest: %w", err)
	}
	db := sql.OpenDB(conn)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("mysqltest: %w", err)
	}
	return db, nil
}

// Quote quotes an identifier.
func Quote(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// SQLType is the column type a test table stores a dataset column as:
// BIGINT for whole numbers, DECIMAL when asked, DOUBLE otherwise. Text
// columns get a case- and accent-insensitive collation, which a source
// must not let compare values.
func SQLType(c *dataset.Column, decimal bool) string {
	switch c.Kind {
	case dataset.KindCategory:
		return "TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
	case dataset.KindBool:
		return "BOOLEAN"
	}
	if decimal {
		return "DECIMAL(30, 6)"
	}
	for _, v := range c.Numbers {
		if !math.IsNaN(v) && (v != math.Trunc(v) || math.Abs(v) > 1<<53) {
			return "DOUBLE"
		}
	}
	return "BIGINT"
}

// loaderSeq names LOAD DATA readers uniquely.
var loaderSeq atomic.Int64

// LoadTable (re)creates table name from tab, with NULL for missing values,
// fills it with LOAD DATA LOCAL from a reader, and analyses it. Columns
// listed in decimal are stored as DECIMAL.
func LoadTable(ctx context.Context, db *sql.DB, name string, tab *dataset.Table, decimal ...string) error {
	cols := tab.Columns()
	var defs, names []string
	types := make([]string, len(cols))
	for j, c := range cols {
		types[j] = SQLType(c, slices.Contains(decimal, c.Name))
		defs = append(defs, Quote(c.Name)+" "+types[j])
		names = append(names, Quote(c.Name))
	}
	ident := Quote(name)
	reader := "fedscore-" + strconv.FormatInt(loaderSeq.Add(1), 10)
	mysql.RegisterReaderHandler(reader, func() io.Reader {
		pr, pw := io.Pipe()
		go func() {
			w := bufio.NewWriterSize(pw, 1<<20)
			for i := range tab.Rows() {
				for j, c := range cols {
					if j > 0 {
						w.WriteByte('\t')
					}
					w.WriteString(tsvValue(c, i, types[j]))
				}
				w.WriteByte('\n')
			}
			pw.CloseWithError(w.Flush())
		}()
		return pr
	})
	defer mysql.DeregisterReaderHandler(reader)
	for _, s := range []string{
		"DROP TABLE IF EXISTS " + ident, "DROP VIEW IF EXISTS " + ident,
		"CREATE TABLE " + ident + " (" + strings.Join(defs, ", ") + ") ENGINE=InnoDB",
		"LOAD DATA LOCAL INFILE 'Reader::" + reader + "' INTO TABLE " + ident + " CHARACTER SET utf8mb4 (" + strings.Join(names, ", ") + ")",
		"ANALYZE TABLE " + ident,
	} {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("mysqltest: table %s: %w", name, err)
		}
	}
	return nil
}

// DropTable drops table name if it exists.
func DropTable(ctx context.Context, db *sql.DB, name string) error {
	_, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS "+Quote(name))
	return err
}

// tsvValue is row i of c in LOAD DATA's default format.
func tsvValue(c *dataset.Column, i int, typ string) string {
	if c.IsMissing(i) {
		return `\N`
	}
	switch c.Kind {
	case dataset.KindNumber:
		v := c.Numbers[i]
		switch {
		case typ == "BIGINT":
			return strconv.FormatInt(int64(v), 10)
		case strings.HasPrefix(typ, "DECIMAL"), v == math.Trunc(v) && math.Abs(v) < 1e15:
			return strconv.FormatFloat(v, 'f', -1, 64)
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	case dataset.KindBool:
		if c.Bools[i] {
			return "1"
		}
		return "0"
	}
	return strings.NewReplacer(`\`, `\\`, "\t", `\t`, "\n", `\n`, "\x00", `\0`).Replace(c.Dict[c.Codes[i]])
}
