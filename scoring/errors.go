package scoring

import (
	"errors"
	"strings"
)

// Errors reported by this package, usable with errors.Is.
var (
	// ErrInvalidModel reports a malformed model file or a model that fails
	// validation. The error names the offending field.
	ErrInvalidModel = errors.New("invalid model")

	// ErrUnsigned reports a model file without a signature where one is
	// required.
	ErrUnsigned = errors.New("model not signed")

	// ErrBadSignature reports a signature that does not verify: the model
	// was changed after signing, or it was signed by a key, or under a key
	// ID, that is not trusted.
	ErrBadSignature = errors.New("model signature rejected")

	// ErrColumn reports a model that does not fit a table: a feature's
	// column is missing or has the wrong kind.
	ErrColumn = errors.New("model does not fit the table")

	// ErrInvalidValue reports rows whose values the model cannot score:
	// missing, unknown, out of range or non-finite.
	ErrInvalidValue = errors.New("invalid input value")

	// ErrInvalidArgument reports an unusable argument or configuration.
	ErrInvalidArgument = errors.New("invalid argument")
)

// A FieldError reports a problem with one field of a model. It matches
// [ErrInvalidModel].
type FieldError struct {
	// Path names the field, such as "features[2].weight"; it is empty for
	// the model as a whole.
	Path string
	// Problem says what is wrong with it.
	Problem string
}

func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString("scoring: invalid model: ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Problem)
	return b.String()
}

// Unwrap returns ErrInvalidModel.
func (e *FieldError) Unwrap() error { return ErrInvalidModel }

func fieldErr(path, problem string) error {
	return &FieldError{Path: path, Problem: problem}
}
