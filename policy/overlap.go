package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

// overlapGateQuery is the document an overlap set decision is read from.
const overlapGateQuery = "data.fedscore.overlap_gate.decision"

// OverlapInfo is what an overlap query adds to an admission request: the
// identifier the partners' sets are compared on and the protocol's
// parameters.
type OverlapInfo struct {
	// IdentifierKind is "mobile" or "idcard"; IdentifierColumn the column
	// holding it.
	IdentifierKind, IdentifierColumn string
	// Parties is the number of partners.
	Parties int
	// Delta is the δ of the comparer's (ε, δ)-DP view; 0 without noise.
	Delta float64
	// MinSetSize is the query's minimum set size; 0 for the policy's.
	MinSetSize int
	// GroupBy says whether this node's set is split into segments.
	GroupBy bool
}

// AdmitOverlap decides whether an overlap query may run on the node's
// data, with the joint query's rules on in (purpose, columns of the
// node's segment, consent cohort, privacy budget) and the overlap rules on
// ov. It returns like Admit.
func (e *Engine) AdmitOverlap(ctx context.Context, in AdmissionInput, ov OverlapInfo) (Decision, error) {
	return e.admit(ctx, in, map[string]any{"overlap": map[string]any{
		"identifier":   map[string]any{"kind": ov.IdentifierKind, "column": ov.IdentifierColumn},
		"parties":      ov.Parties,
		"delta":        ov.Delta,
		"min_set_size": ov.MinSetSize,
		"group_by":     ov.GroupBy,
	}})
}

// OverlapSetInput describes a node's own set of an overlap query once it
// is known, for the set gate.
type OverlapSetInput struct {
	Query    QueryInfo
	NodeName string
	// MinSetSize is the query's minimum set size.
	MinSetSize int
	// Size is the number of distinct valid identifiers in the node's
	// consent-filtered segment; Records, Malformed and Duplicates count
	// what was read and left out.
	Size, Records, Malformed, Duplicates int
	Time                                 time.Time
}

// OverlapSetDecision is the set gate's decision.
type OverlapSetDecision struct {
	ID      string
	Allow   bool
	Reasons []Reason
	// MinSetSize is the minimum the node's set was held to.
	MinSetSize     int
	BundleRevision string
	Time           time.Time
}

// Err returns nil for an allowed set, else an error wrapping ErrDenied.
func (d OverlapSetDecision) Err() error {
	return Decision{Allow: d.Allow, Reasons: d.Reasons}.Err()
}

// OverlapSet asks the set gate whether the node's own set may enter an
// overlap. Like Admit, a deny is a decision with a nil error.
func (e *Engine) OverlapSet(ctx context.Context, in OverlapSetInput) (OverlapSetDecision, error) {
	now := in.Time
	if now.IsZero() {
		now = time.Now()
	}
	ab := e.active.Load()
	d := OverlapSetDecision{ID: newDecisionID(), BundleRevision: ab.revision, Time: now.UTC()}
	if err := ctx.Err(); err != nil {
		return d, fmt.Errorf("policy: overlap set: %w", err)
	}
	if r, ok := ab.expired(d.Time); ok {
		d.Reasons = []Reason{r}
		return d, nil
	}
	q := in.Query
	input, err := ast.InterfaceToValue(map[string]any{
		"query": map[string]any{"id": q.ID, "digest": q.Digest, "purpose": q.Purpose, "querier": q.Querier, "min_set_size": in.MinSetSize},
		"node":  map[string]any{"name": in.NodeName},
		"set":   map[string]any{"size": in.Size, "records": in.Records, "malformed": in.Malformed, "duplicates": in.Duplicates},
		"time":  d.Time.Format(time.RFC3339Nano),
	})
	if err != nil {
		return d, fmt.Errorf("policy: overlap set input: %w", err)
	}
	rs, err := ab.overlap.Eval(ctx, rego.EvalParsedInput(input), rego.EvalTime(d.Time))
	if err != nil {
		return d, fmt.Errorf("policy: evaluating %s: %w", overlapGateQuery, err)
	}
	switch {
	case len(rs) == 0:
		d.Reasons = []Reason{{Code: CodeUndefinedDecision,
			Message: fmt.Sprintf("bundle revision %s defines no %s for this input", ab.revision, overlapGateQuery)}}
		return d, nil
	case len(rs) > 1 || len(rs[0].Expressions) != 1:
		return d, fmt.Errorf("%w: %s has %d results", ErrMalformedDecision, overlapGateQuery, len(rs))
	}
	if err := decodeOverlapSet(rs[0].Expressions[0].Value, &d); err != nil {
		d.Allow, d.Reasons = false, nil
		return d, fmt.Errorf("%w: %s: %w", ErrMalformedDecision, overlapGateQuery, err)
	}
	return d, nil
}

func decodeOverlapSet(v any, d *OverlapSetDecision) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var doc struct {
		Allow      *bool            `json:"allow"`
		Deny       []reasonDocument `json:"deny"`
		MinSetSize *int             `json:"min_set_size"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return err
	}
	switch {
	case doc.Allow == nil || doc.Deny == nil || doc.MinSetSize == nil:
		return errors.New("allow, deny and min_set_size are required")
	case *doc.Allow == (len(doc.Deny) > 0):
		return fmt.Errorf("allow is %v with %d deny reasons", *doc.Allow, len(doc.Deny))
	case *doc.MinSetSize < 1:
		return fmt.Errorf("min_set_size %d is below 1", *doc.MinSetSize)
	}
	for i, r := range doc.Deny {
		if r.Code == "" {
			return fmt.Errorf("deny reason %d has no code", i)
		}
		d.Reasons = append(d.Reasons, Reason(r))
	}
	d.Allow, d.MinSetSize = *doc.Allow, *doc.MinSetSize
	return nil
}
