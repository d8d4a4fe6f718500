package synth

import (
	"errors"
	"math"
	"reflect"
	"slices"
	"testing"

	"github.com/fedscore/fedscore/node/dataset"
)

func generate(t *testing.T, cfg Config) *dataset.Table {
	t.Helper()
	tab, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

func column(t *testing.T, tab *dataset.Table, name string) *dataset.Column {
	t.Helper()
	c, ok := tab.Column(name)
	if !ok {
		t.Fatalf("no column %q", name)
	}
	return c
}

func TestDeterministic(t *testing.T) {
	cfg := Config{Partner: "bank-a", Rows: 2000, Seed: 7}
	a, b := generate(t, cfg), generate(t, cfg)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("equal configs gave different tables")
	}
	for _, other := range []Config{{Partner: "bank-b", Rows: 2000, Seed: 7}, {Partner: "bank-a", Rows: 2000, Seed: 8}} {
		c := generate(t, other)
		if reflect.DeepEqual(column(t, a, "age").Numbers, column(t, c, "age").Numbers) {
			t.Errorf("config %+v gave the same ages as %+v", other, cfg)
		}
	}
	// A longer table starts with the same customers.
	long := generate(t, Config{Partner: "bank-a", Rows: 3000, Seed: 7})
	if !slices.Equal(column(t, a, "credit_score").Numbers, column(t, long, "credit_score").Numbers[:2000]) {
		t.Error("the first rows depend on the row count")
	}
}

func TestSchema(t *testing.T) {
	tab := generate(t, Config{Partner: "p1", Rows: 500, Seed: 1})
	if tab.Rows() != 500 {
		t.Fatalf("Rows = %d", tab.Rows())
	}
	var names []string
	for _, c := range tab.Columns() {
		names = append(names, c.Name)
	}
	if !slices.Equal(names, Columns()) {
		t.Fatalf("columns = %v, want %v", names, Columns())
	}
	kinds := map[string]dataset.Kind{
		"customer_id": dataset.KindCategory, "age": dataset.KindNumber, "region": dataset.KindCategory,
		"city_tier": dataset.KindNumber, "annual_txn_amount": dataset.KindNumber,
		"has_credit_card": dataset.KindBool, "consent_withdrawn": dataset.KindBool,
	}
	for name, k := range kinds {
		if c := column(t, tab, name); c.Kind != k {
			t.Errorf("%s is %v, want %v", name, c.Kind, k)
		}
	}
	ids := column(t, tab, "customer_id")
	if len(ids.Dict) != 500 || ids.String(0) != "p1-000001" {
		t.Errorf("customer ids: %d distinct, first %q", len(ids.Dict), ids.String(0))
	}
}

func TestRanges(t *testing.T) {
	tab := generate(t, Config{Partner: "p1", Rows: 20000, Seed: 2})
	ranges := map[string][2]float64{
		"age":                {10, 80},
		"city_tier":          {1, 5},
		"annual_txn_amount":  {0, math.MaxFloat64},
		"credit_score":       {300, 850},
		"credit_utilization": {0, 1.5},
		"delinquencies_12m":  {0, 12},
	}
	for name, r := range ranges {
		for i, v := range column(t, tab, name).Numbers {
			if !(v >= r[0] && v <= r[1]) {
				t.Fatalf("%s row %d = %v, outside %v", name, i, v, r)
			}
		}
	}
	for _, c := range tab.Columns() {
		for i := range c.Len() {
			if c.IsMissing(i) {
				t.Fatalf("%s row %d is missing", c.Name, i)
			}
		}
	}
	age := column(t, tab, "age").Numbers
	card := column(t, tab, "has_credit_card").Bools
	withdrawn := column(t, tab, "consent_withdrawn").Bools
	consents := []string{"consent_marketing_analytics", "consent_risk_analytics", "consent_credit_scoring"}
	for i := range age {
		if age[i] < 18 && card[i] {
			t.Fatalf("row %d: a minor holds a credit card", i)
		}
		for _, name := range consents {
			if withdrawn[i] && column(t, tab, name).Bools[i] {
				t.Fatalf("row %d: %s after withdrawal", i, name)
			}
		}
	}
}

func TestMarginals(t *testing.T) {
	const rows = 50000
	tab := generate(t, Config{Partner: "p1", Rows: rows, Seed: 3})
	share := func(name string, pred func(c *dataset.Column, i int) bool) float64 {
		c := column(t, tab, name)
		n := 0
		for i := range c.Len() {
			if pred(c, i) {
				n++
			}
		}
		return float64(n) / rows
	}
	is := func(v string) func(c *dataset.Column, i int) bool {
		return func(c *dataset.Column, i int) bool { return c.String(i) == v }
	}
	between := func(lo, hi float64) func(c *dataset.Column, i int) bool {
		return func(c *dataset.Column, i int) bool { return c.Numbers[i] >= lo && c.Numbers[i] <= hi }
	}
	tests := []struct {
		name      string
		got       float64
		want, tol float64
	}{
		{"minors", share("age", between(10, 17)), DefaultMinorShare, 0.005},
		{"aged 18-25", share("age", between(18, 25)), 0.35 * 0.98, 0.02},
		{"aged 26-45", share("age", between(26, 45)), 0.45 * 0.98, 0.02},
		{"region east", share("region", is("east")), 0.35, 0.02},
		{"region northwest", share("region", is("northwest")), 0.07, 0.01},
		{"city tiers 1-3", share("city_tier", between(1, 3)), 0.78, 0.02},
		{"bachelor or above", share("education", func(c *dataset.Column, i int) bool { return c.Codes[i] >= 2 }), 0.65, 0.04},
		{"middle income", share("income_tier", is("middle")), 0.45, 0.06},
		{"ultra high income", share("income_tier", is("ultra_high")), 0.05, 0.03},
		{"balanced risk", share("risk_preference", is("balanced")), 0.30, 0.04},
		{"delinquent", share("delinquencies_12m", between(1, 12)), 0.22, 0.03},
		{"high value", share("annual_txn_amount", between(50000, math.MaxFloat64)), 0.24, 0.05},
		{"withdrawn", share("consent_withdrawn", func(c *dataset.Column, i int) bool { return c.Bools[i] }), 0.03, 0.005},
		{"marketing consent", share("consent_marketing_analytics", func(c *dataset.Column, i int) bool { return c.Bools[i] }), 0.60, 0.02},
		{"female", share("gender", is("female")), 0.5, 0.02},
	}
	for _, tt := range tests {
		if math.Abs(tt.got-tt.want) > tt.tol {
			t.Errorf("%s: share %.3f, want %.3f ± %.3f", tt.name, tt.got, tt.want, tt.tol)
		}
	}
}

func TestMinorShare(t *testing.T) {
	tab := generate(t, Config{Partner: "p1", Rows: 10000, Seed: 4, MinorShare: 0.2})
	n := 0
	for _, a := range column(t, tab, "age").Numbers {
		if a < 18 {
			n++
		}
	}
	if got := float64(n) / 10000; math.Abs(got-0.2) > 0.02 {
		t.Errorf("minor share %.3f, want 0.2", got)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []Config{
		{Rows: 10},
		{Partner: "a b", Rows: 10},
		{Partner: "a", Rows: 0},
		{Partner: "a", Rows: 10, MinorShare: -0.1},
		{Partner: "a", Rows: 10, MinorShare: math.NaN()},
	}
	for _, cfg := range tests {
		if _, err := Generate(cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("Generate(%+v) = %v, want ErrInvalidConfig", cfg, err)
		}
	}
}
