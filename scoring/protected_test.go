package scoring

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestProtectedInputs(t *testing.T) {
	tests := []struct {
		columns []string
		attrs   []string
		want    []string
	}{
		{[]string{"AGE", "LIMIT_BAL", "PAY_0"}, nil, []string{"AGE"}},
		{[]string{"SEX", "MARRIAGE", "EDUCATION"}, nil, []string{"SEX", "MARRIAGE"}},
		{[]string{"age_band", "applicantAge", "Age2"}, nil, []string{"age_band", "applicantAge", "Age2"}},
		{[]string{"page_views", "mortgage", "agent", "usage"}, nil, nil},
		{[]string{"personal_status_sex", "foreign_worker"}, nil, []string{"personal_status_sex"}},
		{[]string{"gender", "ethnicity", "religion", "date_of_birth", "marital_status"}, nil,
			[]string{"gender", "ethnicity", "religion", "date_of_birth", "marital_status"}},
		{[]string{"sexual_orientation", "orientation"}, nil, []string{"sexual_orientation"}},
		{[]string{"AGE", "region", "foreign_worker"}, []string{"region", "foreign worker"}, []string{"region", "foreign_worker"}},
		{[]string{"AGE"}, []string{}, nil},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.columns, ","), func(t *testing.T) {
			m := &Model{}
			for _, c := range tt.columns {
				m.Features = append(m.Features, Feature{Column: c})
			}
			if got := ProtectedInputs(m, tt.attrs); !slices.Equal(got, tt.want) {
				t.Errorf("ProtectedInputs = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestProtectedTaiwan: the Taiwan scorecard uses AGE directly. It is
// reported, and refused for credit scoring unless the policy allows the
// purpose, as it does for a fairness audit.
func TestProtectedTaiwan(t *testing.T) {
	tab, train, _ := loadTaiwan(t)
	m, _, err := Fit(tab, taiwanConfig(train))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.ProtectedInputs, []string{"AGE"}) {
		t.Errorf("fitted model ProtectedInputs = %v, want [AGE]", m.ProtectedInputs)
	}
	key, vk := testKey(t)
	signed, err := Sign(m, key, vk.ID)
	if err != nil {
		t.Fatal(err)
	}
	v, err := Verify(signed, vk)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(v.ProtectedInputs, []string{"AGE"}) {
		t.Errorf("verified model ProtectedInputs = %v, want [AGE]", v.ProtectedInputs)
	}
	allow := []string{"fairness_audit"}
	tests := []struct {
		name   string
		policy UsePolicy
		want   error
	}{
		{"credit scoring refused", UsePolicy{Purpose: "credit_scoring", AllowedPurposes: allow}, ErrProtectedInput},
		{"no purpose allowed", UsePolicy{Purpose: "fairness_audit"}, ErrProtectedInput},
		{"fairness audit allowed", UsePolicy{Purpose: "fairness_audit", AllowedPurposes: allow}, nil},
		{"custom list without age", UsePolicy{Protected: []string{"sex"}, Purpose: "credit_scoring"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckUse(v, tt.policy)
			if !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
				t.Fatalf("CheckUse = %v, want %v", err, tt.want)
			}
			if err != nil && !strings.Contains(err.Error(), "AGE") {
				t.Errorf("error %q does not name AGE", err)
			}
		})
	}
	// Without AGE the model is admitted for credit scoring.
	cfg := taiwanConfig(train)
	cfg.Features = slices.DeleteFunc(cfg.Features, func(f FeatureSpec) bool { return f.Column == "AGE" })
	m2, _, err := Fit(tab, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckUse(m2, UsePolicy{Purpose: "credit_scoring"}); err != nil {
		t.Errorf("model without AGE refused: %v", err)
	}
}
