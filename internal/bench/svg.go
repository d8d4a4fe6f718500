package bench

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// Plot geometry, in SVG user units.
const (
	panelW, panelH = 520.0, 360.0
	marginL        = 84.0
	marginR        = 20.0
	marginT        = 50.0
	marginB        = 60.0
	legendH        = 18.0
)

// palette holds the series colours, reused in order.
func palette() []string {
	return []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"}
}

// point is one measurement of a series.
type point struct{ x, y float64 }

// series is one line of a panel.
type series struct {
	label  string
	dashed bool
	points []point
}

// panel is one chart: its series share axes.
type panel struct {
	title, xLabel string
	logX          bool
	series        []series
}

// WriteSVG draws the median end-to-end latency of the results against the
// number of partners (one line per query size and records per partner)
// and against the query size (one line per partner count and records),
// on logarithmic latency axes, with the crypto-only baseline dashed. It
// needs no plotting library; the output is a standalone SVG document.
func WriteSVG(w io.Writer, results []Result) error {
	ok := slices.DeleteFunc(slices.Clone(results), func(r Result) bool { return r.Latency.Count == 0 })
	panels := []panel{
		byAxis(ok, "p50 latency vs partners", "partners (N)", false,
			func(r Result) (string, float64) {
				return fmt.Sprintf("%d cells, %s rec", r.Cells, count(r.Records)), float64(r.Nodes)
			},
			func(r Result) (string, float64) {
				return fmt.Sprintf("crypto-only %d cells", r.Cells), float64(r.Nodes)
			}),
		byAxis(ok, "p50 latency vs cells", "cells per partner (log)", true,
			func(r Result) (string, float64) {
				return fmt.Sprintf("N=%d, %s rec", r.Nodes, count(r.Records)), float64(r.Cells)
			},
			func(r Result) (string, float64) { return fmt.Sprintf("crypto-only N=%d", r.Nodes), float64(r.Cells) }),
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	legend := 0
	for _, p := range panels {
		legend = max(legend, len(p.series))
		for _, s := range p.series {
			for _, pt := range s.points {
				lo, hi = min(lo, pt.y), max(hi, pt.y)
			}
		}
	}
	if math.IsInf(lo, 0) {
		lo, hi = 1, 1000
	}
	yLo := math.Pow(10, math.Floor(math.Log10(max(lo, 1e-3))))
	yHi := math.Pow(10, math.Ceil(math.Log10(max(hi, yLo*10))))
	if yHi <= yLo {
		yHi = yLo * 10
	}

	width := 2 * panelW
	height := panelH + legendH*float64(legend) + 20
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, `<?xml version="1.0" encoding="UTF-8"?>`+"\n")
	fmt.Fprintf(bw, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(bw, `<rect x="0" y="0" width="%.0f" height="%.0f" fill="white"/>`+"\n", width, height)
	for i, p := range panels {
		drawPanel(bw, p, float64(i)*panelW, yLo, yHi)
	}
	fmt.Fprintln(bw, "</svg>")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("bench: write svg: %w", err)
	}
	return nil
}

// byAxis groups results into series: key gives a result's series label
// and x for the end-to-end line, base for its crypto-only line.
func byAxis(results []Result, title, xLabel string, logX bool, key, base func(Result) (string, float64)) panel {
	p := panel{title: title, xLabel: xLabel, logX: logX}
	add := func(label string, dashed bool, pt point) {
		for i := range p.series {
			if p.series[i].label == label {
				p.series[i].points = append(p.series[i].points, pt)
				return
			}
		}
		p.series = append(p.series, series{label: label, dashed: dashed, points: []point{pt}})
	}
	for _, r := range results {
		label, x := key(r)
		add(label, false, point{x, r.Latency.P50})
	}
	seen := map[string]map[float64]bool{}
	for _, r := range results {
		label, x := base(r)
		if r.Baselines.CryptoOnly <= 0 || seen[label][x] {
			continue
		}
		if seen[label] == nil {
			seen[label] = map[float64]bool{}
		}
		seen[label][x] = true
		add(label, true, point{x, r.Baselines.CryptoOnly})
	}
	for i := range p.series {
		slices.SortFunc(p.series[i].points, func(a, b point) int {
			switch {
			case a.x < b.x:
				return -1
			case a.x > b.x:
				return 1
			}
			return 0
		})
	}
	return p
}

func drawPanel(w io.Writer, p panel, x0, yLo, yHi float64) {
	left, top := x0+marginL, marginT
	right, bottom := x0+panelW-marginR, panelH-marginB
	var xs []float64
	for _, s := range p.series {
		for _, pt := range s.points {
			if !slices.Contains(xs, pt.x) {
				xs = append(xs, pt.x)
			}
		}
	}
	slices.Sort(xs)
	xLo, xHi := 0.0, 1.0
	if len(xs) > 0 {
		xLo, xHi = xs[0], xs[len(xs)-1]
	}
	tx := func(x float64) float64 { return x }
	if p.logX {
		tx = func(x float64) float64 { return math.Log2(max(x, 1e-9)) }
	}
	if xHi == xLo {
		xLo, xHi = xLo-1, xHi+1
		if p.logX {
			xLo, xHi = xs[0]/2, xs[0]*2
		}
	}
	sx := func(x float64) float64 { return left + (tx(x)-tx(xLo))/(tx(xHi)-tx(xLo))*(right-left) }
	sy := func(y float64) float64 {
		return bottom - (math.Log10(max(y, yLo))-math.Log10(yLo))/(math.Log10(yHi)-math.Log10(yLo))*(bottom-top)
	}

	fmt.Fprintf(w, `<text x="%.1f" y="%.1f" font-size="14" font-weight="bold" text-anchor="middle">%s</text>`+"\n", (left+right)/2, top-20, esc(p.title))
	fmt.Fprintf(w, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#444"/>`+"\n", left, top, right-left, bottom-top)
	// Latency decades and 2, 5 subdivisions.
	for d := yLo; d <= yHi*1.0001; d *= 10 {
		for _, m := range []float64{1, 2, 5} {
			v := d * m
			if v > yHi*1.0001 {
				break
			}
			y := sy(v)
			stroke := "#ddd"
			if m == 1 {
				stroke = "#bbb"
			}
			fmt.Fprintf(w, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>`+"\n", left, y, right, y, stroke)
			fmt.Fprintf(w, `<text x="%.1f" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`+"\n", left-6, y, esc(msLabel(v)))
		}
	}
	for _, x := range xs {
		px := sx(x)
		fmt.Fprintf(w, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#eee"/>`+"\n", px, top, px, bottom)
		fmt.Fprintf(w, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", px, bottom+16, esc(fmt.Sprint(x)))
	}
	fmt.Fprintf(w, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", (left+right)/2, bottom+36, esc(p.xLabel))
	fmt.Fprintf(w, `<text x="%.1f" y="%.1f" text-anchor="middle" transform="rotate(-90 %.1f %.1f)">%s</text>`+"\n",
		x0+14, (top+bottom)/2, x0+14, (top+bottom)/2, esc("latency (log scale)"))

	colours := palette()
	for i, s := range p.series {
		c := colours[i%len(colours)]
		if s.dashed {
			c = colours[dashedColour(p, i)%len(colours)]
		}
		dash := ""
		if s.dashed {
			dash = ` stroke-dasharray="6 4"`
		}
		var pts []string
		for _, pt := range s.points {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", sx(pt.x), sy(pt.y)))
		}
		fmt.Fprintf(w, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s/>`+"\n", strings.Join(pts, " "), c, dash)
		for _, pt := range s.points {
			fmt.Fprintf(w, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s</title></circle>`+"\n",
				sx(pt.x), sy(pt.y), c, esc(fmt.Sprintf("%s: %s at %v", s.label, msLabel(pt.y), pt.x)))
		}
		ly := panelH - 8 + legendH*float64(i)
		fmt.Fprintf(w, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"%s/>`+"\n", left, ly, left+28, ly, c, dash)
		fmt.Fprintf(w, `<text x="%.1f" y="%.1f" dominant-baseline="middle">%s</text>`+"\n", left+36, ly, esc(s.label))
	}
}

// dashedColour gives a crypto-only line the colour of the first solid
// line it belongs to (same cells, or same N), or its own index.
func dashedColour(p panel, i int) int {
	key := strings.TrimPrefix(p.series[i].label, "crypto-only ")
	for j, s := range p.series {
		if !s.dashed && strings.HasPrefix(s.label, key+",") {
			return j
		}
	}
	return i
}

func msLabel(v float64) string {
	switch {
	case v >= 1000:
		return trimZeros(fmt.Sprintf("%.1f", v/1000)) + " s"
	case v >= 1:
		return trimZeros(fmt.Sprintf("%.1f", v)) + " ms"
	}
	return trimZeros(fmt.Sprintf("%.2f", v)) + " ms"
}

func trimZeros(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// esc escapes text for XML character data and attribute values.
func esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}
