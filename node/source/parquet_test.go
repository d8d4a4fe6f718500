package source

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/policy"
)

// writeParquet writes tab to a Parquet file with arrow-go's writer, in
// row groups of 8192 records: numbers as float64 (or int64 for the columns
// listed in ints), categories as strings and bools as booleans, missing
// values as nulls.
func writeParquet(t testing.TB, path string, tab *dataset.Table, ints ...string) {
	writeParquetGroups(t, path, tab, 8192, ints...)
}

// writeParquetGroups is writeParquet with row groups of groupRows records,
// snappy-compressed, as Spark and arrow write them by default.
func writeParquetGroups(t testing.TB, path string, tab *dataset.Table, groupRows int64, ints ...string) {
	t.Helper()
	mem := memory.NewGoAllocator()
	var fields []arrow.Field
	var arrays []arrow.Array
	for _, c := range tab.Columns() {
		var a arrow.Array
		switch {
		case c.Kind == dataset.KindNumber && slices.Contains(ints, c.Name):
			b := array.NewInt64Builder(mem)
			for i, v := range c.Numbers {
				if c.IsMissing(i) {
					b.AppendNull()
				} else {
					b.Append(int64(v))
				}
			}
			a = b.NewArray()
		case c.Kind == dataset.KindNumber:
			b := array.NewFloat64Builder(mem)
			for i, v := range c.Numbers {
				if c.IsMissing(i) {
					b.AppendNull()
				} else {
					b.Append(v)
				}
			}
			a = b.NewArray()
		case c.Kind == dataset.KindCategory:
			b := array.NewStringBuilder(mem)
			for i, k := range c.Codes {
				if c.IsMissing(i) {
					b.AppendNull()
				} else {
					b.Append(c.Dict[k])
				}
			}
			a = b.NewArray()
		default:
			b := array.NewBooleanBuilder(mem)
			for i, v := range c.Bools {
				if c.IsMissing(i) {
					b.AppendNull()
				} else {
					b.Append(v)
				}
			}
			a = b.NewArray()
		}
		fields = append(fields, arrow.Field{Name: c.Name, Type: a.DataType(), Nullable: true})
		arrays = append(arrays, a)
	}
	rec := array.NewRecordBatch(arrow.NewSchema(fields, nil), arrays, int64(tab.Rows()))
	defer rec.Release()
	tbl := array.NewTableFromRecords(rec.Schema(), []arrow.RecordBatch{rec})
	defer tbl.Release()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	props := parquet.NewWriterProperties(parquet.WithMaxRowGroupLength(groupRows), parquet.WithCompression(compress.Codecs.Snappy))
	// WriteTable closes f.
	if err := pqarrow.WriteTable(tbl, f, groupRows, props, pqarrow.DefaultWriterProps()); err != nil {
		t.Fatal(err)
	}
}

// TestParquetBank writes bank-full.csv as Parquet, reads it back whole
// and streams it, and checks that both aggregate exactly as the CSV table
// does.
func TestParquetBank(t *testing.T) {
	tab := loadShared(t, "bank-full.csv")
	path := filepath.Join(t.TempDir(), "bank.parquet")
	writeParquet(t, path, tab, "age", "balance", "day")
	loaded, err := LoadParquet(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.Table.Rows() != tab.Rows() {
		t.Fatalf("%d rows, want %d", loaded.Table.Rows(), tab.Rows())
	}
	streamed, err := OpenParquet(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer streamed.Close()
	mem := &Memory{Table: tab}
	rules := map[string]policy.CohortRule{
		"no rule": {},
		"rule": {Conditions: []policy.Condition{
			{Column: "age", Op: policy.OpGe, Value: 18.0, Code: "MINOR"},
			{Column: "contact", Op: policy.OpNe, Value: "unknown", Missing: policy.MissingInclude, Code: "X"},
		}},
	}
	specs := maps.Clone(bankSpecs)
	specs["histograms with many bins"] = manyBins()
	specs["count only"] = "purpose: marketing_analytics\ngroup_by: []\nmetrics: [{kind: count}]\nmin_partners: 2\n"
	for name, text := range specs {
		for rname, rule := range rules {
			t.Run(name+"/"+rname, func(t *testing.T) {
				sameResult(t, loaded, mustSpec(t, text), rule, mem, true)
				sameResult(t, streamed, mustSpec(t, text), rule, mem, true)
			})
		}
	}
}

// TestParquetMissingAndMapping covers nulls, bools and a mapping that
// renames, retypes and skips columns.
func TestParquetMissingAndMapping(t *testing.T) {
	b := dataset.NewBuilder()
	b.AddNumber("age", []float64{30, 12, 40, nan, 50, 14})
	b.AddBool("consent", []bool{true, true, false, true, true, true}, []bool{false, false, false, false, true, false})
	b.AddCategory("region", []string{"east", "east", "west", "east", "", "east"})
	b.AddNumber("tier", []float64{1, 2, 1, 3, nan, 2})
	b.AddNumber("flag", []float64{1, 0, 1, 0, 1, nan})
	tab, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "small.parquet")
	writeParquet(t, path, tab, "tier", "flag")
	mapping := &dataset.Mapping{Columns: []dataset.ColumnMapping{
		{Source: "region", Name: "area"},
		{Source: "tier", Type: "category"},
		{Source: "flag", Type: "bool"},
		{Source: "age", Skip: true},
	}}
	src, err := LoadParquet(path, mapping)
	if err != nil {
		t.Fatal(err)
	}
	streamed, err := OpenParquet(path, mapping)
	if err != nil {
		t.Fatal(err)
	}
	fields, _ := src.Schema(context.Background())
	want := []Field{{"consent", dataset.KindBool}, {"area", dataset.KindCategory}, {"tier", dataset.KindCategory}, {"flag", dataset.KindBool}}
	if !slices.Equal(fields, want) {
		t.Fatalf("schema %v, want %v", fields, want)
	}
	tier, _ := src.Table.Column("tier")
	flag, _ := src.Table.Column("flag")
	area, _ := src.Table.Column("area")
	consent, _ := src.Table.Column("consent")
	for i, want := range []string{"1", "2", "1", "3", "", "2"} {
		if got := tier.String(i); got != want {
			t.Errorf("tier row %d = %q, want %q", i, got, want)
		}
	}
	for i, want := range []string{"true", "false", "true", "false", "true", ""} {
		if got := flag.String(i); got != want {
			t.Errorf("flag row %d = %q, want %q", i, got, want)
		}
	}
	if !area.IsMissing(4) || !consent.IsMissing(4) || consent.IsMissing(0) {
		t.Error("nulls are not missing values")
	}
	if got, _ := streamed.Schema(context.Background()); !slices.Equal(got, want) {
		t.Errorf("streamed schema %v, want %v", got, want)
	}
	spec := mustSpec(t, `
purpose: marketing_analytics
group_by:
  - {column: area, values: [east, west]}
  - {column: flag, values: ["true", "false"]}
filter:
  - {column: tier, op: ne, value: "3"}
metrics: [{kind: count}]
min_partners: 2
`)
	rule := policy.CohortRule{Conditions: []policy.Condition{{Column: "consent", Op: policy.OpEq, Value: true, Missing: policy.MissingInclude, Code: "X"}}}
	sameResult(t, streamed, spec, rule, src, true)

	for _, open := range []func(string, *dataset.Mapping) (Source, error){
		func(p string, m *dataset.Mapping) (Source, error) { return LoadParquet(p, m) },
		func(p string, m *dataset.Mapping) (Source, error) { return OpenParquet(p, m) },
	} {
		_, err = open(path, &dataset.Mapping{Columns: []dataset.ColumnMapping{{Source: "income"}}})
		if !errors.Is(err, ErrUnknownColumn) {
			t.Errorf("mapping of a missing column: %v", err)
		}
		if _, err := open(filepath.Join(t.TempDir(), "none.parquet"), nil); err == nil {
			t.Error("no error for a missing file")
		}
	}
	// Text forced to number: the in-memory load fails at once, the
	// stream when it reads the column.
	numberRegion := &dataset.Mapping{Columns: []dataset.ColumnMapping{{Source: "region", Type: "number"}}}
	if _, err = LoadParquet(path, numberRegion); !errors.Is(err, ErrTypeMismatch) {
		t.Errorf("text forced to number: %v", err)
	}
	s, err := OpenParquet(path, numberRegion)
	if err != nil {
		t.Fatal(err)
	}
	sum := mustSpec(t, "purpose: marketing_analytics\ngroup_by: []\nmetrics: [{kind: sum, column: region, clip: [0, 1]}]\nmin_partners: 2\n")
	if vec, _, err := s.Aggregate(context.Background(), sum, policy.CohortRule{}); !errors.Is(err, ErrTypeMismatch) || vec != nil {
		t.Errorf("streaming text forced to number: %v, %v", vec, err)
	}
}
