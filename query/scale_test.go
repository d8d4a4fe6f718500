package query

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// bgvCapacity is what the shipped parameter sets (plaintext modulus
// 1099510054913) can sum exactly across three partners.
var bgvCapacity = Capacity{ExactLimit: (1099510054913 - 1) / 2, Partners: 3}

func mustParse(t *testing.T, in string) *Spec {
	t.Helper()
	s, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(Limits{}); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestResolve(t *testing.T) {
	const head = "purpose: credit_analytics\nmin_partners: 2\n"
	flag := "  - {kind: mean, column: default, clip: [0, 1]}\n"
	limit := "  - {kind: sum, column: LIMIT_BAL, clip: [0, 1000000]}\n"
	tests := []struct {
		name     string
		spec     string
		capacity Capacity
		want     []int // decimals per metric, -99 for none
		version  int
	}{
		{"flag mean and amount sum chosen per metric", head + "metrics:\n" + flag + limit, bgvCapacity, []int{5, -1}, Version2},
		// The reported case: decimals 0 for the sums no longer rounds the
		// means of a 0/1 flag to 0.
		{"query decimals apply to sums only", head + "decimals: 0\nmetrics:\n" + flag + limit, bgvCapacity, []int{5, 0}, Version2},
		{"metric decimals win", head + "decimals: 0\nmetrics:\n" + strings.Replace(flag, "]}", "], decimals: 2}", 1) + limit, bgvCapacity, []int{2, 0}, Version2},
		{"flag mean keeps 4 decimals across 54 partners", head + "metrics:\n" + flag, Capacity{ExactLimit: bgvCapacity.ExactLimit, Partners: 54}, []int{4}, 0},
		{"fewer records per cell, more decimals", head + "metrics:\n" + limit, Capacity{ExactLimit: bgvCapacity.ExactLimit, Partners: 3, CellRecords: 10000}, []int{1}, 0},
		{"count only", head + "metrics: [{kind: count}]\n", bgvCapacity, []int{-99}, 0},
		{"histogram only", head + "metrics: [{kind: histogram, column: x, bins: [0, 1, 2]}]\n", bgvCapacity, []int{-99}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustParse(t, tt.spec)
			before, _ := s.Canonical()
			r, err := s.Resolve(tt.capacity)
			if err != nil {
				t.Fatal(err)
			}
			if after, _ := s.Canonical(); string(after) != string(before) {
				t.Errorf("Resolve changed its receiver: %s", after)
			}
			if err := r.Validate(Limits{}); err != nil {
				t.Fatal(err)
			}
			for i, want := range tt.want {
				if want == -99 {
					continue
				}
				if got := r.MetricDecimals(i); got != want {
					t.Errorf("metric %d: %d decimals, want %d", i, got, want)
				}
			}
			if r.Version != tt.version {
				t.Errorf("version %d, want %d", r.Version, tt.version)
			}
			// The signed form means the same to a node, which does not
			// resolve again, and resolving it again changes nothing.
			c, _ := r.Canonical()
			back, err := Parse(c)
			if err != nil {
				t.Fatal(err)
			}
			again, err := back.Resolve(tt.capacity)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, r) || !reflect.DeepEqual(again, r) {
				t.Errorf("canonical form %s does not resolve to itself", c)
			}
		})
	}
}

// TestResolveKeepsVersion1Form: a query that states its decimals and sums
// only, or that sums nothing, is signed exactly as before per-metric
// decimals existed, so that nodes of either version read it alike.
func TestResolveKeepsVersion1Form(t *testing.T) {
	tests := []struct{ in, want string }{
		{"purpose: ab\nmin_partners: 2\ndecimals: 2\nmetrics: [{kind: sum, column: x, clip: [0, 100]}]\n",
			`{"purpose":"ab","group_by":null,"metrics":[{"kind":"sum","column":"x","clip":[0,100]}],"min_partners":2,"decimals":2}`},
		{"purpose: ab\nmin_partners: 2\nmetrics: [{kind: count}]\n",
			`{"purpose":"ab","group_by":null,"metrics":[{"kind":"count"}],"min_partners":2,"decimals":2}`},
		// One scale for every metric is version 1 too.
		{"purpose: ab\nmin_partners: 2\nmetrics: [{kind: mean, column: x, clip: [0, 1]}]\n",
			`{"purpose":"ab","group_by":null,"metrics":[{"kind":"mean","column":"x","clip":[0,1]}],"min_partners":2,"decimals":5}`},
		{"purpose: ab\nmin_partners: 2\nmetrics: [{kind: mean, column: x, clip: [0, 1]}, {kind: sum, column: y, clip: [0, 1000]}]\n",
			`{"version":2,"purpose":"ab","group_by":null,"metrics":[{"kind":"mean","column":"x","clip":[0,1],"decimals":5},{"kind":"sum","column":"y","clip":[0,1000],"decimals":2}],"min_partners":2}`},
	}
	for _, tt := range tests {
		r, err := mustParse(t, tt.in).Resolve(bgvCapacity)
		if err != nil {
			t.Fatal(err)
		}
		c, err := r.Canonical()
		if err != nil {
			t.Fatal(err)
		}
		if string(c) != tt.want {
			t.Errorf("%q signs as\n%s\nwant\n%s", tt.in, c, tt.want)
		}
	}
}

func TestResolveErrors(t *testing.T) {
	tests := []struct {
		name, spec string
		want       []string
	}{
		{"explicit decimals too fine for one record",
			"purpose: ab\nmin_partners: 2\nmetrics: [{kind: count}, {kind: sum, column: LIMIT_BAL, clip: [0, 1000000], decimals: 6}]\n",
			[]string{"metrics[1].decimals", "sum_LIMIT_BAL at 6 decimals", "183251675818", "3 partners", "-1 decimals", "clip range within ±0.183"}},
		{"a clip no scale fits",
			"purpose: ab\nmin_partners: 2\nmetrics: [{kind: mean, column: x, clip: [0, 1e12]}]\n",
			[]string{"metrics[0].decimals", "mean_x", "even at -6 decimals"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mustParse(t, tt.spec).Resolve(bgvCapacity)
			var ve *ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("got %v, want a *ValidationError", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestCheckExact(t *testing.T) {
	s := mustParse(t, `
purpose: ab
min_partners: 2
group_by: [{column: g, values: [a, b]}]
metrics:
  - {kind: mean, column: default, clip: [0, 1], decimals: 5}
  - {kind: sum, column: LIMIT_BAL, clip: [0, 1000000], decimals: 4}
  - {kind: histogram, column: x, bins: [0, 1, 2]}
`)
	per := bgvCapacity.perPartner()
	l := s.Layout()
	tests := []struct {
		name string
		slot int
		want []string
	}{
		{"fits", -1, nil},
		{"count", 1, []string{"a cell count exceeds"}},
		{"mean", l.Blocks[1].Offset, []string{"metrics[0] (mean_default) at 5 decimals"}},
		{"sum", l.Blocks[2].Offset + 1, []string{"metrics[1] (sum_LIMIT_BAL) at 4 decimals", "exceeds 183251675818", "3 partners",
			"room for 18 records per cell", "-1 decimals (what is chosen when the metric states none) leave room for 1832516", "±18.3"}},
		{"histogram", l.Blocks[3].Offset + 3, []string{"metrics[2] (hist_x): a bin count"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vec := make([]int64, l.VectorLen)
			vec[0] = per // at the limit is exact
			if tt.slot >= 0 {
				vec[tt.slot] = -per - 1
			}
			err := s.CheckExact(vec, bgvCapacity)
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrInexact) {
				t.Fatalf("got %v, want ErrInexact", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "183251675819") {
				t.Errorf("error %q reveals the partner's value", err)
			}
		})
	}
}

func TestDecodePerMetricDecimals(t *testing.T) {
	s := mustParse(t, `
purpose: ab
min_partners: 2
metrics:
  - {kind: mean, column: default, clip: [0, 1], decimals: 5}
  - {kind: sum, column: LIMIT_BAL, clip: [0, 1000000], decimals: -2}
`)
	r, err := Decode(s, []int64{3, 100000, 4500})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Rows[0].Values; got[1] != 1.0/3 || got[2] != 450000.0 {
		t.Errorf("row = %v", got)
	}
	if want := map[string]int{"mean_default": 5, "sum_LIMIT_BAL": -2}; !reflect.DeepEqual(r.Precision, want) {
		t.Errorf("precision = %v, want %v", r.Precision, want)
	}
	var b strings.Builder
	if err := r.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	want := "count  mean_default  sum_LIMIT_BAL\n" +
		"    3       0.33333         450000\n" +
		"precision: mean_default 5 decimals, sum_LIMIT_BAL to 100\n"
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
	js, err := r.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"rows":[{"count":3,"mean_default":0.33333,"sum_LIMIT_BAL":450000}],"precision":{"mean_default":5,"sum_LIMIT_BAL":-2}}`; string(js) != want {
		t.Errorf("JSON %s, want %s", js, want)
	}
}
