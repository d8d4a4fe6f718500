package query

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A Result is the decoded table of a query: one row per cell.
type Result struct {
	// Columns names the values of every row: the group_by columns, then
	// count, then per metric in spec order sum_<col>, mean_<col> or one
	// hist_<col>_<label> per bin.
	Columns []string
	Rows    []Row
	// Precision maps each sum_<col> and mean_<col> column to the decimals
	// its values were summed at: 4 means each record's value was rounded
	// to 0.0001, -2 to hundreds.
	Precision map[string]int

	cols []resultColumn
}

// A Row holds one cell's values aligned with Result.Columns: a string
// label per group_by, int64 counts (count and histogram bins), float64
// sums, and float64 means, which are nil when the cell count is not
// positive.
type Row struct {
	Values []any
}

type columnRole int

const (
	roleLabel columnRole = iota
	roleCount
	roleDecimal
	roleBin
)

type resultColumn struct {
	role     columnRole
	key      string // JSON key: the column name, or hist_<col> for a bin
	label    string // bin label, for roleBin
	decimals int    // for roleDecimal
}

// Decode turns the summed vector into the result table. vec must hold at
// least Layout().VectorLen slots; any further padding is ignored.
func Decode(s *Spec, vec []int64) (*Result, error) {
	return DecodeReleased(s, vec, nil)
}

// DecodeReleased is Decode for a vector of which only the slots marked in
// released were released; withheld values decode as nil. A nil released
// marks every slot released.
func DecodeReleased(s *Spec, vec []int64, released []bool) (*Result, error) {
	if err := s.Validate(Limits{}); err != nil {
		return nil, err
	}
	l := s.Layout()
	if len(vec) < l.VectorLen {
		return nil, fmt.Errorf("query: decode: %w: %d slots, want %d", ErrVectorLength, len(vec), l.VectorLen)
	}
	r := &Result{}
	addCol := func(name string, c resultColumn) {
		r.Columns = append(r.Columns, name)
		r.cols = append(r.cols, c)
	}
	labels := make([][]string, len(s.GroupBy))
	for i, g := range s.GroupBy {
		labels[i] = groupLabels(g)
		addCol(g.Column, resultColumn{role: roleLabel, key: g.Column})
	}
	addCol(countColumn, resultColumn{role: roleCount, key: countColumn})
	blockOf := make(map[int]Block)
	for _, b := range l.Blocks {
		blockOf[b.Metric] = b
	}
	for i, m := range s.Metrics {
		name := metricName(m)
		switch m.Kind {
		case KindSum, KindMean:
			d := s.MetricDecimals(i)
			addCol(name, resultColumn{role: roleDecimal, key: name, decimals: d})
			if r.Precision == nil {
				r.Precision = map[string]int{}
			}
			r.Precision[name] = d
		case KindHistogram:
			for _, lb := range binLabels(m.Bins) {
				addCol(name+"_"+lb, resultColumn{role: roleBin, key: name, label: lb})
			}
		}
	}

	if released != nil && len(released) != l.VectorLen {
		return nil, fmt.Errorf("query: decode: %w: release mask of %d slots, want %d", ErrVectorLength, len(released), l.VectorLen)
	}
	// slot returns a slot's value, or nil when it was withheld.
	slot := func(i int, conv func(int64) any) any {
		if released != nil && !released[i] {
			return nil
		}
		return conv(vec[i])
	}
	asInt := func(v int64) any { return v }
	for c := range l.Cells {
		row := Row{Values: make([]any, 0, len(r.Columns))}
		rest := c
		idx := make([]int, len(l.Dims))
		for g := len(l.Dims) - 1; g >= 0; g-- {
			idx[g] = rest % l.Dims[g]
			rest /= l.Dims[g]
		}
		for g := range s.GroupBy {
			row.Values = append(row.Values, labels[g][idx[g]])
		}
		count := vec[c]
		row.Values = append(row.Values, slot(c, asInt))
		for i, m := range s.Metrics {
			b := blockOf[i]
			switch m.Kind {
			case KindSum:
				scale := s.MetricScale(i)
				row.Values = append(row.Values, slot(b.Offset+c, func(v int64) any { return float64(v) / scale }))
			case KindMean:
				scale := s.MetricScale(i)
				mean := slot(b.Offset+c, func(v int64) any {
					if count <= 0 {
						return nil
					}
					return float64(v) / scale / float64(count)
				})
				row.Values = append(row.Values, mean)
			case KindHistogram:
				for k := range b.Bins {
					row.Values = append(row.Values, slot(b.Offset+c*b.Bins+k, asInt))
				}
			}
		}
		r.Rows = append(r.Rows, row)
	}
	return r, nil
}

// format renders value v of column i as text; nil is "".
func (r *Result) format(i int, v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		if r.cols[i].role == roleDecimal {
			return strconv.FormatFloat(x, 'f', max(r.cols[i].decimals, 0), 64)
		}
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	return fmt.Sprint(v)
}

// WriteTable writes the result as an aligned text table: labels left,
// numbers right, sums and means with their metric's decimals, undefined
// means as "-"; then, when there are sums or means, a line stating the
// precision of each.
func (r *Result) WriteTable(w io.Writer) error {
	cells := make([][]string, 0, len(r.Rows)+1)
	cells = append(cells, r.Columns)
	for _, row := range r.Rows {
		line := make([]string, len(row.Values))
		for i, v := range row.Values {
			line[i] = r.format(i, v)
			if v == nil {
				line[i] = "-"
			}
		}
		cells = append(cells, line)
	}
	width := make([]int, len(r.Columns))
	for _, line := range cells {
		for i, s := range line {
			width[i] = max(width[i], utf8.RuneCountInString(s))
		}
	}
	bw := bufio.NewWriter(w)
	for _, line := range cells {
		for i, s := range line {
			if i > 0 {
				bw.WriteString("  ")
			}
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(s))
			switch {
			case r.cols[i].role != roleLabel:
				bw.WriteString(pad + s)
			case i == len(line)-1:
				bw.WriteString(s)
			default:
				bw.WriteString(s + pad)
			}
		}
		bw.WriteByte('\n')
	}
	if p := r.precisionLine(); p != "" {
		bw.WriteString(p)
		bw.WriteByte('\n')
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("query: write table: %w", err)
	}
	return nil
}

// precisionLine states the decimals of every sum and mean column, in
// column order, as "precision: sum_x 2 decimals, mean_y to 100".
func (r *Result) precisionLine() string {
	var parts []string
	for i, c := range r.cols {
		if c.role != roleDecimal {
			continue
		}
		switch d := c.decimals; {
		case d >= 0:
			parts = append(parts, fmt.Sprintf("%s %d decimals", r.Columns[i], d))
		default:
			parts = append(parts, fmt.Sprintf("%s to %s", r.Columns[i], formatNumber(math.Pow10(-d))))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "precision: " + strings.Join(parts, ", ")
}

// MarshalJSON encodes the result as {"rows":[{...}],"precision":{...}},
// each row an object with the group_by labels, "count", "sum_<col>" and
// "mean_<col>" numbers (mean null when undefined) and "hist_<col>" objects
// mapping bin labels to counts, keys in column order; "precision", present
// when there are sums or means, maps each of their columns to the
// decimals it was summed at.
func (r *Result) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"rows":[`)
	for n, row := range r.Rows {
		if n > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('{')
		openHist := ""
		for i, v := range row.Values {
			c := r.cols[i]
			if openHist != "" && (c.role != roleBin || c.key != openHist) {
				b.WriteByte('}')
				openHist = ""
			}
			if i > 0 && !(c.role == roleBin && c.key == openHist) {
				b.WriteByte(',')
			}
			if c.role == roleBin {
				if openHist == "" {
					writeJSONString(&b, c.key)
					b.WriteString(":{")
					openHist = c.key
				} else {
					b.WriteByte(',')
				}
				writeJSONString(&b, c.label)
			} else {
				writeJSONString(&b, c.key)
			}
			b.WriteByte(':')
			switch x := v.(type) {
			case nil:
				b.WriteString("null")
			case string:
				writeJSONString(&b, x)
			default:
				b.WriteString(r.format(i, v))
			}
		}
		if openHist != "" {
			b.WriteByte('}')
		}
		b.WriteByte('}')
	}
	b.WriteByte(']')
	if len(r.Precision) > 0 {
		b.WriteString(`,"precision":{`)
		n := 0
		for i, c := range r.cols {
			if c.role != roleDecimal {
				continue
			}
			if n > 0 {
				b.WriteByte(',')
			}
			n++
			writeJSONString(&b, r.Columns[i])
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(c.decimals))
		}
		b.WriteByte('}')
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func writeJSONString(b *bytes.Buffer, s string) {
	q, _ := json.Marshal(s) // a string always encodes
	b.Write(q)
}
