package query

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"gopkg.in/yaml.v3"
)

// DefaultDecimals is the fixed-point scale of a sum or mean metric when
// neither the metric nor the query states decimals and the spec was not
// resolved (see [Spec.Resolve]): the one version 1 of the spec had.
const DefaultDecimals = 2

// Spec versions. Version 1 (written as no version at all) sums every
// metric at the query's decimals; version 2 lets each sum and mean metric
// state its own.
const (
	Version1 = 1
	Version2 = 2
)

// DefaultDestination is the country a result goes to when a spec does not
// say: China, where the federation runs.
const DefaultDestination = "CN"

// RecipientSelf is the recipient of a result the querier uses itself.
const RecipientSelf = "self"

// A Spec is a joint segment query.
type Spec struct {
	// Version is the spec's version: 0 (version 1) or Version2. Parse sets
	// it from the fields used: Version2 exactly when a metric states its
	// own decimals, so that a node that knows only version 1 refuses the
	// query rather than misreads it.
	Version int `json:"version,omitempty" yaml:"version,omitempty"`
	// Purpose names the processing purpose that consent is checked against.
	Purpose string `json:"purpose" yaml:"purpose"`
	// PipiaID names the approved personal information protection impact
	// assessment the query runs under (PIPL Art. 55-56), which the policy
	// requires for sensitive columns, automated decision-making, provision
	// to others and cross-border provision. Letters, digits, '.', '_' and
	// '-', at most 64.
	PipiaID string `json:"pipia_id,omitempty" yaml:"pipia_id,omitempty"`
	// Destination is the ISO 3166-1 alpha-2 code of the country the
	// result's recipient is in; empty means DefaultDestination.
	Destination string `json:"destination,omitempty" yaml:"destination,omitempty"`
	// Recipient is RecipientSelf (empty means the same) when the querier
	// uses the result itself, or the name of the other processor it
	// provides the result to (PIPL Art. 23).
	Recipient string `json:"recipient,omitempty" yaml:"recipient,omitempty"`
	// Model names the scoring model whose derived columns (score,
	// propensity, risk_grade) the query reads; every node scores its own
	// records with its signed copy of the model.
	Model string `json:"model,omitempty" yaml:"model,omitempty"`
	// Train, when set, makes the query a round of federated training.
	Train *Train `json:"train,omitempty" yaml:"train,omitempty"`
	// GroupBy lists the dimensions that split records into cells.
	GroupBy []GroupBy `json:"group_by" yaml:"group_by"`
	// Filter lists predicates that must all hold for a record to count.
	Filter []Predicate `json:"filter,omitempty" yaml:"filter,omitempty"`
	// Metrics lists what is computed per cell. The count is always part
	// of the vector; a count metric only states it explicitly.
	Metrics []Metric `json:"metrics" yaml:"metrics"`
	// MinPartners is the number of distinct partners whose inputs must be
	// in an aggregate before it may be opened; at least 2.
	MinPartners int `json:"min_partners" yaml:"min_partners"`
	// Epsilon is the differential-privacy budget the query spends: every
	// node adds its share of discrete Laplace noise calibrated to it, so
	// that the opened sums carry exactly the noise ε calls for. Zero means
	// no noise, which the policy may refuse.
	Epsilon float64 `json:"epsilon,omitempty" yaml:"epsilon,omitempty"`
	// Decimals, when set, is the fixed-point scale 10^Decimals, MinDecimals
	// to MaxDecimals, of the sum and mean metrics that state none of their
	// own; unset means DefaultDecimals. The querier resolves a spec before
	// signing it ([Spec.Resolve]): then only sums take the query's
	// decimals, and every other metric gets its own, chosen from its clip
	// bounds and what the federation can sum exactly.
	Decimals *int `json:"decimals,omitempty" yaml:"decimals,omitempty"`
}

// A GroupBy splits records on one column, by numeric bins or by
// categorical values; exactly one of Bins and Values is set.
type GroupBy struct {
	Column string `json:"column" yaml:"column"`
	// Bins are strictly increasing edges e0 < e1 < ... < ek giving k cells
	// [e_i, e_i+1), the last one closed: [e_k-1, e_k].
	Bins []float64 `json:"bins,omitempty" yaml:"bins,omitempty"`
	// Values are category values (or "true"/"false" for a bool column),
	// each a cell.
	Values []string `json:"values,omitempty" yaml:"values,omitempty"`
}

// A Predicate restricts the records a query counts. Records with a missing
// value in the column never satisfy a predicate, whatever its op.
type Predicate struct {
	Column string `json:"column" yaml:"column"`
	// Op is one of eq, ne, lt, le, gt, ge, in, not_in, between.
	Op string `json:"op" yaml:"op"`
	// Value is the operand of eq, ne, lt, le, gt and ge: a number, string
	// or bool.
	Value any `json:"value,omitempty" yaml:"value,omitempty"`
	// Values are the operands of in and not_in, or the inclusive [lo, hi]
	// of between.
	Values []any `json:"values,omitempty" yaml:"values,omitempty"`
}

// A Metric is computed per cell.
type Metric struct {
	// Kind is count, sum, mean or histogram.
	Kind   string `json:"kind" yaml:"kind"`
	Column string `json:"column,omitempty" yaml:"column,omitempty"`
	// Clip bounds each record's contribution to [lo, hi]; required for sum
	// and mean, so that one record's influence is bounded.
	Clip *[2]float64 `json:"clip,omitempty" yaml:"clip,omitempty"`
	// Bins are the histogram edges, with the same meaning as in GroupBy.
	Bins []float64 `json:"bins,omitempty" yaml:"bins,omitempty"`
	// Decimals, for a sum or mean, is the fixed-point scale 10^Decimals
	// its values are summed at, MinDecimals to MaxDecimals: 2 keeps cents,
	// -3 rounds each value to thousands. Unset, [Spec.Resolve] chooses it.
	Decimals *int `json:"decimals,omitempty" yaml:"decimals,omitempty"`
}

// Parse decodes a spec from YAML or JSON (input starting with '{' is read
// as JSON). Unknown fields are errors. Numeric literals in predicates
// become float64 and empty lists become nil, so that
// Parse(Canonical(s)) equals s for any parsed spec. Parse does not
// validate; call [Spec.Validate].
func Parse(data []byte) (*Spec, error) {
	s := &Spec{}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, fmt.Errorf("%w: empty document", ErrInvalidSpec)
	}
	if trimmed[0] == '{' {
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.DisallowUnknownFields()
		if err := dec.Decode(s); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidSpec, err)
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: data after the JSON document", ErrInvalidSpec)
		}
	} else {
		dec := yaml.NewDecoder(bytes.NewReader(trimmed))
		dec.KnownFields(true)
		if err := dec.Decode(s); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidSpec, err)
		}
		var extra yaml.Node
		if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: more than one YAML document", ErrInvalidSpec)
		}
	}
	s.normalize()
	return s, nil
}

// normalize turns empty lists into nil and integer literals into float64,
// so that JSON and YAML give the same spec, and drops a destination or
// recipient stated at its default, so that a query has one canonical form.
func (s *Spec) normalize() {
	if s.Destination == DefaultDestination {
		s.Destination = ""
	}
	if s.Recipient == RecipientSelf {
		s.Recipient = ""
	}
	s.GroupBy = nilIfEmpty(s.GroupBy)
	s.Filter = nilIfEmpty(s.Filter)
	s.Metrics = nilIfEmpty(s.Metrics)
	for i := range s.GroupBy {
		g := &s.GroupBy[i]
		g.Bins = nilIfEmpty(g.Bins)
		g.Values = nilIfEmpty(g.Values)
	}
	for i := range s.Filter {
		p := &s.Filter[i]
		p.Value = normalizeLiteral(p.Value)
		p.Values = nilIfEmpty(p.Values)
		for j, v := range p.Values {
			p.Values[j] = normalizeLiteral(v)
		}
	}
	for i := range s.Metrics {
		s.Metrics[i].Bins = nilIfEmpty(s.Metrics[i].Bins)
	}
	s.expandScoreMetrics()
	s.normalizeVersion()
}

func nilIfEmpty[S ~[]E, E any](s S) S {
	if len(s) == 0 {
		return nil
	}
	return s
}

func normalizeLiteral(v any) any {
	switch x := v.(type) {
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case uint64:
		return float64(x)
	}
	return v
}

// Canonical returns the deterministic JSON encoding of s, the form that is
// signed and hashed. It fails when s holds values JSON cannot represent,
// such as NaN.
func (s *Spec) Canonical() ([]byte, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("query: canonical form: %w", err)
	}
	return b, nil
}

// ResultDestination returns the country the result goes to: Destination,
// or DefaultDestination when it is empty.
func (s *Spec) ResultDestination() string {
	if s.Destination == "" {
		return DefaultDestination
	}
	return s.Destination
}

// ResultRecipient returns who receives the result: Recipient, or
// RecipientSelf when it is empty.
func (s *Spec) ResultRecipient() string {
	if s.Recipient == "" {
		return RecipientSelf
	}
	return s.Recipient
}

// Columns returns every column the query reads, sorted and without
// duplicates.
func (s *Spec) Columns() []string {
	var cols []string
	for _, g := range s.GroupBy {
		cols = append(cols, g.Column)
	}
	for _, p := range s.Filter {
		cols = append(cols, p.Column)
	}
	for _, m := range s.Metrics {
		if m.Column != "" {
			cols = append(cols, m.Column)
		}
	}
	cols = append(cols, s.trainColumns()...)
	slices.Sort(cols)
	return slices.Compact(cols)
}
