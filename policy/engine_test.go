package policy_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedscore/fedscore/policy"
)

// partnerColumns is the synthetic partner schema.
var partnerColumns = []string{
	"customer_id", "age", "gender", "education", "occupation", "income_tier",
	"region", "city_tier", "risk_preference", "annual_txn_amount", "credit_score",
	"credit_utilization", "delinquencies_12m", "has_credit_card",
	"consent_marketing_analytics", "consent_risk_analytics", "consent_credit_scoring",
	"consent_withdrawn", "consent_marketing_analytics_notice_version",
	"consent_risk_analytics_notice_version", "consent_credit_scoring_notice_version",
	"consent_withdrawn_at", "collected_at", "consent_sensitive", "opt_out_automated",
	"consent_provision",
}

var decisionTime = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

// now is decisionTime in Unix seconds, as cohort conditions carry it.
var now = float64(decisionTime.Unix())

const day = 86400

func newEngine(t testing.TB, opts policy.Options) *policy.Engine {
	t.Helper()
	e, err := policy.NewEngine(context.Background(), opts)
	if err != nil {
		t.Fatalf("NewEngine: %v", err)
	}
	return e
}

// admission is an allowed marketing query reading one sensitive column
// under its approved impact assessment, changed by modify.
func admission(modify func(*policy.AdmissionInput)) policy.AdmissionInput {
	in := policy.AdmissionInput{
		Query: policy.QueryInfo{
			ID:          "q-1",
			Digest:      "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
			Purpose:     "marketing_analytics",
			Columns:     []string{"age", "region", "annual_txn_amount"},
			Metrics:     []string{"count", "sum"},
			MinPartners: 3,
			Querier:     "spiffe://fedscore.local/querier/analyst",
			PipiaID:     "PIPIA-2026-MA-01",
			// The default bundle requires differential privacy.
			Epsilon: 1,
		},
		NodeName:    "bank-a",
		NodeColumns: slices.Clone(partnerColumns),
		Time:        decisionTime,
	}
	if modify != nil {
		modify(&in)
	}
	return in
}

func without(cols []string, drop ...string) []string {
	return slices.DeleteFunc(slices.Clone(cols), func(c string) bool { return slices.Contains(drop, c) })
}

func codes(d policy.Decision) []string {
	var out []string
	for _, r := range d.Reasons {
		out = append(out, r.Code)
	}
	slices.Sort(out)
	return out
}

// cond is a condition without its article, which the tests compare apart.
func cond(column, op string, value any, code string) policy.Condition {
	return policy.Condition{Column: column, Op: op, Value: value, Missing: policy.MissingExclude, Code: code}
}

// Conditions of the default bundle.
var (
	marketingConsent = cond("consent_marketing_analytics", policy.OpEq, true, "PURPOSE_CONSENT")
	marketingNotice  = cond("consent_marketing_analytics_notice_version", policy.OpGe, 3.0, "CONSENT_NOTICE_VERSION")
	withdrawn        = cond("consent_withdrawn", policy.OpNe, true, "CONSENT_WITHDRAWN")
	withdrawnAt      = policy.Condition{Column: "consent_withdrawn_at", Op: policy.OpGt, Value: now, Missing: policy.MissingInclude, Code: "CONSENT_WITHDRAWN"}
	marketingKept    = cond("collected_at", policy.OpGe, now-730*day, "RETENTION_EXPIRED")
	sensitiveConsent = cond("consent_sensitive", policy.OpEq, true, "SENSITIVE_CONSENT")
	noMinors         = cond("age", policy.OpGe, 14.0, "MINOR")
)

// withConditions returns the full marketing cohort with extra conditions,
// less those on the columns in drop.
func withConditions(extra []policy.Condition, drop ...string) []policy.Condition {
	all := []policy.Condition{marketingConsent, marketingNotice, withdrawn, withdrawnAt, marketingKept, sensitiveConsent, noMinors}
	all = slices.DeleteFunc(all, func(c policy.Condition) bool { return slices.Contains(drop, c.Column) })
	return append(all, extra...)
}

func TestAdmit(t *testing.T) {
	sandbox := policy.Options{DataOverrides: map[string]any{"assume_consent_when_absent": true}}
	withPIPIA := func(id string, covers ...string) policy.Options {
		return policy.Options{DataOverrides: map[string]any{"pipia": map[string]any{"approved": map[string]any{
			id: map[string]any{"purposes": []string{"marketing_analytics"}, "covers": covers},
		}}}}
	}
	fullCohort := withConditions(nil)

	tests := []struct {
		name   string
		opts   policy.Options
		modify func(*policy.AdmissionInput)
		codes  []string           // nil: allowed
		cohort []policy.Condition // nil: not checked
	}{
		{
			name:   "allowed query",
			cohort: fullCohort,
		},
		{
			name: "risk analytics may read credit columns",
			modify: func(in *policy.AdmissionInput) {
				in.Query.Purpose = "risk_analytics"
				in.Query.Columns = []string{"credit_score"}
				in.Query.PipiaID = "PIPIA-2026-RA-01"
			},
			cohort: []policy.Condition{
				cond("consent_risk_analytics", policy.OpEq, true, "PURPOSE_CONSENT"),
				cond("consent_risk_analytics_notice_version", policy.OpGe, 2.0, "CONSENT_NOTICE_VERSION"),
				withdrawn, withdrawnAt,
				cond("collected_at", policy.OpGe, now-1825*day, "RETENTION_EXPIRED"),
				sensitiveConsent, noMinors,
			},
		},
		{
			name:   "no sensitive column, no separate consent and no assessment",
			modify: func(in *policy.AdmissionInput) { in.Query.Columns = []string{"age", "gender"}; in.Query.PipiaID = "" },
			cohort: withConditions(nil, "consent_sensitive"),
		},
		{
			name: "unknown purpose",
			modify: func(in *policy.AdmissionInput) {
				in.Query.Purpose = "resale"
				in.Query.Columns = []string{"age"}
				in.Query.PipiaID = ""
			},
			codes: []string{"PURPOSE_UNKNOWN"},
		},
		{
			name:   "empty purpose",
			modify: func(in *policy.AdmissionInput) { in.Query.Purpose = ""; in.Query.Columns = []string{"age"} },
			codes:  []string{"PIPIA_NOT_APPROVED", "PURPOSE_UNKNOWN"},
		},
		{
			name: "credit scoring without licensed channel",
			modify: func(in *policy.AdmissionInput) {
				in.Query.Purpose = "credit_scoring"
				in.Query.PipiaID = "PIPIA-2026-CS-01"
			},
			codes: []string{"CREDIT_REPORTING_LICENSE_REQUIRED"},
		},
		{
			name: "credit scoring through licensed channel excludes opt-outs",
			opts: policy.Options{DataOverrides: map[string]any{"licensed_credit_channel": true}},
			modify: func(in *policy.AdmissionInput) {
				in.Query.Purpose = "credit_scoring"
				in.Query.PipiaID = "PIPIA-2026-CS-01"
			},
			cohort: []policy.Condition{
				cond("consent_credit_scoring", policy.OpEq, true, "PURPOSE_CONSENT"),
				cond("consent_credit_scoring_notice_version", policy.OpGe, 1.0, "CONSENT_NOTICE_VERSION"),
				withdrawn, withdrawnAt,
				cond("collected_at", policy.OpGe, now-1825*day, "RETENTION_EXPIRED"),
				sensitiveConsent,
				cond("opt_out_automated", policy.OpNe, true, "AUTOMATED_DECISION_OPT_OUT"),
				noMinors,
			},
		},
		{
			name: "automated decision without opt-out records",
			opts: policy.Options{DataOverrides: map[string]any{"licensed_credit_channel": true}},
			modify: func(in *policy.AdmissionInput) {
				in.Query.Purpose = "credit_scoring"
				in.Query.PipiaID = "PIPIA-2026-CS-01"
				in.NodeColumns = without(in.NodeColumns, "opt_out_automated")
			},
			codes: []string{"OPT_OUT_COLUMN_MISSING"},
		},
		{
			name:   "disallowed column for purpose",
			modify: func(in *policy.AdmissionInput) { in.Query.Columns = append(in.Query.Columns, "credit_score") },
			codes:  []string{"PURPOSE_COLUMNS"},
		},
		{
			name:   "customer_id requested",
			modify: func(in *policy.AdmissionInput) { in.Query.Columns = append(in.Query.Columns, "customer_id") },
			codes:  []string{"IDENTIFIER_COLUMN"},
		},
		{
			name:   "C3 field requested",
			modify: func(in *policy.AdmissionInput) { in.Query.Columns = append(in.Query.Columns, "password_hash") },
			codes:  []string{"C3_FIELD", "PURPOSE_COLUMNS"},
		},
		{
			name:   "C2 field outside the encrypted pipeline",
			modify: func(in *policy.AdmissionInput) { in.Plaintext = true },
			codes:  []string{"C2_OUTSIDE_ENCRYPTED_PIPELINE"},
		},
		{
			name: "C1 fields outside the encrypted pipeline",
			modify: func(in *policy.AdmissionInput) {
				in.Plaintext = true
				in.Query.Columns = []string{"age", "region"}
			},
		},
		{
			name:   "sensitive column without an assessment",
			modify: func(in *policy.AdmissionInput) { in.Query.PipiaID = "" },
			codes:  []string{"PIPIA_REQUIRED"},
		},
		{
			name:   "assessment not on the register",
			modify: func(in *policy.AdmissionInput) { in.Query.PipiaID = "PIPIA-1999-01" },
			codes:  []string{"PIPIA_NOT_APPROVED"},
		},
		{
			name:   "sensitive column without separate consent records",
			modify: func(in *policy.AdmissionInput) { in.NodeColumns = without(in.NodeColumns, "consent_sensitive") },
			codes:  []string{"SENSITIVE_CONSENT_COLUMN_MISSING"},
		},
		{
			name:   "cross-border destination",
			modify: func(in *policy.AdmissionInput) { in.Query.Destination = "SG" },
			codes:  []string{"CROSS_BORDER_CONSENT_COLUMN_MISSING", "CROSS_BORDER_DENIED", "PIPIA_SCOPE"},
		},
		{
			name:   "explicit domestic destination",
			modify: func(in *policy.AdmissionInput) { in.Query.Destination = "CN"; in.Query.Recipient = "self" },
			cohort: fullCohort,
		},
		{
			name:   "provision to another processor outside the assessment",
			modify: func(in *policy.AdmissionInput) { in.Query.Recipient = "acme-consumer-finance" },
			codes:  []string{"PIPIA_SCOPE"},
		},
		{
			name: "provision to another processor needs separate consent",
			opts: withPIPIA("PIPIA-X", "sensitive_personal_information", "provision_to_others"),
			modify: func(in *policy.AdmissionInput) {
				in.Query.Recipient = "acme-consumer-finance"
				in.Query.PipiaID = "PIPIA-X"
			},
			cohort: withConditions([]policy.Condition{cond("consent_provision", policy.OpEq, true, "PROVISION_CONSENT")}),
		},
		{
			name: "provision to another processor without consent records",
			opts: withPIPIA("PIPIA-X", "sensitive_personal_information", "provision_to_others"),
			modify: func(in *policy.AdmissionInput) {
				in.Query.Recipient = "acme-consumer-finance"
				in.Query.PipiaID = "PIPIA-X"
				in.NodeColumns = without(in.NodeColumns, "consent_provision")
			},
			codes: []string{"PROVISION_CONSENT_COLUMN_MISSING"},
		},
		{
			name:   "min partners too low",
			modify: func(in *policy.AdmissionInput) { in.Query.MinPartners = 2 },
			codes:  []string{"MIN_PARTNERS"},
		},
		{
			name:   "min partners unset",
			modify: func(in *policy.AdmissionInput) { in.Query.MinPartners = 0 },
			codes:  []string{"MIN_PARTNERS"},
		},
		{
			name:   "min partners raised by data",
			opts:   policy.Options{DataOverrides: map[string]any{"min_partners": 5}},
			modify: func(in *policy.AdmissionInput) { in.Query.MinPartners = 4 },
			codes:  []string{"MIN_PARTNERS"},
		},
		{
			name: "missing consent column denied",
			modify: func(in *policy.AdmissionInput) {
				in.NodeColumns = without(in.NodeColumns, "consent_marketing_analytics")
			},
			codes: []string{"CONSENT_COLUMN_MISSING"},
		},
		{
			name:   "missing consent columns allowed in sandbox",
			opts:   sandbox,
			modify: func(in *policy.AdmissionInput) { in.NodeColumns = []string{"age", "region", "annual_txn_amount"} },
			cohort: []policy.Condition{noMinors},
		},
		{
			name:   "recorded consent still required in sandbox",
			opts:   sandbox,
			cohort: fullCohort,
		},
		{
			name: "cohort without withdrawal, retention and version records",
			modify: func(in *policy.AdmissionInput) {
				in.NodeColumns = without(in.NodeColumns, "consent_withdrawn", "consent_withdrawn_at", "collected_at", "consent_marketing_analytics_notice_version")
			},
			cohort: []policy.Condition{marketingConsent, sensitiveConsent, noMinors},
		},
		{
			name: "node without age column",
			modify: func(in *policy.AdmissionInput) {
				in.Query.Columns = []string{"region"}
				in.NodeColumns = without(in.NodeColumns, "age")
			},
			codes: []string{"AGE_COLUMN_MISSING"},
		},
		{
			name:   "min age and notice version from data",
			opts:   policy.Options{DataOverrides: map[string]any{"min_age": 18, "purposes": map[string]any{"marketing_analytics": map[string]any{"notice_version": 4}}}},
			cohort: withConditions([]policy.Condition{cond("age", policy.OpGe, 18.0, "MINOR"), cond("consent_marketing_analytics_notice_version", policy.OpGe, 4.0, "CONSENT_NOTICE_VERSION")}, "age", "consent_marketing_analytics_notice_version"),
		},
		{
			name: "reasons accumulate",
			modify: func(in *policy.AdmissionInput) {
				in.Query.Purpose = "credit_scoring"
				in.Query.Columns = []string{"customer_id", "gender"}
				in.Query.MinPartners = 1
				in.NodeColumns = nil
			},
			codes: []string{"AGE_COLUMN_MISSING", "CONSENT_COLUMN_MISSING", "CREDIT_REPORTING_LICENSE_REQUIRED", "IDENTIFIER_COLUMN", "MIN_PARTNERS", "OPT_OUT_COLUMN_MISSING", "PIPIA_NOT_APPROVED", "PURPOSE_COLUMNS"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEngine(t, tt.opts)
			d, err := e.Admit(context.Background(), admission(tt.modify))
			if err != nil {
				t.Fatalf("Admit: %v", err)
			}
			if got := codes(d); !slices.Equal(got, tt.codes) {
				t.Fatalf("codes = %v, want %v (reasons %v)", got, tt.codes, d.Reasons)
			}
			if d.Allow != (tt.codes == nil) {
				t.Errorf("Allow = %v with codes %v", d.Allow, tt.codes)
			}
			for _, r := range d.Reasons {
				if r.Article == "" || r.Message == "" {
					t.Errorf("reason %+v lacks an article or message", r)
				}
			}
			for _, c := range d.Cohort.Conditions {
				if !strings.HasPrefix(c.Article, "PIPL Art. ") {
					t.Errorf("condition %v cites no PIPL article", c)
				}
			}
			if tt.cohort != nil {
				if got, want := sortedConditions(d.Cohort.Conditions), sortedConditions(tt.cohort); !slices.Equal(got, want) {
					t.Errorf("cohort conditions\n got %v\nwant %v", got, want)
				}
			}
			if err := d.Err(); (err == nil) != d.Allow || (err != nil && !errors.Is(err, policy.ErrDenied)) {
				t.Errorf("Err() = %v with Allow %v", err, d.Allow)
			}
		})
	}
}

// sortedConditions formats conditions without their articles, sorted.
func sortedConditions(cs []policy.Condition) []string {
	var out []string
	for _, c := range cs {
		c.Article = ""
		out = append(out, c.String())
	}
	slices.Sort(out)
	return out
}

func TestAdmitDecisionMetadata(t *testing.T) {
	e := newEngine(t, policy.Options{})
	in := admission(nil)
	in.Time = time.Date(2026, 11, 24, 18, 0, 0, 0, time.FixedZone("CST", 8*3600))

	d1, err := e.Admit(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	d2, err := e.Admit(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if d1.ID == "" || d1.ID == d2.ID {
		t.Errorf("decision IDs %q and %q are not unique", d1.ID, d2.ID)
	}
	if len(d1.ID) != 36 || d1.ID[14] != '4' {
		t.Errorf("decision ID %q is not a version 4 UUID", d1.ID)
	}
	if !d1.Time.Equal(in.Time) || d1.Time.Location() != time.UTC {
		t.Errorf("Time = %v, want %v in UTC", d1.Time, in.Time)
	}
	if d1.BundleRevision != e.Revision() {
		t.Errorf("BundleRevision = %q, want %q", d1.BundleRevision, e.Revision())
	}

	in.Time = time.Time{}
	before := time.Now()
	d3, err := e.Admit(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if d3.Time.Before(before) || d3.Time.After(time.Now()) {
		t.Errorf("zero input time gave decision time %v, want now", d3.Time)
	}
}

func TestDeniedErr(t *testing.T) {
	e := newEngine(t, policy.Options{})
	d, err := e.Admit(context.Background(), admission(func(in *policy.AdmissionInput) {
		in.Query.Columns = []string{"credit_score"}
	}))
	if err != nil {
		t.Fatal(err)
	}
	err = d.Err()
	want := "policy denied: PURPOSE_COLUMNS (PIPL Art. 6): column credit_score is not allowed for purpose marketing_analytics"
	if err == nil || err.Error() != want {
		t.Fatalf("Err() = %v, want %q", err, want)
	}
	if !errors.Is(err, policy.ErrDenied) || errors.Is(err, policy.ErrUndefined) {
		t.Errorf("Err() = %v: Is(ErrDenied) must hold and Is(ErrUndefined) must not", err)
	}
	var denied *policy.DeniedError
	if !errors.As(err, &denied) || len(denied.Reasons) != 1 {
		t.Errorf("errors.As(%v, *DeniedError) = %v", err, denied)
	}
}

func TestRevisionFromManifest(t *testing.T) {
	manifest, err := os.ReadFile("bundle/.manifest")
	if err != nil {
		t.Fatal(err)
	}
	e := newEngine(t, policy.Options{})
	if e.Revision() == "" || !strings.Contains(string(manifest), `"revision": "`+e.Revision()+`"`) {
		t.Errorf("Revision() = %q, not the revision in bundle/.manifest", e.Revision())
	}

	u := newEngine(t, policy.Options{Bundle: os.DirFS("testdata/undefined")})
	if got, want := u.Revision(), "undefined-1"; got != want {
		t.Errorf("Revision() = %q, want %q", got, want)
	}
}

func TestUndefinedDecisionDenies(t *testing.T) {
	e := newEngine(t, policy.Options{Bundle: os.DirFS("testdata/undefined")})
	d, err := e.Admit(context.Background(), admission(nil))
	if err != nil {
		t.Fatalf("Admit returned error %v; an undefined decision is a deny, not a failure", err)
	}
	if d.Allow || !slices.Equal(codes(d), []string{policy.CodeUndefinedDecision}) {
		t.Fatalf("Decision = %+v, want a deny with %s", d, policy.CodeUndefinedDecision)
	}
	if d.ID == "" || d.BundleRevision != "undefined-1" {
		t.Errorf("ID = %q, BundleRevision = %q", d.ID, d.BundleRevision)
	}
	if err := d.Err(); !errors.Is(err, policy.ErrDenied) || !errors.Is(err, policy.ErrUndefined) {
		t.Errorf("Err() = %v, want it to wrap ErrDenied and ErrUndefined", err)
	}
}

func TestMalformedDecision(t *testing.T) {
	e := newEngine(t, policy.Options{Bundle: os.DirFS("testdata/malformed")})
	d, err := e.Admit(context.Background(), admission(nil))
	if !errors.Is(err, policy.ErrMalformedDecision) {
		t.Fatalf("Admit error = %v, want ErrMalformedDecision", err)
	}
	if d.Allow {
		t.Error("a malformed decision allowed the query")
	}
}

func TestNewEngineRejectsBadBundles(t *testing.T) {
	tests := []struct {
		dir  string
		want []string // substrings of the error
	}{
		{"testdata/syntaxerror", []string{"fedscore/admission.rego:4", "rego_parse_error", "`if` keyword is required"}},
		{"testdata/network", []string{"http.send"}},
		{"testdata/norevision", []string{"no revision"}},
		{"testdata/does-not-exist", []string{"no such file"}},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			e, err := policy.NewEngine(context.Background(), policy.Options{Bundle: os.DirFS(tt.dir)})
			if err == nil {
				t.Fatalf("NewEngine(%s) = %v, want an error", tt.dir, e)
			}
			t.Log(err)
			if !errors.Is(err, policy.ErrBundle) {
				t.Errorf("error %v does not wrap ErrBundle", err)
			}
			for _, s := range tt.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
}

func TestInvalidDataOverrides(t *testing.T) {
	for name, overrides := range map[string]map[string]any{
		"not JSON":    {"min_partners": make(chan int)},
		"unknown key": {"assume_consent_when_absnet": true},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := policy.NewEngine(context.Background(), policy.Options{DataOverrides: overrides})
			if !errors.Is(err, policy.ErrBundle) {
				t.Fatalf("NewEngine error = %v, want ErrBundle", err)
			}
		})
	}
}

func TestDataOverridesMergeNested(t *testing.T) {
	e := newEngine(t, policy.Options{DataOverrides: map[string]any{
		"purposes": map[string]any{
			"marketing_analytics": map[string]any{"allowed_columns": []string{"region"}},
		},
	}})
	d, err := e.Admit(context.Background(), admission(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := codes(d), []string{"PURPOSE_COLUMNS", "PURPOSE_COLUMNS"}; !slices.Equal(got, want) {
		t.Errorf("codes = %v, want %v", got, want)
	}
	d, err = e.Admit(context.Background(), admission(func(in *policy.AdmissionInput) {
		in.Query.Purpose = "risk_analytics"
		in.Query.PipiaID = "PIPIA-2026-RA-01"
	}))
	if err != nil || !d.Allow {
		t.Errorf("other purposes must keep their columns: %+v, %v", d, err)
	}
}

func TestAdmitConcurrent(t *testing.T) {
	e := newEngine(t, policy.Options{})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 50 {
				in := admission(nil)
				in.Query.MinPartners = 1 + (i+j)%4
				d, err := e.Admit(context.Background(), in)
				if err != nil {
					t.Error(err)
					return
				}
				if d.Allow != (in.Query.MinPartners >= 3) {
					t.Errorf("min_partners %d: Allow = %v", in.Query.MinPartners, d.Allow)
				}
			}
		})
	}
	wg.Wait()
}

func TestAdmitCanceled(t *testing.T) {
	e := newEngine(t, policy.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d, err := e.Admit(ctx, admission(nil))
	if !errors.Is(err, context.Canceled) || d.Allow {
		t.Fatalf("Admit with a canceled context = %+v, %v; want an error and no allow", d, err)
	}
}

func BenchmarkAdmit(b *testing.B) {
	e := newEngine(b, policy.Options{})
	in := admission(nil)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		d, err := e.Admit(ctx, in)
		if err != nil || !d.Allow {
			b.Fatalf("Admit = %+v, %v", d, err)
		}
	}
}

func TestReleaseDestination(t *testing.T) {
	e := newEngine(t, policy.Options{})
	for dest, allow := range map[string]bool{"": true, "CN": true, "SG": false} {
		d, err := e.Release(context.Background(), policy.ReleaseInput{
			Query:    policy.QueryInfo{ID: "q-1", Purpose: "marketing_analytics", MinPartners: 3, Destination: dest},
			NodeName: "bank-a",
			Cells:    4,
			Time:     decisionTime,
		})
		if err != nil {
			t.Fatal(err)
		}
		if d.Allow != allow {
			t.Errorf("destination %q: Allow = %v, want %v (%v)", dest, d.Allow, allow, d.Reasons)
		}
		if !allow && (len(d.Reasons) != 1 || d.Reasons[0].Code != "CROSS_BORDER_DENIED") {
			t.Errorf("destination %q: reasons %v, want CROSS_BORDER_DENIED", dest, d.Reasons)
		}
	}
}
