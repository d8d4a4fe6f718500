package source

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/fedscore/fedscore/dataset"
)

// OpenParquet reads the Parquet file at path into a [Memory] source
// labelled "parquet <path>". The mapping renames, retypes or drops columns
// as it does for CSV files; nil reads them as they are.
//
// Integer and floating-point columns are numbers, string columns are
// categories and boolean columns are bools; nulls, NaN and empty strings
// are missing values. A column forced to number may hold numeric strings;
// one forced to category may hold numbers or bools; one forced to bool may
// hold the integers 0 and 1 or the strings true/false, yes/no and 1/0 in
// any case. Other column types are rejected with [ErrUnsupportedType]
// unless the mapping skips them.
func OpenParquet(path string, mapping *dataset.Mapping) (*Memory, error) {
	label := "parquet " + path
	fail := func(err error) (*Memory, error) {
		return nil, fmt.Errorf("source %s: %w", label, err)
	}
	if mapping != nil {
		if err := mapping.Validate(); err != nil {
			return fail(err)
		}
	}
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		return fail(err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 64 << 10}, memory.DefaultAllocator)
	if err != nil {
		return fail(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		return fail(err)
	}
	defer tbl.Release()

	plans := make(map[string]dataset.ColumnMapping)
	if mapping != nil {
		for _, cm := range mapping.Columns {
			plans[cm.Source] = cm
		}
	}
	seen := make(map[string]bool)
	b := dataset.NewBuilder()
	for i := range int(tbl.NumCols()) {
		col := tbl.Column(i)
		name := col.Name()
		seen[name] = true
		cm := plans[name]
		if cm.Skip {
			continue
		}
		out := name
		if cm.Name != "" {
			out = cm.Name
		}
		if err := addParquetColumn(b, out, cm.Type, col.Data()); err != nil {
			return fail(fmt.Errorf("column %q: %w", name, err))
		}
	}
	if mapping != nil {
		for _, cm := range mapping.Columns {
			if !seen[cm.Source] {
				return fail(fmt.Errorf("mapping names column %q: %w", cm.Source, ErrUnknownColumn))
			}
		}
	}
	t, err := b.Build()
	if err != nil {
		return fail(err)
	}
	return &Memory{Table: t, Label: label}, nil
}

// stringArray is implemented by Arrow's string, large string and string
// view arrays.
type stringArray interface {
	arrow.Array
	Value(i int) string
}

// addParquetColumn converts one Arrow column into a dataset column of the
// forced kind ("" for the column's natural kind) and adds it to b.
func addParquetColumn(b *dataset.Builder, name, forced string, data *arrow.Chunked) error {
	n := data.Len()
	natural, err := naturalKind(data.DataType())
	if err != nil {
		return err
	}
	kind := natural
	if forced != "" {
		kind, _ = dataset.ParseKind(forced)
	}
	switch kind {
	case dataset.KindNumber:
		values := make([]float64, 0, n)
		for _, chunk := range data.Chunks() {
			for i := range chunk.Len() {
				v, err := numberAt(chunk, i)
				if err != nil {
					return fmt.Errorf("row %d: %w", len(values), err)
				}
				values = append(values, v)
			}
		}
		b.AddNumber(name, values)
	case dataset.KindCategory:
		values := make([]string, 0, n)
		for _, chunk := range data.Chunks() {
			for i := range chunk.Len() {
				values = append(values, categoryAt(chunk, i))
			}
		}
		b.AddCategory(name, values)
	case dataset.KindBool:
		values := make([]bool, 0, n)
		missing := make([]bool, 0, n)
		for _, chunk := range data.Chunks() {
			for i := range chunk.Len() {
				v, ok, err := boolAt(chunk, i)
				if err != nil {
					return fmt.Errorf("row %d: %w", len(values), err)
				}
				values = append(values, v)
				missing = append(missing, !ok)
			}
		}
		b.AddBool(name, values, missing)
	}
	return nil
}

// naturalKind is the kind an Arrow type is read as.
func naturalKind(dt arrow.DataType) (dataset.Kind, error) {
	switch dt.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
		arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64,
		arrow.FLOAT32, arrow.FLOAT64:
		return dataset.KindNumber, nil
	case arrow.STRING, arrow.LARGE_STRING, arrow.STRING_VIEW:
		return dataset.KindCategory, nil
	case arrow.BOOL:
		return dataset.KindBool, nil
	case arrow.DICTIONARY:
		if k, err := naturalKind(dt.(*arrow.DictionaryType).ValueType); err == nil && k == dataset.KindCategory {
			return k, nil
		}
	}
	return 0, fmt.Errorf("%w %s", ErrUnsupportedType, dt)
}

// numberAt reads row i of a as a number; NaN marks a missing value.
func numberAt(a arrow.Array, i int) (float64, error) {
	if a.IsNull(i) {
		return math.NaN(), nil
	}
	var v float64
	switch x := a.(type) {
	case *array.Int8:
		v = float64(x.Value(i))
	case *array.Int16:
		v = float64(x.Value(i))
	case *array.Int32:
		v = float64(x.Value(i))
	case *array.Int64:
		v = float64(x.Value(i))
	case *array.Uint8:
		v = float64(x.Value(i))
	case *array.Uint16:
		v = float64(x.Value(i))
	case *array.Uint32:
		v = float64(x.Value(i))
	case *array.Uint64:
		v = float64(x.Value(i))
	case *array.Float32:
		v = float64(x.Value(i))
	case *array.Float64:
		v = x.Value(i)
	default:
		s := strings.TrimSpace(categoryAt(a, i))
		if s == "" {
			return math.NaN(), nil
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a number: %w", s, ErrTypeMismatch)
		}
		v = f
	}
	if math.IsInf(v, 0) {
		return 0, fmt.Errorf("value %v is not finite: %w", v, ErrTypeMismatch)
	}
	return v, nil
}

// categoryAt reads row i of a as a category value; "" marks a missing one.
func categoryAt(a arrow.Array, i int) string {
	if a.IsNull(i) {
		return ""
	}
	switch x := a.(type) {
	case stringArray:
		return strings.TrimSpace(x.Value(i))
	case *array.Dictionary:
		return categoryAt(x.Dictionary(), x.GetValueIndex(i))
	case *array.Boolean:
		return strconv.FormatBool(x.Value(i))
	}
	v, err := numberAt(a, i)
	if err != nil || math.IsNaN(v) {
		return ""
	}
	return dataset.FormatNumber(v)
}

// boolAt reads row i of a as a bool; ok is false for a missing value.
func boolAt(a arrow.Array, i int) (v, ok bool, err error) {
	if a.IsNull(i) {
		return false, false, nil
	}
	if x, isBool := a.(*array.Boolean); isBool {
		return x.Value(i), true, nil
	}
	var s string
	if _, isNum := a.(stringArray); isNum {
		s = strings.ToLower(categoryAt(a, i))
	} else if _, isDict := a.(*array.Dictionary); isDict {
		s = strings.ToLower(categoryAt(a, i))
	} else {
		f, err := numberAt(a, i)
		if err != nil {
			return false, false, err
		}
		if math.IsNaN(f) {
			return false, false, nil
		}
		s = dataset.FormatNumber(f)
	}
	switch s {
	case "":
		return false, false, nil
	case "true", "yes", "1":
		return true, true, nil
	case "false", "no", "0":
		return false, true, nil
	}
	return false, false, fmt.Errorf("%q is not a bool: %w", s, ErrTypeMismatch)
}
