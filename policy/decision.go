package policy

import (
	"strings"
	"time"
)

// CodeUndefinedDecision is the reason given when the bundle produced no
// decision for an input; an undefined decision is a deny.
const CodeUndefinedDecision = "UNDEFINED_DECISION"

// QueryInfo is what a node knows about a joint query when it asks for
// admission. Digest is the hex digest of the signed query specification.
type QueryInfo struct {
	ID          string
	Digest      string
	Purpose     string
	Columns     []string
	Metrics     []string
	MinPartners int
	// Querier is the verified identity of the querier, e.g. a SPIFFE ID.
	Querier string
}

// AdmissionInput is the input of an admission decision.
type AdmissionInput struct {
	Query QueryInfo
	// NodeName is the name of the node asking.
	NodeName string
	// NodeColumns are the columns of the node's data source; the policy
	// derives the cohort rule from them.
	NodeColumns []string
	// Time is the time of the decision; the zero value means now.
	Time time.Time
}

// Reason is one reason for a deny.
type Reason struct {
	// Code is a stable SCREAMING_SNAKE identifier of the rule.
	Code string
	// Article is the legal provision the rule enforces, e.g. "PIPL Art. 6".
	Article string
	// Message explains the reason for this input.
	Message string
}

// String formats r as "CODE (Article): message".
func (r Reason) String() string {
	var b strings.Builder
	b.WriteString(r.Code)
	if r.Article != "" {
		b.WriteString(" (")
		b.WriteString(r.Article)
		b.WriteString(")")
	}
	if r.Message != "" {
		b.WriteString(": ")
		b.WriteString(r.Message)
	}
	return b.String()
}

// CohortRule says which records may enter a query's cohort.
type CohortRule struct {
	// RequireTrue lists boolean columns that must be true for a record.
	RequireTrue []string
	// ExcludeTrue lists boolean columns that exclude a record when true.
	ExcludeTrue []string
	// MinAge excludes records whose AgeColumn is below it. It applies only
	// when AgeColumn is set.
	MinAge    int
	AgeColumn string
}

// Decision is the outcome of an admission request.
type Decision struct {
	// ID uniquely identifies the decision in audit records and receipts.
	ID      string
	Allow   bool
	Reasons []Reason
	Cohort  CohortRule
	// BundleRevision is the revision of the bundle that decided.
	BundleRevision string
	Time           time.Time
}

// Err returns nil if d allows the query and otherwise a [*DeniedError]
// wrapping [ErrDenied] that lists the reasons.
func (d Decision) Err() error {
	if d.Allow {
		return nil
	}
	return &DeniedError{Reasons: d.Reasons}
}
