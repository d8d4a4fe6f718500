package policy

import (
	"context"
	"fmt"
	"io/fs"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"
)

// testTimeout bounds each policy test, as opa test does by default.
const testTimeout = 5 * time.Second

// TestResult is the outcome of one Rego test in a bundle.
type TestResult struct {
	Package  string // e.g. "data.fedscore.admission_test"
	Name     string // e.g. "test_allowed_query"
	Pass     bool
	Skip     bool  // a todo_ test
	Err      error // why the test errored, if it did
	Duration time.Duration
}

// BundleTests runs the tests in a bundle's *_test.rego files with OPA's
// test runner, against the bundle's own data, and returns one result per
// test. Errors loading or compiling the bundle wrap [ErrBundle].
func BundleTests(ctx context.Context, fsys fs.FS) ([]TestResult, error) {
	// Tests run on any bundle, signed or not; nothing is activated.
	l, err := load(fromFS(fsys), sigIgnore, nil)
	if err != nil {
		return nil, err
	}
	if err := l.checkManifest(false); err != nil {
		return nil, err
	}

	store := inmem.NewWithOpts(inmem.OptRoundTripOnWrite(false))
	txn, err := store.NewTransaction(ctx, storage.WriteParams)
	if err != nil {
		return nil, fmt.Errorf("policy: tests: %w", err)
	}
	defer store.Abort(ctx, txn)

	compiler := ast.NewCompiler().
		WithCapabilities(capabilities()).
		WithDefaultRegoVersion(ast.RegoV1).
		WithStrict(true)
	runner := tester.NewRunner().
		SetCompiler(compiler).
		SetStore(store).
		SetDefaultRegoVersion(ast.RegoV1).
		SetBundles(map[string]*bundle.Bundle{bundleName: l.b}).
		RaiseBuiltinErrors(true).
		SetTimeout(testTimeout)

	ch, err := runner.RunTests(ctx, txn)
	if err != nil {
		return nil, fmt.Errorf("%w: tests: %w", ErrBundle, err)
	}
	var results []TestResult
	for r := range ch {
		results = append(results, TestResult{
			Package:  r.Package,
			Name:     r.Name,
			Pass:     r.Pass(),
			Skip:     r.Skip,
			Err:      r.Error,
			Duration: r.Duration,
		})
	}
	return results, ctx.Err()
}

// RunBundleTests runs a bundle's Rego tests like [BundleTests] and counts
// passed and failed tests; skipped tests count as neither.
func RunBundleTests(ctx context.Context, fsys fs.FS) (passed, failed int, err error) {
	results, err := BundleTests(ctx, fsys)
	if err != nil {
		return 0, 0, err
	}
	for _, r := range results {
		switch {
		case r.Pass:
			passed++
		case !r.Skip:
			failed++
		}
	}
	return passed, failed, nil
}
