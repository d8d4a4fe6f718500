package crypto

import "errors"

var (
	// errUnknownParams reports a parameter-set name that the package does not define.
	errUnknownParams = errors.New("crypto: unknown parameter set")

	// ErrMalformed reports serialized bytes that are not a valid encoding
	// of the expected object: wrong length, kind, shape or coefficient range.
	ErrMalformed = errors.New("crypto: malformed encoding")

	// ErrParamsMismatch reports an object that belongs to a different
	// parameter set than the one it is used with.
	ErrParamsMismatch = errors.New("crypto: parameter set mismatch")

	// errOutOfRange reports a value that cannot be encoded exactly, or an
	// argument outside the range the parameters were sized for.
	errOutOfRange = errors.New("crypto: value out of range")

	// errEmpty reports an operation given nothing to work on.
	errEmpty = errors.New("crypto: empty input")
)
