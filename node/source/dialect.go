package source

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fedscore/fedscore/dataset"
)

// An Engine names a database engine a SQL source pushes aggregations down
// to.
type Engine string

// The engines with a dialect.
const (
	EnginePostgres  Engine = "postgres"
	EngineMariaDB   Engine = "mariadb"
	EngineMySQL     Engine = "mysql"
	EngineTiDB      Engine = "tidb"
	EngineStarRocks Engine = "starrocks"
	EngineDoris     Engine = "doris"
)

// A dialect is everything the SQL generator and the database sources need
// to know about one engine. The generator builds one plan for every
// engine; the dialect only spells it.
type dialect struct {
	engine Engine

	// quote is the identifier quote character; a quote inside a name is
	// doubled.
	quote byte
	// maxIdentifier is the longest identifier, in bytes or, with
	// identifierRunes, in characters. bmpOnly engines refuse characters
	// beyond U+FFFF and names ending in a space.
	maxIdentifier   int
	identifierRunes bool
	bmpOnly         bool

	// numbered placeholders are $1, $2, ... with a cast to the parameter's
	// type (PostgreSQL); otherwise they are ? and typed by the value the
	// driver sends.
	numbered bool
	// arrays says that a parameter may be an array: bins are width_bucket
	// over one array of edges, sets are = ANY and array_position. Without
	// arrays the generator expands them into CASE chains, IN lists and a
	// range test per histogram bin.
	arrays bool

	// number, category and boolean are a column's value (%s, quoted) with
	// every missing value as NULL: a number as a double, a category as
	// text compared byte for byte (no collation, no padding), a bool as a
	// truth value.
	number, category, boolean string
	// countIf counts the rows where %s holds.
	countIf string
	// trunc is %s (a double) truncated toward zero.
	trunc string
	// sumInts adds the integral doubles %s exactly, as a decimal integer
	// or 0 for no rows.
	sumInts string
	// fence ends a derived table so that the planner computes its columns
	// once per record instead of inlining them into every aggregate.
	fence string
	// maxColumns bounds the result columns of one statement; metrics
	// beyond it go to further statements.
	maxColumns int

	// timeLimit gives a statement its server-side time limit. An empty
	// value means the source sets the limit per transaction instead
	// (PostgreSQL's statement_timeout).
	timeLimit func(stmt string, limit time.Duration) string
	// readOnlyTx says that the statements of one aggregation run in one
	// read-only, repeatable-read transaction. Engines without
	// transactions run them on one session; the node's account must then
	// be allowed SELECT only.
	readOnlyTx bool
	// tested says how the dialect was checked.
	tested string
}

// dialects is the table of engine differences. Only PostgreSQL and
// MariaDB are tested against real servers; the others follow from the
// MySQL protocol and the engines' documentation.
var dialects = []dialect{
	{
		engine: EnginePostgres, quote: '"', maxIdentifier: 63,
		numbered: true, arrays: true,
		number:     "NULLIF((%s)::float8, 'NaN'::float8)",
		category:   "NULLIF((%s)::text, '')",
		boolean:    "(%s)::bool",
		countIf:    "count(*) FILTER (WHERE %s)",
		trunc:      "trunc(%s)",
		sumInts:    "COALESCE(sum((%s)::int8), 0)::text",
		fence:      " OFFSET 0",
		maxColumns: 1000, // below the limit of 1664 target-list entries
		readOnlyTx: true,
		tested:     "PostgreSQL 15 (scripts/postgres-test.sh)",
	},
	{
		engine: EngineMariaDB, quote: '`', maxIdentifier: 64, identifierRunes: true, bmpOnly: true,
		number:     "CAST(%s AS DOUBLE)",
		category:   "NULLIF(CAST(CONVERT(%s USING utf8mb4) AS BINARY), '')",
		boolean:    "(%s <> 0)",
		countIf:    "COUNT(CASE WHEN %s THEN 1 END)",
		trunc:      "TRUNCATE(%s, 0)",
		sumInts:    "COALESCE(SUM(CAST(%s AS SIGNED)), 0)",
		maxColumns: 1000, // grouping temporary tables hold at most 4096 columns
		timeLimit: func(stmt string, limit time.Duration) string {
			return "SET STATEMENT max_statement_time=" + strconv.FormatFloat(limit.Seconds(), 'f', 3, 64) + " FOR " + stmt
		},
		readOnlyTx: true,
		tested:     "MariaDB 10.11 (scripts/mariadb-test.sh)",
	},
	{
		engine: EngineMySQL, quote: '`', maxIdentifier: 64, identifierRunes: true, bmpOnly: true,
		number:     "CAST(%s AS DOUBLE)", // MySQL 8.0.17 and later
		category:   "NULLIF(CAST(CONVERT(%s USING utf8mb4) AS BINARY), '')",
		boolean:    "(%s <> 0)",
		countIf:    "COUNT(CASE WHEN %s THEN 1 END)",
		trunc:      "TRUNCATE(%s, 0)",
		sumInts:    "COALESCE(SUM(CAST(%s AS SIGNED)), 0)",
		maxColumns: 1000,
		timeLimit:  hint("MAX_EXECUTION_TIME(%d)", time.Millisecond),
		readOnlyTx: true,
		tested:     "not against a server: MySQL 8 documentation",
	},
	{
		engine: EngineTiDB, quote: '`', maxIdentifier: 64, identifierRunes: true, bmpOnly: true,
		number:     "CAST(%s AS DOUBLE)",
		category:   "NULLIF(CAST(CONVERT(%s USING utf8mb4) AS BINARY), '')",
		boolean:    "(%s <> 0)",
		countIf:    "COUNT(CASE WHEN %s THEN 1 END)",
		trunc:      "TRUNCATE(%s, 0)",
		sumInts:    "COALESCE(SUM(CAST(%s AS SIGNED)), 0)",
		maxColumns: 1000,
		timeLimit:  hint("MAX_EXECUTION_TIME(%d)", time.Millisecond),
		readOnlyTx: true,
		tested:     "not against a server: TiDB documentation (MySQL protocol, MAX_EXECUTION_TIME hint)",
	},
	{
		engine: EngineStarRocks, quote: '`', maxIdentifier: 64, identifierRunes: true, bmpOnly: true,
		number:     "CAST(%s AS DOUBLE)",
		category:   "NULLIF(CAST(%s AS VARCHAR), '')", // strings compare byte for byte
		boolean:    "(%s <> 0)",
		countIf:    "COUNT(CASE WHEN %s THEN 1 END)",
		trunc:      "TRUNCATE(%s, 0)",
		sumInts:    "COALESCE(SUM(CAST(%s AS LARGEINT)), 0)", // SUM(BIGINT) would wrap
		maxColumns: 1000,
		timeLimit:  hint("SET_VAR(query_timeout = %d)", time.Second),
		tested:     "not against a server: StarRocks documentation (MySQL protocol, SET_VAR hint; no transactions)",
	},
	{
		engine: EngineDoris, quote: '`', maxIdentifier: 64, identifierRunes: true, bmpOnly: true,
		number:     "CAST(%s AS DOUBLE)",
		category:   "NULLIF(CAST(%s AS VARCHAR), '')",
		boolean:    "(%s <> 0)",
		countIf:    "COUNT(CASE WHEN %s THEN 1 END)",
		trunc:      "TRUNCATE(%s, 0)",
		sumInts:    "COALESCE(SUM(CAST(%s AS LARGEINT)), 0)",
		maxColumns: 1000,
		timeLimit:  hint("SET_VAR(query_timeout = %d)", time.Second),
		tested:     "not against a server: Apache Doris documentation (MySQL protocol, SET_VAR hint; no transactions)",
	},
}

// dialectOf returns the dialect of an engine.
func dialectOf(e Engine) (*dialect, error) {
	for i := range dialects {
		if dialects[i].engine == e {
			return &dialects[i], nil
		}
	}
	return nil, fmt.Errorf("unknown database engine %q", e)
}

// hint returns a timeLimit that puts an optimizer hint holding the limit,
// in whole units of at least one, after the statement's first SELECT.
func hint(format string, unit time.Duration) func(string, time.Duration) string {
	return func(stmt string, limit time.Duration) string {
		n := max(int64((limit+unit-1)/unit), 1)
		return strings.Replace(stmt, "SELECT ", "SELECT /*+ "+fmt.Sprintf(format, n)+" */ ", 1)
	}
}

// ident quotes a name as an identifier.
func (d *dialect) ident(name string) string {
	q := string(d.quote)
	return q + strings.ReplaceAll(name, q, q+q) + q
}

// qualified quotes a possibly schema-qualified table name.
func (d *dialect) qualified(schema, table string) string {
	if schema == "" {
		return d.ident(table)
	}
	return d.ident(schema) + "." + d.ident(table)
}

// checkIdentifier rejects names the engine cannot hold as identifiers.
// Any other name is safe once quoted with ident.
func (d *dialect) checkIdentifier(what, s string) error {
	length, unit := len(s), "bytes"
	if d.identifierRunes {
		length, unit = utf8.RuneCountInString(s), "characters"
	}
	switch {
	case s == "":
		return fmt.Errorf("%w: empty %s name", ErrInvalidIdentifier, what)
	case length > d.maxIdentifier:
		return fmt.Errorf("%w: %s name %q is longer than %d %s", ErrInvalidIdentifier, what, s, d.maxIdentifier, unit)
	case !utf8.ValidString(s):
		return fmt.Errorf("%w: %s name %q is not UTF-8", ErrInvalidIdentifier, what, s)
	case d.bmpOnly && strings.HasSuffix(s, " "):
		return fmt.Errorf("%w: %s name %q ends with a space", ErrInvalidIdentifier, what, s)
	}
	for _, r := range s {
		switch {
		case r == 0:
			return fmt.Errorf("%w: %s name %q holds a NUL byte", ErrInvalidIdentifier, what, s)
		case d.bmpOnly && r > 0xFFFF:
			return fmt.Errorf("%w: %s name %q holds %U, beyond what %s identifiers allow", ErrInvalidIdentifier, what, s, r, d.engine)
		}
	}
	return nil
}

// value is a column's value expression, with every missing value as NULL.
func (d *dialect) value(c sqlColumn) string {
	q := d.ident(c.source)
	switch c.kind {
	case dataset.KindNumber:
		return fmt.Sprintf(d.number, q)
	case dataset.KindCategory:
		return fmt.Sprintf(d.category, q)
	}
	return fmt.Sprintf(d.boolean, q)
}

// placeholder is the n-th (1-based) parameter, of kind k or an array of
// it.
func (d *dialect) placeholder(n int, p param) string {
	if !d.numbered {
		return "?"
	}
	typ := "bool"
	switch p.kind {
	case dataset.KindNumber:
		typ = "float8"
	case dataset.KindCategory:
		typ = "text"
	}
	if p.array {
		typ += "[]"
	}
	return "$" + strconv.Itoa(n) + "::" + typ
}
