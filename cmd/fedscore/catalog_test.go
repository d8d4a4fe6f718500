package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCatalogCommand(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(good, []byte("purpose: marketing_analytics\ngroup_by: [{column: region, values: [east]}]\nmetrics: [{kind: count}]\nmin_partners: 3\n"), 0o644)
	os.WriteFile(bad, []byte("purpose: marketing_analytics\ngroup_by: [{column: region, values: [mars]}]\nmetrics: [{kind: mean, column: credit_score, clip: [300, 850]}]\nmin_partners: 3\n"), 0o644)

	var out, errb bytes.Buffer
	if code := run(ctx, []string{"catalog", "check", "-f", good, "--schema", "sandbox"}, &out, &errb); code != 0 {
		t.Fatalf("check good = %d: %s %s", code, out.String(), errb.String())
	}
	out.Reset()
	if code := run(ctx, []string{"catalog", "check", "-f", bad, "--schema", "sandbox"}, &out, &errb); code != 1 {
		t.Fatalf("check bad = %d", code)
	}
	for _, want := range []string{`group_by[0].values: column region has no value "mars"`, "metrics[0].column: column credit_score is not allowed for purpose marketing_analytics (PURPOSE_COLUMNS, PIPL Art. 6)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("check output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if code := run(ctx, []string{"catalog", "show", "--json"}, &out, &errb); code != 0 {
		t.Fatalf("show --json = %d", code)
	}
	var doc struct {
		Purposes []struct{ Name string } `json:"purposes"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil || len(doc.Purposes) != 3 {
		t.Errorf("show --json: %v, %d purposes", err, len(doc.Purposes))
	}
	out.Reset()
	if code := run(ctx, []string{"catalog", "--schema", "sandbox"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "credit_score") {
		t.Errorf("show = %d:\n%s", code, out.String())
	}
	out.Reset()
	if code := run(ctx, []string{"catalog", "schema", "--rows", "200"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "type: categorical") {
		t.Errorf("schema = %d:\n%s", code, out.String())
	}
}
