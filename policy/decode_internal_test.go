package policy

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestDecodeDecision(t *testing.T) {
	node := []string{"age", "consent_marketing_analytics", "consent_withdrawn", "consent_withdrawn_at", "region"}
	cohort := `{"conditions": [
		{"column": "consent_marketing_analytics", "op": "eq", "value": true, "missing": "exclude", "code": "PURPOSE_CONSENT", "article": "PIPL Art. 13-14"},
		{"column": "consent_withdrawn_at", "op": "gt", "value": 1795514400, "missing": "include", "code": "CONSENT_WITHDRAWN", "article": "PIPL Art. 15"},
		{"column": "region", "op": "ne", "value": "offshore", "code": "X"},
		{"column": "age", "op": "ge", "value": 14, "code": "MINOR"}]}`
	privacy := `{"dp_required": true, "max_epsilon_per_query": 2, "daily_epsilon": 10, "min_cell_size": 50}`
	withCondition := func(c string) string {
		return `{"allow": true, "deny": [], "privacy": ` + privacy + `, "cohort": {"conditions": [` + c + `]}}`
	}
	withPrivacy := func(p string) string {
		return `{"allow": true, "deny": [], "cohort": {"conditions": []}, "privacy": ` + p + `}`
	}
	tests := []struct {
		name, doc string
		wantErr   string // "" for a valid document
	}{
		{"allowed", `{"allow": true, "deny": [], "privacy": ` + privacy + `, "cohort": ` + cohort + `}`, ""},
		{"allowed without conditions", withPrivacy(privacy), ""},
		{"allowed without privacy", `{"allow": true, "deny": [], "cohort": {"conditions": []}}`, "without privacy settings"},
		{"allowed with null privacy", withPrivacy(`null`), "without privacy settings"},
		{"allowed without daily ceiling", withPrivacy(`{"dp_required": true, "max_epsilon_per_query": 2, "daily_epsilon": 0, "min_cell_size": 50}`), "both must be positive"},
		{"allowed without query limit", withPrivacy(`{"dp_required": false, "max_epsilon_per_query": 0, "daily_epsilon": 1, "min_cell_size": 50}`), "both must be positive"},
		{"privacy member missing", withPrivacy(`{"dp_required": true, "max_epsilon_per_query": 2, "min_cell_size": 50}`), "are required"},
		{"privacy negative", withPrivacy(`{"dp_required": true, "max_epsilon_per_query": -2, "daily_epsilon": 1, "min_cell_size": 50}`), "non-negative"},
		{"privacy dp_required not boolean", withPrivacy(`{"dp_required": "yes", "max_epsilon_per_query": 2, "daily_epsilon": 1, "min_cell_size": 50}`), "cannot unmarshal"},
		{"privacy cell size below floor", withPrivacy(`{"dp_required": true, "max_epsilon_per_query": 2, "daily_epsilon": 1, "min_cell_size": 3}`), "below the floor"},
		{"denied without privacy", `{"allow": false, "deny": [{"code": "PURPOSE_UNKNOWN"}], "privacy": null}`, ""},
		{"denied", `{"allow": false, "deny": [{"code": "X", "article": "A", "message": "m"}], "cohort": ` + cohort + `}`, ""},
		{"denied without cohort", `{"allow": false, "deny": [{"code": "X"}]}`, ""},
		{"allow missing", `{"deny": [], "cohort": ` + cohort + `}`, "allow is missing"},
		{"allow not boolean", `{"allow": "true", "deny": [], "cohort": ` + cohort + `}`, "cannot unmarshal"},
		{"deny missing", `{"allow": true, "cohort": ` + cohort + `}`, "deny is missing"},
		{"allow with reasons", `{"allow": true, "deny": [{"code": "X"}], "cohort": ` + cohort + `}`, "allow is true with 1 deny"},
		{"deny without reasons", `{"allow": false, "deny": []}`, "without a deny reason"},
		{"reason without code", `{"allow": false, "deny": [{"message": "m"}]}`, "has no code"},
		{"allowed without cohort", `{"allow": true, "deny": []}`, "without a cohort rule"},
		{"conditions missing", `{"allow": true, "deny": [], "cohort": {}}`, "cohort.conditions is missing"},
		{"old cohort shape", `{"allow": true, "deny": [], "cohort": {"require_true": [], "exclude_true": [], "min_age": 14, "age_column": "age"}}`, "cohort.conditions is missing"},
		{"conditions not a list", `{"allow": true, "deny": [], "cohort": {"conditions": {}}}`, "cannot unmarshal"},
		{"condition not an object", withCondition(`"age >= 14"`), "conditions[0]"},
		{"column missing", withCondition(`{"op": "eq", "value": true, "code": "X"}`), "column is missing"},
		{"code missing", withCondition(`{"column": "age", "op": "ge", "value": 14}`), "has no code"},
		{"unknown op", withCondition(`{"column": "age", "op": "between", "value": 14, "code": "X"}`), `unknown op "between"`},
		{"op missing", withCondition(`{"column": "age", "value": 14, "code": "X"}`), `unknown op ""`},
		{"value missing", withCondition(`{"column": "age", "op": "ge", "code": "X"}`), "has no value"},
		{"value null", withCondition(`{"column": "age", "op": "ge", "value": null, "code": "X"}`), "has no value"},
		{"value a list", withCondition(`{"column": "region", "op": "eq", "value": ["east"], "code": "X"}`), "not a bool, number or string"},
		{"ordering a string", withCondition(`{"column": "region", "op": "lt", "value": "m", "code": "X"}`), "needs a number"},
		{"ordering a bool", withCondition(`{"column": "consent_withdrawn", "op": "ge", "value": true, "code": "X"}`), "needs a number"},
		{"unknown missing", withCondition(`{"column": "age", "op": "ge", "value": 14, "missing": "ignore", "code": "X"}`), `missing is "ignore"`},
		{"unknown field", withCondition(`{"column": "age", "op": "ge", "value": 14, "code": "X", "mising": "include"}`), "unknown field"},
		{"column not on node", withCondition(`{"column": "consent_risk_analytics", "op": "eq", "value": true, "code": "X"}`), "consent_risk_analytics is not a node column"},
		{"malformed cohort of a deny", `{"allow": false, "deny": [{"code": "X"}], "cohort": {"conditions": [{"column": "age", "op": "in", "value": 1, "code": "X"}]}}`, "unknown op"},
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

func TestDecodeConditions(t *testing.T) {
	doc := `{"allow": true, "deny": [], "privacy": {"dp_required": true, "max_epsilon_per_query": 2, "daily_epsilon": 10, "min_cell_size": 50},
		"cohort": {"conditions": [
		{"column": "consent_withdrawn", "op": "ne", "value": true, "missing": "exclude", "code": "CONSENT_WITHDRAWN", "article": "PIPL Art. 15"},
		{"column": "consent_withdrawn_at", "op": "gt", "value": 1795514400, "missing": "include", "code": "CONSENT_WITHDRAWN", "article": "PIPL Art. 15"},
		{"column": "region", "op": "ne", "value": "offshore", "code": "X"}]}}`
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatal(err)
	}
	var d Decision
	if err := decodeDecision(v, []string{"consent_withdrawn", "consent_withdrawn_at", "region"}, &d); err != nil {
		t.Fatal(err)
	}
	want := []Condition{
		{Column: "consent_withdrawn", Op: OpNe, Value: true, Missing: MissingExclude, Code: "CONSENT_WITHDRAWN", Article: "PIPL Art. 15"},
		{Column: "consent_withdrawn_at", Op: OpGt, Value: 1795514400.0, Missing: MissingInclude, Code: "CONSENT_WITHDRAWN", Article: "PIPL Art. 15"},
		{Column: "region", Op: OpNe, Value: "offshore", Missing: MissingExclude, Code: "X"},
	}
	if !reflect.DeepEqual(d.Cohort.Conditions, want) {
		t.Errorf("conditions\n got %#v\nwant %#v", d.Cohort.Conditions, want)
	}
	if got, want := want[1].String(), "consent_withdrawn_at gt 1795514400 or missing (CONSENT_WITHDRAWN, PIPL Art. 15)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got, want := want[2].String(), `region ne "offshore" (X)`; got != want {
		t.Errorf("String() = %q, want %q", got, want)
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
