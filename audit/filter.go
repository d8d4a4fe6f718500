package audit

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"
)

// FilterOptions selects entries. Zero fields select everything.
type FilterOptions struct {
	QueryID string
	// Since (inclusive) and Until (exclusive) bound the entry time.
	Since, Until time.Time
	Kinds        []Kind
	Result       Result
}

func (f *FilterOptions) match(e *Entry) bool {
	switch {
	case f.QueryID != "" && e.QueryID != f.QueryID,
		!f.Since.IsZero() && e.Time.Before(f.Since),
		!f.Until.IsZero() && !e.Time.Before(f.Until),
		len(f.Kinds) > 0 && !slices.Contains(f.Kinds, e.Kind),
		f.Result != "" && e.Result != f.Result:
		return false
	}
	return true
}

// Filter returns the entries of a log that f selects, in log order;
// checkpoints are skipped. It reads the records but does not verify the
// chain: run Verify first when the answer must be trustworthy. A torn last
// line (an interrupted append) is ignored; any other unreadable line is an
// error naming it.
func Filter(r io.Reader, f FilterOptions) ([]Entry, error) {
	lr := &lineReader{br: bufio.NewReader(r)}
	var out []Entry
	for {
		line, complete, err := lr.next()
		if err == io.EOF || err == nil && !complete {
			return out, nil
		}
		if errors.Is(err, errLineTooLong) {
			return nil, &VerifyError{Line: lr.n, Problem: fmt.Sprintf("line longer than %d bytes", maxLineBytes), Err: ErrMalformed}
		}
		if err != nil {
			return nil, fmt.Errorf("audit: read log: %w", err)
		}
		var probe struct {
			Kind Kind `json:"kind"`
		}
		if err := json.Unmarshal(line, &probe); err != nil {
			return nil, &VerifyError{Line: lr.n, Problem: "not a JSON record", Err: ErrMalformed}
		}
		if probe.Kind == KindCheckpoint {
			continue
		}
		var e Entry
		if err := strictUnmarshal(line, &e); err != nil {
			return nil, &VerifyError{Line: lr.n, Problem: err.Error(), Err: ErrMalformed}
		}
		if f.match(&e) {
			out = append(out, e)
		}
	}
}

// QueriesBetween returns the admission entries with result allow whose time
// is in [from, to) — the joint queries the node let touch its data in that
// period — one per (query id, query digest), the first admission of each.
// It is where a node starts answering a data subject's "which joint queries
// used my data" (see the package documentation). Like Filter it does not
// verify the chain.
func QueriesBetween(r io.Reader, from, to time.Time) ([]Entry, error) {
	entries, err := Filter(r, FilterOptions{Since: from, Until: to, Kinds: []Kind{KindAdmission}, Result: ResultAllow})
	if err != nil {
		return nil, err
	}
	type key struct{ id, digest string }
	seen := make(map[key]bool)
	out := entries[:0]
	for _, e := range entries {
		k := key{e.QueryID, e.QueryDigest}
		if !seen[k] {
			seen[k] = true
			out = append(out, e)
		}
	}
	return out, nil
}
