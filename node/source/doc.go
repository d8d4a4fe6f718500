// Package source provides the data sources a node aggregates over: an
// in-memory table ([Memory], loaded from CSV or Parquet files) and a
// PostgreSQL database ([Postgres]) to which the whole per-cell aggregation
// is pushed down, so that the node never loads a row.
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
package source
