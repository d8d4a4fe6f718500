// Package synth generates deterministic synthetic partner records that
// follow the seed profile schema, for the sandbox and for tests.
//
// Every table has the same columns (see [Columns]). Marginals follow the
// seed research roughly: ages 18–25 / 26–45 / 46+ at about 35/45/20 %,
// plus a small share of minors aged 10–17; two thirds hold a bachelor's
// degree or above; mostly middle income; East China the largest region;
// city tiers 1–3 (tier one, new tier one and tier two, "一二线") about
// 78 %; moderate risk preference the majority; about 22 % with a
// delinquency in the last 12 months; about 3 % who withdrew all consent.
//
// Consent records follow the default policy bundle: per-purpose consent
// with the version of the notice it was given under (a few consents date
// from an older notice and need renewing), the time of a withdrawal, the
// time the record was collected (about 80 % within two years), separate
// consent for sensitive personal information (about 90 %) and for
// provision to other processors (about 35 %), and refusals of automated
// decision-making (about 7 %). Times are Unix seconds at midnight UTC
// before Config.AsOf.
// Income drives transaction amounts and credit cards, and a latent risk
// factor drives credit score, utilization and delinquencies, so that
// segment queries find real differences.
package synth

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"time"

	"github.com/fedscore/fedscore/dataset"
)

// DefaultMinorShare is the share of customers aged 10–17 when
// Config.MinorShare is zero.
const DefaultMinorShare = 0.02

// ErrInvalidConfig reports an unusable Config.
var ErrInvalidConfig = errors.New("synth: invalid config")

// Config selects what Generate produces.
type Config struct {
	// Partner names the partner; it prefixes customer ids and, with Seed,
	// seeds the generator. Letters, digits, '-' and '_' only.
	Partner string
	// Rows is the number of customers, at least 1.
	Rows int
	// Seed makes the output reproducible: equal configs give equal tables.
	Seed uint64
	// MinorShare is the share of customers aged 10–17, in [0, 1]; zero
	// means DefaultMinorShare.
	MinorShare float64
	// AsOf is the time the data is drawn as of: collection and withdrawal
	// times lie on days before it. Zero means the start of the current UTC
	// day, so that tables of equal configs drawn on one day are equal.
	AsOf time.Time
}

// noticeVersions are the current consent notice versions of the default
// policy bundle's purposes (policy/bundle/data.json), in the order of
// customer.consents; synthetic consents are mostly under these.
var noticeVersions = [3]int{3, 2, 1}

// Category dictionaries, in code order. They are built per table, as
// the table takes ownership of them.
func genders() []string    { return []string{"female", "male"} }
func educations() []string { return []string{"high_school", "college", "bachelor", "postgraduate"} }
func occupations() []string {
	return []string{"employee", "manager", "entrepreneur", "freelancer", "student", "retired"}
}
func incomeTiers() []string { return []string{"low", "middle", "high", "ultra_high"} }
func regions() []string {
	return []string{"north", "east", "south", "southwest", "northwest", "northeast"}
}
func riskPreferences() []string {
	return []string{"conservative", "steady", "balanced", "active", "aggressive"}
}

// weights are the shares of the dictionary entries above, and of city
// tiers 1–5.
type weights struct {
	region, cityTier, education, risk, occupation []float64
}

func defaultWeights() weights {
	return weights{
		region:     []float64{0.16, 0.35, 0.19, 0.13, 0.07, 0.10},
		cityTier:   []float64{0.22, 0.30, 0.26, 0.14, 0.08},
		education:  []float64{0.12, 0.17, 0.49, 0.22},
		risk:       []float64{0.15, 0.25, 0.32, 0.18, 0.10},
		occupation: []float64{0.52, 0.15, 0.10, 0.18, 0.03, 0.02},
	}
}

// Columns lists the generated columns in order.
func Columns() []string {
	return []string{
		"customer_id", "age", "gender", "education", "occupation", "income_tier",
		"region", "city_tier", "risk_preference", "annual_txn_amount",
		"credit_score", "credit_utilization", "delinquencies_12m",
		"has_credit_card", "consent_marketing_analytics",
		"consent_risk_analytics", "consent_credit_scoring", "consent_withdrawn",
		"consent_marketing_analytics_notice_version",
		"consent_risk_analytics_notice_version",
		"consent_credit_scoring_notice_version",
		"consent_withdrawn_at", "collected_at", "consent_sensitive",
		"opt_out_automated", "consent_provision",
	}
}

func (c Config) validate() (Config, error) {
	if c.Partner == "" {
		return c, fmt.Errorf("%w: partner is required", ErrInvalidConfig)
	}
	for _, r := range c.Partner {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return c, fmt.Errorf("%w: partner %q has character %q", ErrInvalidConfig, c.Partner, r)
		}
	}
	if c.Rows < 1 {
		return c, fmt.Errorf("%w: rows %d is below 1", ErrInvalidConfig, c.Rows)
	}
	if math.IsNaN(c.MinorShare) || c.MinorShare < 0 || c.MinorShare > 1 {
		return c, fmt.Errorf("%w: minor share %v is outside [0, 1]", ErrInvalidConfig, c.MinorShare)
	}
	if c.MinorShare == 0 {
		c.MinorShare = DefaultMinorShare
	}
	if c.AsOf.IsZero() {
		c.AsOf = time.Now().UTC().Truncate(24 * time.Hour)
	}
	return c, nil
}

// Generate returns cfg.Rows synthetic customers of partner cfg.Partner.
func Generate(cfg Config) (*dataset.Table, error) {
	cfg, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	h := fnv.New64a()
	h.Write([]byte(cfg.Partner))
	g := &generator{
		r: rand.New(rand.NewPCG(cfg.Seed, h.Sum64())),
		// Consent records come from a stream of their own, so that they
		// leave every other column as it was before they were added.
		records: rand.New(rand.NewPCG(cfg.Seed, h.Sum64()^recordStream)),
		cfg:     cfg,
		w:       defaultWeights(),
	}
	return g.table()
}
