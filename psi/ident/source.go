package ident

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Record is one normalised identifier and the segment it belongs to (0
// when the set is not grouped).
type Record struct {
	ID      string
	Segment uint32
}

// A Source yields the records of one party's set. Next returns io.EOF after
// the last record. Sources need not remove duplicates.
type Source interface {
	Next() (Record, error)
}

// LineError locates a malformed line of an identifier file.
type LineError struct {
	File string
	Line int
	Err  error
}

func (e *LineError) Error() string {
	if e.File == "" {
		return fmt.Sprintf("line %d: %v", e.Line, e.Err)
	}
	return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
}

func (e *LineError) Unwrap() error { return e.Err }

// MaxLineLength bounds one line of an identifier file.
const MaxLineLength = 256

// ErrTooManyMalformed reports that a Reader met more malformed lines than
// its budget allows.
var ErrTooManyMalformed = errors.New("too many malformed identifiers")

// ReaderConfig configures a Reader.
type ReaderConfig struct {
	// File names the input in errors.
	File string
	// Kind is the kind of every identifier in the input.
	Kind Kind
	// Segments is the number of segments when lines carry a segment
	// ("identifier,segment" with 0 ≤ segment < Segments); 0 means lines
	// hold an identifier only.
	Segments uint32
	// MaxMalformed is how many malformed lines are skipped, counted and
	// kept in Report before reading fails; 0 fails on the first.
	MaxMalformed int
}

// Report counts what a Reader read and skipped.
type Report struct {
	Lines     int // non-empty lines read
	Accepted  int // records returned
	Malformed int // lines skipped as malformed
	// Examples holds the errors of the first malformed lines (at most 10);
	// they give positions and reasons, never the identifier.
	Examples []*LineError
}

// Reader reads identifiers from a text stream, one per line, normalising
// each. Empty lines and lines starting with '#' are ignored.
type Reader struct {
	cfg    ReaderConfig
	sc     *bufio.Scanner
	line   int
	report Report
}

// NewReader returns a Reader of r.
func NewReader(r io.Reader, cfg ReaderConfig) (*Reader, error) {
	if !cfg.Kind.Valid() {
		return nil, fmt.Errorf("%w %d", ErrUnknownKind, cfg.Kind)
	}
	if cfg.MaxMalformed < 0 {
		return nil, errors.New("identifier reader: negative MaxMalformed")
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), MaxLineLength+2)
	return &Reader{cfg: cfg, sc: sc}, nil
}

// Report returns the counts so far.
func (r *Reader) Report() Report { return r.report }

// Next returns the next well-formed record.
func (r *Reader) Next() (Record, error) {
	for r.sc.Scan() {
		r.line++
		text := strings.TrimRight(r.sc.Text(), "\r")
		if strings.TrimSpace(text) == "" || strings.HasPrefix(text, "#") {
			continue
		}
		r.report.Lines++
		rec, err := r.parse(text)
		if err == nil {
			r.report.Accepted++
			return rec, nil
		}
		le := &LineError{File: r.cfg.File, Line: r.line, Err: err}
		r.report.Malformed++
		if len(r.report.Examples) < 10 {
			r.report.Examples = append(r.report.Examples, le)
		}
		if r.report.Malformed > r.cfg.MaxMalformed {
			if r.cfg.MaxMalformed == 0 {
				return Record{}, le
			}
			return Record{}, fmt.Errorf("%w: %d, more than %d (last: %w)", ErrTooManyMalformed, r.report.Malformed, r.cfg.MaxMalformed, le)
		}
	}
	if err := r.sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return Record{}, &LineError{File: r.cfg.File, Line: r.line + 1, Err: fmt.Errorf("%w: line longer than %d bytes", ErrMalformed, MaxLineLength)}
		}
		return Record{}, fmt.Errorf("read identifiers: %w", err)
	}
	return Record{}, io.EOF
}

func (r *Reader) parse(text string) (Record, error) {
	raw, seg := text, uint32(0)
	if r.cfg.Segments > 0 {
		i := strings.LastIndexByte(text, ',')
		if i < 0 {
			return Record{}, fmt.Errorf("%w: missing segment (want identifier,segment)", ErrMalformed)
		}
		v, err := strconv.ParseUint(strings.TrimSpace(text[i+1:]), 10, 32)
		if err != nil || uint32(v) >= r.cfg.Segments {
			return Record{}, fmt.Errorf("%w: segment is not an integer below %d", ErrMalformed, r.cfg.Segments)
		}
		raw, seg = text[:i], uint32(v)
	}
	id, err := Normalize(r.cfg.Kind, strings.TrimSpace(raw))
	if err != nil {
		return Record{}, err
	}
	return Record{ID: id, Segment: seg}, nil
}

// SliceSource is a Source over records already in memory (tests, small
// sets). Its records must be normalised already.
type SliceSource struct {
	Records []Record
	next    int
}

// Next returns the next record.
func (s *SliceSource) Next() (Record, error) {
	if s.next >= len(s.Records) {
		return Record{}, io.EOF
	}
	s.next++
	return s.Records[s.next-1], nil
}
