package sandbox

import (
	_ "embed"
	"fmt"

	"github.com/fedscore/fedscore/internal/synth"
	"github.com/fedscore/fedscore/query"
)

//go:embed default_query.yaml
var defaultQuery []byte

// DefaultQuery returns the sandbox's default joint segment query.
func DefaultQuery() (*query.Spec, error) {
	return query.Parse(defaultQuery)
}

// DefaultPartnerNames returns the sandbox's partner institutions.
func DefaultPartnerNames() []string {
	return []string{"bank-east", "consumer-finance", "pay-platform"}
}

// GeneratePartners makes synthetic partner data following the seed profile
// schema, rows records per partner.
func GeneratePartners(names []string, rows int, seed uint64) ([]Partner, error) {
	out := make([]Partner, len(names))
	for i, name := range names {
		t, err := synth.Generate(synth.Config{Partner: name, Rows: rows, Seed: seed})
		if err != nil {
			return nil, fmt.Errorf("generate %s: %w", name, err)
		}
		out[i] = Partner{Name: name, Data: t}
	}
	return out, nil
}
