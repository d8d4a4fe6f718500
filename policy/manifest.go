package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/open-policy-agent/opa/v1/bundle"
)

// Bundle versions
//
// A bundle's manifest carries, beside its readable revision, a sequence
// number and an expiry in its free-form metadata:
//
//	{"revision": "fedscore-default-0.3.0", ...,
//	 "metadata": {"sequence": 7, "not_after": "2026-09-01T00:00:00Z", ...}}
//
// OPA keeps metadata as it is and signs it with the rest of the manifest,
// so `opa build --verification-key` and `opa run` accept such bundles; the
// fedscore verifier requires both members in every signed bundle. The
// sequence only grows from one signed bundle to the next: a node refuses
// a bundle below the highest sequence it has run, and one with the same
// sequence but other content (see [SequenceStore]). Past not_after a
// bundle is not activated, and an active one stops admitting queries, so
// a bundle that is no longer re-signed stops being served (as TUF's
// metadata expiry does).

const (
	metaSequence = "sequence"
	metaNotAfter = "not_after"
)

// maxSequence is the largest sequence number: 2^53, the largest integer
// every JSON reader holds exactly.
const maxSequence = 1 << 53

// DefaultValidity is how long a built bundle is valid unless its builder
// says otherwise.
const DefaultValidity = 90 * 24 * time.Hour

// manifestVersion reads the sequence and expiry from a manifest's metadata;
// zero values mean absent. A member present with a malformed value is an
// error, never read as absent.
func manifestVersion(m bundle.Manifest) (seq uint64, notAfter time.Time, err error) {
	if v, ok := m.Metadata[metaSequence]; ok {
		if seq, err = parseSequence(v); err != nil {
			return 0, time.Time{}, fmt.Errorf("%w: manifest metadata.%s: %w", ErrBundle, metaSequence, err)
		}
	}
	if v, ok := m.Metadata[metaNotAfter]; ok {
		s, isString := v.(string)
		if !isString {
			return 0, time.Time{}, fmt.Errorf("%w: manifest metadata.%s: %v is not an RFC 3339 time string", ErrBundle, metaNotAfter, v)
		}
		if notAfter, err = time.Parse(time.RFC3339, s); err != nil {
			return 0, time.Time{}, fmt.Errorf("%w: manifest metadata.%s: %w", ErrBundle, metaNotAfter, err)
		}
	}
	return seq, notAfter, nil
}

// parseSequence accepts a positive integer up to maxSequence, as OPA's
// reader (json.Number) or a Go caller (uint64, float64) gives it.
func parseSequence(v any) (uint64, error) {
	var seq uint64
	switch n := v.(type) {
	case json.Number:
		u, err := strconv.ParseUint(n.String(), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s is not a positive integer", n)
		}
		seq = u
	case uint64:
		seq = n
	case float64:
		if n != math.Trunc(n) || n < 1 || n > maxSequence {
			return 0, fmt.Errorf("%v is not a positive integer", n)
		}
		seq = uint64(n)
	default:
		return 0, fmt.Errorf("%v is not a number", v)
	}
	if seq == 0 || seq > maxSequence {
		return 0, fmt.Errorf("%d is not in [1, 2^53]", seq)
	}
	return seq, nil
}

// setManifestVersion writes the sequence and expiry into m's metadata,
// keeping its other members.
func setManifestVersion(m *bundle.Manifest, seq uint64, notAfter time.Time) error {
	if seq == 0 || seq > maxSequence {
		return fmt.Errorf("%w: sequence %d is not in [1, 2^53]", ErrBundle, seq)
	}
	if notAfter.IsZero() {
		return errors.New("policy: no expiry (not_after) given")
	}
	meta := make(map[string]any, len(m.Metadata)+2)
	for k, v := range m.Metadata {
		meta[k] = v
	}
	meta[metaSequence] = seq
	meta[metaNotAfter] = notAfter.UTC().Truncate(time.Second).Format(time.RFC3339)
	m.Metadata = meta
	return nil
}

// checkFresh reports ErrExpired unless now is before notAfter; a bundle
// without an expiry (an unsigned development bundle) never expires.
func checkFresh(revision string, seq uint64, notAfter, now time.Time) error {
	if notAfter.IsZero() || now.Before(notAfter) {
		return nil
	}
	return fmt.Errorf("%w: revision %s (sequence %d) was valid until %s", ErrExpired, revision, seq, notAfter.UTC().Format(time.RFC3339))
}
