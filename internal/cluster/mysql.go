package cluster

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/fedscore/fedscore/internal/mysqltest"
)

// myTables are the tables the cluster loaded into the MariaDB test
// server, and how its MySQL members reach them.
type myTables struct {
	db           *sql.DB
	urls         map[string]string // by member: the --source URL, without the password
	passwordFile string
	tables       []string
}

// loadMySQL loads the records of every MySQL member into a table of its
// own, named after the cluster and the member, and writes the server's
// password to a file for --source-password-file.
func (c *Cluster) loadMySQL(ctx context.Context) error {
	var names []string
	for _, n := range c.cfg.Nodes {
		if n.MySQL {
			names = append(names, n.Name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	if c.net != nil {
		return errors.New("cluster: MySQL members run on loopback only")
	}
	raw := os.Getenv("FEDSCORE_MYSQL_DSN")
	if raw == "" {
		return errors.New("cluster: a MySQL node needs FEDSCORE_MYSQL_DSN (eval $(scripts/mariadb-test.sh start))")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("cluster: FEDSCORE_MYSQL_DSN does not parse")
	}
	db, err := mysqltest.Open(ctx, raw)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	c.my = &myTables{db: db, urls: map[string]string{}, passwordFile: c.path("mysql-password")}
	password, _ := u.User.Password()
	if err := os.WriteFile(c.my.passwordFile, []byte(password+"\n"), 0o600); err != nil {
		return err
	}
	id := randomID(4)
	for _, name := range names {
		table := "cluster_" + id + "_" + strings.NewReplacer("-", "_", ".", "_").Replace(name)
		c.my.tables = append(c.my.tables, table)
		if err := mysqltest.LoadTable(ctx, db, table, c.data[name]); err != nil {
			return err
		}
		src := *u
		src.User = url.User(u.User.Username())
		q := src.Query()
		q.Set("table", table)
		src.RawQuery = q.Encode()
		c.my.urls[name] = src.String()
	}
	return nil
}

// close drops the tables.
func (t *myTables) close() error {
	var errs []error
	for _, table := range t.tables {
		errs = append(errs, mysqltest.DropTable(context.Background(), t.db, table))
	}
	errs = append(errs, t.db.Close(), os.Remove(t.passwordFile))
	return errors.Join(errs...)
}
