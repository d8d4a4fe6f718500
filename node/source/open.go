package source

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/fedscore/fedscore/dataset"
)

// OpenOptions are what [Open] needs besides the source's URL.
type OpenOptions struct {
	// Table names a database source's table ("schema.table" or "table");
	// the URL's table parameter gives it too.
	Table string
	// Mapping is the allow-list of columns, as for the other sources.
	Mapping *dataset.Mapping
	// Password, when set, replaces the URL's password: read it from a
	// file or the environment rather than writing it into a command line.
	Password string
	// InMemory reads a Parquet file whole into a [Memory] source instead
	// of streaming it: scoring models and training rounds need the
	// records in memory.
	InMemory bool
	// Encoding is a CSV file's character encoding (see
	// dataset.CSVOptions.Encoding); Parquet and database text is UTF-8.
	Encoding string
	// Timeout bounds connecting and each statement of a database source;
	// zero takes the source's default.
	Timeout time.Duration
}

// Open opens the source a URL names:
//
//	postgres://user@host:5432/db?table=schema.table&sslmode=verify-full
//	mysql://user@host:3306/db?table=customers&tls=true
//	file:///data/records.parquet
//	file:///data/records.csv
//
// A postgres:// (or postgresql://) URL is a pgx connection URL, so
// PGPASSWORD and ~/.pgpass work as with psql. A mysql:// URL maps to the
// go-sql-driver/mysql DSN user:password@tcp(host:port)/db?params: its
// other query parameters are the driver's (tls, charset, ...), engine
// (mariadb, mysql, tidb, starrocks, doris) overrides the engine the
// server reports, and the port defaults to 3306. The table parameter is
// removed before either reaches its driver. A file URL opens a Parquet
// file (.parquet) as a streaming [Parquet] source, or in memory with
// InMemory; any other file is read as CSV into a [Memory] source. Errors
// never hold the password.
func Open(ctx context.Context, rawURL string, o OpenOptions) (Source, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Parse repeats its input, which may hold a password.
		return nil, fmt.Errorf("source URL: %w: cannot be parsed", ErrUnsupportedSource)
	}
	if o.Encoding != "" && u.Scheme != "file" {
		return nil, fmt.Errorf("source %s: an encoding applies to a CSV file only; database text is UTF-8", u.Redacted())
	}
	switch u.Scheme {
	case "postgres", "postgresql":
		dsn, schema, table, err := databaseURL(u, o)
		if err != nil {
			return nil, err
		}
		return OpenPostgres(ctx, PostgresConfig{DSN: dsn.String(), Schema: schema, Table: table, Mapping: o.Mapping, Timeout: o.Timeout})
	case "mysql":
		dsn, schema, table, err := databaseURL(u, o)
		if err != nil {
			return nil, err
		}
		q := dsn.Query()
		engine := Engine(q.Get("engine"))
		q.Del("engine")
		dsn.RawQuery = q.Encode()
		driverDSN, err := mysqlDSN(dsn)
		if err != nil {
			return nil, err
		}
		return OpenMySQL(ctx, MySQLConfig{DSN: driverDSN, Engine: engine, Schema: schema, Table: table, Mapping: o.Mapping, Timeout: o.Timeout})
	case "file":
		path := u.Path
		if u.Opaque != "" {
			path = u.Opaque // file:relative/path
		}
		if path == "" || u.Host != "" && u.Host != "localhost" {
			return nil, fmt.Errorf("source %s: %w: a file URL names a local path, file:///path", rawURL, ErrUnsupportedSource)
		}
		return OpenFile(path, o)
	}
	return nil, fmt.Errorf("source URL: %w: scheme %q (want postgres://, mysql:// or file:)", ErrUnsupportedSource, u.Scheme)
}

// OpenFile opens a records file with o's mapping: a Parquet file
// (.parquet) streamed, or read whole with o.InMemory; any other file as
// CSV in o.Encoding, in memory.
func OpenFile(path string, o OpenOptions) (Source, error) {
	if strings.EqualFold(filepath.Ext(path), ".parquet") {
		switch {
		case o.Encoding != "":
			return nil, fmt.Errorf("source parquet %s: an encoding applies to a CSV file only; Parquet text is UTF-8", path)
		case o.InMemory:
			return LoadParquet(path, o.Mapping)
		}
		return OpenParquet(path, o.Mapping)
	}
	t, err := dataset.LoadCSVFile(path, dataset.CSVOptions{Mapping: o.Mapping, Encoding: o.Encoding})
	if err != nil {
		return nil, fmt.Errorf("source csv %s: %w", path, err)
	}
	return &Memory{Table: t, Label: "csv " + path}, nil
}

// databaseURL takes the table out of a database URL's parameters (or the
// options) and sets the password from the options.
func databaseURL(u *url.URL, o OpenOptions) (dsn *url.URL, schema, table string, err error) {
	dsn = new(url.URL)
	*dsn = *u
	q := dsn.Query()
	table = q.Get("table")
	q.Del("table")
	dsn.RawQuery = q.Encode()
	if o.Table != "" {
		if table != "" && table != o.Table {
			return nil, "", "", fmt.Errorf("source %s: the URL names table %q and the options %q", u.Redacted(), table, o.Table)
		}
		table = o.Table
	}
	if table == "" {
		return nil, "", "", fmt.Errorf("source %s: %w: no table: add ?table=NAME", u.Redacted(), ErrInvalidIdentifier)
	}
	if o.Password != "" {
		dsn.User = url.UserPassword(u.User.Username(), o.Password)
	}
	schema, table, ok := strings.Cut(table, ".")
	if !ok {
		schema, table = "", schema
	}
	return dsn, schema, table, nil
}

// mysqlDSN converts a mysql:// URL into the driver's DSN.
func mysqlDSN(u *url.URL) (string, error) {
	cfg, err := mysql.ParseDSN("/?" + u.RawQuery)
	if err != nil {
		return "", fmt.Errorf("source %s: %w", u.Redacted(), err)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "3306")
	}
	cfg.Net, cfg.Addr = "tcp", host
	cfg.DBName = strings.TrimPrefix(u.Path, "/")
	if u.User != nil {
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
	}
	return cfg.FormatDSN(), nil
}
