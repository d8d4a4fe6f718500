package source

import (
	"context"
	"fmt"
	"runtime"
	"slices"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"golang.org/x/sync/errgroup"

	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/node/aggregate"
	"github.com/fedscore/fedscore/policy"
	"github.com/fedscore/fedscore/query"
)

// parquetBatchRows is how many records a streaming Parquet source
// converts and aggregates at a time: its memory, whatever the file's size.
const parquetBatchRows = 64 << 10

// Parquet is a source that streams a Parquet file: each aggregation reads
// only the columns the query and the cohort rule name, batch by batch
// across the row groups, and aggregates every batch as it is read, so the
// node's memory does not grow with the file. Every batch is read exactly
// as [LoadParquet] reads the file and aggregated as [Memory] aggregates
// it. It is safe for concurrent use; each aggregation opens the file.
type Parquet struct {
	path   string
	cols   map[string]parquetColumn // by the name queries use
	fields []Field
	schema *dataset.Table
}

// OpenParquet opens the Parquet file at path as a streaming source
// labelled "parquet <path>", reading only its schema. The mapping and the
// column types are those of [LoadParquet]; a value that does not convert
// to its column's kind fails the aggregation that reads it.
func OpenParquet(path string, mapping *dataset.Mapping) (*Parquet, error) {
	p := &Parquet{path: path, cols: make(map[string]parquetColumn)}
	fail := func(err error) (*Parquet, error) {
		return nil, fmt.Errorf("source %s: %w", p.Name(), err)
	}
	pf, err := openParquetFile(path)
	if err != nil {
		return fail(err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		return fail(err)
	}
	cols, err := parquetColumns(fr, mapping)
	if err != nil {
		return fail(err)
	}
	for _, c := range cols {
		if _, dup := p.cols[c.name]; dup {
			return fail(fmt.Errorf("column name %q used twice: %w", c.name, ErrInvalidIdentifier))
		}
		p.cols[c.name] = c
		p.fields = append(p.fields, Field{Name: c.name, Kind: c.kind})
	}
	if p.schema, err = SchemaTable(p.fields); err != nil {
		return fail(err)
	}
	return p, nil
}

// Name returns "parquet <path>".
func (p *Parquet) Name() string { return "parquet " + p.path }

// Schema returns the columns the mapping allows.
func (p *Parquet) Schema(ctx context.Context) ([]Field, error) {
	return append([]Field(nil), p.fields...), nil
}

// Aggregate streams the columns spec and cohort name and returns the sum
// of the batches' vectors and statistics, which is [Memory]'s vector over
// the whole file. The spec and the rule are checked against the schema
// before the file is read.
func (p *Parquet) Aggregate(ctx context.Context, spec *query.Spec, cohort policy.CohortRule) ([]int64, aggregate.Stats, error) {
	fail := func(err error) ([]int64, aggregate.Stats, error) {
		return nil, aggregate.Stats{}, fmt.Errorf("source %s: %w", p.Name(), err)
	}
	// The empty schema table gives the in-memory errors for a spec or a
	// rule that does not fit, and the vector of no records.
	none, err := Cohort(p.schema, cohort)
	if err != nil {
		return fail(err)
	}
	total, st, err := aggregate.Aggregate(ctx, spec, p.schema, none)
	if err != nil {
		return fail(err)
	}

	names := spec.Columns()
	for _, c := range cohort.Conditions {
		names = append(names, c.Column)
	}
	var read []parquetColumn
	for name, c := range p.cols {
		if slices.Contains(names, name) {
			read = append(read, c)
		}
	}
	slices.SortFunc(read, func(a, b parquetColumn) int { return a.field - b.field })
	if len(read) == 0 {
		// A count with no group_by, filter or condition: the file's
		// metadata has it.
		return p.countOnly(total, st)
	}
	parts, err := p.streamParts(ctx, read, func(t *dataset.Table, part *partial) error {
		in, err := Cohort(t, cohort)
		if err != nil {
			return err
		}
		vec, bst, err := aggregate.Aggregate(ctx, spec, t, in)
		if err != nil {
			return err
		}
		return part.add(vec, bst)
	})
	if err != nil {
		return fail(err)
	}
	out := &partial{vec: total, st: st}
	for _, part := range parts {
		if err := out.add(part.vec, part.st); err != nil {
			return fail(err)
		}
	}
	return out.vec, out.st, nil
}

// A partial is the vector and statistics of some of a file's batches.
type partial struct {
	vec []int64
	st  aggregate.Stats
}

// add adds a batch's vector and statistics, failing on int64 overflow as
// a sum in memory would.
func (p *partial) add(vec []int64, st aggregate.Stats) error {
	if p.vec == nil {
		p.vec = make([]int64, len(vec))
	}
	for i, x := range vec {
		s := p.vec[i] + x
		if (x > 0 && s < p.vec[i]) || (x < 0 && s > p.vec[i]) {
			return fmt.Errorf("aggregate: slot %d: %w", i, query.ErrOverflow)
		}
		p.vec[i] = s
	}
	p.st.Rows += st.Rows
	p.st.Selected += st.Selected
	p.st.OutOfCells += st.OutOfCells
	p.st.MissingValues += st.MissingValues
	p.st.OutOfBins += st.OutOfBins
	return nil
}

// streamParts splits the file's row groups among up to GOMAXPROCS
// workers, each streaming its share of the columns cols, and returns
// their partials. Sums are exact, so the order does not matter.
func (p *Parquet) streamParts(ctx context.Context, cols []parquetColumn, each func(*dataset.Table, *partial) error) ([]*partial, error) {
	pf, err := openParquetFile(p.path)
	if err != nil {
		return nil, err
	}
	groups := pf.NumRowGroups()
	pf.Close()
	workers := max(min(runtime.GOMAXPROCS(0), groups), 1)
	parts := make([]*partial, workers)
	g, ctx := errgroup.WithContext(ctx)
	for w := range workers {
		var share []int
		for rg := w; rg < groups; rg += workers {
			share = append(share, rg)
		}
		parts[w] = &partial{}
		g.Go(func() error {
			return p.stream(ctx, cols, share, func(t *dataset.Table) error { return each(t, parts[w]) })
		})
	}
	return parts, g.Wait()
}

// stream reads the columns cols, sorted by field, of the row groups
// rowGroups and calls each with every batch as a table.
func (p *Parquet) stream(ctx context.Context, cols []parquetColumn, rowGroups []int, each func(*dataset.Table) error) error {
	pf, err := openParquetFile(p.path)
	if err != nil {
		return err
	}
	defer pf.Close()
	props := pqarrow.ArrowReadProperties{BatchSize: parquetBatchRows}
	leaves := make([]int, len(cols))
	convs := make([]*columnConverter, len(cols))
	for i, c := range cols {
		leaves[i] = c.leaf
		convs[i] = newColumnConverter(c)
		// Category strings come as dictionary indexes: one conversion per
		// distinct value of a page, not per record.
		props.SetReadDict(c.leaf, c.stringLeaf && c.kind == dataset.KindCategory)
	}
	fr, err := pqarrow.NewFileReader(pf, props, new(bufferPool))
	if err != nil {
		return err
	}
	if len(rowGroups) == 0 {
		return nil
	}
	rr, err := fr.GetRecordReader(ctx, leaves, rowGroups)
	if err != nil {
		return err
	}
	defer rr.Release()
	for rr.Next() {
		rec := rr.RecordBatch()
		if int(rec.NumCols()) != len(cols) {
			return fmt.Errorf("read %d columns, want %d", rec.NumCols(), len(cols))
		}
		b := dataset.NewBuilder()
		for i, conv := range convs {
			conv.reset()
			if err := conv.append(rec.Column(i)); err != nil {
				return err
			}
			conv.addTo(b)
		}
		t, err := b.Build()
		if err != nil {
			return err
		}
		if err := each(t); err != nil {
			return err
		}
	}
	if err := rr.Err(); err != nil {
		return fmt.Errorf("read: %w", err)
	}
	return ctx.Err()
}

// countOnly answers a spec that reads no column (a count of every record,
// with no group_by, filter or cohort condition) from the file's metadata.
func (p *Parquet) countOnly(total []int64, st aggregate.Stats) ([]int64, aggregate.Stats, error) {
	pf, err := openParquetFile(p.path)
	if err != nil {
		return nil, aggregate.Stats{}, fmt.Errorf("source %s: %w", p.Name(), err)
	}
	defer pf.Close()
	rows := int(pf.NumRows())
	total[0] = int64(rows) // the one cell's count
	st.Rows, st.Selected = rows, rows
	return total, st, nil
}

// Close does nothing: aggregations open and close the file.
func (p *Parquet) Close() error { return nil }
