package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	code = run(ctx, args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestSandboxDefault(t *testing.T) {
	code, out, errOut := runCLI(t, "sandbox", "--rows", "3000")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{"collective key ready", "mean_credit_score", "timings (ms):", "verified against plaintext: OK"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestSandboxJSON(t *testing.T) {
	code, out, errOut := runCLI(t, "sandbox", "--rows", "2000", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc struct {
		Rows     []map[string]any   `json:"rows"`
		Partners []string           `json:"partners"`
		Timings  map[string]float64 `json:"timings_ms"`
		Verified bool               `json:"verified_against_plaintext"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if len(doc.Rows) == 0 || len(doc.Partners) != 3 || !doc.Verified || doc.Timings["end_to_end"] <= 0 {
		t.Errorf("unexpected document: %+v", doc)
	}
	if _, ok := doc.Rows[0]["count"]; !ok {
		t.Errorf("row without count: %v", doc.Rows[0])
	}
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("purpose: marketing_analytics\ngroup_by:\n  - column: age\n    bins: [30, 20]\nmetrics:\n  - kind: count\nmin_partners: 3\n"), 0o600)
	unknown := filepath.Join(dir, "unknown.yaml")
	os.WriteFile(unknown, []byte("purpose: marketing_analytics\nsurprise: 1\n"), 0o600)
	nosuch := filepath.Join(dir, "nosuch.yaml")
	os.WriteFile(nosuch, []byte("purpose: marketing_analytics\ngroup_by:\n  - column: regoin\n    values: [east]\nmetrics:\n  - kind: count\nmin_partners: 3\n"), 0o600)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no command", nil, 2, "Usage: fedscore <command>"},
		{"unknown command", []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"unknown flag", []string{"sandbox", "--nope"}, 2, "flag provided but not defined"},
		{"help", []string{"query", "-h"}, 0, "Usage: fedscore query"},
		{"version", []string{"version"}, 0, "fedscore"},
		{"bad partner flag", []string{"sandbox", "--partner", "nofile"}, 1, "want NAME=FILE.csv"},
		{"missing partner file", []string{"sandbox", "--partner", "a=" + filepath.Join(dir, "none.csv"), "--partner", "b=x.csv"}, 1, "partner a"},
		{"bins not increasing", []string{"query", "-f", bad}, 1, "group_by[0].bins"},
		{"unknown field", []string{"query", "-f", unknown}, 1, "surprise"},
		{"query without identity", []string{"query", "-f", filepath.Join("..", "..", "examples", "bank-marketing", "query.yaml")}, 1, "--cert, --key and --ca are required"},
		{"node without identity", []string{"node"}, 1, "--cert and --ca are required"},
		{"query against the catalogue", []string{"query", "-f", nosuch, "--schema", "sandbox"}, 1, `group_by[0].column: unknown column "regoin"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, errOut)
			}
			if !strings.Contains(out+errOut, tt.want) {
				t.Errorf("output lacks %q\nstdout: %s\nstderr: %s", tt.want, out, errOut)
			}
		})
	}
}

func TestPKIAndSeparateProcesses(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := runCLI(t, "pki", "--dir", dir, "--nodes", "bank-a,bank-b")
	if code != 0 {
		t.Fatalf("pki: exit %d: %s", code, errOut)
	}
	for _, f := range []string{"ca.pem", "coordinator-coordinator.pem", "node-bank-a-key.pem", "querier-analyst.pem"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("pki did not write %s: %v\n%s", f, err, out)
		}
	}
	st, err := os.Stat(filepath.Join(dir, "node-bank-a-key.pem"))
	if err == nil && st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v", st.Mode().Perm())
	}
}
