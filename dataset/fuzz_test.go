package dataset

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
)

func FuzzReadCSV(f *testing.F) {
	for _, s := range []string{
		"a,b\n1,x\n2,y\n",
		"\"age\";\"job\"\n58;\"management\"\n;\n",
		"a\tb\ntrue\t2e+05\nFALSE\t-1\n",
		"a|b|c\n1|2|3\n",
		"a\n\"\"\n\n1\n",
		"x,y\n\"q,\"\"r\"\"\",NaN\n",
		// Text that is not UTF-8: a GBK value, a stray continuation byte,
		// a truncated sequence, in a header and in a quoted field.
		"region,n\n\xbb\xaa\xb6\xab,1\n",
		"a\n\x80\n",
		"\xe4\xb8,b\n1,2\n",
		"a,b\n\"x\ny\xff\",2\n",
		"客户,地区\n张三,华东\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		tab, err := ReadCSV(strings.NewReader(in), CSVOptions{})
		if err != nil {
			return
		}
		if !utf8.ValidString(in) {
			t.Fatalf("accepted text that is not UTF-8: %q", in)
		}
		var buf bytes.Buffer
		if err := WriteCSV(&buf, tab); err != nil {
			t.Fatal(err)
		}
		back, err := ReadCSV(bytes.NewReader(buf.Bytes()), CSVOptions{})
		if err != nil {
			t.Fatalf("reading back %q: %v", buf.String(), err)
		}
		if err := sameTable(tab, back); err != nil {
			t.Fatalf("round trip of %q via %q: %v", in, buf.String(), err)
		}
	})
}

// FuzzReadCSVGB18030 reads arbitrary bytes as a GB18030 file: whatever it
// accepts is valid UTF-8 and survives a round trip as UTF-8 CSV.
func FuzzReadCSVGB18030(f *testing.F) {
	for _, s := range []string{"客户,地区\n张三,华东\n", "a,b\n1,\x81\n", "a\n\xff\xfe\n", "x;y\n\x80;2\n"} {
		enc, err := simplifiedchinese.GB18030.NewEncoder().String(s)
		if err != nil {
			enc = s
		}
		f.Add([]byte(enc))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		tab, err := ReadCSV(bytes.NewReader(in), CSVOptions{Encoding: EncodingGB18030})
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := WriteCSV(&buf, tab); err != nil {
			t.Fatal(err)
		}
		if !utf8.Valid(buf.Bytes()) {
			t.Fatalf("%q decoded to text that is not UTF-8: %q", in, buf.Bytes())
		}
		back, err := ReadCSV(bytes.NewReader(buf.Bytes()), CSVOptions{})
		if err != nil {
			t.Fatalf("reading back %q: %v", buf.String(), err)
		}
		if err := sameTable(tab, back); err != nil {
			t.Fatalf("round trip of %q via %q: %v", in, buf.String(), err)
		}
	})
}
