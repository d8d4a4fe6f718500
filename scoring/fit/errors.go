package fit

import "errors"

// Errors reported by this package, usable with errors.Is. Bad arguments
// and data that do not fit wrap scoring.ErrInvalidArgument and
// scoring.ErrColumn.
var (
	// ErrFit reports that a model could not be fitted, for example because
	// no usable rows remain or the target has a single class.
	ErrFit = errors.New("model fit failed")

	// ErrOverflow reports a fixed-point value that does not fit in int64.
	ErrOverflow = errors.New("fixed-point overflow")
)
