package source

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/node/aggregate"
	"github.com/fedscore/fedscore/policy"
	"github.com/fedscore/fedscore/query"
)

// DefaultMySQLTimeout bounds connecting and each statement when
// MySQLConfig.Timeout is zero.
const DefaultMySQLTimeout = 10 * time.Minute

// MySQLConfig describes a table in an engine that speaks the MySQL
// protocol (MariaDB, MySQL, TiDB, StarRocks, Apache Doris) that a [MySQL]
// source aggregates over.
type MySQLConfig struct {
	// Name names the source in errors and logs; "" derives one from the
	// address, database and table (never the credentials).
	Name string
	// DSN is a go-sql-driver/mysql data source name,
	// user:password@tcp(host:port)/database?param=value.
	DSN string
	// Engine selects the dialect; "" asks the server (VERSION() and
	// @@version_comment).
	Engine Engine
	// Schema (the database) and Table name the table; Schema "" uses the
	// DSN's database.
	Schema string
	Table  string
	// Mapping is the allow-list of columns, as for [PostgresConfig].
	Mapping *dataset.Mapping
	// Timeout bounds connecting, and each statement as the server-side
	// time limit; zero means DefaultMySQLTimeout.
	Timeout time.Duration
	// MaxConns bounds the connection pool; zero means 4.
	MaxConns int
}

// MySQL is a source that pushes the whole per-cell aggregation down to a
// MySQL-protocol engine, with the plan the [Postgres] source sends in the
// engine's dialect: one statement per metric batch, with server-side
// bound parameters and a server-side time limit, in one read-only
// transaction where the engine has transactions. The node receives at most
// one row per cell. It is safe for concurrent use.
type MySQL struct {
	sqlTable
	db             *sql.DB
	schemaName     string
	tableName      string
	versionComment string
}

// OpenMySQL connects, identifies the engine, checks that the table exists
// and that every column the mapping names exists with a type of its kind,
// and returns the source. Errors name the source and wrap [ErrUnavailable]
// (unreachable server, refused credentials, unknown database),
// [ErrUnknownTable], [ErrUnknownColumn], [ErrTypeMismatch] or
// [ErrInvalidIdentifier].
func OpenMySQL(ctx context.Context, cfg MySQLConfig) (*MySQL, error) {
	mc, err := mysql.ParseDSN(cfg.DSN)
	var where string
	if err == nil {
		where = mc.Addr + "/" + mc.DBName
	}
	name := sourceName(cfg.Name, "mysql", where, cfg.Schema, cfg.Table)
	fail := func(format string, args ...any) (*MySQL, error) {
		return nil, fmt.Errorf("source %s: "+format, append([]any{name}, args...)...)
	}
	if err != nil {
		// The driver's DSN errors do not repeat the DSN.
		return fail("connection string: %w", err)
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultMySQLTimeout
	}
	// Values travel as server-side parameters, never spliced into text;
	// one statement per call; no LOAD DATA LOCAL.
	mc.InterpolateParams, mc.MultiStatements, mc.AllowAllFiles = false, false, false
	if mc.Timeout == 0 {
		mc.Timeout = min(timeout, 30*time.Second)
	}
	conn, err := mysql.NewConnector(mc)
	if err != nil {
		return fail("connection string: %w", err)
	}
	db := sql.OpenDB(conn)
	conns := cfg.MaxConns
	if conns <= 0 {
		conns = 4
	}
	db.SetMaxOpenConns(conns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	m := &MySQL{db: db, sqlTable: sqlTable{name: name, timeout: timeout}, tableName: cfg.Table}
	if err := m.open(ctx, cfg); err != nil {
		db.Close()
		return fail("%w", err)
	}
	return m, nil
}

// open identifies the engine, then reads and checks the table's columns.
func (m *MySQL) open(ctx context.Context, cfg MySQLConfig) error {
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	if err := m.db.PingContext(ctx); err != nil {
		return fmt.Errorf("connect: %w", mysqlError(err))
	}
	var version string
	if err := m.db.QueryRowContext(ctx, "SELECT VERSION(), @@version_comment").Scan(&version, &m.versionComment); err != nil {
		return fmt.Errorf("server version: %w", mysqlError(err))
	}
	engine := cfg.Engine
	if engine == "" {
		engine = detectEngine(version, m.versionComment)
	}
	d, err := dialectOf(engine)
	if err != nil || d.numbered {
		return fmt.Errorf("engine %q does not speak the MySQL protocol", engine)
	}
	m.d = d
	if err := m.checkNames(cfg.Schema, cfg.Table, cfg.Mapping); err != nil {
		return err
	}
	m.schemaName = cfg.Schema
	if m.schemaName == "" {
		var db sql.NullString
		if err := m.db.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&db); err != nil {
			return fmt.Errorf("current database: %w", mysqlError(err))
		}
		if !db.Valid {
			return fmt.Errorf("table %s: %w: no database: name one in the connection string or qualify the table", cfg.Table, ErrUnknownTable)
		}
		m.schemaName = db.String
		if err := m.d.checkIdentifier("database", m.schemaName); err != nil {
			return err
		}
	}
	m.table = m.d.qualified(m.schemaName, m.tableName)
	if _, err := m.estimate(ctx, m.db); err != nil {
		return err
	}
	return m.loadSchema(ctx, cfg.Mapping)
}

// detectEngine tells the MySQL-protocol engines apart by what they report
// as their version.
func detectEngine(version, comment string) Engine {
	v := strings.ToLower(version + " " + comment)
	switch {
	case strings.Contains(v, "mariadb"):
		return EngineMariaDB
	case strings.Contains(v, "tidb"):
		return EngineTiDB
	case strings.Contains(v, "starrocks"):
		return EngineStarRocks
	case strings.Contains(v, "doris"):
		return EngineDoris
	}
	return EngineMySQL
}

// Engine returns the engine whose dialect the source speaks.
func (m *MySQL) Engine() Engine { return m.d.engine }

// mysqlKind returns the kind of a column by its information_schema
// DATA_TYPE and COLUMN_TYPE; ok is false for unsupported types.
// tinyint(1) and bit(1) are MySQL's booleans.
func mysqlKind(dataType, columnType string) (dataset.Kind, bool) {
	dataType, columnType = strings.ToLower(dataType), strings.ToLower(columnType)
	switch {
	case dataType == "bool" || dataType == "boolean" ||
		strings.HasPrefix(columnType, "tinyint(1)") || columnType == "bit(1)":
		return dataset.KindBool, true
	}
	switch dataType {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint", "largeint",
		"decimal", "numeric", "decimalv2", "decimalv3", "decimal32", "decimal64", "decimal128",
		"float", "double", "real", "double precision":
		return dataset.KindNumber, true
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "string":
		return dataset.KindCategory, true
	}
	return 0, false
}

// queryer is what the statements run on: the pool, a transaction or a
// connection.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// estimate returns information_schema's estimate of the table's rows, -1
// when it has none (a view), or ErrUnknownTable. Schema and table names
// compare without case in information_schema, so the exact name is
// picked here.
func (m *MySQL) estimate(ctx context.Context, q queryer) (int, error) {
	rows, err := q.QueryContext(ctx, "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", m.schemaName, m.tableName)
	if err != nil {
		return 0, fmt.Errorf("look up table %s: %w", m.table, mysqlError(err))
	}
	defer rows.Close()
	found, n := false, int64(-1)
	for rows.Next() {
		var schema, table string
		var estimate sql.NullInt64
		if err := rows.Scan(&schema, &table, &estimate); err != nil {
			return 0, fmt.Errorf("look up table %s: %w", m.table, err)
		}
		if schema == m.schemaName && table == m.tableName {
			found = true
			if estimate.Valid {
				n = estimate.Int64
			}
		}
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("look up table %s: %w", m.table, mysqlError(err))
	}
	if !found {
		return 0, fmt.Errorf("table %s: %w: no such table or view", m.table, ErrUnknownTable)
	}
	return int(n), nil
}

// loadSchema reads the table's columns from information_schema and builds
// the allow-list.
func (m *MySQL) loadSchema(ctx context.Context, mapping *dataset.Mapping) error {
	rows, err := m.db.QueryContext(ctx, `SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE
FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, m.schemaName, m.tableName)
	if err != nil {
		return fmt.Errorf("read the columns of %s: %w", m.table, mysqlError(err))
	}
	defer rows.Close()
	var db []dbColumn
	for rows.Next() {
		var schema, table, name, dataType, columnType string
		if err := rows.Scan(&schema, &table, &name, &dataType, &columnType); err != nil {
			return fmt.Errorf("read the columns of %s: %w", m.table, err)
		}
		if schema != m.schemaName || table != m.tableName {
			continue
		}
		k, ok := mysqlKind(dataType, columnType)
		db = append(db, dbColumn{name: name, kind: k, ok: ok, sqlType: columnType})
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read the columns of %s: %w", m.table, mysqlError(err))
	}
	return m.allow(db, mapping)
}

// Schema returns the allowed columns, as read when the source was opened.
func (m *MySQL) Schema(ctx context.Context) ([]Field, error) { return m.sqlTable.Schema(), nil }

// Aggregate runs the compiled statements, each with the server-side time
// limit, in one read-only transaction (on one session for engines without
// transactions) and assembles the vector from their per-cell rows. The
// spec and the cohort rule are checked against the allowed columns before
// any statement is sent. Stats.Rows is information_schema's estimate of
// the table's rows (-1 for a view); the other Stats are exact. A statement
// stopped at the time limit fails with [ErrTimeout].
func (m *MySQL) Aggregate(ctx context.Context, spec *query.Spec, cohort policy.CohortRule) ([]int64, aggregate.Stats, error) {
	var st aggregate.Stats
	fail := func(err error) ([]int64, aggregate.Stats, error) {
		return nil, aggregate.Stats{Rows: st.Rows}, fmt.Errorf("source %s: %w", m.name, err)
	}
	plan, err := m.compile(spec, cohort)
	if err != nil {
		return fail(err)
	}
	// The server's limit applies per statement and names its cause; the
	// node's deadline, a little later, bounds the whole aggregation.
	ctx, cancel := context.WithTimeout(ctx, m.timeout+m.timeout/4+time.Second)
	defer cancel()
	var q queryer
	if m.d.readOnlyTx {
		tx, err := m.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
		if err != nil {
			return fail(fmt.Errorf("begin: %w", mysqlError(err)))
		}
		defer tx.Rollback()
		q = tx
	} else {
		conn, err := m.db.Conn(ctx)
		if err != nil {
			return fail(fmt.Errorf("connect: %w", mysqlError(err)))
		}
		defer conn.Close()
		q = conn
	}
	if st.Rows, err = m.estimate(ctx, q); err != nil {
		return fail(err)
	}
	vec := make([]int64, plan.layout.VectorLen)
	for i, s := range plan.stmts {
		rows, err := q.QueryContext(ctx, m.statement(s), s.args...)
		if err != nil {
			return fail(fmt.Errorf("aggregate: %w", mysqlError(err)))
		}
		err = readRows(rows, s, plan.layout.Cells, vec, &st, i == 0)
		rows.Close()
		if err != nil {
			return fail(mysqlError(err))
		}
	}
	return vec, st, nil
}

// MySQL server error numbers the source reports as its own errors.
const (
	erDBAccessDenied     = 1044
	erAccessDenied       = 1045
	erBadDB              = 1049
	erBadField           = 1054
	erNoSuchTable        = 1146
	erHostNotPrivileged  = 1130
	erTooManyConnections = 1040
	erStatementTimeout   = 1969 // MariaDB's max_statement_time
	erQueryTimeout       = 3024 // MySQL's and TiDB's max_execution_time
)

// mysqlError wraps a driver error with the source error it amounts to.
func mysqlError(err error) error {
	var me *mysql.MySQLError
	var ne net.Error
	switch {
	case errors.As(err, &me):
		switch me.Number {
		case erStatementTimeout, erQueryTimeout:
			return fmt.Errorf("%w: %w", ErrTimeout, err)
		case erDBAccessDenied, erAccessDenied, erBadDB, erHostNotPrivileged, erTooManyConnections:
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		case erNoSuchTable:
			return fmt.Errorf("%w: %w", ErrUnknownTable, err)
		case erBadField:
			return fmt.Errorf("%w: %w", ErrUnknownColumn, err)
		}
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	case errors.As(err, &ne), errors.Is(err, driver.ErrBadConn), errors.Is(err, mysql.ErrInvalidConn):
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

// Close closes the connection pool.
func (m *MySQL) Close() error { return m.db.Close() }
