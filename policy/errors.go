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

	// ErrUnsigned reports a bundle without a signature where one is
	// required. It also matches [ErrBundle].
	ErrUnsigned error = &bundleSentinel{"policy bundle not signed"}

	// ErrBadSignature reports a signature that does not verify: a file was
	// changed, added or removed after signing, or the bundle was signed by
	// a key, or under a key ID, that is not trusted. It also matches
	// [ErrBundle].
	ErrBadSignature error = &bundleSentinel{"policy bundle signature rejected"}

	// ErrExpired reports a bundle past its not_after. It also matches
	// [ErrBundle].
	ErrExpired error = &bundleSentinel{"policy bundle expired"}

	// ErrRollback reports a bundle older than the newest one the node has
	// run: a lower sequence, or the same sequence with other content. It
	// also matches [ErrBundle].
	ErrRollback error = &bundleSentinel{"policy bundle rollback refused"}
)

// bundleSentinel is a sentinel error that also matches ErrBundle.
type bundleSentinel struct{ msg string }

func (e *bundleSentinel) Error() string        { return e.msg }
func (e *bundleSentinel) Is(target error) bool { return target == ErrBundle }

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
