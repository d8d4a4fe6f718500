package dataset

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// WriteCSV writes t as comma-separated text with a header row. Missing
// values are empty cells. Fields holding a quote, a line break or any
// delimiter that ReadCSV might detect are quoted, so ReadCSV reads the
// same values back.
func WriteCSV(w io.Writer, t *Table) error {
	bw := bufio.NewWriter(w)
	single := len(t.cols) == 1
	for i, c := range t.cols {
		writeField(bw, c.Name, i, single)
	}
	bw.WriteByte('\n')
	for r := range t.rows {
		for i, c := range t.cols {
			writeField(bw, c.String(r), i, single)
		}
		bw.WriteByte('\n')
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("dataset: write csv: %w", err)
	}
	return nil
}

func writeField(bw *bufio.Writer, v string, i int, single bool) {
	if i > 0 {
		bw.WriteByte(',')
	}
	// An empty single field would be an empty line, which readers skip.
	if !(v == "" && single) && !strings.ContainsAny(v, candidates+"\"\r\n") {
		bw.WriteString(v)
		return
	}
	bw.WriteByte('"')
	bw.WriteString(strings.ReplaceAll(v, `"`, `""`))
	bw.WriteByte('"')
}
