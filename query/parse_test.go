package query

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

const specYAML = `
purpose: marketing_analytics
group_by:
  - column: age
    bins: [18, 25, 35, 45, 55, 65, 100]
  - column: region
    values: [north, east, south]
filter:
  - {column: city_tier, op: le, value: 2}
  - {column: occupation, op: in, values: [employee, manager]}
  - {column: credit_score, op: between, values: [300, 850]}
metrics:
  - kind: count
  - {kind: sum, column: annual_txn_amount, clip: [0, 1000000]}
  - {kind: mean, column: credit_score, clip: [300, 850]}
  - {kind: histogram, column: credit_utilization, bins: [0, 0.5, 1, 1.5]}
min_partners: 2
decimals: 2
`

const specJSON = `{
  "purpose": "marketing_analytics",
  "group_by": [
    {"column": "age", "bins": [18, 25, 35, 45, 55, 65, 100]},
    {"column": "region", "values": ["north", "east", "south"]}
  ],
  "filter": [
    {"column": "city_tier", "op": "le", "value": 2},
    {"column": "occupation", "op": "in", "values": ["employee", "manager"]},
    {"column": "credit_score", "op": "between", "values": [300, 850]}
  ],
  "metrics": [
    {"kind": "count"},
    {"kind": "sum", "column": "annual_txn_amount", "clip": [0, 1e6]},
    {"kind": "mean", "column": "credit_score", "clip": [300, 850]},
    {"kind": "histogram", "column": "credit_utilization", "bins": [0, 0.5, 1, 1.5]}
  ],
  "min_partners": 2,
  "decimals": 2
}`

func TestParse(t *testing.T) {
	for _, in := range []string{specYAML, specJSON} {
		s, err := Parse([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(s, validSpec()) {
			t.Errorf("Parse(%.20q) = %+v, want %+v", in, s, validSpec())
		}
	}
}

func TestParseDecimals(t *testing.T) {
	tests := []struct {
		in      string
		want    *int // the query's decimals
		metric  int  // the sum metric's
		version int
	}{
		{"purpose: ab\nmetrics: [{kind: sum, column: x, clip: [0, 1]}]\n", nil, DefaultDecimals, 0},
		{"purpose: ab\ndecimals: 0\nmetrics: [{kind: sum, column: x, clip: [0, 1]}]\n", new(0), 0, 0},
		{`{"purpose": "ab", "decimals": 4, "metrics": [{"kind": "sum", "column": "x", "clip": [0, 1]}]}`, new(4), 4, 0},
		{"purpose: ab\ndecimals: 1\nmetrics: [{kind: sum, column: x, clip: [0, 1], decimals: -2}]\n", new(1), -2, Version2},
		// A stated version 1 is the default; version 2 follows from the fields.
		{"version: 1\npurpose: ab\nmetrics: [{kind: sum, column: x, clip: [0, 1]}]\n", nil, DefaultDecimals, 0},
		{"version: 2\npurpose: ab\nmetrics: [{kind: sum, column: x, clip: [0, 1]}]\n", nil, DefaultDecimals, 0},
	}
	for _, tt := range tests {
		s, err := Parse([]byte(tt.in))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(s.Decimals, tt.want) || s.MetricDecimals(0) != tt.metric || s.Version != tt.version {
			t.Errorf("Parse(%q): decimals %v, metric decimals %d, version %d; want %v, %d, %d",
				tt.in, s.Decimals, s.MetricDecimals(0), s.Version, tt.want, tt.metric, tt.version)
		}
	}
}

func TestParseResultFields(t *testing.T) {
	tests := []struct {
		in                           string
		pipia, destination, receiver string
	}{
		{"purpose: ab\n", "", "", ""},
		{"purpose: ab\npipia_id: PIPIA-2026-RA-01\ndestination: SG\nrecipient: acme\n", "PIPIA-2026-RA-01", "SG", "acme"},
		// Stated defaults are dropped, so that the query has one canonical form.
		{"purpose: ab\ndestination: CN\nrecipient: self\n", "", "", ""},
		{`{"purpose": "ab", "destination": "CN", "recipient": "acme"}`, "", "", "acme"},
	}
	for _, tt := range tests {
		s, err := Parse([]byte(tt.in))
		if err != nil {
			t.Fatal(err)
		}
		if s.PipiaID != tt.pipia || s.Destination != tt.destination || s.Recipient != tt.receiver {
			t.Errorf("Parse(%q) = pipia_id %q, destination %q, recipient %q; want %q, %q, %q",
				tt.in, s.PipiaID, s.Destination, s.Recipient, tt.pipia, tt.destination, tt.receiver)
		}
	}
	plain, _ := Parse([]byte("purpose: ab\n"))
	stated, _ := Parse([]byte("purpose: ab\ndestination: CN\nrecipient: self\n"))
	cp, _ := plain.Canonical()
	cs, _ := stated.Canonical()
	if string(cp) != string(cs) || strings.Contains(string(cp), "destination") {
		t.Errorf("canonical forms %s and %s", cp, cs)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in, msg string
	}{
		{"empty", "  \n", "empty"},
		{"unknown YAML field", specYAML + "privacy: high\n", "privacy"},
		{"unknown nested YAML field", strings.Replace(specYAML, "kind: count", "kind: count\n    weight: 2", 1), "weight"},
		{"unknown JSON field", strings.Replace(specJSON, `"decimals"`, `"decimal"`, 1), "decimal"},
		{"trailing JSON", specJSON + " {}", "after"},
		{"two YAML documents", specYAML + "---\npurpose: x\n", "more than one"},
		{"wrong type", "min_partners: many\n", "line 1"},
		{"clip arity", "metrics:\n  - {kind: sum, column: a, clip: [1, 2, 3]}\n", "array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in))
			if !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("got %v, want ErrInvalidSpec", err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not mention %q", err, tt.msg)
			}
		})
	}
}

func TestCanonicalRoundTrip(t *testing.T) {
	for _, in := range []string{specYAML, specJSON, "purpose: ab\ndecimals: 0\nfilter: []\n", "purpose: ab\nfilter:\n  - {column: x, op: eq, value: false}\n",
		"purpose: ab\npipia_id: PIPIA-2026-MA-01\ndestination: HK\nrecipient: 某某消费金融有限公司\n"} {
		s, err := Parse([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		c, err := s.Canonical()
		if err != nil {
			t.Fatal(err)
		}
		back, err := Parse(c)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, s) {
			t.Errorf("round trip of %s gives %+v, want %+v", c, back, s)
		}
		again, _ := back.Canonical()
		if string(again) != string(c) {
			t.Errorf("canonical form not stable:\n%s\n%s", c, again)
		}
	}
	a, _ := Parse([]byte(specYAML))
	b, _ := Parse([]byte(specJSON))
	ca, _ := a.Canonical()
	cb, _ := b.Canonical()
	if string(ca) != string(cb) {
		t.Errorf("YAML and JSON give different canonical forms:\n%s\n%s", ca, cb)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{specYAML, specJSON, "purpose: ab\n", "{}", "group_by: [{column: a, bins: [.nan, 1]}]",
		"purpose: ab\npipia_id: P-1\ndestination: CN\nrecipient: acme\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("error %v is not ErrInvalidSpec", err)
			}
			return
		}
		s.Columns()
		s.Layout()
		if s.Validate(Limits{}) != nil {
			return
		}
		c, err := s.Canonical()
		if err != nil {
			t.Fatalf("valid spec has no canonical form: %v", err)
		}
		back, err := Parse(c)
		if err != nil {
			t.Fatalf("canonical form %s does not parse: %v", c, err)
		}
		if !reflect.DeepEqual(back, s) {
			t.Fatalf("round trip of %s gives %+v, want %+v", c, back, s)
		}
	})
}
