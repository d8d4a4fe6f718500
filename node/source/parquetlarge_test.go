package source

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/fedscore/fedscore/policy"
)

// writeLargeParquet writes rows random records, a batch at a time, to an
// uncompressed Parquet file: age, region (dictionary-encoded), amount,
// score and tenure, with some nulls.
func writeLargeParquet(t *testing.T, path string, rows int) {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "age", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "region", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "amount", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "score", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "tenure", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}, nil)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Uncompressed),
		parquet.WithDictionaryDefault(false), parquet.WithDictionaryFor("region", true), parquet.WithMaxRowGroupLength(1<<18))
	w, err := pqarrow.NewFileWriter(schema, f, props, pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	regions := []string{"north", "east", "south", "west", " east ", ""}
	const batch = 1 << 16
	b := array.NewRecordBuilder(memory.NewGoAllocator(), schema)
	defer b.Release()
	for done := 0; done < rows; done += batch {
		for range min(batch, rows-done) {
			if rng.IntN(50) == 0 {
				b.Field(0).AppendNull()
			} else {
				b.Field(0).(*array.Int64Builder).Append(int64(10 + rng.IntN(80)))
			}
			if rng.IntN(40) == 0 {
				b.Field(1).AppendNull()
			} else {
				b.Field(1).(*array.StringBuilder).Append(regions[rng.IntN(len(regions))])
			}
			for j := 2; j < 5; j++ {
				if rng.IntN(30) == 0 {
					b.Field(j).AppendNull()
				} else {
					b.Field(j).(*array.Float64Builder).Append(rng.NormFloat64()*5000 + 1000)
				}
			}
		}
		rec := b.NewRecordBatch()
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
		rec.Release()
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestParquetLargerThanMemory streams a file several times larger than
// the process's memory limit and checks that the heap stays far below the
// file's size and that the vector is the in-memory one.
func TestParquetLargerThanMemory(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "large.parquet")
	writeLargeParquet(t, path, 4_500_000)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	const limit = 24 << 20
	if fi.Size() < 3*limit {
		t.Fatalf("the file has %d bytes, not several times the %d bytes limit", fi.Size(), limit)
	}
	spec := mustSpec(t, `
purpose: marketing_analytics
group_by:
  - {column: age, bins: [18, 30, 45, 65, 90]}
  - {column: region, values: [north, east, south, west]}
filter:
  - {column: tenure, op: gt, value: -2000}
metrics:
  - {kind: sum, column: amount, clip: [-1000, 20000]}
  - {kind: mean, column: tenure, clip: [0, 9000]}
  - {kind: histogram, column: score, bins: [-10000, 0, 1000, 5000, 20000]}
min_partners: 2
decimals: 2
`)
	rule := policy.CohortRule{Conditions: []policy.Condition{
		{Column: "age", Op: policy.OpGe, Value: 18.0, Code: "MINOR"},
		{Column: "score", Op: policy.OpLt, Value: 15000.0, Missing: policy.MissingInclude, Code: "X"},
	}}
	src, err := OpenParquet(path, nil)
	if err != nil {
		t.Fatal(err)
	}

	runtime.GC()
	old := debug.SetMemoryLimit(limit)
	peak, stop := sampleHeap()
	vec, st, err := src.Aggregate(ctx, spec, rule)
	stop()
	debug.SetMemoryLimit(old)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("file %d MiB, memory limit %d MiB, peak heap while streaming %d MiB", fi.Size()>>20, limit>>20, *peak>>20)
	if *peak > uint64(fi.Size())/2 {
		t.Errorf("peak heap %d MiB while streaming a %d MiB file: not flat", *peak>>20, fi.Size()>>20)
	}

	mem, err := LoadParquet(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, wantSt, err := mem.Aggregate(ctx, spec, rule)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(vec, want) || st != wantSt {
		t.Errorf("streamed %v %+v, in memory %v %+v", vec, st, want, wantSt)
	}
	if st.Rows != 4_500_000 || st.MissingValues == 0 || want[0] == 0 {
		t.Errorf("stats %+v", st)
	}
}

// sampleHeap records the largest heap (live and not yet collected
// objects) every 5 ms until stop is called.
func sampleHeap() (peak *uint64, stop func()) {
	peak = new(uint64)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(s)
			*peak = max(*peak, s[0].Value.Uint64())
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return peak, func() { close(done); wg.Wait() }
}
