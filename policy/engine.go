package policy

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

// admissionQuery is the document an admission decision is read from.
const admissionQuery = "data.fedscore.admission.decision"

// Options configure an [Engine].
type Options struct {
	// Bundle is the policy bundle, with its .manifest at the root. Nil means
	// [DefaultBundle]. [OpenBundle] and [LoadSignedBundle] read a bundle
	// tarball into a file system.
	Bundle fs.FS

	// DataOverrides are merged over the bundle's data.fedscore document,
	// e.g. {"assume_consent_when_absent": true} for development over public
	// data without consent columns. They are refused together with
	// VerificationKeys: use BuildBundleWithData before signing instead.
	DataOverrides map[string]any

	// VerificationKeys are the keys trusted to sign policy bundles, e.g. the
	// regulator's and the consortium's. When set, the engine activates a
	// bundle, in NewEngine and in every [Engine.Reload], only if its
	// /.signatures.json holds a signature by one of them, under its ID,
	// over exactly the bundle's files (tests included); otherwise the error
	// wraps [ErrUnsigned] or [ErrBadSignature]. Nodes must set it.
	//
	// When empty, nothing is verified (the embedded default bundle, tests),
	// and a signed bundle is refused rather than activated unchecked.
	VerificationKeys []VerificationKey
}

// Engine makes policy decisions with one active bundle at a time. It is
// safe for concurrent use: each bundle's queries are prepared once, and
// [Engine.Reload] swaps the active bundle atomically, so a decision is made
// wholly by one bundle and carries that bundle's revision.
type Engine struct {
	keys      []VerificationKey
	overrides map[string]any

	reloadMu sync.Mutex // serialises Reload
	active   atomic.Pointer[activeBundle]
}

// activeBundle is a compiled bundle ready to decide.
type activeBundle struct {
	admission rego.PreparedEvalQuery
	release   rego.PreparedEvalQuery
	revision  string
	keyID     string            // the verified signer, if keys are configured
	digest    [sha256.Size]byte // of the bundle's files, see fileSet.digest
}

// NewEngine loads the bundle in opts, verifies its signature if
// opts.VerificationKeys is set, compiles it and prepares its decision
// queries. Errors about the bundle wrap [ErrBundle].
func NewEngine(ctx context.Context, opts Options) (*Engine, error) {
	if len(opts.VerificationKeys) > 0 && len(opts.DataOverrides) > 0 {
		// A signed bundle runs exactly as signed: local overrides would let
		// a node operator loosen rules the regulator approved.
		return nil, fmt.Errorf("%w: data overrides cannot be combined with a signed bundle; build them into the bundle before signing", ErrBundle)
	}
	e := &Engine{
		keys:      slices.Clone(opts.VerificationKeys),
		overrides: maps.Clone(opts.DataOverrides),
	}
	if err := e.Reload(ctx, opts.Bundle); err != nil {
		return nil, err
	}
	return e, nil
}

// Reload loads the bundle at the root of fsys (nil means [DefaultBundle])
// with the engine's options and, only if it verifies and compiles, makes it
// the active bundle. On error the previous bundle stays active. Decisions
// already under way finish with the bundle they started with.
func (e *Engine) Reload(ctx context.Context, fsys fs.FS) error {
	if fsys == nil {
		fsys = DefaultBundle()
	}
	files, err := readFileSet(fsys)
	if err != nil {
		return err
	}
	_, err = e.activate(ctx, files)
	return err
}

// activate prepares the bundle in files and makes it the active one.
func (e *Engine) activate(ctx context.Context, files fileSet) (*activeBundle, error) {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	ab, err := e.prepare(ctx, files)
	if err != nil {
		return nil, err
	}
	e.active.Store(ab)
	return ab, nil
}

// prepare verifies (if the engine has keys), loads and compiles a bundle.
func (e *Engine) prepare(ctx context.Context, files fileSet) (*activeBundle, error) {
	mode := sigRefuse
	if len(e.keys) > 0 {
		mode = sigRequire
	}
	l, err := loadBundle(files, mode, e.keys)
	if err != nil {
		return nil, err
	}
	b := l.b
	if b.Manifest.Revision == "" {
		// Every decision is audited with the revision that made it.
		return nil, fmt.Errorf("%w: manifest has no revision", ErrBundle)
	}
	withoutTests(b)
	if err := mergeData(b, e.overrides); err != nil {
		return nil, err
	}

	prep := func(q string) (rego.PreparedEvalQuery, error) {
		return rego.New(
			rego.Query(q),
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
		).PrepareForEval(ctx)
	}
	admission, err := prep(admissionQuery)
	if err != nil {
		return nil, fmt.Errorf("%w: revision %s: %w", ErrBundle, b.Manifest.Revision, err)
	}
	release, err := prep(releaseQuery)
	if err != nil {
		return nil, fmt.Errorf("%w: revision %s: %w", ErrBundle, b.Manifest.Revision, err)
	}
	return &activeBundle{
		admission: admission,
		release:   release,
		revision:  b.Manifest.Revision,
		keyID:     l.info.KeyID,
		digest:    l.digest,
	}, nil
}

// Revision returns the revision from the active bundle's manifest.
func (e *Engine) Revision() string {
	return e.active.Load().revision
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
	ab := e.active.Load()
	d := Decision{
		ID:             newDecisionID(),
		BundleRevision: ab.revision,
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
	rs, err := ab.admission.Eval(ctx, rego.EvalParsedInput(input), rego.EvalTime(d.Time))
	if err != nil {
		return d, fmt.Errorf("policy: evaluating %s: %w", admissionQuery, err)
	}
	switch {
	case len(rs) == 0:
		d.Reasons = []Reason{{
			Code:    CodeUndefinedDecision,
			Message: fmt.Sprintf("bundle revision %s defines no %s for this input", ab.revision, admissionQuery),
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
	doc := map[string]any{
		"query": map[string]any{
			"id":           q.ID,
			"digest":       q.Digest,
			"purpose":      q.Purpose,
			"columns":      orEmpty(q.Columns),
			"metrics":      orEmpty(q.Metrics),
			"min_partners": q.MinPartners,
			"querier":      q.Querier,
			"pipia_id":     q.PipiaID,
			"destination":  q.destination(),
			"recipient":    q.recipient(),
			"epsilon":      q.Epsilon,
		},
		"budget": map[string]any{"epsilon_spent_today": in.EpsilonSpent},
		"node": map[string]any{
			"name":    in.NodeName,
			"columns": orEmpty(in.NodeColumns),
			"roles":   roles(in.NodeRoles),
		},
		"pipeline": map[string]any{"encrypted": !in.Plaintext},
		"time":     now.Format(time.RFC3339Nano),
	}
	if m := in.Model; m != nil {
		doc["model"] = map[string]any{
			"name": m.Name, "version": m.Version, "digest": m.Digest,
			"protected_inputs": orEmpty(m.ProtectedInputs),
		}
	}
	return doc
}

func roles(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
