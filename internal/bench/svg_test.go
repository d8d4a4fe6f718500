package bench

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
)

// parseXML reads every token of doc and returns the element names seen.
func parseXML(t *testing.T, doc []byte) map[string]int {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(doc))
	seen := map[string]int{}
	depth := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, doc)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			if depth == 0 && e.Name.Local != "svg" {
				t.Fatalf("root element is %q, want svg", e.Name.Local)
			}
			seen[e.Name.Local]++
			depth++
		case xml.EndElement:
			depth--
		}
	}
	if depth != 0 {
		t.Fatalf("unbalanced elements (depth %d at the end)", depth)
	}
	return seen
}

func plotResult(n, cells, records int, p50, crypto float64) Result {
	return Result{
		Nodes: n, Cells: cells, Records: records,
		Latency:   Summary{Count: 5, P50: p50},
		Baselines: Baselines{CryptoOnly: crypto},
	}
}

func TestWriteSVG(t *testing.T) {
	results := []Result{
		plotResult(3, 512, 100_000, 150, 7),
		plotResult(3, 8192, 100_000, 210, 9),
		plotResult(10, 512, 100_000, 1100, 20),
		plotResult(10, 8192, 100_000, 1250, 25),
		{Nodes: 30, Cells: 8192, Records: 100_000, Error: `failed: "quoted" <tag> & more`},
	}
	var b bytes.Buffer
	if err := WriteSVG(&b, results); err != nil {
		t.Fatal(err)
	}
	seen := parseXML(t, b.Bytes())
	// Two panels; per panel two measured series and two crypto-only ones.
	if seen["polyline"] != 8 {
		t.Errorf("%d polylines, want 8", seen["polyline"])
	}
	if seen["circle"] != 16 {
		t.Errorf("%d points, want 16", seen["circle"])
	}
	for _, want := range []string{"p50 latency vs partners", "p50 latency vs cells", "512 cells, 100k rec", "N=10, 100k rec", "crypto-only N=3", "1 s"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("plot lacks %q", want)
		}
	}
}

func TestWriteSVGEscapesAndEmpty(t *testing.T) {
	for _, results := range [][]Result{
		nil,
		{plotResult(3, 512, 1000, 0.5, 0.1)},
		{{Nodes: 3, Cells: 512, Error: "<&>"}},
	} {
		var b bytes.Buffer
		if err := WriteSVG(&b, results); err != nil {
			t.Fatal(err)
		}
		parseXML(t, b.Bytes())
	}
	if got := esc(`a<b & "c"`); strings.ContainsAny(got, "<\"") || !strings.Contains(got, "&amp;") {
		t.Errorf("esc = %q", got)
	}
}
