package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOverlapUsage checks that an overlap spec is checked, field by
// field, before anything is signed or sent.
func TestOverlapUsage(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("purpose: marketing_analytics\nidentifier: {kind: email, column: phone_number}\npartners:\n  - name: bank-a\n    filter: [{column: age, op: like, value: 3}]\n"), 0o600)
	nosuch := filepath.Join(dir, "nosuch.yaml")
	os.WriteFile(nosuch, []byte("purpose: marketing_analytics\nidentifier: {kind: mobile, column: phone_number}\npartners:\n  - name: bank-a\n    group_by: [{column: regoin, values: [east]}]\n  - name: shop-b\n"), 0o600)
	example := filepath.Join("..", "..", "examples", "overlap", "overlap.yaml")
	for _, tt := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"help", []string{"overlap", "-h"}, 0, []string{"Usage: fedscore overlap"}},
		{"no file", []string{"overlap"}, 1, []string{"-f is required"}},
		{"field errors", []string{"overlap", "-f", bad}, 1, []string{"identifier.kind", "partners[0].filter[0].op", "partners:"}},
		{"against the catalogue", []string{"overlap", "-f", nosuch, "--schema", "sandbox"}, 1, []string{`partners[0].group_by[0].column: unknown column "regoin"`}},
		{"without identity", []string{"overlap", "-f", example}, 1, []string{"--cert, --key and --ca are required"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(out+errOut, w) {
					t.Errorf("output lacks %q\nstdout: %s\nstderr: %s", w, out, errOut)
				}
			}
		})
	}
}
