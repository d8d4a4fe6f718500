package overlap

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/fedscore/fedscore/pki"
	"github.com/fedscore/fedscore/psi"
	"github.com/fedscore/fedscore/psi/ident"
	"github.com/fedscore/fedscore/psi/noise"
	"github.com/fedscore/fedscore/query"
)

// MaxMinSetSize bounds a query's minimum set size.
const MaxMinSetSize = 1 << 30

// Validate reports every problem with s as a *query.ValidationError whose
// field errors name the offending fields; it returns nil for a valid spec.
// Each partner's segment is validated as a joint query's filter and
// group-by are, its problems named under partners[i].
func (s *Spec) Validate() error {
	var probs []*query.FieldError
	add := func(field, format string, args ...any) {
		probs = append(probs, &query.FieldError{Field: field, Msg: fmt.Sprintf(format, args...), Err: ErrInvalidSpec})
	}
	_, err := ident.ParseKind(s.Identifier.Kind)
	if err != nil {
		add("identifier.kind", "%q is not an identifier kind (mobile or idcard)", s.Identifier.Kind)
	}
	if s.Identifier.Column == "" {
		add("identifier.column", "is required")
	}
	switch n := len(s.Partners); {
	case n < psi.MinParties:
		add("partners", "%d partners; an overlap needs at least %d", n, psi.MinParties)
	case n > psi.MaxParties:
		add("partners", "%d partners exceed the limit of %d", n, psi.MaxParties)
	}
	seen := map[string]bool{}
	grouping := 0
	for i, p := range s.Partners {
		field := fmt.Sprintf("partners[%d]", i)
		switch {
		case p.Name == "":
			add(field+".name", "is required")
		case seen[p.Name]:
			add(field+".name", "partner %q is named twice", p.Name)
		default:
			if _, err := pki.ParseIdentity("spiffe://x/node/" + p.Name); err != nil {
				add(field+".name", "%q is not a node name", p.Name)
			}
		}
		seen[p.Name] = true
		if len(p.GroupBy) > 0 {
			grouping++
			if grouping == 2 {
				add(field+".group_by", "only one partner may group its set")
			}
		}
		for j, f := range p.Filter {
			if s.Identifier.Column != "" && f.Column == s.Identifier.Column {
				add(fmt.Sprintf("%s.filter[%d].column", field, j), "the identifier column %s may not be filtered on", f.Column)
			}
		}
		for j, g := range p.GroupBy {
			if s.Identifier.Column != "" && g.Column == s.Identifier.Column {
				add(fmt.Sprintf("%s.group_by[%d].column", field, j), "the identifier column %s may not be grouped by", g.Column)
			}
		}
		probs = append(probs, segmentProblems(s.Segment(i), i)...)
	}
	if len(s.Partners) == 0 {
		// The purpose and the other shared fields are still checked.
		probs = append(probs, segmentProblems(&query.Spec{Purpose: s.Purpose, PipiaID: s.PipiaID, Destination: s.Destination,
			Recipient: s.Recipient, Metrics: []query.Metric{{Kind: query.KindCount}}, MinPartners: 2}, 0)...)
	}
	s.validatePrivacy(add)
	if s.MinSetSize < 0 || s.MinSetSize > MaxMinSetSize {
		add("min_set_size", "%d is outside 0..%d", s.MinSetSize, MaxMinSetSize)
	}
	if err == nil && len(probs) == 0 {
		// Whatever the library refuses is a problem of the spec too.
		if _, err := newPlanCheck(s); err != nil {
			add("partners", "%v", err)
		}
	}
	if len(probs) == 0 {
		return nil
	}
	return &query.ValidationError{Problems: probs}
}

// segmentProblems validates partner i's segment as a joint query. Its
// filter and group-by problems are named under partners[i]; the problems
// of the fields every segment shares (purpose, pipia_id, destination,
// recipient) are reported once, for the first partner.
func segmentProblems(seg *query.Spec, i int) []*query.FieldError {
	err := seg.Validate(query.Limits{MaxCells: psi.MaxSegments})
	var ve *query.ValidationError
	if !errors.As(err, &ve) {
		return nil
	}
	var out []*query.FieldError
	for _, p := range ve.Problems {
		switch {
		case strings.HasPrefix(p.Field, "filter") || strings.HasPrefix(p.Field, "group_by"):
			out = append(out, &query.FieldError{Field: fmt.Sprintf("partners[%d].%s", i, p.Field), Msg: p.Msg, Err: p.Err})
		case p.Field == "epsilon" || p.Field == "min_partners" || p.Field == "metrics":
			// Checked by validatePrivacy, or not part of an overlap.
		case i == 0:
			out = append(out, p)
		}
	}
	return out
}

func (s *Spec) validatePrivacy(add func(field, format string, args ...any)) {
	eps, delta := s.Epsilon, s.Delta
	switch {
	case math.IsNaN(eps) || eps < 0 || eps > noise.MaxEpsilon:
		add("epsilon", "%v must be in (0, %v], or absent for no noise", eps, noise.MaxEpsilon)
	case math.IsNaN(delta) || delta < 0:
		add("delta", "%v must be in [%v, %v]", delta, noise.MinDelta, noise.MaxDelta)
	case eps == 0 && delta != 0:
		add("delta", "delta %v without epsilon; set both or neither", delta)
	case eps > 0 && delta == 0:
		add("delta", "is required with epsilon: the comparer's dummy counts are (ε, δ)-DP; try 1e-9")
	case eps > 0:
		if _, err := noise.Calibrate(eps, delta, 3); err != nil {
			add("delta", "%v", err)
		}
	}
}

// newPlanCheck derives a session from s with placeholder ids, so that
// whatever psi refuses (too many cells, say) is reported before signing.
func newPlanCheck(s *Spec) (psi.Config, error) {
	return s.Session(SessionInput{QueryID: "check", Digest: make([]byte, 32), Run: 1, Federation: "check"})
}
