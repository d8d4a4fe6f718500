package dataset

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/simplifiedchinese"
)

// CSVOptions controls how [ReadCSV] reads a file.
type CSVOptions struct {
	// Delimiter separates fields. Zero detects it from the header line
	// among ',', ';', '\t' and '|', preferring ',' when none occurs.
	Delimiter rune

	// Mapping renames, retypes or drops columns; nil reads them as they are.
	Mapping *Mapping

	// MaxRows bounds the number of data rows; a file with more rows is
	// rejected with ErrTooManyRows rather than silently truncated, since a
	// partial table would bias every aggregate. Zero means no limit.
	MaxRows int

	// Encoding is the file's character encoding: EncodingUTF8 (also
	// when empty), EncodingGB18030 or EncodingGBK, as Chinese banks'
	// exports often are. Text that is not valid in it is rejected with
	// ErrInvalidText, naming the line and column, rather than read as
	// garbled categories.
	Encoding string
}

// Encodings a CSV file may declare.
const (
	EncodingUTF8    = "utf-8"
	EncodingGB18030 = "gb18030"
	EncodingGBK     = "gbk"
)

// decoder returns the decoder of a declared encoding, nil for UTF-8.
func decoder(name string) (*encoding.Decoder, error) {
	switch strings.ToLower(name) {
	case "", EncodingUTF8, "utf8":
		return nil, nil
	case EncodingGB18030:
		return simplifiedchinese.GB18030.NewDecoder(), nil
	case EncodingGBK:
		return simplifiedchinese.GBK.NewDecoder(), nil
	}
	return nil, fmt.Errorf("%w %q: want %s, %s or %s", ErrUnknownEncoding, name, EncodingUTF8, EncodingGB18030, EncodingGBK)
}

// CheckEncoding reports whether name is an encoding ReadCSV knows.
func CheckEncoding(name string) error {
	_, err := decoder(name)
	return err
}

// candidates are the delimiters considered by detection, in order of
// preference on a tie.
const candidates = ",;\t|"

// LoadCSVFile reads the CSV file at path. Errors name the file.
func LoadCSVFile(path string, opts CSVOptions) (*Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	defer f.Close()
	return readCSV(f, opts, path)
}

// ReadCSV reads a table from CSV text with a header row.
//
// Header names are trimmed of spaces and double quotes. A cell that is empty
// or only spaces is missing. Unless the mapping forces a kind, a column is
// bool when every present value is true or false (in any case), number when
// every present value parses as a float, and category otherwise; a column
// with no values at all is category. NaN and infinite numbers are rejected.
// A column forced to bool also accepts yes/no and 1/0. Line breaks inside
// quoted fields are read as LF. Errors are *ParseError values naming the
// line and column.
func ReadCSV(r io.Reader, opts CSVOptions) (*Table, error) {
	return readCSV(r, opts, "")
}

// plan says what to do with one source column.
type plan struct {
	name   string
	forced bool
	kind   Kind
	date   bool // a date column, read as Unix seconds
}

// cells is one column of the raw records.
type cells struct {
	rows [][]string
	col  int
}

func (c cells) len() int         { return len(c.rows) }
func (c cells) at(i int) string  { return c.rows[i][c.col] }
func (c cells) from(i int) cells { return cells{c.rows[i:], c.col} }

func readCSV(r io.Reader, opts CSVOptions, file string) (*Table, error) {
	perr := func(line int, col string, err error) error {
		return &ParseError{File: file, Line: line, Column: col, Err: err}
	}
	if opts.Mapping != nil {
		if err := opts.Mapping.Validate(); err != nil {
			return nil, perr(0, "", err)
		}
	}
	dec, err := decoder(opts.Encoding)
	if err != nil {
		return nil, perr(0, "", err)
	}
	if dec != nil {
		r = dec.Reader(r)
	}
	br := bufio.NewReaderSize(r, 64<<10)
	if b, err := br.Peek(3); err == nil && string(b) == "\ufeff" {
		br.Discard(3)
	}
	delim := opts.Delimiter
	if delim == 0 {
		head, _ := br.Peek(br.Size())
		delim = detectDelimiter(head)
	}
	cr := csv.NewReader(br)
	cr.Comma = delim
	cr.FieldsPerRecord = -1

	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, perr(0, "", ErrNoHeader)
	}
	if err != nil {
		return nil, csvError(file, err)
	}
	headerLine, _ := cr.FieldPos(0)
	if err := checkText(cr, header, nil, opts.Encoding, dec != nil); err != nil {
		err.File = file
		return nil, err
	}
	plans, err := planColumns(header, opts.Mapping)
	if err != nil {
		var pe *ParseError
		if errors.As(err, &pe) {
			pe.File, pe.Line = file, headerLine
		}
		return nil, err
	}

	var (
		lines   []int
		records [][]string
	)
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvError(file, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(header) {
			return nil, perr(line, "", fmt.Errorf("%w: %d fields, header has %d", ErrRaggedRow, len(rec), len(header)))
		}
		if err := checkText(cr, rec, header, opts.Encoding, dec != nil); err != nil {
			err.File = file
			return nil, err
		}
		if opts.MaxRows > 0 && len(lines) >= opts.MaxRows {
			return nil, perr(line, "", fmt.Errorf("%w: more than %d", ErrTooManyRows, opts.MaxRows))
		}
		lines = append(lines, line)
		for i, v := range rec {
			rec[i] = normalizeNewlines(v)
		}
		records = append(records, rec)
	}

	b := NewBuilder()
	for i, p := range plans {
		if p == nil {
			continue
		}
		c, row, err := convert(p, cells{records, i})
		if err != nil {
			return nil, perr(lines[row], p.name, err)
		}
		b.add(c)
	}
	t, err := b.Build()
	if err != nil {
		return nil, perr(0, "", err)
	}
	t.rows = len(lines)
	if err := opts.Mapping.CheckRoles(t); err != nil {
		return nil, perr(0, "", err)
	}
	return t, nil
}

// dateLayouts are the date forms a date column accepts, besides Unix
// seconds.
var dateLayouts = []string{time.DateOnly, "2006/01/02", "20060102", time.RFC3339Nano}

// convertDates reads a date column as Unix seconds; an empty cell is
// missing.
func convertDates(name string, values cells) (*Column, int, error) {
	c := &Column{Name: name, Kind: KindNumber, Numbers: make([]float64, values.len())}
	for i := range values.len() {
		v := strings.TrimSpace(values.at(i))
		if v == "" {
			c.Numbers[i] = math.NaN()
			continue
		}
		parsed := false
		for _, l := range dateLayouts {
			if t, err := time.Parse(l, v); err == nil {
				c.Numbers[i], parsed = float64(t.Unix()), true
				break
			}
		}
		if !parsed {
			f, err := parseNumber(v)
			if err != nil {
				return nil, i, fmt.Errorf("%w: %q is not a date (2006-01-02, 2006/01/02, 20060102, RFC 3339 or Unix seconds)", ErrTypeMismatch, v)
			}
			c.Numbers[i] = f
		}
	}
	return c, 0, nil
}

// checkText rejects a record holding text that is not valid in the file's
// encoding: invalid UTF-8, or, after decoding another encoding, the
// replacement character its decoder puts for bytes it cannot read. The
// error names the line and the column (by header name, or by number in the
// header itself), and for UTF-8 the byte within the line.
func checkText(cr *csv.Reader, rec, header []string, enc string, decoded bool) *ParseError {
	for i, v := range rec {
		bad := invalidAt(v, decoded)
		if bad < 0 {
			continue
		}
		line, col := cr.FieldPos(i)
		name := fmt.Sprintf("field %d", i+1)
		if header != nil {
			name = strings.Trim(header[i], "\" \t")
		}
		err := fmt.Errorf("%w (%s)", ErrInvalidText, enc)
		if !decoded {
			err = fmt.Errorf("%w (utf-8) at byte %d of the line; declare the file's encoding (gb18030 or gbk) if it is not UTF-8", ErrInvalidText, col+bad)
		}
		return &ParseError{Line: line, Column: name, Err: err}
	}
	return nil
}

// invalidAt returns the byte offset of the first invalid text in v, or -1:
// a byte that is not UTF-8, or, in decoded text, a replacement character.
func invalidAt(v string, decoded bool) int {
	if decoded {
		return strings.IndexRune(v, utf8.RuneError)
	}
	for j := 0; j < len(v); {
		r, size := utf8.DecodeRuneInString(v[j:])
		if r == utf8.RuneError && size == 1 {
			return j
		}
		j += size
	}
	return -1
}

// planColumns applies the mapping to the header. Nil entries are skipped.
func planColumns(header []string, m *Mapping) ([]*plan, error) {
	plans := make([]*plan, len(header))
	seen := make(map[string]bool, len(header))
	for i, h := range header {
		name := strings.Trim(normalizeNewlines(h), "\" \t")
		if name == "" {
			return nil, &ParseError{Err: fmt.Errorf("field %d: %w", i+1, ErrEmptyHeader)}
		}
		if seen[name] {
			return nil, &ParseError{Column: name, Err: ErrDuplicateColumn}
		}
		seen[name] = true
		p := &plan{name: name}
		if cm, ok := m.lookup(name); ok {
			if cm.Skip {
				continue
			}
			if cm.Name != "" {
				p.name = cm.Name
			}
			switch {
			case cm.Type == TypeDate:
				p.kind, p.forced, p.date = KindNumber, true, true
			case cm.Type != "":
				p.kind, _ = ParseKind(cm.Type)
				p.forced = true
			}
		}
		plans[i] = p
	}
	if m != nil {
		for _, cm := range m.Columns {
			if !seen[cm.Source] {
				return nil, &ParseError{Column: cm.Source, Err: fmt.Errorf("%w in mapping: no such header", ErrUnknownColumn)}
			}
		}
	}
	names := make(map[string]bool, len(plans))
	for _, p := range plans {
		if p == nil {
			continue
		}
		if names[p.name] {
			return nil, &ParseError{Column: p.name, Err: fmt.Errorf("%w after mapping", ErrDuplicateColumn)}
		}
		names[p.name] = true
	}
	return plans, nil
}

// normalizeNewlines turns every CRLF inside a quoted field into LF, as
// encoding/csv does for a single one, so that values survive a round trip.
func normalizeNewlines(v string) string {
	if strings.IndexByte(v, '\r') < 0 {
		return v
	}
	for strings.Contains(v, "\r\n") {
		v = strings.ReplaceAll(v, "\r\n", "\n")
	}
	return v
}

// csvError turns an encoding/csv error into a ParseError.
func csvError(file string, err error) error {
	var ce *csv.ParseError
	if errors.As(err, &ce) {
		return &ParseError{File: file, Line: ce.Line, Err: fmt.Errorf("byte %d: %w", ce.Column, ce.Err)}
	}
	return &ParseError{File: file, Err: err}
}

// detectDelimiter counts candidate delimiters outside quotes on the first
// line of head and returns the most frequent one.
func detectDelimiter(head []byte) rune {
	var counts [len(candidates)]int
	inQuote := false
loop:
	for _, c := range head {
		switch {
		case c == '"':
			inQuote = !inQuote
		case inQuote:
		case c == '\n':
			break loop
		default:
			if i := strings.IndexByte(candidates, c); i >= 0 {
				counts[i]++
			}
		}
	}
	best := 0
	for i, n := range counts {
		if n > counts[best] {
			best = i
		}
	}
	return rune(candidates[best])
}

// convert builds the column for p. On error it also returns the offending
// row.
func convert(p *plan, values cells) (*Column, int, error) {
	if p.date {
		return convertDates(p.name, values)
	}
	if p.forced {
		return convertAs(p.name, p.kind, values, true)
	}
	kind := inferKind(values)
	c, row, err := convertAs(p.name, kind, values, false)
	if err != nil && kind == KindNumber && !allNumeric(values.from(row)) {
		// Not every value is a number after all.
		return convertAs(p.name, KindCategory, values, false)
	}
	return c, row, err
}

// allNumeric reports whether every present value looks like a number,
// counting NaN and infinities.
func allNumeric(values cells) bool {
	for i := range values.len() {
		v := strings.TrimSpace(values.at(i))
		if v == "" {
			continue
		}
		if _, err := parseNumber(v); err != nil && !errors.Is(err, ErrNonFinite) {
			return false
		}
	}
	return true
}

// inferKind looks at the first present value: bool-like values make a bool
// candidate, anything else a number candidate; convert falls back to
// category when the candidate does not fit.
func inferKind(values cells) Kind {
	for i := range values.len() {
		v := strings.TrimSpace(values.at(i))
		if v == "" {
			continue
		}
		if _, ok := parseBool(v, false); ok {
			if allBool(values) {
				return KindBool
			}
			return KindCategory
		}
		if _, err := parseNumber(v); err != nil && !errors.Is(err, ErrNonFinite) {
			return KindCategory
		}
		return KindNumber
	}
	return KindCategory
}

func allBool(values cells) bool {
	for i := range values.len() {
		v := strings.TrimSpace(values.at(i))
		if _, ok := parseBool(v, false); v != "" && !ok {
			return false
		}
	}
	return true
}

func convertAs(name string, kind Kind, values cells, forced bool) (*Column, int, error) {
	c := &Column{Name: name, Kind: kind}
	n := values.len()
	switch kind {
	case KindNumber:
		c.Numbers = make([]float64, n)
		for i := range n {
			v := strings.TrimSpace(values.at(i))
			if v == "" {
				c.Numbers[i] = math.NaN()
				continue
			}
			f, err := parseNumber(v)
			if err != nil {
				return nil, i, err
			}
			c.Numbers[i] = f
		}
	case KindBool:
		c.Bools = make([]bool, n)
		c.Missing = make([]bool, n)
		for i := range n {
			v := strings.TrimSpace(values.at(i))
			if v == "" {
				c.Missing[i] = true
				continue
			}
			b, ok := parseBool(v, forced)
			if !ok {
				return nil, i, fmt.Errorf("%w: %q is not a bool", ErrTypeMismatch, v)
			}
			c.Bools[i] = b
		}
	default:
		c.Codes = make([]int32, n)
		index := make(map[string]int32)
		for i := range n {
			v := values.at(i)
			if strings.TrimSpace(v) == "" {
				c.Codes[i] = -1
				continue
			}
			code, ok := index[v]
			if !ok {
				code = int32(len(c.Dict))
				index[v] = code
				c.Dict = append(c.Dict, v)
			}
			c.Codes[i] = code
		}
	}
	return c, 0, nil
}

// parseNumber parses a trimmed, non-empty number, rejecting NaN and
// infinities, including overflowing literals such as 1e400.
func parseNumber(v string) (float64, error) {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("%w: %q is not a number", ErrTypeMismatch, v)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%w: %q", ErrNonFinite, v)
	}
	return f, nil
}

// parseBool parses true/false in any case; lenient also accepts yes/no and
// 1/0, for columns a mapping forces to bool.
func parseBool(v string, lenient bool) (value, ok bool) {
	switch {
	case strings.EqualFold(v, "true"):
		return true, true
	case strings.EqualFold(v, "false"):
		return false, true
	case !lenient:
		return false, false
	case strings.EqualFold(v, "yes"), v == "1":
		return true, true
	case strings.EqualFold(v, "no"), v == "0":
		return false, true
	}
	return false, false
}
