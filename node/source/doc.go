// Package source provides the data sources a node aggregates over: an
// in-memory table ([Memory], loaded from CSV or Parquet files), a Parquet
// file streamed batch by batch ([Parquet]), and databases to which the
// whole per-cell aggregation is pushed down, so that the node never loads
// a row: PostgreSQL ([Postgres]) and the MySQL-protocol engines MariaDB,
// MySQL, TiDB, StarRocks and Apache Doris ([MySQL]). [Open] opens any of
// them from a URL.
//
// Every source computes exactly what [aggregate.Aggregate] computes on the
// same records, after the record-level conditions of the policy decision's
// [policy.CohortRule] have been applied as [Cohort] applies them. A
// database source compiles those conditions into the SQL it sends. The
// conditions are the output of the Rego policy itself (the cohort of
// data.fedscore.admission.decision, derived from the node's columns), so
// the in-memory and the SQL path both enforce the one policy; there is no
// second, hand-written copy of its consent, withdrawal, minor and opt-out
// rules.
//
// The database sources share one SQL generator (sqlgen.go): a query
// compiles to one plan, and a dialect per engine (dialect.go, one table
// of every difference: quoting, placeholders, casts, functions, limits,
// the server-side time limit and read-only transactions) spells it. The
// Parquet source reads each batch through the converter the in-memory
// load uses and aggregates it with the in-memory engine, so it cannot
// drift from either.
package source
