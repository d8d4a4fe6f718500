package policy

import (
	"context"
	"crypto/sha256"
	"errors"
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

	// HighWater, when set, is the node's record of the newest bundle it
	// has run; it needs VerificationKeys. The engine then activates, at
	// start and on every reload, only a bundle whose sequence is above the
	// mark, or the marked bundle itself, and moves the mark forward on
	// disk before the bundle decides anything (see [SequenceStore]).
	HighWater *SequenceStore

	// AllowRollback, when set, is an operator's explicit override letting
	// NewEngine start on one bundle the high-water mark would refuse. It
	// applies to the start only; reloads never go back.
	AllowRollback *RollbackOverride
}

// RollbackOverride lets NewEngine activate the bundle whose sequence is
// Sequence although the node has run a newer bundle (or another bundle
// with that sequence), for an operator who must return to an earlier
// signed policy. The high-water mark is then set to that bundle, so newer
// bundles are accepted again as they arrive.
type RollbackOverride struct {
	// Sequence is the sequence of the one bundle allowed. A bundle with
	// another sequence is refused while the override is given, so that an
	// override left in place never lets another bundle through.
	Sequence uint64
	// Record is called with the mark the override replaces and the new
	// one before either the mark or the bundle changes; nodes append it to
	// their audit log. If it fails, NewEngine fails and nothing changes.
	Record func(ctx context.Context, from, to HighWaterMark) error
}

// Engine makes policy decisions with one active bundle at a time. It is
// safe for concurrent use: each bundle's queries are prepared once, and
// [Engine.Reload] swaps the active bundle atomically, so a decision is made
// wholly by one bundle and carries that bundle's revision.
type Engine struct {
	keys      []VerificationKey
	overrides map[string]any
	marks     *SequenceStore

	reloadMu sync.Mutex // serialises Reload
	active   atomic.Pointer[activeBundle]
}

// activeBundle is a compiled bundle ready to decide.
type activeBundle struct {
	admission rego.PreparedEvalQuery
	release   rego.PreparedEvalQuery
	privacy   rego.PreparedEvalQuery
	overlap   rego.PreparedEvalQuery
	revision  string
	sequence  uint64
	notAfter  time.Time         // zero: never expires (unsigned bundles only)
	keyID     string            // the verified signer, if keys are configured
	digest    [sha256.Size]byte // of the bundle's files, see fileSet.digest
}

// NewEngine loads the bundle in opts, verifies its signature if
// opts.VerificationKeys is set, checks it against opts.HighWater, compiles
// it and prepares its decision queries. Errors about the bundle wrap
// [ErrBundle].
func NewEngine(ctx context.Context, opts Options) (*Engine, error) {
	switch {
	case len(opts.VerificationKeys) > 0 && len(opts.DataOverrides) > 0:
		// A signed bundle runs exactly as signed: local overrides would let
		// a node operator loosen rules the regulator approved.
		return nil, fmt.Errorf("%w: data overrides cannot be combined with a signed bundle; build them into the bundle before signing", ErrBundle)
	case opts.HighWater != nil && len(opts.VerificationKeys) == 0:
		return nil, errors.New("policy: a high-water mark needs verification keys: only signed bundles carry a sequence")
	case opts.AllowRollback != nil && (opts.HighWater == nil || opts.AllowRollback.Record == nil || opts.AllowRollback.Sequence == 0):
		return nil, errors.New("policy: a rollback override needs a high-water mark, a sequence and a way to record it")
	}
	e := &Engine{
		keys:      slices.Clone(opts.VerificationKeys),
		overrides: maps.Clone(opts.DataOverrides),
		marks:     opts.HighWater,
	}
	if err := e.load(ctx, opts.Bundle, opts.AllowRollback); err != nil {
		return nil, err
	}
	return e, nil
}

// Reload loads the bundle at the root of fsys (nil means [DefaultBundle])
// with the engine's options and, only if it verifies, is not older than
// the high-water mark, has not expired and compiles, makes it the active
// bundle. On error the previous bundle stays active. Decisions already
// under way finish with the bundle they started with.
func (e *Engine) Reload(ctx context.Context, fsys fs.FS) error {
	return e.load(ctx, fsys, nil)
}

// load snapshots the bundle at the root of fsys and activates it.
func (e *Engine) load(ctx context.Context, fsys fs.FS, override *RollbackOverride) error {
	if fsys == nil {
		fsys = DefaultBundle()
	}
	files, err := readFileSet(fsys)
	if err != nil {
		return err
	}
	_, err = e.activate(ctx, files, override)
	return err
}

// activate checks and compiles the bundle in files and makes it the active
// one; override, from NewEngine only, may let it go below the high-water
// mark.
func (e *Engine) activate(ctx context.Context, files fileSet, override *RollbackOverride) (*activeBundle, error) {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	mode := sigRefuse
	if len(e.keys) > 0 {
		mode = sigRequire
	}
	l, err := readBundle(files, mode, e.keys)
	if err != nil {
		return nil, err
	}
	if err := l.checkManifest(false); err != nil {
		return nil, err
	}
	now := time.Now()
	info := &l.info
	if err := checkFresh(info.Manifest.Revision, info.Sequence, info.NotAfter, now); err != nil {
		return nil, err
	}
	var rollback bool
	if e.marks != nil {
		if rollback, err = e.marks.admits(info, override); err != nil {
			return nil, err
		}
	}
	ab, err := compile(ctx, l, e.overrides)
	if err != nil {
		return nil, err
	}
	if e.marks != nil {
		next := HighWaterMark{Sequence: info.Sequence, Digest: info.Digest, Revision: info.Manifest.Revision, Time: now.UTC()}
		if rollback {
			prev, _ := e.marks.Mark()
			if err := override.Record(ctx, prev, next); err != nil {
				return nil, fmt.Errorf("policy: recording the rollback override: %w", err)
			}
		}
		// The mark is on disk before the bundle decides anything.
		if err := e.marks.advance(next, rollback); err != nil {
			return nil, err
		}
	}
	e.active.Store(ab)
	return ab, nil
}

// compile prepares the decision queries of a read bundle, its tests
// removed and overrides merged over its data.
func compile(ctx context.Context, l *loaded, overrides map[string]any) (*activeBundle, error) {
	b := l.b
	withoutTests(b)
	if err := mergeData(b, overrides); err != nil {
		return nil, err
	}
	ab := &activeBundle{
		revision: b.Manifest.Revision,
		sequence: l.info.Sequence,
		notAfter: l.info.NotAfter,
		keyID:    l.info.KeyID,
		digest:   l.digest,
	}
	for _, q := range []struct {
		query string
		into  *rego.PreparedEvalQuery
	}{{admissionQuery, &ab.admission}, {releaseQuery, &ab.release}, {privacyQuery, &ab.privacy}, {overlapGateQuery, &ab.overlap}} {
		var err error
		*q.into, err = rego.New(
			rego.Query(q.query),
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
		if err != nil {
			return nil, fmt.Errorf("%w: revision %s: %w", ErrBundle, b.Manifest.Revision, err)
		}
	}
	return ab, nil
}

// expired returns the deny reason of a decision at t by an expired bundle.
func (ab *activeBundle) expired(t time.Time) (Reason, bool) {
	err := checkFresh(ab.revision, ab.sequence, ab.notAfter, t)
	if err == nil {
		return Reason{}, false
	}
	return Reason{
		Code:    CodeBundleExpired,
		Message: err.Error() + "; no query is admitted or released until a newer signed bundle is activated",
	}, true
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
	return e.admit(ctx, in, nil)
}

// admit decides an admission whose input document has the members of
// extra added.
func (e *Engine) admit(ctx context.Context, in AdmissionInput, extra map[string]any) (Decision, error) {
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
	if r, ok := ab.expired(d.Time); ok {
		d.Reasons = []Reason{r}
		return d, nil
	}
	doc := admissionDocument(in, d.Time)
	maps.Copy(doc, extra)
	input, err := ast.InterfaceToValue(doc)
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
		d.Allow, d.Reasons, d.Cohort, d.Privacy = false, nil, CohortRule{}, PrivacySettings{}
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
