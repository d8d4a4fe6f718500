package source

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/node/aggregate"
	"github.com/fedscore/fedscore/policy"
	"github.com/fedscore/fedscore/query"
)

// DefaultPostgresTimeout bounds connecting and each aggregation when
// PostgresConfig.Timeout is zero.
const DefaultPostgresTimeout = 10 * time.Minute

// maxIdentifier is PostgreSQL's longest identifier, in bytes.
const maxIdentifier = 63

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
	name    string
	pool    *pgxpool.Pool
	table   string // sanitized, possibly schema-qualified
	cols    map[string]sqlColumn
	fields  []Field
	schema  *dataset.Table
	timeout time.Duration
}

// OpenPostgres connects to the database, checks that the table exists and
// that every column the mapping names exists with a type of its kind, and
// returns the source. Errors name the source and wrap [ErrUnavailable]
// (unreachable server, refused credentials), [ErrUnknownTable],
// [ErrUnknownColumn], [ErrTypeMismatch] or [ErrInvalidIdentifier].
func OpenPostgres(ctx context.Context, cfg PostgresConfig) (*Postgres, error) {
	name := cfg.Name
	pcfg, err := pgxpool.ParseConfig(cfg.DSN)
	if name == "" {
		name = "postgres " + cfg.Table
		if err == nil {
			qualified := cfg.Table
			if cfg.Schema != "" {
				qualified = cfg.Schema + "." + cfg.Table
			}
			name = fmt.Sprintf("postgres %s:%d/%s table %s", pcfg.ConnConfig.Host, pcfg.ConnConfig.Port, pcfg.ConnConfig.Database, qualified)
		}
	}
	fail := func(format string, args ...any) (*Postgres, error) {
		return nil, fmt.Errorf("source %s: "+format, append([]any{name}, args...)...)
	}
	if err != nil {
		return fail("connection string: %w", err)
	}
	if err := checkIdentifier("table", cfg.Table); err != nil {
		return fail("%w", err)
	}
	parts := pgx.Identifier{cfg.Table}
	if cfg.Schema != "" {
		if err := checkIdentifier("schema", cfg.Schema); err != nil {
			return fail("%w", err)
		}
		parts = pgx.Identifier{cfg.Schema, cfg.Table}
	}
	if cfg.Mapping != nil {
		if err := cfg.Mapping.Validate(); err != nil {
			return fail("%w", err)
		}
		for _, cm := range cfg.Mapping.Columns {
			if err := checkIdentifier("column", cm.Source); err != nil {
				return fail("%w", err)
			}
		}
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultPostgresTimeout
	}
	pcfg.MaxConns = cfg.MaxConns
	if pcfg.MaxConns <= 0 {
		pcfg.MaxConns = 4
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return fail("%w: %w", ErrUnavailable, err)
	}
	p := &Postgres{name: name, pool: pool, table: parts.Sanitize(), timeout: timeout}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return fail("connect: %w: %w", ErrUnavailable, err)
	}
	if err := p.loadSchema(ctx, cfg.Mapping); err != nil {
		pool.Close()
		return fail("%w", err)
	}
	return p, nil
}

// checkIdentifier rejects names PostgreSQL cannot hold as identifiers.
// Any other name is safe once quoted with pgx.Identifier.Sanitize.
func checkIdentifier(what, s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%w: empty %s name", ErrInvalidIdentifier, what)
	case len(s) > maxIdentifier:
		return fmt.Errorf("%w: %s name %q is longer than %d bytes", ErrInvalidIdentifier, what, s, maxIdentifier)
	case !utf8.ValidString(s):
		return fmt.Errorf("%w: %s name %q is not UTF-8", ErrInvalidIdentifier, what, s)
	}
	for _, r := range s {
		if r == 0 {
			return fmt.Errorf("%w: %s name %q holds a NUL byte", ErrInvalidIdentifier, what, s)
		}
	}
	return nil
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
	type dbColumn struct {
		kind    dataset.Kind
		ok      bool
		sqlType string
	}
	var order []string
	db := make(map[string]dbColumn)
	for rows.Next() {
		var name, typname, category, sqlType string
		if err := rows.Scan(&name, &typname, &category, &sqlType); err != nil {
			rows.Close()
			return fmt.Errorf("read the columns of %s: %w", p.table, err)
		}
		k, ok := pgKind(typname, category)
		db[name] = dbColumn{kind: k, ok: ok, sqlType: sqlType}
		order = append(order, name)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read the columns of %s: %w", p.table, err)
	}

	p.cols = make(map[string]sqlColumn)
	add := func(c sqlColumn) error {
		if _, dup := p.cols[c.name]; dup {
			return fmt.Errorf("column name %q used twice: %w", c.name, ErrInvalidIdentifier)
		}
		p.cols[c.name] = c
		p.fields = append(p.fields, Field{Name: c.name, Kind: c.kind})
		return nil
	}
	if m == nil {
		for _, name := range order {
			if d := db[name]; d.ok {
				if err := add(sqlColumn{name: name, source: name, kind: d.kind}); err != nil {
					return err
				}
			}
		}
	} else {
		for _, cm := range m.Columns {
			if cm.Skip {
				continue
			}
			d, exists := db[cm.Source]
			switch {
			case !exists:
				return fmt.Errorf("table %s has no column %q: %w", p.table, cm.Source, ErrUnknownColumn)
			case !d.ok:
				return fmt.Errorf("column %q of %s is %s, which is not a number, text or boolean type: %w", cm.Source, p.table, d.sqlType, ErrTypeMismatch)
			}
			if cm.Type != "" {
				if want, _ := dataset.ParseKind(cm.Type); want != d.kind {
					return fmt.Errorf("column %q of %s is %s, but the mapping says %s: %w", cm.Source, p.table, d.sqlType, cm.Type, ErrTypeMismatch)
				}
			}
			name := cm.Name
			if name == "" {
				name = cm.Source
			}
			if err := add(sqlColumn{name: name, source: cm.Source, kind: d.kind}); err != nil {
				return err
			}
		}
	}
	st, err := schemaTable(p.fields)
	if err != nil {
		return err
	}
	p.schema = st
	return nil
}

// Name returns the source's name.
func (p *Postgres) Name() string { return p.name }

// Schema returns the allowed columns, as read when the source was opened.
func (p *Postgres) Schema(ctx context.Context) ([]Field, error) {
	return append([]Field(nil), p.fields...), nil
}

// Aggregate runs the compiled statements in one read-only, repeatable-read
// transaction and assembles the vector from their per-cell rows. The spec
// and the cohort rule are checked against the allowed columns before any
// statement is sent. Stats.Rows is the planner's estimate of the table's
// rows, since counting them would scan the table again; -1 when the table
// has never been analysed. The other Stats are exact.
func (p *Postgres) Aggregate(ctx context.Context, spec *query.Spec, cohort policy.CohortRule) ([]int64, aggregate.Stats, error) {
	var st aggregate.Stats
	fail := func(err error) ([]int64, aggregate.Stats, error) {
		return nil, st, fmt.Errorf("source %s: %w", p.name, err)
	}
	if err := spec.Validate(query.Limits{}); err != nil {
		return fail(err)
	}
	if err := spec.CheckColumns(p.schema); err != nil {
		return fail(err)
	}
	plan, err := compileSQL(spec, cohort, p.table, p.cols)
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
		if err := runStatement(ctx, tx, s, plan.layout.Cells, vec, &st, i == 0); err != nil {
			st = aggregate.Stats{Rows: st.Rows}
			return fail(err)
		}
	}
	return vec, st, nil
}

// runStatement runs one statement and adds its rows into vec and st. The
// counts and the cohort statistics are taken from the first statement
// only.
func runStatement(ctx context.Context, tx pgx.Tx, s sqlStatement, cells int, vec []int64, st *aggregate.Stats, first bool) error {
	rows, err := tx.Query(ctx, s.sql, s.args...)
	if err != nil {
		return fmt.Errorf("aggregate: %w", err)
	}
	defer rows.Close()
	width := 2
	for _, h := range s.hists {
		width += h.bins + 2
	}
	width += 2 * len(s.sums)
	var (
		cell  *int32
		count int64
		sums  = make([]string, len(s.sums))
		ints  = make([]int64, width-2-2*len(s.sums))
		miss  = make([]int64, len(s.sums))
		dests = make([]any, 0, width)
	)
	dests = append(dests, &cell, &count)
	for j := range s.sums {
		dests = append(dests, &sums[j], &miss[j])
	}
	for j := range ints {
		dests = append(dests, &ints[j])
	}
	for rows.Next() {
		if err := rows.Scan(dests...); err != nil {
			return fmt.Errorf("aggregate: read result: %w", err)
		}
		if first {
			st.Selected += int(count)
		}
		if cell == nil {
			if first {
				st.OutOfCells += int(count)
			}
			continue
		}
		c := int(*cell)
		if c < 0 || c >= cells {
			return fmt.Errorf("aggregate: the database returned cell %d outside the layout", c)
		}
		if first {
			vec[c] = count
		}
		for j, so := range s.sums {
			x, err := strconv.ParseInt(sums[j], 10, 64)
			if errors.Is(err, strconv.ErrRange) {
				return fmt.Errorf("aggregate: cell %d: %w", c, query.ErrOverflow)
			}
			if err != nil {
				return fmt.Errorf("aggregate: cell %d: sum %q: %w", c, sums[j], err)
			}
			vec[so.offset+c] = x
			st.MissingValues += int(miss[j])
		}
		k := 0
		for _, h := range s.hists {
			copy(vec[h.offset+c*h.bins:], ints[k:k+h.bins])
			st.MissingValues += int(ints[k+h.bins])
			st.OutOfBins += int(ints[k+h.bins+1])
			k += h.bins + 2
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("aggregate: %w", err)
	}
	return nil
}

// Close closes the connection pool.
func (p *Postgres) Close() error {
	p.pool.Close()
	return nil
}
