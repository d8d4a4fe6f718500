package review_test

import (
	"bytes"
	"io/fs"
	"testing"
	"testing/fstest"

	"github.com/fedscore/fedscore/policy"
	"github.com/fedscore/fedscore/policy/review"
)

func readDefault(t *testing.T, revision string, data map[string]any) *review.Bundle {
	t.Helper()
	tarball, err := policy.BuildBundleWithData(nil, revision, data)
	if err != nil {
		t.Fatal(err)
	}
	fsys, err := policy.OpenBundleTarball(tarball)
	if err != nil {
		t.Fatal(err)
	}
	b, err := review.Read(fsys)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReadListsCodedRules(t *testing.T) {
	b := readDefault(t, "r1", nil)
	want := map[string]string{
		"fedscore.admission/PURPOSE_COLUMNS":        "PIPL Art. 6",
		"fedscore.admission/CROSS_BORDER_DENIED":    "",
		"fedscore.cohort/MINOR":                     "",
		"fedscore.release/RELEASE_BUDGET_EXHAUSTED": "PIPL Art. 6",
		"fedscore.cohort/PURPOSE_CONSENT":           "PIPL Art. 13-14",
	}
	found := map[string]review.Rule{}
	for _, r := range b.Rules {
		found[r.Package+"/"+r.Code] = r
		if r.Article == "" {
			t.Errorf("%s %s cites no article", r.Package, r.Code)
		}
	}
	for k, art := range want {
		r, ok := found[k]
		if !ok {
			t.Errorf("rule %s not found", k)
			continue
		}
		if art != "" && r.Article != art {
			t.Errorf("%s: article %q, want %q", k, r.Article, art)
		}
	}
	if r := found["fedscore.admission/PURPOSE_COLUMNS"]; r.Title == "" || r.Source == "" || r.Line == 0 {
		t.Errorf("PURPOSE_COLUMNS lacks title, source or line: %+v", r)
	}
	if got := b.Data["min_partners"]; got != float64(3) {
		t.Errorf("data min_partners = %v", got)
	}
}

func TestCompareNamesChangedSettingsAndRules(t *testing.T) {
	a := readDefault(t, "r1", nil)
	b := readDefault(t, "r2", map[string]any{
		"release_gate": map[string]any{"min_cell_size": 80},
		"purposes": map[string]any{"marketing_analytics": map[string]any{
			"allowed_columns": []any{"age", "gender", "region"},
		}},
	})
	d := review.Compare(a, b)
	if d.From != "r1" || d.To != "r2" {
		t.Errorf("revisions %s -> %s", d.From, d.To)
	}
	byPath := map[string]review.SettingChange{}
	for _, s := range d.Settings {
		byPath[s.Path] = s
	}
	if s := byPath["release_gate.min_cell_size"]; s.Change != review.Changed || s.Old != float64(50) {
		t.Errorf("min_cell_size change = %+v", s)
	}
	cols := byPath["purposes.marketing_analytics.allowed_columns"]
	if len(cols.Removed) == 0 || len(cols.Added) != 0 {
		t.Errorf("allowed_columns change = %+v", cols)
	}
	if len(d.Rules) != 0 {
		t.Errorf("rules changed although only data did: %+v", d.Rules)
	}
	if len(review.Compare(a, a).Settings) != 0 {
		t.Error("a bundle differs from itself")
	}
}

// A changed Rego rule shows as changed, by code, with both sources.
func TestCompareNamesChangedRules(t *testing.T) {
	a := readDefault(t, "r1", nil)
	files := fstest.MapFS{}
	err := fs.WalkDir(policy.DefaultBundle(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(policy.DefaultBundle(), p)
		if p == "fedscore/admission.rego" {
			b = bytes.Replace(b, []byte(`"MIN_PARTNERS",
	"PIPL Art. 73(4)",`), []byte(`"MIN_PARTNERS",
	"PIPL Art. 73",`), 1)
		}
		files[p] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := review.Read(files)
	if err != nil {
		t.Fatal(err)
	}
	d := review.Compare(a, b)
	if len(d.Rules) != 1 || d.Rules[0].Change != review.Changed || d.Rules[0].Old.Code != "MIN_PARTNERS" ||
		d.Rules[0].Old.Article != "PIPL Art. 73(4)" || d.Rules[0].New.Article != "PIPL Art. 73" {
		t.Fatalf("rule changes = %+v", d.Rules)
	}
}
