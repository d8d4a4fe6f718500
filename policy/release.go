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

// releaseQuery is the document a release decision is read from.
const releaseQuery = "data.fedscore.release.decision"

// MinCellSizeFloor is the smallest minimum cell size any bundle may set.
const MinCellSizeFloor = 11

// ReleaseInput describes a query whose noisy cell counts the federation
// has opened, for the release gate.
type ReleaseInput struct {
	Query    QueryInfo
	NodeName string
	// Cells is the number of cells of the query's table.
	Cells int
	// ReleasesToday is how many queries of this purpose the node released
	// today, from its release budget ledger.
	ReleasesToday int
	// Time is the decision time; zero means now.
	Time time.Time
}

// ReleaseDecision is the release gate's decision.
type ReleaseDecision struct {
	ID      string
	Allow   bool
	Reasons []Reason
	// MinCellSize is the count below which a cell is suppressed.
	MinCellSize    int64
	BundleRevision string
	Time           time.Time
}

// Err returns nil for an allowed release, else an error wrapping ErrDenied.
func (d ReleaseDecision) Err() error {
	return Decision{Allow: d.Allow, Reasons: d.Reasons}.Err()
}

// Release asks the release gate whether a query's result may be released
// and with which minimum cell size. Like Admit, a deny is a decision with
// a nil error; an error means no decision could be made, and the decision
// then denies.
func (e *Engine) Release(ctx context.Context, in ReleaseInput) (ReleaseDecision, error) {
	now := in.Time
	if now.IsZero() {
		now = time.Now()
	}
	ab := e.active.Load()
	d := ReleaseDecision{ID: newDecisionID(), BundleRevision: ab.revision, Time: now.UTC()}
	if err := ctx.Err(); err != nil {
		return d, fmt.Errorf("policy: release: %w", err)
	}
	if r, ok := ab.expired(d.Time); ok {
		d.Reasons = []Reason{r}
		return d, nil
	}
	q := in.Query
	input, err := ast.InterfaceToValue(map[string]any{
		"query": map[string]any{
			"id": q.ID, "digest": q.Digest, "purpose": q.Purpose,
			"min_partners": q.MinPartners, "querier": q.Querier,
			"pipia_id": q.PipiaID, "destination": q.destination(), "recipient": q.recipient(),
		},
		"node":   map[string]any{"name": in.NodeName},
		"cells":  in.Cells,
		"budget": map[string]any{"releases_today": in.ReleasesToday},
		"time":   d.Time.Format(time.RFC3339Nano),
	})
	if err != nil {
		return d, fmt.Errorf("policy: release input: %w", err)
	}
	rs, err := ab.release.Eval(ctx, rego.EvalParsedInput(input), rego.EvalTime(d.Time))
	if err != nil {
		return d, fmt.Errorf("policy: evaluating %s: %w", releaseQuery, err)
	}
	switch {
	case len(rs) == 0:
		d.Reasons = []Reason{{
			Code:    CodeUndefinedDecision,
			Message: fmt.Sprintf("bundle revision %s defines no %s for this input", ab.revision, releaseQuery),
		}}
		return d, nil
	case len(rs) > 1 || len(rs[0].Expressions) != 1:
		return d, fmt.Errorf("%w: %s has %d results", ErrMalformedDecision, releaseQuery, len(rs))
	}
	if err := decodeRelease(rs[0].Expressions[0].Value, &d); err != nil {
		d.Allow, d.Reasons = false, nil
		return d, fmt.Errorf("%w: %s: %w", ErrMalformedDecision, releaseQuery, err)
	}
	return d, nil
}

// decodeRelease checks the release decision document and copies it into d.
func decodeRelease(v any, d *ReleaseDecision) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var doc struct {
		Allow       *bool            `json:"allow"`
		Deny        []reasonDocument `json:"deny"`
		MinCellSize *int64           `json:"min_cell_size"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return err
	}
	switch {
	case doc.Allow == nil || doc.Deny == nil || doc.MinCellSize == nil:
		return errors.New("allow, deny and min_cell_size are required")
	case *doc.Allow == (len(doc.Deny) > 0):
		return fmt.Errorf("allow is %v with %d deny reasons", *doc.Allow, len(doc.Deny))
	case *doc.MinCellSize < MinCellSizeFloor:
		return fmt.Errorf("min_cell_size %d is below the floor of %d", *doc.MinCellSize, MinCellSizeFloor)
	}
	for i, r := range doc.Deny {
		if r.Code == "" {
			return fmt.Errorf("deny reason %d has no code", i)
		}
		d.Reasons = append(d.Reasons, Reason(r))
	}
	d.Allow, d.MinCellSize = *doc.Allow, *doc.MinCellSize
	return nil
}
