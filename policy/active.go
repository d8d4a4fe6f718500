package policy

import "time"

// ActiveBundle describes the bundle an engine decides with.
type ActiveBundle struct {
	Revision string
	Sequence uint64
	// NotAfter is when the bundle expires; zero for an unsigned bundle,
	// which never does.
	NotAfter time.Time
	// KeyID is the verified signer's key, if the engine verifies bundles.
	KeyID string
}

// Active describes the active bundle.
func (e *Engine) Active() ActiveBundle {
	ab := e.active.Load()
	return ActiveBundle{Revision: ab.revision, Sequence: ab.sequence, NotAfter: ab.notAfter, KeyID: ab.keyID}
}

// Expired reports whether the bundle has expired at t.
func (b ActiveBundle) Expired(t time.Time) bool { return !b.NotAfter.IsZero() && !t.Before(b.NotAfter) }
