package query

import (
	"errors"
	"fmt"
	"strings"
)

// Errors reported by this package, usable with errors.Is.
var (
	// ErrInvalidSpec marks every problem with a spec.
	ErrInvalidSpec = errors.New("invalid query spec")
	// ErrColumnMismatch marks a spec that does not fit a table: an unknown
	// column or one of the wrong kind. It wraps ErrInvalidSpec.
	ErrColumnMismatch = fmt.Errorf("%w: spec does not fit the table", ErrInvalidSpec)
	// ErrUnknownColumn marks a column the table does not have. It wraps
	// ErrColumnMismatch.
	ErrUnknownColumn = fmt.Errorf("%w: unknown column", ErrColumnMismatch)
	// ErrOverflow reports a sum that does not fit in int64.
	ErrOverflow = errors.New("sum overflows int64")
	// ErrVectorLength reports a vector shorter than the spec's layout.
	ErrVectorLength = errors.New("vector shorter than the layout")
)

// A FieldError is one problem with one field of a spec.
type FieldError struct {
	Field string // path of the field, such as "group_by[1].bins"
	Msg   string
	Err   error // the sentinel it wraps; nil means ErrInvalidSpec
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Unwrap returns e.Err, or ErrInvalidSpec when it is nil.
func (e *FieldError) Unwrap() error {
	if e.Err != nil {
		return e.Err
	}
	return ErrInvalidSpec
}

// A ValidationError lists every problem found in a spec, in field order.
type ValidationError struct {
	Problems []*FieldError
}

func (e *ValidationError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Error()
	}
	return "query: invalid spec: " + strings.Join(msgs, "; ")
}

// Unwrap returns the problems, so errors.Is and errors.As reach them.
func (e *ValidationError) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		errs[i] = p
	}
	return errs
}

// problems collects FieldErrors.
type problems []*FieldError

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return &ValidationError{Problems: p}
}
