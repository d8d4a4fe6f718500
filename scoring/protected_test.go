package scoring

import (
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

// TestProtectedInputsFilled: decoding and verifying a model report the
// protected attributes it uses, for the policy to decide on.
func TestProtectedInputsFilled(t *testing.T) {
	m := testModel()
	m.Features[0].Column = "AGE"
	data, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.ProtectedInputs, []string{"AGE"}) {
		t.Errorf("decoded model ProtectedInputs = %v, want [AGE]", d.ProtectedInputs)
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
}
