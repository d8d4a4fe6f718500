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
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/fedscore/fedscore/dataset"
)

// LoadParquet reads the Parquet file at path into a [Memory] source
// labelled "parquet <path>". The mapping renames, retypes or drops columns
// as it does for CSV files; nil reads them as they are.
//
// Integer and floating-point columns are numbers, string columns are
// categories and boolean columns are bools; nulls, NaN and empty strings
// are missing values. A column forced to number may hold numeric strings;
// one forced to category may hold numbers or bools; one forced to bool may
// hold the integers 0 and 1 or the strings true/false, yes/no and 1/0 in
// any case. Other column types are rejected with [ErrUnsupportedType]
// unless the mapping skips them. [OpenParquet] reads the same file the
// same way, batch by batch, without holding it.
func LoadParquet(path string, mapping *dataset.Mapping) (*Memory, error) {
	label := "parquet " + path
	fail := func(err error) (*Memory, error) {
		return nil, fmt.Errorf("source %s: %w", label, err)
	}
	pf, err := openParquetFile(path)
	if err != nil {
		return fail(err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 64 << 10}, memory.DefaultAllocator)
	if err != nil {
		return fail(err)
	}
	cols, err := parquetColumns(fr, mapping)
	if err != nil {
		return fail(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		return fail(err)
	}
	defer tbl.Release()
	b := dataset.NewBuilder()
	for _, c := range cols {
		conv := newColumnConverter(c)
		for _, chunk := range tbl.Column(c.field).Data().Chunks() {
			if err := conv.append(chunk); err != nil {
				return fail(err)
			}
		}
		conv.addTo(b)
	}
	t, err := b.Build()
	if err != nil {
		return fail(err)
	}
	return &Memory{Table: t, Label: label}, nil
}

// openParquetFile opens a Parquet file for reading through buffered
// streams, so that a column chunk is never read whole.
func openParquetFile(path string) (*file.Reader, error) {
	props := parquet.NewReaderProperties(memory.DefaultAllocator)
	props.BufferedStreamEnabled = true
	props.BufferSize = 256 << 10
	return file.OpenParquetFile(path, false, file.WithReadProps(props))
}

// A parquetColumn is a file column the node reads: its position among the
// file's top-level fields, its leaf column, the name queries use and the
// kind it is read as.
type parquetColumn struct {
	field, leaf int
	source      string
	name        string
	kind        dataset.Kind
	stringLeaf  bool // a string column, which may be read as a dictionary
}

// parquetColumns applies the mapping to the file's schema and returns the
// columns the node may read, in file order. Columns of unsupported types
// must be skipped by the mapping; every column the mapping names must
// exist.
func parquetColumns(fr *pqarrow.FileReader, mapping *dataset.Mapping) ([]parquetColumn, error) {
	plans := make(map[string]dataset.ColumnMapping)
	if mapping != nil {
		if err := mapping.Validate(); err != nil {
			return nil, err
		}
		for _, cm := range mapping.Columns {
			plans[cm.Source] = cm
		}
	}
	seen := make(map[string]bool)
	var cols []parquetColumn
	for i, f := range fr.Manifest.Fields {
		name := f.Field.Name
		seen[name] = true
		cm := plans[name]
		if cm.Skip {
			continue
		}
		natural, err := naturalKind(f.Field.Type)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", name, err)
		}
		c := parquetColumn{field: i, leaf: f.ColIndex, source: name, name: name, kind: natural}
		if cm.Name != "" {
			c.name = cm.Name
		}
		if cm.Type != "" {
			c.kind, _ = dataset.ParseKind(cm.Type)
		}
		switch f.Field.Type.ID() {
		case arrow.STRING, arrow.LARGE_STRING:
			c.stringLeaf = true
		}
		cols = append(cols, c)
	}
	if mapping != nil {
		for _, cm := range mapping.Columns {
			if !seen[cm.Source] {
				return nil, fmt.Errorf("mapping names column %q: %w", cm.Source, ErrUnknownColumn)
			}
		}
	}
	return cols, nil
}

// stringArray is implemented by Arrow's string, large string and string
// view arrays.
type stringArray interface {
	arrow.Array
	Value(i int) string
}

// A columnConverter turns Arrow arrays into one dataset column of a
// given kind, chunk after chunk. The in-memory and the streaming Parquet
// source both read through it, so they read every value alike.
type columnConverter struct {
	name string
	kind dataset.Kind
	rows int // rows appended before, for messages

	nums    []float64
	codes   []int32
	dict    []string
	index   map[string]int32
	local   []int32 // per entry of an Arrow dictionary: its code
	bools   []bool
	missing []bool
}

func newColumnConverter(c parquetColumn) *columnConverter {
	return &columnConverter{name: c.name, kind: c.kind, index: make(map[string]int32)}
}

// reset empties the column, keeping its buffers, to convert the next
// batch; the table built from the previous one must no longer be used.
func (c *columnConverter) reset() {
	c.nums, c.codes, c.bools, c.missing = c.nums[:0], c.codes[:0], c.bools[:0], c.missing[:0]
	c.dict = nil
	clear(c.index)
}

// addTo adds the column to b.
func (c *columnConverter) addTo(b *dataset.Builder) {
	switch c.kind {
	case dataset.KindNumber:
		b.AddNumber(c.name, c.nums)
	case dataset.KindCategory:
		b.AddCategoryCodes(c.name, c.dict, c.codes)
	case dataset.KindBool:
		b.AddBool(c.name, c.bools, c.missing)
	}
}

// append converts a and appends it to the column.
func (c *columnConverter) append(a arrow.Array) error {
	var err error
	switch c.kind {
	case dataset.KindNumber:
		err = c.appendNumbers(a)
	case dataset.KindCategory:
		c.appendCategories(a)
	case dataset.KindBool:
		err = c.appendBools(a)
	}
	if err != nil {
		return fmt.Errorf("column %q: %w", c.name, err)
	}
	c.rows += a.Len()
	return nil
}

func (c *columnConverter) appendNumbers(a arrow.Array) error {
	start := len(c.nums)
	switch x := a.(type) {
	case *array.Float64:
		c.nums = append(c.nums, x.Float64Values()...)
		for i, v := range c.nums[start:] {
			if math.IsInf(v, 0) && !x.IsNull(i) {
				return fmt.Errorf("row %d: value %v is not finite: %w", c.rows+i, v, ErrTypeMismatch)
			}
		}
	case *array.Int64:
		for _, v := range x.Int64Values() {
			c.nums = append(c.nums, float64(v))
		}
	case *array.Int32:
		for _, v := range x.Int32Values() {
			c.nums = append(c.nums, float64(v))
		}
	default:
		for i := range a.Len() {
			v, err := numberAt(a, i)
			if err != nil {
				return fmt.Errorf("row %d: %w", c.rows+i, err)
			}
			c.nums = append(c.nums, v)
		}
		return nil
	}
	if a.NullN() > 0 {
		out := c.nums[start:]
		for i := range out {
			if a.IsNull(i) {
				out[i] = math.NaN()
			}
		}
	}
	return nil
}

// code returns the code of a trimmed category value, -1 for "".
func (c *columnConverter) code(s string) int32 {
	s = strings.TrimSpace(s)
	if s == "" {
		return -1
	}
	k, ok := c.index[s]
	if !ok {
		k = int32(len(c.dict))
		c.index[s] = k
		c.dict = append(c.dict, s)
	}
	return k
}

func (c *columnConverter) appendCategories(a arrow.Array) {
	n := a.Len()
	switch x := a.(type) {
	case *array.Dictionary:
		// One lookup per dictionary entry, not per row.
		d, ok := x.Dictionary().(stringArray)
		if !ok {
			break
		}
		c.local = c.local[:0]
		for j := range d.Len() {
			k := int32(-1)
			if !d.IsNull(j) {
				k = c.code(d.Value(j))
			}
			c.local = append(c.local, k)
		}
		idx, typed := x.Indices().(*array.Int32)
		for i := range n {
			switch {
			case x.IsNull(i):
				c.codes = append(c.codes, -1)
			case typed:
				c.codes = append(c.codes, c.local[idx.Value(i)])
			default:
				c.codes = append(c.codes, c.local[x.GetValueIndex(i)])
			}
		}
		return
	case stringArray:
		for i := range n {
			if x.IsNull(i) {
				c.codes = append(c.codes, -1)
			} else {
				c.codes = append(c.codes, c.code(x.Value(i)))
			}
		}
		return
	}
	for i := range n {
		c.codes = append(c.codes, c.code(categoryAt(a, i)))
	}
}

func (c *columnConverter) appendBools(a arrow.Array) error {
	if x, ok := a.(*array.Boolean); ok {
		for i := range a.Len() {
			null := x.IsNull(i)
			c.bools = append(c.bools, !null && x.Value(i))
			c.missing = append(c.missing, null)
		}
		return nil
	}
	for i := range a.Len() {
		v, ok, err := boolAt(a, i)
		if err != nil {
			return fmt.Errorf("row %d: %w", c.rows+i, err)
		}
		c.bools = append(c.bools, v)
		c.missing = append(c.missing, !ok)
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
