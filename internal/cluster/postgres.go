package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fedscore/fedscore/internal/pgtest"
)

// pgTables are the tables the cluster loaded into the test server.
type pgTables struct {
	pool      *pgxpool.Pool
	dsn       string // TCP on loopback, as FEDSCORE_PG_DSN gives it
	socketDSN string // the same server through its Unix socket
	tables    map[string]string
}

// loadPostgres loads the records of every Postgres member into a table of
// its own, named after the cluster and the member.
func (c *Cluster) loadPostgres(ctx context.Context) error {
	var pgNodes []string
	for _, n := range c.cfg.Nodes {
		if n.Postgres {
			pgNodes = append(pgNodes, n.Name)
		}
	}
	if len(pgNodes) == 0 {
		return nil
	}
	dsn := os.Getenv("FEDSCORE_PG_DSN")
	if dsn == "" {
		return errors.New("cluster: a Postgres node needs FEDSCORE_PG_DSN (eval $(scripts/postgres-test.sh start))")
	}
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	c.pg = &pgTables{pool: pool, dsn: dsn, tables: map[string]string{}}
	if c.pg.socketDSN, err = pgtest.SocketDSN(ctx, pool); err != nil {
		return err
	}
	id := randomID(4)
	for _, name := range pgNodes {
		table := "cluster_" + id + "_" + strings.NewReplacer("-", "_", ".", "_").Replace(name)
		c.pg.tables[name] = table
		if err := pgtest.LoadTable(ctx, pool, table, c.data[name]); err != nil {
			return err
		}
	}
	return nil
}

// close drops the tables.
func (t *pgTables) close() error {
	var errs []error
	for _, table := range t.tables {
		errs = append(errs, pgtest.DropTable(context.Background(), t.pool, table))
	}
	t.pool.Close()
	return errors.Join(errs...)
}
