package overlap

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"gopkg.in/yaml.v3"

	"github.com/fedscore/fedscore/query"
)

// Spec is an overlap query.
type Spec struct {
	// Purpose is the processing purpose consent is checked against; the
	// policy must permit overlap queries for it.
	Purpose string `json:"purpose" yaml:"purpose"`
	// PipiaID, Destination and Recipient mean what they mean in a joint
	// query (query.Spec).
	PipiaID     string `json:"pipia_id,omitempty" yaml:"pipia_id,omitempty"`
	Destination string `json:"destination,omitempty" yaml:"destination,omitempty"`
	Recipient   string `json:"recipient,omitempty" yaml:"recipient,omitempty"`
	// Identifier is what the partners' sets are compared on.
	Identifier Identifier `json:"identifier" yaml:"identifier"`
	// Partners are the parties in ring order: the first inserts the
	// dummies, the last compares. At least two.
	Partners []Partner `json:"partners" yaml:"partners"`
	// Epsilon and Delta are the differential-privacy parameters of every
	// released count and set size; zero means no noise, which the policy
	// may refuse.
	Epsilon float64 `json:"epsilon,omitempty" yaml:"epsilon,omitempty"`
	Delta   float64 `json:"delta,omitempty" yaml:"delta,omitempty"`
	// MinSetSize is the querier's minimum for every partner's set; each
	// node applies the larger of it and its policy's.
	MinSetSize int `json:"min_set_size,omitempty" yaml:"min_set_size,omitempty"`
}

// Identifier names the identifier column and its kind.
type Identifier struct {
	// Kind is "mobile" or "idcard" (psi/ident's normalisation).
	Kind string `json:"kind" yaml:"kind"`
	// Column is the column holding it at every partner.
	Column string `json:"column" yaml:"column"`
}

// Partner is one party's segment.
type Partner struct {
	// Name is the partner's node name.
	Name string `json:"name" yaml:"name"`
	// Filter restricts the partner's records, as in a joint query.
	Filter []query.Predicate `json:"filter,omitempty" yaml:"filter,omitempty"`
	// GroupBy splits the partner's set into segments, the cells of these
	// dimensions; at most one partner groups.
	GroupBy []query.GroupBy `json:"group_by,omitempty" yaml:"group_by,omitempty"`
}

// ErrInvalidSpec marks every problem with an overlap spec; it wraps
// query.ErrInvalidSpec.
var ErrInvalidSpec = fmt.Errorf("%w: overlap query", query.ErrInvalidSpec)

// Parse decodes a spec from YAML or JSON (input starting with '{' is read
// as JSON). Unknown fields are errors; predicate literals are normalised
// as query.Parse does them, so that Parse(Canonical(s)) equals s. Parse does
// not validate.
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
	if s.Destination == query.DefaultDestination {
		s.Destination = ""
	}
	if s.Recipient == query.RecipientSelf {
		s.Recipient = ""
	}
	if len(s.Partners) == 0 {
		s.Partners = nil
	}
	for i := range s.Partners {
		if err := s.normalizePartner(i); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// normalizePartner puts a partner's filter and group-by in query.Parse's
// normal form by passing them through it.
func (s *Spec) normalizePartner(i int) error {
	p := &s.Partners[i]
	b, err := json.Marshal(map[string]any{"purpose": s.Purpose, "filter": p.Filter, "group_by": p.GroupBy})
	if err != nil {
		return fmt.Errorf("%w: partners[%d]: %w", ErrInvalidSpec, i, err)
	}
	seg, err := query.Parse(b)
	if err != nil {
		return fmt.Errorf("%w: partners[%d]: %w", ErrInvalidSpec, i, err)
	}
	p.Filter, p.GroupBy = seg.Filter, seg.GroupBy
	return nil
}

// ReadFile reads and validates the spec in a file.
func ReadFile(path string) (*Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := Parse(b)
	if err == nil {
		err = s.Validate()
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// Canonical returns the deterministic JSON encoding of s, the form that is
// signed and hashed.
func (s *Spec) Canonical() ([]byte, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("overlap: canonical form: %w", err)
	}
	return b, nil
}

// Segment returns partner i's segment as a joint query over its records:
// its filter and group-by, counted. The node checks it against its columns
// and computes each record's segment with it, exactly as it would a joint
// query's cells.
func (s *Spec) Segment(i int) *query.Spec {
	p := s.Partners[i]
	return &query.Spec{
		Purpose: s.Purpose, PipiaID: s.PipiaID, Destination: s.Destination, Recipient: s.Recipient,
		GroupBy: p.GroupBy, Filter: p.Filter, Metrics: []query.Metric{{Kind: query.KindCount}},
		MinPartners: len(s.Partners), Epsilon: s.Epsilon,
	}
}

// Index returns the position of the named partner, or -1.
func (s *Spec) Index(name string) int {
	for i, p := range s.Partners {
		if p.Name == name {
			return i
		}
	}
	return -1
}

// GroupByParty returns the index of the partner that groups, or -1.
func (s *Spec) GroupByParty() int {
	for i, p := range s.Partners {
		if len(p.GroupBy) > 0 {
			return i
		}
	}
	return -1
}

// Segments returns the number of segments of the grouping partner (1 when
// none groups).
func (s *Spec) Segments() int {
	g := s.GroupByParty()
	if g < 0 {
		return 1
	}
	return s.Segment(g).Layout().Cells
}

// Names returns the partners' names in ring order.
func (s *Spec) Names() []string {
	out := make([]string, len(s.Partners))
	for i, p := range s.Partners {
		out[i] = p.Name
	}
	return out
}

// Family names the privacy-budget family an overlap query spends on in
// the nodes' ledger, beside the joint queries' segmentations.
func (s *Spec) Family() string { return "overlap/" + s.Identifier.Kind }
