package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/fedscore/fedscore/internal/shareddata"
)

// TestSandboxPartnerFiles runs the sandbox on three partners' own files,
// as a bank would export them: the Taiwan credit data in GB18030 with a
// Chinese region column, a mapping that declares AGE as the age role, and
// a query grouping by EDUCATION codes.
func TestSandboxPartnerFiles(t *testing.T) {
	data, err := os.ReadFile(shareddata.Path(t, "credit-card-default-taiwan.csv"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	regions := []string{"华东", "华南", "华北"}
	var args []string
	for p, name := range []string{"bank-east", "consumer-finance", "pay-platform"} {
		var b strings.Builder
		b.WriteString(lines[0] + ",\"地区\"\n")
		for i := 1 + p; i < len(lines); i += 3 {
			b.WriteString(lines[i] + "," + regions[i%3] + "\n")
		}
		enc, err := simplifiedchinese.GB18030.NewEncoder().String(b.String())
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name+".csv")
		if err := os.WriteFile(path, []byte(enc), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--partner", name+"="+path)
	}
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	mapping := write("mapping.yaml", "columns:\n  - {source: default.payment.next.month, name: default_next_month}\n  - {source: 地区, name: region}\nroles: {age: AGE}\n")
	q := write("query.yaml", `
purpose: marketing_analytics
group_by:
  - {column: EDUCATION, values: ["1", "2", "3"]}
  - {column: region, values: [华东, 华南, 华北]}
metrics:
  - {kind: mean, column: default_next_month, clip: [0, 1]}
min_partners: 3
`)
	policyData := write("policy.json", `{"assume_consent_when_absent": true,
"purposes": {"marketing_analytics": {"allowed_columns": ["EDUCATION", "AGE", "region", "default_next_month"]}}}`)
	args = append([]string{"sandbox", "--mapping", mapping, "--query", q, "--policy-data", policyData, "--json"}, args...)

	code, out, errOut := runCLI(t, append(args, "--encoding", "gb18030")...)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	var doc struct {
		Rows      []map[string]any `json:"rows"`
		Precision map[string]int   `json:"precision"`
		Verified  bool             `json:"verified_against_plaintext"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if len(doc.Rows) != 9 || !doc.Verified || doc.Precision["mean_default_next_month"] != 5 || doc.Rows[0]["region"] != "华东" {
		t.Errorf("unexpected document: %s", out)
	}

	// Read as UTF-8, the same files are refused at the first Chinese byte.
	code, _, errOut = runCLI(t, args...)
	if code == 0 || !strings.Contains(errOut, "bank-east.csv:1: column \"field 26\": text is not valid in the file's encoding (utf-8)") {
		t.Errorf("exit %d, stderr %s", code, errOut)
	}
}
