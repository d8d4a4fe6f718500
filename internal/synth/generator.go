package synth

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/fedscore/fedscore/dataset"
)

// generator draws one table. Each customer is drawn in full before the
// next, so a table's first rows do not depend on its length.
type generator struct {
	r       *rand.Rand
	records *rand.Rand // consent records
	cfg     Config
	w       weights
}

// recordStream selects the random stream of consent records.
const recordStream = 0x9e3779b97f4a7c15

const day = 24 * 60 * 60

// customer holds one drawn record.
type customer struct {
	age                           float64
	gender, education, occupation int32
	income, region, risk          int32
	cityTier                      float64
	txnAmount                     float64
	creditScore, utilization      float64
	delinquencies                 float64
	hasCard                       bool
	marketing, riskAnalytics      bool
	scoring, withdrawn            bool

	// Consent records, in Unix seconds where times; NaN marks none.
	noticeVersions          [3]float64 // by purpose, as consents
	withdrawnAt, collected  float64
	sensitive, provision    bool
	automatedDecisionOptOut bool
}

// consents returns the customer's consent to each purpose, in the order of
// noticeVersions.
func (c *customer) consents() [3]bool {
	return [3]bool{c.marketing, c.riskAnalytics, c.scoring}
}

func (g *generator) table() (*dataset.Table, error) {
	n := g.cfg.Rows
	ids := make([]string, n)
	age := make([]float64, n)
	gender := make([]int32, n)
	education := make([]int32, n)
	occupation := make([]int32, n)
	income := make([]int32, n)
	region := make([]int32, n)
	cityTier := make([]float64, n)
	risk := make([]int32, n)
	txn := make([]float64, n)
	score := make([]float64, n)
	util := make([]float64, n)
	delinq := make([]float64, n)
	card := make([]bool, n)
	marketing := make([]bool, n)
	riskAnalytics := make([]bool, n)
	scoring := make([]bool, n)
	withdrawn := make([]bool, n)
	var notices [3][]float64
	for p := range notices {
		notices[p] = make([]float64, n)
	}
	withdrawnAt := make([]float64, n)
	collected := make([]float64, n)
	sensitive := make([]bool, n)
	optOut := make([]bool, n)
	provision := make([]bool, n)
	for i := range n {
		c := g.customer()
		g.consentRecords(&c)
		for p := range notices {
			notices[p][i] = c.noticeVersions[p]
		}
		withdrawnAt[i], collected[i] = c.withdrawnAt, c.collected
		sensitive[i], optOut[i], provision[i] = c.sensitive, c.automatedDecisionOptOut, c.provision
		ids[i] = fmt.Sprintf("%s-%06d", g.cfg.Partner, i+1)
		age[i], gender[i], education[i], occupation[i] = c.age, c.gender, c.education, c.occupation
		income[i], region[i], cityTier[i], risk[i] = c.income, c.region, c.cityTier, c.risk
		txn[i], score[i], util[i], delinq[i] = c.txnAmount, c.creditScore, c.utilization, c.delinquencies
		card[i], marketing[i], riskAnalytics[i] = c.hasCard, c.marketing, c.riskAnalytics
		scoring[i], withdrawn[i] = c.scoring, c.withdrawn
	}
	b := dataset.NewBuilder()
	b.AddCategory("customer_id", ids)
	b.AddNumber("age", age)
	b.AddCategoryCodes("gender", genders(), gender)
	b.AddCategoryCodes("education", educations(), education)
	b.AddCategoryCodes("occupation", occupations(), occupation)
	b.AddCategoryCodes("income_tier", incomeTiers(), income)
	b.AddCategoryCodes("region", regions(), region)
	b.AddNumber("city_tier", cityTier)
	b.AddCategoryCodes("risk_preference", riskPreferences(), risk)
	b.AddNumber("annual_txn_amount", txn)
	b.AddNumber("credit_score", score)
	b.AddNumber("credit_utilization", util)
	b.AddNumber("delinquencies_12m", delinq)
	b.AddBool("has_credit_card", card, nil)
	b.AddBool("consent_marketing_analytics", marketing, nil)
	b.AddBool("consent_risk_analytics", riskAnalytics, nil)
	b.AddBool("consent_credit_scoring", scoring, nil)
	b.AddBool("consent_withdrawn", withdrawn, nil)
	b.AddNumber("consent_marketing_analytics_notice_version", notices[0])
	b.AddNumber("consent_risk_analytics_notice_version", notices[1])
	b.AddNumber("consent_credit_scoring_notice_version", notices[2])
	b.AddNumber("consent_withdrawn_at", withdrawnAt)
	b.AddNumber("collected_at", collected)
	b.AddBool("consent_sensitive", sensitive, nil)
	b.AddBool("opt_out_automated", optOut, nil)
	b.AddBool("consent_provision", provision, nil)
	t, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("synth: %w", err)
	}
	return t, nil
}

func (g *generator) customer() customer {
	var c customer
	r := g.r
	minor := r.Float64() < g.cfg.MinorShare
	switch u := r.Float64(); {
	case minor:
		c.age = float64(10 + r.IntN(8))
	case u < 0.35:
		c.age = float64(18 + r.IntN(8)) // 18–25
	case u < 0.80:
		c.age = float64(26 + r.IntN(20)) // 26–45
	default:
		c.age = float64(46 + r.IntN(35)) // 46–80
	}
	c.gender = int32(r.IntN(2))
	c.education = g.pick(g.w.education)
	if minor || c.age < 20 && c.education > 1 {
		c.education = 0
	}
	c.occupation = g.occupation(c.age, minor)

	// Income: a latent score from education and occupation plus noise,
	// cut into tiers of roughly 25/45/25/5 %.
	z := r.NormFloat64() + 0.35*float64(c.education) - 0.5
	switch c.occupation {
	case 1, 2: // manager, entrepreneur
		z += 0.6
	case 4: // student
		z -= 1.2
	case 5: // retired
		z -= 0.4
	}
	switch {
	case minor || z < -0.75:
		c.income = 0
	case z < 0.55:
		c.income = 1
	case z < 1.85:
		c.income = 2
	default:
		c.income = 3
	}

	c.region = g.pick(g.w.region)
	c.cityTier = float64(g.pick(g.w.cityTier) + 1)
	c.risk = g.pick(g.w.risk)
	if c.age >= 55 && c.risk > 1 && r.Float64() < 0.4 {
		c.risk -= 2 // older customers lean conservative
	}

	// Annual transaction amount in yuan, lognormal around a median set by
	// the income tier; about a quarter reach the ¥50,000 high-value mark.
	median := [...]float64{12000, 25000, 60000, 250000}[c.income]
	if minor {
		median = 2000
	}
	c.txnAmount = math.Round(median*math.Exp(0.6*r.NormFloat64())*100) / 100

	// A latent risk factor, lower for higher incomes, drives credit.
	risk := r.NormFloat64() - 0.3*(float64(c.income)-1)
	c.creditScore = math.Round(min(max(680-70*risk+25*r.NormFloat64(), 300), 850))
	c.utilization = math.Round(min(max(0.35+0.2*risk+0.15*r.NormFloat64(), 0), 1.5)*1000) / 1000
	if r.Float64() < 1/(1+math.Exp(1.45-risk)) {
		c.delinquencies = 1
		for c.delinquencies < 12 && r.Float64() < 0.45 {
			c.delinquencies++
		}
	}
	cardRate := [...]float64{0.45, 0.7, 0.85, 0.95}[c.income]
	c.hasCard = !minor && r.Float64() < cardRate

	// Consent is drawn independently of age so that the policy, not the
	// data, has to exclude minors.
	c.withdrawn = r.Float64() < 0.03
	marketing, riskAnalytics, scoring := r.Float64() < 0.62, r.Float64() < 0.85, r.Float64() < 0.80
	if !c.withdrawn {
		c.marketing, c.riskAnalytics, c.scoring = marketing, riskAnalytics, scoring
	}
	return c
}

// consentRecords draws c's consent records from the records stream. A
// consent is mostly under the purpose's current notice; about 8 % of
// marketing and 6 % of risk consents date from an older one and need
// renewing. Records were collected within two years for about 80 % of
// customers, two to five years ago for 17 % and up to ten years ago for
// the rest. Every time is midnight UTC of a day before AsOf, so that a
// record's standing does not change during a day's queries.
func (g *generator) consentRecords(c *customer) {
	r := g.records
	asOf := float64(g.cfg.AsOf.Unix()/day) * day
	outdated := [3]float64{0.08, 0.06, 0}
	for p, consented := range c.consents() {
		// Drawn for every customer, to keep the stream aligned.
		old := r.Float64() < outdated[p]
		older := 1 + r.IntN(max(noticeVersions[p]-1, 1))
		switch {
		case !consented:
			c.noticeVersions[p] = math.NaN()
		case old && noticeVersions[p] > 1:
			c.noticeVersions[p] = float64(older)
		default:
			c.noticeVersions[p] = float64(noticeVersions[p])
		}
	}

	withdrawnDays := 1 + r.IntN(720)
	c.withdrawnAt = math.NaN()
	if c.withdrawn {
		c.withdrawnAt = asOf - float64(withdrawnDays*day)
	}

	var days int
	switch u := r.Float64(); {
	case u < 0.80:
		days = r.IntN(730)
	case u < 0.97:
		days = 730 + r.IntN(3*365)
	default:
		days = 5*365 + r.IntN(5*365)
	}
	c.collected = asOf - float64(days*day)

	sensitive, provision := r.Float64() < 0.90, r.Float64() < 0.35
	c.automatedDecisionOptOut = r.Float64() < 0.07
	if !c.withdrawn {
		c.sensitive, c.provision = sensitive, provision
	}
}

func (g *generator) occupation(age float64, minor bool) int32 {
	r := g.r
	switch {
	case minor:
		return 4
	case age <= 22 && r.Float64() < 0.6:
		return 4
	case age >= 60 && r.Float64() < 0.7:
		return 5
	}
	return g.pick(g.w.occupation)
}

// pick draws an index with the given weights, which sum to 1.
func (g *generator) pick(weights []float64) int32 {
	u := g.r.Float64()
	for i, w := range weights {
		if u < w {
			return int32(i)
		}
		u -= w
	}
	return int32(len(weights) - 1)
}
