package sandbox

import (
	"context"
	"path/filepath"

	"gopkg.in/yaml.v3"

	"github.com/fedscore/fedscore/catalog"
	"github.com/fedscore/fedscore/console"
	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/policy"
	"github.com/fedscore/fedscore/query"
)

// PolicyBundle returns the path of the federation's signed policy bundle
// and the development regulator key it verifies under.
func (f *Federation) PolicyBundle() (path string, key policy.VerificationKey) {
	return filepath.Join(f.dir, "policy-bundle.tar.gz"), f.bundle
}

// Partners returns the partners' data.
func (f *Federation) Partners() []Partner { return f.cfg.Partners }

// NodeStateDir is a partner node's state directory: its audit log and
// query archive.
func (f *Federation) NodeStateDir(partner string) string {
	return filepath.Join(f.dir, "nodes", partner, "state")
}

// schemaHints are the units and typical bins of the synthetic columns.
var schemaHints = map[string]catalog.Column{
	"age":                  {Unit: "years", Bins: []float64{18, 25, 35, 45, 55, 65, 100}, Description: "age in full years"},
	"city_tier":            {Unit: "tier", Bins: []float64{1, 2, 3, 6}, Description: "city tier, 1 (largest) to 5"},
	"annual_txn_amount":    {Unit: "CNY", Bins: []float64{0, 10000, 50000, 200000, 1000000}, Description: "card and account transactions over the last 12 months"},
	"credit_score":         {Unit: "points", Bins: []float64{300, 580, 670, 740, 800, 850}, Description: "bureau-style credit score"},
	"credit_utilization":   {Unit: "ratio", Bins: []float64{0, 0.3, 0.6, 0.9, 1.5}, Description: "revolving balance over limit"},
	"delinquencies_12m":    {Unit: "count", Bins: []float64{0, 1, 2, 4, 12}, Description: "payments 30+ days late in the last 12 months"},
	"collected_at":         {Type: catalog.TypeDate, Unit: "Unix seconds"},
	"consent_withdrawn_at": {Type: catalog.TypeDate, Unit: "Unix seconds"},
	"customer_id":          {Description: "identifier; never queryable"},
	"income_tier":          {Description: "income band"},
	"region":               {Description: "region of China"},
	"has_credit_card":      {Description: "holds a credit card with the partner"},
	"risk_preference":      {Description: "investment risk questionnaire outcome"},
	"education":            {Description: "highest education"},
	"occupation":           {Description: "occupation group"},
	"gender":               {Description: "gender"},
	"consent_sensitive":    {Description: "separate consent to sensitive personal information (PIPL Art. 29)"},
	"consent_provision":    {Description: "separate consent to provision to other processors (PIPL Art. 23)"},
	"opt_out_automated":    {Description: "refused automated decision-making (PIPL Art. 24)"},
	"consent_withdrawn":    {Description: "withdrew all consent (PIPL Art. 15)"},
}

// Schema is the column schema the sandbox publishes for its partners' data.
func Schema(partners []Partner) *catalog.Schema {
	tables := make([]*dataset.Table, len(partners))
	for i, p := range partners {
		tables[i] = p.Data
	}
	return catalog.SchemaFromTables("fedscore sandbox (synthetic partner data)", tables, schemaHints)
}

// ConsoleConfig configures a web console for the federation: its querier,
// its signed bundle and key, its nodes' state and records, its published
// schema, and the plaintext check of exact answers. The query builder
// starts from spec.
func (f *Federation) ConsoleConfig(listen string, spec *query.Spec) console.Config {
	path, key := f.PolicyBundle()
	cfg := console.Config{
		Listen: listen, Querier: f.client, Status: f.client.Status,
		BundlePath: path, BundleKeys: []policy.VerificationKey{key},
		Schema: Schema(f.cfg.Partners), AuditRoots: f.ca.Pool(),
		Expected: func(ctx context.Context, spec *query.Spec) (*query.Result, error) {
			if spec.Epsilon > 0 {
				return nil, nil // a noisy answer differs from the exact one by design
			}
			return f.Expected(ctx, spec)
		},
	}
	for _, p := range f.cfg.Partners {
		cfg.Nodes = append(cfg.Nodes, console.Node{Name: p.Name, StateDir: f.NodeStateDir(p.Name), Data: p.Data})
	}
	if spec != nil {
		if b, err := yaml.Marshal(spec); err == nil {
			cfg.DefaultSpec = b
		}
	}
	return cfg
}
