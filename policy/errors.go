package policy

import (
	"errors"
	"strings"
)

var (
	// ErrDenied is wrapped by every error describing a denied decision.
	ErrDenied = errors.New("policy denied")

	// ErrUndefined reports that the bundle produced no decision. It is always
	// treated as a deny.
	ErrUndefined = errors.New("policy decision undefined")

	// ErrBundle is wrapped by errors loading, parsing or compiling a bundle.
	ErrBundle = errors.New("policy bundle")

	// ErrMalformedDecision reports a decision document that does not have the
	// shape the engine expects, for example allow true with deny reasons.
	ErrMalformedDecision = errors.New("malformed policy decision")
)

// DeniedError describes a denied decision. It matches [ErrDenied] with
// errors.Is, and also [ErrUndefined] when the bundle made no decision.
type DeniedError struct {
	Reasons []Reason
}

func (e *DeniedError) Error() string {
	var b strings.Builder
	b.WriteString(ErrDenied.Error())
	if len(e.Reasons) == 0 {
		return b.String()
	}
	for i, r := range e.Reasons {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(r.String())
	}
	return b.String()
}

// Unwrap returns the sentinels e matches.
func (e *DeniedError) Unwrap() []error {
	errs := []error{ErrDenied}
	for _, r := range e.Reasons {
		if r.Code == CodeUndefinedDecision {
			errs = append(errs, ErrUndefined)
			break
		}
	}
	return errs
}
