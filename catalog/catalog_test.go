package catalog_test

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/fedscore/fedscore/catalog"
	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/internal/sandbox"
	"github.com/fedscore/fedscore/internal/synth"
	"github.com/fedscore/fedscore/policy"
	"github.com/fedscore/fedscore/query"
)

func sandboxCatalog(t *testing.T) *catalog.Catalog {
	t.Helper()
	tab, err := synth.Generate(synth.Config{Partner: "a", Rows: 500, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	schema := catalog.SchemaFromTables("sandbox", []*dataset.Table{tab}, map[string]catalog.Column{"age": {Unit: "years", Bins: []float64{18, 25, 35, 45, 55, 65, 100}}})
	c, err := catalog.FromBundle(policy.DefaultBundle(), schema)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestBuildFromDefaultBundle(t *testing.T) {
	c := sandboxCatalog(t)
	if c.MinPartners != 3 || c.Privacy.MinCellSize != 50 || c.Privacy.MaxEpsilonPerQuery != 2 {
		t.Errorf("settings: min_partners %d, min cell %d, max ε %v", c.MinPartners, c.Privacy.MinCellSize, c.Privacy.MaxEpsilonPerQuery)
	}
	ra, ok := c.Purpose("risk_analytics")
	if !ok || !ra.RequiresPIPIA || len(ra.PIPIAs) != 1 || ra.PIPIAs[0].ID != "PIPIA-2026-RA-01" {
		t.Fatalf("risk_analytics = %+v", ra)
	}
	cs, ok := ra.Column("credit_score")
	if !ok || !cs.Published || cs.Type != catalog.TypeNumeric || !cs.Sensitive || cs.Class != "C2" || len(cs.Requires) == 0 {
		t.Errorf("credit_score = %+v", cs)
	}
	region, _ := ra.Column("region")
	if region.Type != catalog.TypeCategorical || !strings.Contains(strings.Join(region.Values, ","), "east") {
		t.Errorf("region = %+v", region)
	}
	if age, _ := ra.Column("age"); age.Unit != "years" || len(age.Bins) != 7 {
		t.Errorf("age = %+v", age)
	}
}

func TestCheck(t *testing.T) {
	c := sandboxCatalog(t)
	def, err := sandbox.DefaultQuery()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Check(def); err != nil {
		t.Fatalf("default query: %v", err)
	}
	const base = "purpose: marketing_analytics\ngroup_by: [{column: region, values: [east]}]\nmetrics: [{kind: count}]\nmin_partners: 3\n"
	cases := []struct {
		name, spec, field, contains string
		sentinel                    error
	}{
		{"column not allowed", base + "filter: [{column: credit_score, op: gt, value: 600}]", "filter[0].column", "PURPOSE_COLUMNS, PIPL Art. 6", catalog.ErrRefused},
		{"unknown column", base + "filter: [{column: regoin, op: eq, value: east}]", "filter[0].column", `unknown column "regoin": the published schema does not describe it; close: "region"`, query.ErrColumnMismatch},
		{"unknown purpose", strings.Replace(base, "marketing_analytics", "fishing", 1), "purpose", "PURPOSE_UNKNOWN", catalog.ErrRefused},
		{"identifier", base + "filter: [{column: customer_id, op: eq, value: x}]", "filter[0].column", "IDENTIFIER_COLUMN", catalog.ErrRefused},
		{"unknown value", strings.Replace(base, "[east]", "[mars]", 1), "group_by[0].values", `no value "mars"`, query.ErrColumnMismatch},
		{"bins on a category", strings.Replace(base, "values: [east]", "bins: [0, 1]", 1), "group_by[0].bins", "needs a numeric column", query.ErrColumnMismatch},
		{"text against a number", base + "filter: [{column: age, op: eq, value: old}]", "filter[0].column", "is text", query.ErrColumnMismatch},
		{"too few partners", strings.Replace(base, "min_partners: 3", "min_partners: 2", 1), "min_partners", "MIN_PARTNERS", catalog.ErrRefused},
		{"epsilon above limit", base + "epsilon: 5", "epsilon", "DP_EPSILON_TOO_LARGE", catalog.ErrRefused},
		{"sensitive without pipia", base + "filter: [{column: annual_txn_amount, op: gt, value: 0}]", "pipia_id", "PIPIA_REQUIRED", catalog.ErrRefused},
		{"abroad", base + "destination: US", "destination", "CROSS_BORDER_DENIED", catalog.ErrRefused},
		{"spec invalid", strings.Replace(base, "min_partners: 3", "min_partners: 1", 1), "min_partners", "", query.ErrInvalidSpec},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec, err := query.Parse([]byte(tc.spec))
			if err != nil {
				t.Fatal(err)
			}
			err = c.Check(spec)
			var ve *query.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Check = %v, want a ValidationError", err)
			}
			for _, p := range ve.Problems {
				if p.Field == tc.field && strings.Contains(p.Msg, tc.contains) && errors.Is(p, tc.sentinel) {
					return
				}
			}
			t.Errorf("no problem on %s containing %q wrapping %v: %v", tc.field, tc.contains, tc.sentinel, err)
		})
	}
}

func TestParseSchemaRejects(t *testing.T) {
	for name, doc := range map[string]string{
		"unknown type":   "columns: [{name: a, type: text}]",
		"duplicate":      "columns: [{name: a, type: numeric}, {name: a, type: numeric}]",
		"unsorted bins":  "columns: [{name: a, type: numeric, bins: [3, 1]}]",
		"unknown field":  "columns: [{name: a, type: numeric, colour: red}]",
		"values on num":  "columns: [{name: a, type: numeric, values: [x]}]",
		"no columns":     "name: x",
		"range reversed": "columns: [{name: a, type: numeric, range: [5, 1]}]",
	} {
		if _, err := catalog.ParseSchema([]byte(doc)); !errors.Is(err, catalog.ErrSchema) {
			t.Errorf("%s: err = %v, want ErrSchema", name, err)
		}
	}
	s, err := catalog.ParseSchema([]byte("columns: [{name: age, type: numeric, unit: years, bins: [18, 65]}, {name: job, type: categorical, values: [a, b]}]"))
	if err != nil || len(s.Columns) != 2 {
		t.Fatalf("valid schema: %v", err)
	}
}

// The bank-marketing example publishes a schema its query fits, under the
// example's policy data.
func TestBankMarketingSchema(t *testing.T) {
	schema, err := catalog.LoadSchema("../examples/bank-marketing/schema.yaml")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("../examples/bank-marketing/policy-data.json")
	if err != nil {
		t.Fatal(err)
	}
	var overrides map[string]any
	if err := json.Unmarshal(raw, &overrides); err != nil {
		t.Fatal(err)
	}
	tarball, err := policy.BuildBundleWithData(nil, "", overrides)
	if err != nil {
		t.Fatal(err)
	}
	fsys, err := policy.OpenBundleTarball(tarball)
	if err != nil {
		t.Fatal(err)
	}
	c, err := catalog.FromBundle(fsys, schema)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("../examples/bank-marketing/query.yaml")
	if err != nil {
		t.Fatal(err)
	}
	spec, err := query.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Check(spec); err != nil {
		t.Errorf("the example query does not fit its schema: %v", err)
	}
}
