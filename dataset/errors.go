package dataset

import (
	"errors"
	"strconv"
	"strings"
)

// Errors reported by this package, usable with errors.Is.
var (
	ErrNoHeader        = errors.New("no header row")
	ErrEmptyHeader     = errors.New("empty column name")
	ErrDuplicateColumn = errors.New("duplicate column name")
	ErrRaggedRow       = errors.New("wrong number of fields")
	ErrTypeMismatch    = errors.New("value does not fit the column type")
	ErrNonFinite       = errors.New("NaN or infinite number")
	ErrUnknownColumn   = errors.New("unknown column")
	ErrTooManyRows     = errors.New("too many rows")
	ErrInvalidMapping  = errors.New("invalid mapping")
	ErrLengthMismatch  = errors.New("column length differs from the table")
	ErrInvalidColumn   = errors.New("invalid column")
	ErrInvalidText     = errors.New("text is not valid in the file's encoding")
	ErrUnknownEncoding = errors.New("unknown encoding")
)

// A ParseError reports a problem at a position in a CSV file.
type ParseError struct {
	File   string // file name, "" when reading from a stream
	Line   int    // 1-based line number, 0 when not tied to a line
	Column string // column name, "" when not tied to a column
	Err    error  // the underlying problem, often one of the Err variables
}

func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString("dataset: ")
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(":")
	}
	if e.Line > 0 {
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteString(":")
	}
	if e.File != "" || e.Line > 0 {
		b.WriteString(" ")
	}
	if e.Column != "" {
		b.WriteString("column ")
		b.WriteString(strconv.Quote(e.Column))
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *ParseError) Unwrap() error { return e.Err }
