package source

import (
	"context"
	"errors"
	"fmt"

	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/node/aggregate"
	"github.com/fedscore/fedscore/policy"
	"github.com/fedscore/fedscore/query"
)

// Memory is a source over an in-memory table, such as one loaded from a
// CSV or Parquet file. It is safe for concurrent use.
type Memory struct {
	Table *dataset.Table
	// Label names the source in errors and logs; "" means "memory".
	Label string
}

// Name returns the source's label.
func (m *Memory) Name() string {
	if m.Label == "" {
		return "memory"
	}
	return m.Label
}

// Schema returns the table's columns.
func (m *Memory) Schema(ctx context.Context) ([]Field, error) {
	if m.Table == nil {
		return nil, fmt.Errorf("source %s: %w", m.Name(), errNoTable)
	}
	return tableFields(m.Table), nil
}

// Aggregate applies the cohort rule with [Cohort] and aggregates the
// admitted records with aggregate.Aggregate.
func (m *Memory) Aggregate(ctx context.Context, spec *query.Spec, cohort policy.CohortRule) ([]int64, aggregate.Stats, error) {
	if m.Table == nil {
		return nil, aggregate.Stats{}, fmt.Errorf("source %s: %w", m.Name(), errNoTable)
	}
	in, err := Cohort(m.Table, cohort)
	if err != nil {
		return nil, aggregate.Stats{Rows: m.Table.Rows()}, fmt.Errorf("source %s: %w", m.Name(), err)
	}
	vec, st, err := aggregate.Aggregate(ctx, spec, m.Table, in)
	if err != nil {
		return nil, st, fmt.Errorf("source %s: %w", m.Name(), err)
	}
	return vec, st, nil
}

// Close does nothing; the table is left to the garbage collector.
func (m *Memory) Close() error { return nil }

var errNoTable = errors.New("no table")
