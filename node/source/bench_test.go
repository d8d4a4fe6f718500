package source

import (
	"context"
	"os"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/internal/synth"
	"github.com/fedscore/fedscore/policy"
	"github.com/fedscore/fedscore/query"
)

// benchRows is the number of synthetic records of the benchmarks:
// FEDSCORE_BENCH_ROWS, or 10 million.
func benchRows(b *testing.B) int {
	if s := os.Getenv("FEDSCORE_BENCH_ROWS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("FEDSCORE_BENCH_ROWS=%q is not a positive number", s)
		}
		return n
	}
	return 10_000_000
}

// benchAsOf fixes the synthetic data and the policy decision in time.
func benchAsOf() time.Time { return time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC) }

// benchTable generates the synthetic records, without customer ids.
func benchTable(b *testing.B, rows int) *dataset.Table {
	b.Helper()
	full, err := synth.Generate(synth.Config{Partner: "bench", Rows: rows, Seed: 1, AsOf: benchAsOf()})
	if err != nil {
		b.Fatal(err)
	}
	nb := dataset.NewBuilder()
	for _, c := range full.Columns() {
		switch {
		case c.Name == "customer_id":
		case c.Kind == dataset.KindNumber:
			nb.AddNumber(c.Name, c.Numbers)
		case c.Kind == dataset.KindCategory:
			nb.AddCategoryCodes(c.Name, c.Dict, c.Codes)
		default:
			nb.AddBool(c.Name, c.Bools, c.Missing)
		}
	}
	t, err := nb.Build()
	if err != nil {
		b.Fatal(err)
	}
	return t
}

// benchQuery is a marketing query and the default bundle's cohort rule
// for it.
func benchQuery(b *testing.B, columns []string) (*query.Spec, policy.CohortRule) {
	b.Helper()
	ctx := context.Background()
	spec := mustSpec(b, `
purpose: marketing_analytics
group_by:
  - {column: age, bins: [18, 26, 36, 46, 56, 100]}
  - {column: region, values: [north, east, south, southwest, northwest, northeast]}
  - {column: income_tier, values: [low, middle, high, ultra_high]}
metrics:
  - {kind: sum, column: annual_txn_amount, clip: [0, 2000000]}
  - {kind: mean, column: city_tier, clip: [1, 5]}
  - {kind: histogram, column: annual_txn_amount, bins: [0, 10000, 50000, 100000, 500000, 2000000]}
min_partners: 3
`)
	e, err := policy.NewEngine(ctx, policy.Options{})
	if err != nil {
		b.Fatal(err)
	}
	d, err := e.Admit(ctx, policy.AdmissionInput{
		Query: policy.QueryInfo{
			ID: "bench", Purpose: spec.Purpose, Columns: spec.Columns(),
			Metrics: []string{"count", "sum", "mean", "histogram"}, MinPartners: 3, PipiaID: "PIPIA-2026-MA-01", Epsilon: 1, // the default bundle requires noise
		},
		NodeName: "bench", NodeColumns: columns, Time: benchAsOf().Add(10 * time.Hour),
	})
	if err != nil || !d.Allow {
		b.Fatalf("Admit = %+v, %v", d, err)
	}
	return spec, d.Cohort
}

// heapInUse returns the live heap after a collection, in MiB.
func heapInUse() float64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapInuse) / (1 << 20)
}

// BenchmarkPostgresAggregate aggregates 10 million synthetic records (see
// FEDSCORE_BENCH_ROWS) pushed down to PostgreSQL, and the same records in
// memory. heap-MiB is the node's live heap while the source is open: the
// SQL source holds no records. The table is loaded once with COPY and
// reused by later runs against the same server.
func BenchmarkPostgresAggregate(b *testing.B) {
	ctx := context.Background()
	rows := benchRows(b)
	pool := testPool(b)
	name := "bench_synth_" + strconv.Itoa(rows)
	columns := slices.DeleteFunc(synth.Columns(), func(c string) bool { return c == "customer_id" })
	spec, rule := benchQuery(b, columns)

	var n int
	err := pool.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{name}.Sanitize()).Scan(&n)
	if err != nil || n != rows {
		start := time.Now()
		loadTable(b, pool, name, benchTable(b, rows))
		b.Logf("loaded %d rows into %s in %v", rows, name, time.Since(start).Round(time.Second))
	}

	var pgVec []int64
	b.Run("postgres", func(b *testing.B) {
		before := heapInUse()
		p, err := OpenPostgres(ctx, PostgresConfig{DSN: pgDSN(b), Table: name})
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			pgVec, _, err = p.Aggregate(ctx, spec, rule)
			if err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		b.ReportMetric(heapInUse()-before, "heap-MiB")
		b.ReportMetric(float64(rows)/b.Elapsed().Seconds()*float64(b.N)/1e6, "Mrows/s")
	})
	b.Run("memory", func(b *testing.B) {
		before := heapInUse()
		m := &Memory{Table: benchTable(b, rows)}
		var vec []int64
		var err error
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			vec, _, err = m.Aggregate(ctx, spec, rule)
			if err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		b.ReportMetric(heapInUse()-before, "heap-MiB")
		b.ReportMetric(float64(rows)/b.Elapsed().Seconds()*float64(b.N)/1e6, "Mrows/s")
		if pgVec != nil && !slices.Equal(vec, pgVec) {
			b.Error("PostgreSQL and memory vectors differ")
		}
		runtime.KeepAlive(m)
	})
}
