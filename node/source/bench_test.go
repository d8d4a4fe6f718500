package source

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/internal/mysqltest"
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
func benchQuery(b testing.TB, columns []string) (*query.Spec, policy.CohortRule) {
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

// cpuTime is the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// heapInUse returns the live heap after a collection, in MiB: the bytes
// of heap objects, as sampleHeap measures them.
func heapInUse() float64 {
	runtime.GC()
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return float64(s[0].Value.Uint64()) / (1 << 20)
}

// BenchmarkSources aggregates 10 million synthetic records (see
// FEDSCORE_BENCH_ROWS) with every source in one run: a streamed Parquet
// file, PostgreSQL pushdown (FEDSCORE_PG_DSN), MariaDB pushdown
// (FEDSCORE_MYSQL_DSN) and memory; a database without its variable is
// skipped. heap-MiB is the node's live heap while the source is open,
// peak-MiB the largest heap during the queries, both above what the
// process held before opening it; cpu-ms/op is the node process's CPU
// time per query (not the database server's), which on a loaded machine
// says more than the wall time. The Parquet file (in the temporary
// directory) and the tables are written once and reused by later runs.
// Every source must give the in-memory vector.
func BenchmarkSources(b *testing.B) {
	ctx := context.Background()
	rows := benchRows(b)
	name := "bench_synth_" + strconv.Itoa(rows)
	columns := slices.DeleteFunc(synth.Columns(), func(c string) bool { return c == "customer_id" })
	spec, rule := benchQuery(b, columns)

	// Write what is missing from one generated table, then drop it.
	var tab *dataset.Table
	records := func() *dataset.Table {
		if tab == nil {
			tab = benchTable(b, rows)
		}
		return tab
	}
	path := filepath.Join(os.TempDir(), "fedscore-bench-"+strconv.Itoa(rows)+".parquet")
	if _, err := os.Stat(path); err != nil {
		start := time.Now()
		writeParquetGroups(b, path+".tmp", records(), 1<<20, "age", "city_tier", "delinquencies_12m")
		if err := os.Rename(path+".tmp", path); err != nil {
			b.Fatal(err)
		}
		b.Logf("wrote %d rows to %s in %v", rows, path, time.Since(start).Round(time.Second))
	}
	var pg, my func(b *testing.B) Source
	if os.Getenv("FEDSCORE_PG_DSN") != "" {
		pool := testPool(b)
		var n int
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{name}.Sanitize()).Scan(&n); err != nil || n != rows {
			start := time.Now()
			loadTable(b, pool, name, records())
			b.Logf("loaded %d rows into PostgreSQL in %v", rows, time.Since(start).Round(time.Second))
		}
		pg = func(b *testing.B) Source {
			p, err := OpenPostgres(ctx, PostgresConfig{DSN: pgDSN(b), Table: name})
			if err != nil {
				b.Fatal(err)
			}
			return p
		}
	}
	if os.Getenv("FEDSCORE_MYSQL_DSN") != "" {
		db := testMySQL(b)
		var n int
		if err := db.QueryRow("SELECT count(*) FROM " + mysqltest.Quote(name)).Scan(&n); err != nil || n != rows {
			start := time.Now()
			loadMySQLTable(b, db, name, records())
			b.Logf("loaded %d rows into MariaDB in %v", rows, time.Since(start).Round(time.Second))
		}
		my = func(b *testing.B) Source {
			m, err := OpenMySQL(ctx, MySQLConfig{DSN: mysqlTestDSN(b), Table: name})
			if err != nil {
				b.Fatal(err)
			}
			return m
		}
	}
	tab = nil

	vectors := make(map[string][]int64)
	run := func(kind string, open func(b *testing.B) Source) {
		b.Run(kind, func(b *testing.B) {
			if open == nil {
				b.Skipf("no %s server configured", kind)
			}
			before := heapInUse()
			src := open(b)
			defer src.Close()
			peak, stop := sampleHeap()
			var vec []int64
			var err error
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuTime()
			for b.Loop() {
				if vec, _, err = src.Aggregate(ctx, spec, rule); err != nil {
					b.Fatal(err)
				}
			}
			cpu = cpuTime() - cpu
			b.StopTimer()
			stop()
			b.ReportMetric(heapInUse()-before, "heap-MiB")
			b.ReportMetric(float64(*peak)/(1<<20)-before, "peak-MiB")
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mrows/s")
			// The node's own CPU: a database source's server is not counted.
			b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
			vectors[kind] = vec
			runtime.KeepAlive(src)
		})
	}
	run("parquet", func(b *testing.B) Source {
		p, err := OpenParquet(path, nil)
		if err != nil {
			b.Fatal(err)
		}
		return p
	})
	run("postgres", pg)
	run("mariadb", my)
	run("memory", func(b *testing.B) Source { return &Memory{Table: benchTable(b, rows)} })
	for kind, vec := range vectors {
		if want, ok := vectors["memory"]; ok && !slices.Equal(vec, want) {
			b.Errorf("%s and memory vectors differ", kind)
		}
	}
}
