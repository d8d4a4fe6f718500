package source

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/node/aggregate"
	"github.com/fedscore/fedscore/policy"
	"github.com/fedscore/fedscore/query"
)

// DefaultPostgresTimeout bounds connecting and each aggregation when
// PostgresConfig.Timeout is zero.
const DefaultPostgresTimeout = 10 * time.Minute

// PostgresConfig describes a table in PostgreSQL, or in an engine that
// speaks its wire protocol, that a [Postgres] source aggregates over.
type PostgresConfig struct {
	// Name names the source in errors and logs; "" derives one from the
	// host, database and table (never the credentials).
	Name string
	// DSN is a pgx connection string, URL or key=value form.
	DSN string
	// Schema and Table name the table; Schema "" uses the search path.
	Schema string
	Table  string
	// Mapping is the allow-list of columns: Source is the database
	// column, Name the name queries and policies use ("" keeps Source),
	// Type the kind, which must agree with the database type ("" takes it
	// from the database). Skipped columns are not allowed. Nil allows
	// every column whose type the source supports.
	Mapping *dataset.Mapping
	// Timeout bounds connecting, and each aggregation, on the node and as
	// the statement timeout on the server; zero means
	// DefaultPostgresTimeout.
	Timeout time.Duration
	// MaxConns bounds the connection pool; zero means 4.
	MaxConns int32
}

// Postgres is a source that pushes the whole per-cell aggregation down to
// PostgreSQL: one parameterised statement per metric batch, grouped by
// cell, with the cohort conditions and filters in its WHERE clause. The
// node receives at most one row per cell and never a record. It is safe
// for concurrent use.
type Postgres struct {
	sqlTable
	pool *pgxpool.Pool
}

// OpenPostgres connects to the database, checks that the table exists and
// that every column the mapping names exists with a type of its kind, and
// returns the source. Errors name the source and wrap [ErrUnavailable]
// (unreachable server, refused credentials), [ErrUnknownTable],
// [ErrUnknownColumn], [ErrTypeMismatch] or [ErrInvalidIdentifier].
func OpenPostgres(ctx context.Context, cfg PostgresConfig) (*Postgres, error) {
	pcfg, err := pgxpool.ParseConfig(cfg.DSN)
	var where string
	if err == nil {
		where = fmt.Sprintf("%s:%d/%s", pcfg.ConnConfig.Host, pcfg.ConnConfig.Port, pcfg.ConnConfig.Database)
	}
	name := sourceName(cfg.Name, "postgres", where, cfg.Schema, cfg.Table)
	fail := func(format string, args ...any) (*Postgres, error) {
		return nil, fmt.Errorf("source %s: "+format, append([]any{name}, args...)...)
	}
	if err != nil {
		return fail("connection string: %w", err)
	}
	d, _ := dialectOf(EnginePostgres)
	p := &Postgres{sqlTable: sqlTable{name: name, d: d, table: d.qualified(cfg.Schema, cfg.Table), timeout: cfg.Timeout}}
	if err := p.checkNames(cfg.Schema, cfg.Table, cfg.Mapping); err != nil {
		return fail("%w", err)
	}
	if p.timeout <= 0 {
		p.timeout = DefaultPostgresTimeout
	}
	pcfg.MaxConns = cfg.MaxConns
	if pcfg.MaxConns <= 0 {
		pcfg.MaxConns = 4
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	if p.pool, err = pgxpool.NewWithConfig(ctx, pcfg); err != nil {
		return fail("%w: %w", ErrUnavailable, err)
	}
	if err := p.pool.Ping(ctx); err != nil {
		p.pool.Close()
		return fail("connect: %w: %w", ErrUnavailable, err)
	}
	if err := p.loadSchema(ctx, cfg.Mapping); err != nil {
		p.pool.Close()
		return fail("%w", err)
	}
	return p, nil
}

// pgKind returns the kind of a database type, by its name (of the base
// type for a domain) and category; ok is false for unsupported types.
func pgKind(typname, category string) (dataset.Kind, bool) {
	switch typname {
	case "int2", "int4", "int8", "float4", "float8", "numeric":
		return dataset.KindNumber, true
	case "text", "varchar", "bpchar", "name", "citext":
		return dataset.KindCategory, true
	case "bool":
		return dataset.KindBool, true
	}
	if category == "E" { // enum
		return dataset.KindCategory, true
	}
	return 0, false
}

// loadSchema reads the table's columns from the catalog and builds the
// allow-list.
func (p *Postgres) loadSchema(ctx context.Context, m *dataset.Mapping) error {
	var oid *uint32
	if err := p.pool.QueryRow(ctx, "SELECT to_regclass($1::text)::oid", p.table).Scan(&oid); err != nil {
		return fmt.Errorf("look up table %s: %w", p.table, err)
	}
	if oid == nil {
		return fmt.Errorf("table %s: %w: no such table or view", p.table, ErrUnknownTable)
	}
	rows, err := p.pool.Query(ctx, `
SELECT a.attname, COALESCE(bt.typname, t.typname), COALESCE(bt.typcategory, t.typcategory)::text,
       format_type(a.atttypid, a.atttypmod)
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum`, *oid)
	if err != nil {
		return fmt.Errorf("read the columns of %s: %w", p.table, err)
	}
	var db []dbColumn
	for rows.Next() {
		var name, typname, category, sqlType string
		if err := rows.Scan(&name, &typname, &category, &sqlType); err != nil {
			rows.Close()
			return fmt.Errorf("read the columns of %s: %w", p.table, err)
		}
		k, ok := pgKind(typname, category)
		db = append(db, dbColumn{name: name, kind: k, ok: ok, sqlType: sqlType})
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read the columns of %s: %w", p.table, err)
	}
	return p.allow(db, m)
}

// Schema returns the allowed columns, as read when the source was opened.
func (p *Postgres) Schema(ctx context.Context) ([]Field, error) { return p.sqlTable.Schema(), nil }

// Aggregate runs the compiled statements in one read-only, repeatable-read
// transaction and assembles the vector from their per-cell rows. The spec
// and the cohort rule are checked against the allowed columns before any
// statement is sent. Stats.Rows is the planner's estimate of the table's
// rows, since counting them would scan the table again; -1 when the table
// has never been analysed. The other Stats are exact. A statement stopped
// at the time limit fails with [ErrTimeout].
func (p *Postgres) Aggregate(ctx context.Context, spec *query.Spec, cohort policy.CohortRule) ([]int64, aggregate.Stats, error) {
	var st aggregate.Stats
	fail := func(err error) ([]int64, aggregate.Stats, error) {
		return nil, st, fmt.Errorf("source %s: %w", p.name, pgError(err))
	}
	plan, err := p.compile(spec, cohort)
	if err != nil {
		return fail(err)
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	tx, err := p.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fail(fmt.Errorf("%w: %w", ErrUnavailable, err))
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, "SELECT set_config('statement_timeout', $1::text, true)", strconv.FormatInt(p.timeout.Milliseconds(), 10)); err != nil {
		return fail(err)
	}
	var estimate float64
	if err := tx.QueryRow(ctx, "SELECT reltuples::float8 FROM pg_class WHERE oid = to_regclass($1::text)", p.table).Scan(&estimate); err != nil {
		return fail(fmt.Errorf("table %s: %w", p.table, err))
	}
	st.Rows = int(estimate)
	vec := make([]int64, plan.layout.VectorLen)
	for i, s := range plan.stmts {
		rows, err := tx.Query(ctx, p.statement(s), s.args...)
		if err != nil {
			err = fmt.Errorf("aggregate: %w", err)
		} else {
			err = readRows(rows, s, plan.layout.Cells, vec, &st, i == 0)
			rows.Close()
		}
		if err != nil {
			st = aggregate.Stats{Rows: st.Rows}
			return fail(err)
		}
	}
	return vec, st, nil
}

// pgError marks PostgreSQL's statement timeout, and the node's own
// deadline, as ErrTimeout.
func pgError(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "57014" || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	return err
}

// Close closes the connection pool.
func (p *Postgres) Close() error {
	p.pool.Close()
	return nil
}
