package policy

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestDecodeDecision(t *testing.T) {
	node := []string{"age", "consent_marketing_analytics", "consent_withdrawn"}
	cohort := `{"require_true": ["consent_marketing_analytics"], "exclude_true": ["consent_withdrawn"], "min_age": 14, "age_column": "age"}`
	tests := []struct {
		name, doc string
		wantErr   string // "" for a valid document
	}{
		{"allowed", `{"allow": true, "deny": [], "cohort": ` + cohort + `}`, ""},
		{"denied", `{"allow": false, "deny": [{"code": "X", "article": "A", "message": "m"}], "cohort": ` + cohort + `}`, ""},
		{"denied without cohort", `{"allow": false, "deny": [{"code": "X"}]}`, ""},
		{"allow missing", `{"deny": [], "cohort": ` + cohort + `}`, "allow is missing"},
		{"allow not boolean", `{"allow": "true", "deny": [], "cohort": ` + cohort + `}`, "cannot unmarshal"},
		{"deny missing", `{"allow": true, "cohort": ` + cohort + `}`, "deny is missing"},
		{"allow with reasons", `{"allow": true, "deny": [{"code": "X"}], "cohort": ` + cohort + `}`, "allow is true with 1 deny"},
		{"deny without reasons", `{"allow": false, "deny": []}`, "without a deny reason"},
		{"reason without code", `{"allow": false, "deny": [{"message": "m"}]}`, "has no code"},
		{"allowed without cohort", `{"allow": true, "deny": []}`, "without a cohort rule"},
		{"require_true missing", `{"allow": true, "deny": [], "cohort": {"exclude_true": [], "min_age": 0, "age_column": ""}}`, "require_true is missing"},
		{"min_age missing", `{"allow": true, "deny": [], "cohort": {"require_true": [], "exclude_true": [], "age_column": ""}}`, "min_age is missing"},
		{"min_age fractional", `{"allow": true, "deny": [], "cohort": {"require_true": [], "exclude_true": [], "min_age": 14.5, "age_column": "age"}}`, "cannot unmarshal"},
		{"min_age negative", `{"allow": true, "deny": [], "cohort": {"require_true": [], "exclude_true": [], "min_age": -1, "age_column": ""}}`, "negative"},
		{"min_age without column", `{"allow": true, "deny": [], "cohort": {"require_true": [], "exclude_true": [], "min_age": 14, "age_column": ""}}`, "has no age column"},
		{"cohort column not on node", `{"allow": true, "deny": [], "cohort": {"require_true": ["consent_risk_analytics"], "exclude_true": [], "min_age": 0, "age_column": ""}}`, "consent_risk_analytics is not a node column"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v any
			if err := json.Unmarshal([]byte(tt.doc), &v); err != nil {
				t.Fatal(err)
			}
			var d Decision
			err := decodeDecision(v, node, &d)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("decodeDecision: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("decodeDecision error = %v, want %q", err, tt.wantErr)
			case tt.wantErr != "" && d.Allow:
				t.Fatal("a rejected document set Allow")
			}
		})
	}
}

func TestNewDecisionID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := newDecisionID()
		if len(id) != 36 || id[8] != '-' || id[14] != '4' || !strings.ContainsRune("89ab", rune(id[19])) {
			t.Fatalf("%q is not a version 4 UUID", id)
		}
		if seen[id] {
			t.Fatalf("duplicate decision ID %q", id)
		}
		seen[id] = true
	}
}
