package dataset

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadCSVInference(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want map[string]Kind
	}{
		{"number", "a\n1\n2e+05\n-1\n", map[string]Kind{"a": KindNumber}},
		{"bool", "a\nTrue\nfalse\n\nFALSE\n", map[string]Kind{"a": KindBool}},
		{"category", "a\n1\nx\n", map[string]Kind{"a": KindCategory}},
		{"bool and number", "a\ntrue\n1\n", map[string]Kind{"a": KindCategory}},
		{"NaN among words", "a\n1\nNaN\nx\n", map[string]Kind{"a": KindCategory}},
		{"all missing", "a,b\n,1\n,2\n", map[string]Kind{"a": KindCategory, "b": KindNumber}},
		{"quoted header", "\"a\";\" b \"\n1;x\n", map[string]Kind{"a": KindNumber, "b": KindCategory}},
		{"tabs", "a\tb\n1\t2\n", map[string]Kind{"a": KindNumber, "b": KindNumber}},
		{"pipes", "a|b\n1|2\n", map[string]Kind{"a": KindNumber, "b": KindNumber}},
		{"byte order mark", "\ufeffa,b\n1,2\n", map[string]Kind{"a": KindNumber, "b": KindNumber}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab, err := ReadCSV(strings.NewReader(tt.in), CSVOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := len(tab.Columns()); got != len(tt.want) {
				t.Fatalf("got %d columns, want %d", got, len(tt.want))
			}
			for name, kind := range tt.want {
				c, ok := tab.Column(name)
				if !ok {
					t.Fatalf("no column %q", name)
				}
				if c.Kind != kind {
					t.Errorf("column %q is %v, want %v", name, c.Kind, kind)
				}
			}
		})
	}
}

func TestReadCSVValues(t *testing.T) {
	tab, err := ReadCSV(strings.NewReader("n,c,b\n2e+05,x,TRUE\n,,\n-1.5,y,false\n"), CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if tab.Rows() != 3 {
		t.Fatalf("Rows = %d, want 3", tab.Rows())
	}
	n, _ := tab.Column("n")
	if n.Numbers[0] != 2e5 || !math.IsNaN(n.Numbers[1]) || n.Numbers[2] != -1.5 {
		t.Errorf("numbers = %v", n.Numbers)
	}
	c, _ := tab.Column("c")
	if got := []string{c.String(0), c.String(1), c.String(2)}; strings.Join(got, "|") != "x||y" || c.Codes[1] != -1 {
		t.Errorf("categories = %q codes %v", got, c.Codes)
	}
	b, _ := tab.Column("b")
	if !b.Bools[0] || !b.Missing[1] || b.Bools[2] || b.Missing[2] {
		t.Errorf("bools = %v missing %v", b.Bools, b.Missing)
	}
}

func TestReadCSVErrors(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		opts     CSVOptions
		want     error
		line     int
		column   string
		contains string
	}{
		{name: "empty input", in: "", want: ErrNoHeader},
		{name: "ragged row", in: "a,b\n1,2\n3\n", want: ErrRaggedRow, line: 3},
		{name: "duplicate header", in: "a,b,a\n1,2,3\n", want: ErrDuplicateColumn, line: 1, column: "a"},
		{name: "empty header", in: "a,,c\n1,2,3\n", want: ErrEmptyHeader, line: 1, contains: "field 2"},
		{name: "NaN literal", in: "a\n1\nNaN\n", want: ErrNonFinite, line: 3, column: "a"},
		{name: "Inf literal", in: "a\n1\n-Inf\n", want: ErrNonFinite, line: 3, column: "a"},
		{name: "overflow", in: "a\n1\n1e400\n", want: ErrNonFinite, line: 3, column: "a"},
		{
			name: "forced number", in: "a\n1\nx\n", want: ErrTypeMismatch, line: 3, column: "amount",
			opts: CSVOptions{Mapping: &Mapping{Columns: []ColumnMapping{{Source: "a", Name: "amount", Type: "number"}}}},
		},
		{
			name: "forced bool", in: "a\nyes\nmaybe\n", want: ErrTypeMismatch, line: 3, column: "a",
			opts: CSVOptions{Mapping: &Mapping{Columns: []ColumnMapping{{Source: "a", Type: "bool"}}}},
		},
		{
			name: "unknown source", in: "a\n1\n", want: ErrUnknownColumn, line: 1, column: "b",
			opts: CSVOptions{Mapping: &Mapping{Columns: []ColumnMapping{{Source: "b", Skip: true}}}},
		},
		{
			name: "rename collides", in: "a,b\n1,2\n", want: ErrDuplicateColumn, line: 1, column: "b",
			opts: CSVOptions{Mapping: &Mapping{Columns: []ColumnMapping{{Source: "a", Name: "b"}}}},
		},
		{
			name: "bad mapping type", in: "a\n1\n", want: ErrInvalidMapping,
			opts: CSVOptions{Mapping: &Mapping{Columns: []ColumnMapping{{Source: "a", Type: "text"}}}},
		},
		{name: "too many rows", in: "a\n1\n2\n3\n", opts: CSVOptions{MaxRows: 2}, want: ErrTooManyRows, line: 4},
		{name: "bare quote", in: "a\nx\"y\n", line: 2, contains: "bare"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadCSV(strings.NewReader(tt.in), tt.opts)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error %q is not %q", err, tt.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %q is not a *ParseError", err)
			}
			if pe.Line != tt.line || pe.Column != tt.column {
				t.Errorf("error %q at line %d column %q, want %d %q", err, pe.Line, pe.Column, tt.line, tt.column)
			}
			if !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("error %q does not mention %q", err, tt.contains)
			}
		})
	}
}

func TestLoadCSVFileNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "partner.csv")
	if err := os.WriteFile(path, []byte("a,b\n1,2\n3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadCSVFile(path, CSVOptions{})
	if !errors.Is(err, ErrRaggedRow) || !strings.Contains(err.Error(), "partner.csv:3:") {
		t.Fatalf("error %q does not name file and line", err)
	}
}

func TestMapping(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mapping.yaml")
	yml := "columns:\n" +
		"  - {source: default.payment.next.month, name: default_next_month, type: bool}\n" +
		"  - {source: ID, skip: true}\n" +
		"  - {source: SEX, type: category}\n"
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := LoadMapping(path)
	if err != nil {
		t.Fatal(err)
	}
	in := "\"ID\",\"SEX\",\"default.payment.next.month\"\n1,2,1\n2,1,0\n"
	tab, err := ReadCSV(strings.NewReader(in), CSVOptions{Mapping: m})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tab.Column("ID"); ok {
		t.Error("skipped column ID is present")
	}
	sex, _ := tab.Column("SEX")
	if sex.Kind != KindCategory || sex.String(0) != "2" {
		t.Errorf("SEX = %v %q", sex.Kind, sex.String(0))
	}
	def, ok := tab.Column("default_next_month")
	if !ok || def.Kind != KindBool || !def.Bools[0] || def.Bools[1] {
		t.Errorf("default_next_month = %+v", def)
	}

	if _, err := ParseMapping([]byte("columns:\n  - {source: a, rename: b}\n")); !errors.Is(err, ErrInvalidMapping) {
		t.Errorf("unknown field: got %v, want ErrInvalidMapping", err)
	}
	if _, err := ParseMapping([]byte("columns:\n  - {source: a}\n  - {source: a}\n")); !errors.Is(err, ErrInvalidMapping) {
		t.Errorf("duplicate source: got %v, want ErrInvalidMapping", err)
	}
}

func TestWriteCSVRoundTrip(t *testing.T) {
	b := NewBuilder()
	b.AddNumber("n", []float64{1, math.NaN(), 2e5, -0.125, 1e300})
	b.AddCategory("c,;|", []string{"a", "", "say \"hi\"", "x\ny", "p|q"})
	b.AddBool("b", []bool{true, false, true, false, false}, []bool{false, false, false, true, false})
	tab, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteCSV(&buf, tab); err != nil {
		t.Fatal(err)
	}
	back, err := ReadCSV(&buf, CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := sameTable(tab, back); err != nil {
		t.Fatal(err)
	}
}

func TestBuilderErrors(t *testing.T) {
	tests := []struct {
		name  string
		build func(b *Builder)
		want  error
	}{
		{"empty name", func(b *Builder) { b.AddNumber("", nil) }, ErrEmptyHeader},
		{"duplicate", func(b *Builder) { b.AddNumber("a", nil); b.AddCategory("a", nil) }, ErrDuplicateColumn},
		{"length", func(b *Builder) { b.AddNumber("a", []float64{1}); b.AddNumber("b", nil) }, ErrLengthMismatch},
		{"infinite", func(b *Builder) { b.AddNumber("a", []float64{math.Inf(1)}) }, ErrNonFinite},
		{"code range", func(b *Builder) { b.AddCategoryCodes("a", []string{"x"}, []int32{1}) }, ErrInvalidColumn},
		{"dict duplicate", func(b *Builder) { b.AddCategoryCodes("a", []string{"x", "x"}, nil) }, ErrInvalidColumn},
		{"missing flags", func(b *Builder) { b.AddBool("a", []bool{true}, []bool{}) }, ErrLengthMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBuilder()
			tt.build(b)
			if _, err := b.Build(); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestKindString(t *testing.T) {
	for _, k := range []Kind{KindNumber, KindCategory, KindBool} {
		if got, ok := ParseKind(k.String()); !ok || got != k {
			t.Errorf("ParseKind(%q) = %v, %v", k.String(), got, ok)
		}
	}
}
