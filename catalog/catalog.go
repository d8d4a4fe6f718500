package catalog

import (
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"

	"github.com/fedscore/fedscore/policy/review"
)

// Catalog is what a federation can be asked.
type Catalog struct {
	// Revision is the policy bundle's revision the catalogue is built from.
	Revision string    `json:"revision"`
	Schema   string    `json:"schema,omitempty"`
	Purposes []Purpose `json:"purposes"`
	// MinPartners is the policy's minimum for a query's min_partners.
	MinPartners int     `json:"min_partners"`
	Privacy     Privacy `json:"privacy"`
	Consent     Consent `json:"consent"`
	// Identifiers are columns that may never be queried.
	Identifiers []string `json:"identifiers"`
	// Columns is the whole published schema.
	Columns []Column `json:"columns"`
	// Metrics are the metric kinds a query may compute.
	Metrics []string `json:"metrics"`

	articles map[string]string // rule code -> cited article
	pipias   map[string]pipia
	schema   *Schema
}

// Purpose is one processing purpose of the policy.
type Purpose struct {
	Name              string `json:"name"`
	Description       string `json:"description,omitempty"`
	LegalBasis        string `json:"legal_basis,omitempty"`
	RequiresPIPIA     bool   `json:"requires_pipia"`
	AutomatedDecision bool   `json:"automated_decision"`
	// LicensedChannel: the purpose is credit reporting and runs only
	// through a licensed credit-reporting channel.
	LicensedChannel      bool `json:"licensed_channel"`
	RetentionDays        int  `json:"retention_days,omitempty"`
	NoticeVersion        int  `json:"notice_version,omitempty"`
	ConsentMethodVersion int  `json:"consent_method_version,omitempty"`
	// ConsentColumn records each customer's consent to the purpose.
	ConsentColumn string `json:"consent_column"`
	// PIPIAs are the approved impact assessments for the purpose.
	PIPIAs  []PIPIA         `json:"pipias,omitempty"`
	Columns []PurposeColumn `json:"columns"`
}

// PIPIA is an approved impact assessment (PIPL Art. 55-56).
type PIPIA struct {
	ID         string   `json:"id"`
	Covers     []string `json:"covers"`
	ValidUntil string   `json:"valid_until,omitempty"`
}

type pipia struct {
	purposes []string
	PIPIA
}

// PurposeColumn is a column a purpose may read.
type PurposeColumn struct {
	Column
	// Published reports that the schema describes the column; when false
	// only the policy names it.
	Published bool `json:"published"`
	// Class is the JR/T 0171-2020 class (C1, C2).
	Class     string `json:"class"`
	Sensitive bool   `json:"sensitive"`
	// Requires lists what reading the column needs beyond purpose consent.
	Requires []string `json:"requires,omitempty"`
}

// Privacy are the bundle's release and differential-privacy settings.
type Privacy struct {
	DPRequired             bool    `json:"dp_required"`
	MaxEpsilonPerQuery     float64 `json:"max_epsilon_per_query,omitempty"`
	DailyEpsilonPerPurpose float64 `json:"daily_epsilon_per_purpose,omitempty"`
	// MinCellSize is the release gate's minimum cell size (never below 11).
	MinCellSize       int `json:"min_cell_size"`
	MaxReleasesPerDay int `json:"max_releases_per_purpose_per_day,omitempty"`
	// MinAge: records of younger customers never enter a cohort.
	MinAge             int  `json:"min_age"`
	CrossBorderAllowed bool `json:"cross_border_allowed"`
	// ProvisionConsent: a result for another processor counts only
	// customers who consented to provision.
	ProvisionConsent bool `json:"provision_consent"`
}

// Consent names the record columns the cohort rule reads.
type Consent struct {
	Prefix          string            `json:"prefix"`
	RecordColumns   map[string]string `json:"record_columns"`
	AssumedIfAbsent bool              `json:"assumed_if_absent"`
}

// Requirements a column or query can carry.
const (
	RequiresPIPIA            = "pipia"
	RequiresSensitiveConsent = "sensitive_consent"
)

// Build joins a reviewed policy bundle with a published schema (nil means
// none: the catalogue then knows columns only by name).
func Build(b *review.Bundle, schema *Schema) *Catalog {
	d := b.Data
	c := &Catalog{
		Revision:    b.Info.Manifest.Revision,
		MinPartners: intOf(d["min_partners"]),
		Identifiers: stringsOf(d["identifier_columns"]),
		Metrics:     []string{"count", "sum", "mean", "histogram"},
		articles:    map[string]string{},
		pipias:      map[string]pipia{},
		schema:      schema,
	}
	if schema != nil {
		c.Schema, c.Columns = schema.Name, schema.Columns
	}
	for _, r := range b.Rules {
		if _, ok := c.articles[r.Code]; !ok {
			c.articles[r.Code] = r.Article
		}
	}
	gate, _ := d["release_gate"].(map[string]any)
	dp, _ := d["dp"].(map[string]any)
	c.Privacy = Privacy{
		DPRequired:             dp["required"] == true,
		MaxEpsilonPerQuery:     floatOf(dp["max_epsilon_per_query"]),
		DailyEpsilonPerPurpose: floatOf(dp["daily_epsilon_per_purpose"]),
		MinCellSize:            max(intOf(gate["min_cell_size"]), 11),
		MaxReleasesPerDay:      intOf(gate["max_releases_per_purpose_per_day"]),
		MinAge:                 max(intOf(d["min_age"]), 14),
		CrossBorderAllowed:     d["cross_border_allowed"] == true,
		ProvisionConsent:       d["provision_to_others_requires_separate_consent"] != false,
	}
	if _, ok := gate["min_cell_size"]; !ok {
		c.Privacy.MinCellSize = 50
	}
	c.Consent = Consent{Prefix: stringOf(d["consent_column_prefix"]), RecordColumns: map[string]string{}, AssumedIfAbsent: d["assume_consent_when_absent"] == true}
	if rc, ok := d["record_columns"].(map[string]any); ok {
		for k, v := range rc {
			c.Consent.RecordColumns[k] = stringOf(v)
		}
	}
	if reg, ok := d["pipia"].(map[string]any); ok {
		approved, _ := reg["approved"].(map[string]any)
		for id, v := range approved {
			m, _ := v.(map[string]any)
			c.pipias[id] = pipia{purposes: stringsOf(m["purposes"]), PIPIA: PIPIA{ID: id, Covers: stringsOf(m["covers"]), ValidUntil: stringOf(m["valid_until"])}}
		}
	}
	classes, _ := d["columns"].(map[string]any)
	purposes, _ := d["purposes"].(map[string]any)
	for _, name := range slices.Sorted(maps.Keys(purposes)) {
		m, _ := purposes[name].(map[string]any)
		p := Purpose{
			Name: name, Description: stringOf(m["description"]), LegalBasis: stringOf(m["legal_basis"]),
			RequiresPIPIA:        m["requires_pipia"] == true,
			LicensedChannel:      m["requires_licensed_credit_channel"] == true || strings.HasPrefix(name, "credit_"),
			RetentionDays:        intOf(m["retention_days"]),
			NoticeVersion:        intOf(m["notice_version"]),
			ConsentMethodVersion: intOf(m["consent_method_version"]),
			ConsentColumn:        c.Consent.Prefix + name,
		}
		p.AutomatedDecision = m["automated_decision"] == true || p.LicensedChannel
		for _, id := range slices.Sorted(maps.Keys(c.pipias)) {
			if a := c.pipias[id]; slices.Contains(a.purposes, name) {
				p.PIPIAs = append(p.PIPIAs, a.PIPIA)
			}
		}
		for _, col := range stringsOf(m["allowed_columns"]) {
			pc := PurposeColumn{Column: Column{Name: col}, Class: "C1"}
			if schema != nil {
				if sc, ok := schema.Column(col); ok {
					pc.Column, pc.Published = sc, true
				}
			}
			if cm, ok := classes[col].(map[string]any); ok {
				if cl := stringOf(cm["class"]); cl != "" {
					pc.Class = cl
				}
				pc.Sensitive = cm["sensitive"] == true
			}
			if pc.Sensitive {
				pc.Requires = []string{RequiresPIPIA, RequiresSensitiveConsent}
			}
			p.Columns = append(p.Columns, pc)
		}
		c.Purposes = append(c.Purposes, p)
	}
	return c
}

// Purpose returns the named purpose.
func (c *Catalog) Purpose(name string) (Purpose, bool) {
	i := slices.IndexFunc(c.Purposes, func(p Purpose) bool { return p.Name == name })
	if i < 0 {
		return Purpose{}, false
	}
	return c.Purposes[i], true
}

// Column returns a column the purpose may read.
func (p Purpose) Column(name string) (PurposeColumn, bool) {
	i := slices.IndexFunc(p.Columns, func(c PurposeColumn) bool { return c.Name == name })
	if i < 0 {
		return PurposeColumn{}, false
	}
	return p.Columns[i], true
}

// cite renders a rule code with the article the bundle cites for it.
func (c *Catalog) cite(code string) string {
	if a := c.articles[code]; a != "" {
		return fmt.Sprintf("%s, %s", code, a)
	}
	return code
}

func stringOf(v any) string { s, _ := v.(string); return s }

func floatOf(v any) float64 { f, _ := v.(float64); return f }

func intOf(v any) int { return int(floatOf(v)) }

func stringsOf(v any) []string {
	l, _ := v.([]any)
	var out []string
	for _, x := range l {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// FromBundle builds the catalogue of the bundle at the root of fsys.
func FromBundle(fsys fs.FS, schema *Schema) (*Catalog, error) {
	b, err := review.Read(fsys)
	if err != nil {
		return nil, err
	}
	return Build(b, schema), nil
}
