package policy

import (
	"context"
	"fmt"
	"io/fs"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

// admissionQuery is the document an admission decision is read from.
const admissionQuery = "data.fedscore.admission.decision"

// Options configure an [Engine].
type Options struct {
	// Bundle is the policy bundle, with its .manifest at the root. Nil means
	// [DefaultBundle].
	Bundle fs.FS

	// DataOverrides are merged over the bundle's data.fedscore document,
	// e.g. {"assume_consent_when_absent": true} for a sandbox over public
	// data without consent columns.
	DataOverrides map[string]any
}

// Engine makes policy decisions with one compiled bundle. It is safe for
// concurrent use: queries are prepared once in [NewEngine].
type Engine struct {
	admission rego.PreparedEvalQuery
	revision  string
}

// NewEngine loads the bundle in opts, compiles it and prepares its decision
// queries. Errors about the bundle wrap [ErrBundle].
func NewEngine(ctx context.Context, opts Options) (*Engine, error) {
	fsys := opts.Bundle
	if fsys == nil {
		fsys = DefaultBundle()
	}
	b, err := readBundle(fsys)
	if err != nil {
		return nil, err
	}
	withoutTests(b)
	if err := mergeData(b, opts.DataOverrides); err != nil {
		return nil, err
	}

	r := rego.New(
		rego.Query(admissionQuery),
		rego.ParsedBundle(bundleName, b),
		rego.SetRegoVersion(ast.RegoV1),
		// The bundle's data never changes after loading, so convert it to
		// AST values once rather than on every read.
		rego.StoreReadAST(true),
		rego.Capabilities(capabilities()),
		rego.Strict(true),
		// A built-in failing on unexpected input must fail the decision
		// rather than silently drop a deny rule.
		rego.StrictBuiltinErrors(true),
	)
	pq, err := r.PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: revision %s: %w", ErrBundle, b.Manifest.Revision, err)
	}
	return &Engine{admission: pq, revision: b.Manifest.Revision}, nil
}

// Revision returns the revision from the bundle's manifest.
func (e *Engine) Revision() string {
	return e.revision
}

// Admit decides whether the query in in may run on the node's data and
// which records may enter its cohort.
//
// A deny, including an undefined decision, is returned as a Decision with
// Allow false and a nil error; use [Decision.Err] to treat it as an error.
// Admit returns an error only when no decision could be made; the Decision
// then still carries its ID and denies.
func (e *Engine) Admit(ctx context.Context, in AdmissionInput) (Decision, error) {
	now := in.Time
	if now.IsZero() {
		now = time.Now()
	}
	d := Decision{
		ID:             newDecisionID(),
		BundleRevision: e.revision,
		Time:           now.UTC(),
	}

	// Small evaluations may finish before OPA polls ctx; a caller that has
	// given up must not receive an allow.
	if err := ctx.Err(); err != nil {
		return d, fmt.Errorf("policy: admission: %w", err)
	}
	input, err := ast.InterfaceToValue(admissionDocument(in, d.Time))
	if err != nil {
		return d, fmt.Errorf("policy: admission input: %w", err)
	}
	rs, err := e.admission.Eval(ctx, rego.EvalParsedInput(input), rego.EvalTime(d.Time))
	if err != nil {
		return d, fmt.Errorf("policy: evaluating %s: %w", admissionQuery, err)
	}
	switch {
	case len(rs) == 0:
		d.Reasons = []Reason{{
			Code:    CodeUndefinedDecision,
			Message: fmt.Sprintf("bundle revision %s defines no %s for this input", e.revision, admissionQuery),
		}}
		return d, nil
	case len(rs) > 1 || len(rs[0].Expressions) != 1:
		return d, fmt.Errorf("%w: %s has %d results", ErrMalformedDecision, admissionQuery, len(rs))
	}
	if err := decodeDecision(rs[0].Expressions[0].Value, in.NodeColumns, &d); err != nil {
		d.Allow, d.Reasons, d.Cohort = false, nil, CohortRule{}
		return d, fmt.Errorf("%w: %s: %w", ErrMalformedDecision, admissionQuery, err)
	}
	return d, nil
}

// admissionDocument builds the policy input for in. Slices are never nil so
// that the policy always sees arrays.
func admissionDocument(in AdmissionInput, now time.Time) map[string]any {
	q := in.Query
	return map[string]any{
		"query": map[string]any{
			"id":           q.ID,
			"digest":       q.Digest,
			"purpose":      q.Purpose,
			"columns":      orEmpty(q.Columns),
			"metrics":      orEmpty(q.Metrics),
			"min_partners": q.MinPartners,
			"querier":      q.Querier,
		},
		"node": map[string]any{
			"name":    in.NodeName,
			"columns": orEmpty(in.NodeColumns),
		},
		"time": now.Format(time.RFC3339Nano),
	}
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
