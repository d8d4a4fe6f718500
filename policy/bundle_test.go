package policy_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/format"

	"github.com/fedscore/fedscore/policy"
)

func TestDefaultBundleTests(t *testing.T) {
	results, err := policy.BundleTests(context.Background(), policy.DefaultBundle())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if !r.Pass && !r.Skip {
			t.Errorf("%s.%s failed: %v", r.Package, r.Name, r.Err)
		}
	}

	passed, failed, err := policy.RunBundleTests(context.Background(), policy.DefaultBundle())
	if err != nil {
		t.Fatal(err)
	}
	if passed == 0 || failed != 0 {
		t.Errorf("RunBundleTests = %d passed, %d failed; want >0 passed and 0 failed", passed, failed)
	}
	t.Logf("%d Rego tests passed", passed)
}

func TestRunBundleTestsCountsFailures(t *testing.T) {
	passed, failed, err := policy.RunBundleTests(context.Background(), os.DirFS("testdata/failingtests"))
	if err != nil {
		t.Fatal(err)
	}
	if passed != 1 || failed != 1 {
		t.Errorf("RunBundleTests = %d passed, %d failed; want 1 and 1", passed, failed)
	}
}

func TestRunBundleTestsRejectsBadBundle(t *testing.T) {
	_, _, err := policy.RunBundleTests(context.Background(), os.DirFS("testdata/syntaxerror"))
	if !errors.Is(err, policy.ErrBundle) {
		t.Errorf("RunBundleTests error = %v, want ErrBundle", err)
	}
}

func TestDefaultBundleContents(t *testing.T) {
	fsys := policy.DefaultBundle()
	for _, name := range []string{".manifest", "data.json", "fedscore/admission.rego", "fedscore/cohort.rego"} {
		if _, err := fs.Stat(fsys, name); err != nil {
			t.Errorf("default bundle: %v", err)
		}
	}
}

// TestRegoFormatted fails like `opa fmt --list --fail` would.
func TestRegoFormatted(t *testing.T) {
	fsys := policy.DefaultBundle()
	err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".rego") {
			return err
		}
		src, err := fs.ReadFile(fsys, path)
		if err != nil {
			return err
		}
		got, err := format.SourceWithOpts(path, src, format.Opts{RegoVersion: ast.RegoV1})
		if err != nil {
			return err
		}
		if string(got) != string(src) {
			t.Errorf("%s is not formatted; opa fmt gives:\n%s", path, got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
