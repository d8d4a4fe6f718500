package dataset

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/fedscore/fedscore/internal/shareddata"
)

// TestInvalidUTF8IsRejected: one GBK-encoded value in the Taiwan file read
// as UTF-8 is an error naming the file, the line and the column, not a
// garbled category.
func TestInvalidUTF8IsRejected(t *testing.T) {
	data, err := os.ReadFile(shareddata.Path(t, "credit-card-default-taiwan.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(data, []byte("\n"))
	// Line 101 is ID 100; its SEX code becomes 男 in GBK.
	fields := bytes.Split(lines[100], []byte(","))
	male, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte("男"))
	if err != nil {
		t.Fatal(err)
	}
	fields[2] = male
	lines[100] = bytes.Join(fields, []byte(","))
	path := filepath.Join(t.TempDir(), "taiwan-gbk-row.csv")
	if err := os.WriteFile(path, bytes.Join(lines, []byte("\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = LoadCSVFile(path, CSVOptions{})
	var pe *ParseError
	if !errors.As(err, &pe) || !errors.Is(err, ErrInvalidText) {
		t.Fatalf("got %v, want a ParseError wrapping ErrInvalidText", err)
	}
	if pe.File != path || pe.Line != 101 || pe.Column != "SEX" {
		t.Errorf("error at %s:%d column %q, want %s:101 column SEX: %v", pe.File, pe.Line, pe.Column, path, err)
	}
	col := len(bytes.Join(fields[:2], []byte(","))) + 2
	for _, want := range []string{"utf-8", "at byte " + strconv.Itoa(col) + " of the line", "gb18030"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestDeclaredEncoding(t *testing.T) {
	const text = "客户,地区,年龄\n张三,华东,35\n李四,华南,\n"
	gb18030, err := simplifiedchinese.GB18030.NewEncoder().String(text)
	if err != nil {
		t.Fatal(err)
	}
	gbk, err := simplifiedchinese.GBK.NewEncoder().String(text)
	if err != nil {
		t.Fatal(err)
	}
	want, err := ReadCSV(strings.NewReader(text), CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, in, encoding string
		err                error
		at                 string // the column an error names
	}{
		{"utf-8", text, "", nil, ""},
		{"utf-8 declared", text, "UTF-8", nil, ""},
		{"gb18030", gb18030, "gb18030", nil, ""},
		{"gbk", gbk, "gbk", nil, ""},
		{"gb18030 read as utf-8", gb18030, "", ErrInvalidText, "field 1"},
		{"bytes gb18030 cannot hold", "a,b\n1,\xff\xff\n", "gb18030", ErrInvalidText, "b"},
		{"unknown encoding", text, "big5", ErrUnknownEncoding, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadCSV(strings.NewReader(tt.in), CSVOptions{Encoding: tt.encoding})
			if tt.err != nil {
				var pe *ParseError
				if !errors.Is(err, tt.err) || !errors.As(err, &pe) || pe.Column != tt.at {
					t.Fatalf("got %v, want %v at column %q", err, tt.err, tt.at)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := sameTable(got, want); err != nil {
				t.Error(err)
			}
		})
	}
}
