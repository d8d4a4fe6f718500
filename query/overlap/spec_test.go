package overlap

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/fedscore/fedscore/psi"
	"github.com/fedscore/fedscore/query"
)

const example = `
purpose: marketing_analytics
identifier: {kind: mobile, column: phone_number}
partners:
  - name: bank-a
    filter: [{column: age, op: between, values: [25, 34]}]
    group_by: [{column: city_tier, values: ["1", "2"]}]
  - name: shop-b
    filter: [{column: consent_marketing_analytics, op: eq, value: true}]
epsilon: 1
delta: 1e-9
min_set_size: 1000
`

func TestParseValidCanonical(t *testing.T) {
	s, err := Parse([]byte(example))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if s.Partners[0].Filter[0].Values[0] != 25.0 {
		t.Errorf("literal not normalised: %T", s.Partners[0].Filter[0].Values[0])
	}
	b, err := s.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	again, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s, again) {
		t.Errorf("Parse(Canonical(s)) differs:\n%+v\n%+v", s, again)
	}
	if s.GroupByParty() != 0 || s.Segments() != 2 || s.Family() != "overlap/mobile" {
		t.Errorf("group-by %d, segments %d, family %s", s.GroupByParty(), s.Segments(), s.Family())
	}
	cfg, err := s.Session(SessionInput{QueryID: "q-1", Digest: []byte("digest"), Run: 1, Federation: "fed"})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := s.Session(SessionInput{QueryID: "q-1", Digest: []byte("digest"), Run: 2, Federation: "fed"})
	if cfg.Session == other.Session || !cfg.PrivateRelease || cfg.DP == nil || cfg.Parties != 2 {
		t.Errorf("session %+v", cfg)
	}
}

// TestValidateFields checks that every problem is reported under its field.
func TestValidateFields(t *testing.T) {
	for _, tt := range []struct {
		name   string
		edit   func(s *Spec)
		fields []string
	}{
		{"unknown kind", func(s *Spec) { s.Identifier.Kind = "email" }, []string{"identifier.kind"}},
		{"no column", func(s *Spec) { s.Identifier.Column = "" }, []string{"identifier.column"}},
		{"one partner", func(s *Spec) { s.Partners = s.Partners[:1] }, []string{"partners"}},
		{"repeated partner", func(s *Spec) { s.Partners[1].Name = "bank-a" }, []string{"partners[1].name"}},
		{"bad name", func(s *Spec) { s.Partners[1].Name = "shop/b" }, []string{"partners[1].name"}},
		{"two groupings", func(s *Spec) { s.Partners[1].GroupBy = s.Partners[0].GroupBy }, []string{"partners[1].group_by"}},
		{"bad filter op", func(s *Spec) { s.Partners[1].Filter[0].Op = "like" }, []string{"partners[1].filter[0].op"}},
		{"bad bins", func(s *Spec) {
			s.Partners[0].GroupBy = []query.GroupBy{{Column: "age", Bins: []float64{30, 20}}}
		}, []string{"partners[0].group_by[0].bins[1]"}},
		{"filter on identifier", func(s *Spec) { s.Partners[1].Filter[0].Column = "phone_number" }, []string{"partners[1].filter[0].column"}},
		{"bad purpose", func(s *Spec) { s.Purpose = "Bad Purpose" }, []string{"purpose"}},
		{"epsilon without delta", func(s *Spec) { s.Delta = 0 }, []string{"delta"}},
		{"delta without epsilon", func(s *Spec) { s.Epsilon = 0 }, []string{"delta"}},
		{"epsilon too large", func(s *Spec) { s.Epsilon = 100 }, []string{"epsilon"}},
		{"negative min set size", func(s *Spec) { s.MinSetSize = -1 }, []string{"min_set_size"}},
		{"too many segments", func(s *Spec) {
			bins := make([]float64, psi.MaxSegments+2)
			for i := range bins {
				bins[i] = float64(i)
			}
			s.Partners[0].GroupBy = []query.GroupBy{{Column: "age", Bins: bins}}
		}, []string{"partners[0].group_by"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse([]byte(example))
			if err != nil {
				t.Fatal(err)
			}
			tt.edit(s)
			err = s.Validate()
			var ve *query.ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, query.ErrInvalidSpec) {
				t.Fatalf("Validate: %v", err)
			}
			var got []string
			for _, p := range ve.Problems {
				got = append(got, p.Field)
			}
			for _, f := range tt.fields {
				if !slices.Contains(got, f) {
					t.Errorf("problems %v lack %s", got, f)
				}
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	for _, doc := range []string{"", "purpose: x\nunknown: 1", `{"purpose": "x"} {}`, "a: 1\n---\nb: 2"} {
		if _, err := Parse([]byte(doc)); !errors.Is(err, query.ErrInvalidSpec) {
			t.Errorf("%q: %v", doc, err)
		}
	}
}

// TestFigures checks the figures and their suppression on a known result.
func TestFigures(t *testing.T) {
	s, _ := Parse([]byte(example))
	r := &psi.Result{Parties: 2, GroupBy: 0, Segments: 2,
		Cells: []psi.Cell{{Parties: 3, Segment: 0, Value: 120}, {Parties: 3, Segment: 1, Value: 5}},
		Sizes: []psi.ListSize{{Owner: 0, Segment: 0, Elements: 400}, {Owner: 0, Segment: 1, Elements: 300}, {Owner: 1, Elements: 1000}},
	}
	figs := Figures(s, r, 50)
	got := map[string]Figure{}
	for _, f := range figs {
		got[f.Kind+"/"+strings.Join(f.Partners, "+")+"/"+string(rune('0'+f.Segment+1))] = f
	}
	check := func(key string, value int64, withheld bool) {
		t.Helper()
		f, ok := got[key]
		if !ok {
			t.Fatalf("no figure %s in %+v", key, figs)
		}
		if f.Value != value || f.Withheld != withheld {
			t.Errorf("%s = %d withheld %v, want %d %v", key, f.Value, f.Withheld, value, withheld)
		}
	}
	check("intersection/bank-a+shop-b/0", 125, false)
	check("intersection/bank-a+shop-b/1", 0, true) // 120: the whole less the withheld one
	check("intersection/bank-a+shop-b/2", 0, true) // 5 < 50
	check("size/bank-a/0", 700, false)
	check("size/shop-b/0", 1000, false)
	check("union/bank-a+shop-b/0", 1575, false)
	r.Cells = []psi.Cell{{Parties: 3, Value: 0}, {Parties: 3, Segment: 1, Value: 0}}
	for _, f := range Figures(s, r, 50) {
		if f.Kind == KindUnion && !f.Withheld {
			t.Error("the union is released beside a withheld intersection: it would reveal it")
		}
	}
}
