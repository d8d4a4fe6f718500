package fit

import (
	"slices"
	"testing"
)

// TestProtectedTaiwan: the Taiwan scorecard uses AGE directly, and the
// fitted model reports it (the policy then refuses such a model for
// credit scoring unless it allows the purpose); without AGE it reports
// nothing.
func TestProtectedTaiwan(t *testing.T) {
	tab, train, _ := loadTaiwan(t)
	m, _, err := Fit(tab, taiwanConfig(train))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.ProtectedInputs, []string{"AGE"}) {
		t.Errorf("fitted model ProtectedInputs = %v, want [AGE]", m.ProtectedInputs)
	}
	cfg := taiwanConfig(train)
	cfg.Features = slices.DeleteFunc(cfg.Features, func(f FeatureSpec) bool { return f.Column == "AGE" })
	m2, _, err := Fit(tab, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(m2.ProtectedInputs) != 0 {
		t.Errorf("model without AGE reports protected inputs %v", m2.ProtectedInputs)
	}
}
