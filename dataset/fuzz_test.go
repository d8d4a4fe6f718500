package dataset

import (
	"bytes"
	"strings"
	"testing"
)

func FuzzReadCSV(f *testing.F) {
	for _, s := range []string{
		"a,b\n1,x\n2,y\n",
		"\"age\";\"job\"\n58;\"management\"\n;\n",
		"a\tb\ntrue\t2e+05\nFALSE\t-1\n",
		"a|b|c\n1|2|3\n",
		"a\n\"\"\n\n1\n",
		"x,y\n\"q,\"\"r\"\"\",NaN\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		tab, err := ReadCSV(strings.NewReader(in), CSVOptions{})
		if err != nil {
			return
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
