package source

import (
	"context"
	"errors"

	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/node/aggregate"
	"github.com/fedscore/fedscore/policy"
	"github.com/fedscore/fedscore/query"
)

// A Source holds a partner's records and computes its per-query vector
// over them.
type Source interface {
	// Name identifies the source in errors and logs. It never holds
	// credentials.
	Name() string
	// Schema returns the columns queries and policies may name.
	Schema(ctx context.Context) ([]Field, error)
	// Aggregate returns the partner's vector for spec over the records
	// the cohort rule admits, with exactly the semantics of
	// aggregate.Aggregate over the cohort Cohort selects. On error no part of
	// a vector is returned.
	Aggregate(ctx context.Context, spec *query.Spec, cohort policy.CohortRule) ([]int64, aggregate.Stats, error)
	// Close releases the source's resources.
	Close() error
}

// The sources satisfy the interface.
var (
	_ Source = (*Memory)(nil)
	_ Source = (*Postgres)(nil)
	_ Source = (*MySQL)(nil)
	_ Source = (*Parquet)(nil)
)

// A Field is one column of a source's schema.
type Field struct {
	Name string
	Kind dataset.Kind
}

// Errors reported by sources, wrapped with the source's name and details.
var (
	// ErrUnknownTable reports a database table or view that does not
	// exist or that the node may not see.
	ErrUnknownTable = errors.New("unknown table")
	// ErrUnknownColumn reports a column that the source's mapping does
	// not allow or the data does not have.
	ErrUnknownColumn = errors.New("unknown column")
	// ErrTypeMismatch reports a column whose type does not fit the kind
	// the mapping or the query needs.
	ErrTypeMismatch = errors.New("type mismatch")
	// ErrInvalidIdentifier reports a table or column name that cannot be
	// used as an SQL identifier.
	ErrInvalidIdentifier = errors.New("invalid identifier")
	// ErrUnavailable reports a database that cannot be reached or refuses
	// the node's credentials.
	ErrUnavailable = errors.New("data source unavailable")
	// ErrUnsupportedType reports a file column type the source cannot read.
	ErrUnsupportedType = errors.New("unsupported column type")
	// ErrUnsupportedSource reports a source URL of no known kind.
	ErrUnsupportedSource = errors.New("unsupported source")
	// ErrTimeout reports an aggregation the database stopped at the
	// source's time limit, or that outlasted the node's deadline.
	ErrTimeout = errors.New("time limit exceeded")
)

// SchemaTable returns an empty table with the given fields, against which
// a spec's columns are checked with [query.Spec.CheckColumns], so that every
// source accepts and rejects exactly the specs the in-memory engine does.
func SchemaTable(fields []Field) (*dataset.Table, error) {
	b := dataset.NewBuilder()
	for _, f := range fields {
		switch f.Kind {
		case dataset.KindNumber:
			b.AddNumber(f.Name, []float64{})
		case dataset.KindCategory:
			b.AddCategoryCodes(f.Name, nil, []int32{})
		case dataset.KindBool:
			b.AddBool(f.Name, []bool{}, nil)
		}
	}
	return b.Build()
}

// tableFields lists the columns of t.
func tableFields(t *dataset.Table) []Field {
	cols := t.Columns()
	fields := make([]Field, len(cols))
	for i, c := range cols {
		fields[i] = Field{Name: c.Name, Kind: c.Kind}
	}
	return fields
}
