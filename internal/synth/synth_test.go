package synth

import (
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fedscore/fedscore/dataset"
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

// sameTable reports whether a and b hold the same columns and values, a
// missing number (NaN) matching another.
func sameTable(a, b *dataset.Table) bool {
	ca, cb := a.Columns(), b.Columns()
	if a.Rows() != b.Rows() || len(ca) != len(cb) {
		return false
	}
	bits := func(x, y float64) bool { return math.Float64bits(x) == math.Float64bits(y) }
	for i, x := range ca {
		y := cb[i]
		if x.Name != y.Name || x.Kind != y.Kind || !slices.EqualFunc(x.Numbers, y.Numbers, bits) ||
			!slices.Equal(x.Codes, y.Codes) || !slices.Equal(x.Dict, y.Dict) ||
			!slices.Equal(x.Bools, y.Bools) || !slices.Equal(x.Missing, y.Missing) {
			return false
		}
	}
	return true
}

func TestDeterministic(t *testing.T) {
	asOf := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	cfg := Config{Partner: "bank-a", Rows: 2000, Seed: 7, AsOf: asOf}
	a, b := generate(t, cfg), generate(t, cfg)
	if !sameTable(a, b) {
		t.Fatal("equal configs gave different tables")
	}
	for _, other := range []Config{{Partner: "bank-b", Rows: 2000, Seed: 7, AsOf: asOf}, {Partner: "bank-a", Rows: 2000, Seed: 8, AsOf: asOf}} {
		c := generate(t, other)
		if reflect.DeepEqual(column(t, a, "age").Numbers, column(t, c, "age").Numbers) {
			t.Errorf("config %+v gave the same ages as %+v", other, cfg)
		}
	}
	// A longer table starts with the same customers.
	long := generate(t, Config{Partner: "bank-a", Rows: 3000, Seed: 7, AsOf: asOf})
	for _, name := range []string{"credit_score", "collected_at"} {
		if !slices.Equal(column(t, a, name).Numbers, column(t, long, name).Numbers[:2000]) {
			t.Errorf("the first rows' %s depend on the row count", name)
		}
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
	// Only records that do not exist are missing: a notice version without
	// a consent and a withdrawal time without a withdrawal.
	for _, c := range tab.Columns() {
		for i := range c.Len() {
			if c.IsMissing(i) && !strings.HasSuffix(c.Name, "_notice_version") && c.Name != "consent_withdrawn_at" {
				t.Fatalf("%s row %d is missing", c.Name, i)
			}
		}
	}
	age := column(t, tab, "age").Numbers
	card := column(t, tab, "has_credit_card").Bools
	withdrawn := column(t, tab, "consent_withdrawn").Bools
	withdrawnAt := column(t, tab, "consent_withdrawn_at").Numbers
	consents := []string{"consent_marketing_analytics", "consent_risk_analytics", "consent_credit_scoring", "consent_sensitive", "consent_provision"}
	for i := range age {
		if age[i] < 18 && card[i] {
			t.Fatalf("row %d: a minor holds a credit card", i)
		}
		for _, name := range consents {
			if withdrawn[i] && column(t, tab, name).Bools[i] {
				t.Fatalf("row %d: %s after withdrawal", i, name)
			}
		}
		if withdrawn[i] == math.IsNaN(withdrawnAt[i]) {
			t.Fatalf("row %d: withdrawn %v at %v", i, withdrawn[i], withdrawnAt[i])
		}
		for p, name := range consents[:3] {
			consented := column(t, tab, name).Bools[i]
			v := column(t, tab, name+"_notice_version").Numbers[i]
			if consented == math.IsNaN(v) || !math.IsNaN(v) && (v < 1 || v > float64(noticeVersions[p])) {
				t.Fatalf("row %d: %s %v under notice version %v", i, name, consented, v)
			}
		}
	}
}

func TestConsentRecords(t *testing.T) {
	asOf := time.Date(2026, 11, 24, 15, 30, 0, 0, time.UTC)
	midnight := float64(time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC).Unix())
	const rows = 50000
	tab := generate(t, Config{Partner: "p1", Rows: rows, Seed: 5, AsOf: asOf})
	collected := column(t, tab, "collected_at").Numbers
	withdrawnAt := column(t, tab, "consent_withdrawn_at").Numbers
	recent := 0
	for i := range rows {
		for _, v := range []float64{collected[i], withdrawnAt[i]} {
			if math.IsNaN(v) {
				continue
			}
			if v > midnight || math.Mod(v, 86400) != 0 {
				t.Fatalf("row %d: time %v is not a midnight before %v", i, v, asOf)
			}
		}
		if collected[i] > midnight-730*86400 {
			recent++
		}
	}
	share := func(name string, want bool) float64 {
		n := 0
		for _, b := range column(t, tab, name).Bools {
			if b == want {
				n++
			}
		}
		return float64(n) / rows
	}
	outdated := func(name string, current float64) float64 {
		n, all := 0, 0
		for _, v := range column(t, tab, name).Numbers {
			if !math.IsNaN(v) {
				all++
				if v < current {
					n++
				}
			}
		}
		return float64(n) / float64(all)
	}
	tests := []struct {
		name      string
		got       float64
		want, tol float64
	}{
		{"collected within two years", float64(recent) / rows, 0.80, 0.01},
		{"sensitive consent", share("consent_sensitive", true), 0.90 * 0.97, 0.01},
		{"provision consent", share("consent_provision", true), 0.35 * 0.97, 0.01},
		{"automated decision opt-out", share("opt_out_automated", true), 0.07, 0.005},
		{"outdated marketing notice", outdated("consent_marketing_analytics_notice_version", 3), 0.08, 0.01},
		{"outdated risk notice", outdated("consent_risk_analytics_notice_version", 2), 0.06, 0.01},
		{"outdated credit notice", outdated("consent_credit_scoring_notice_version", 1), 0, 0},
	}
	for _, tt := range tests {
		if math.Abs(tt.got-tt.want) > tt.tol {
			t.Errorf("%s: share %.3f, want %.3f ± %.3f", tt.name, tt.got, tt.want, tt.tol)
		}
	}

	// Consent records leave the other columns as they were: they come from
	// a stream of their own.
	for _, name := range []string{"age", "credit_score", "consent_marketing_analytics"} {
		other := generate(t, Config{Partner: "p1", Rows: 1000, Seed: 5, AsOf: asOf.AddDate(1, 0, 0)})
		a, b := column(t, tab, name), column(t, other, name)
		if !slices.Equal(a.Numbers[:min(len(a.Numbers), 1000)], b.Numbers) || !slices.Equal(a.Bools[:min(len(a.Bools), 1000)], b.Bools) {
			t.Errorf("%s depends on AsOf", name)
		}
	}
}

func TestAsOfDefaultsToToday(t *testing.T) {
	tab := generate(t, Config{Partner: "p1", Rows: 100, Seed: 6})
	today := float64(time.Now().UTC().Truncate(24 * time.Hour).Unix())
	for i, v := range column(t, tab, "collected_at").Numbers {
		if v > today || v < today-10*366*86400 {
			t.Fatalf("row %d collected at %v, not in the ten years before %v", i, v, today)
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
