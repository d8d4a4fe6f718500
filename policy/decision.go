package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
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
	// PipiaID names the approved personal information protection impact
	// assessment the query runs under (PIPL Art. 55-56); empty for none.
	PipiaID string
	// Destination is the ISO 3166-1 alpha-2 code of the country the result
	// goes to; empty means [DefaultDestination].
	Destination string
	// Recipient is RecipientSelf when the querier uses the result itself,
	// or the name of another processor it provides the result to; empty
	// means RecipientSelf.
	Recipient string
	// Epsilon is the differential-privacy budget the query spends; 0 for
	// none.
	Epsilon float64
}

// DefaultDestination is where a result goes when a query does not say.
const DefaultDestination = "CN"

// RecipientSelf is the recipient of a result the querier keeps.
const RecipientSelf = "self"

// destination returns q.Destination or its default.
func (q QueryInfo) destination() string {
	if q.Destination == "" {
		return DefaultDestination
	}
	return q.Destination
}

// recipient returns q.Recipient or its default.
func (q QueryInfo) recipient() string {
	if q.Recipient == "" {
		return RecipientSelf
	}
	return q.Recipient
}

// AdmissionInput is the input of an admission decision.
type AdmissionInput struct {
	Query QueryInfo
	// NodeName is the name of the node asking.
	NodeName string
	// NodeColumns are the columns of the node's data source; the policy
	// derives the cohort rule from them.
	NodeColumns []string
	// NodeRoles maps a role the policy reads of every record ("age",
	// "birth_date") to the node's column that holds it, as the node's
	// column mapping declares; a role not given is read from the column the
	// bundle's record_columns name.
	NodeRoles map[string]string
	// Plaintext says that the node's aggregate would leave it unencrypted,
	// as in a local preview or export. JR/T 0171-2020 C2 fields are then
	// refused: they may only enter the encrypted pipeline, where a node's
	// aggregate leaves it only as a ciphertext under the collective key.
	// Nodes answering joint queries leave it false.
	Plaintext bool
	// Model describes the scoring model whose derived columns the query
	// reads, or nil.
	Model *ModelInfo
	// EpsilonSpent is the privacy budget the node spent today on the
	// query's purpose and segment family, from its privacy ledger.
	EpsilonSpent float64
	// Time is the time of the decision; the zero value means now. Consent
	// withdrawal and retention are judged as of this time.
	Time time.Time
}

// ModelInfo describes a scoring model for the policy.
type ModelInfo struct {
	Name, Version, Digest string
	// ProtectedInputs lists the protected attributes the model takes as
	// direct inputs.
	ProtectedInputs []string
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

// Operators of a [Condition].
const (
	OpEq = "eq"
	OpNe = "ne"
	OpLt = "lt"
	OpLe = "le"
	OpGt = "gt"
	OpGe = "ge"
)

// What a [Condition] does with a record that has no value in its column.
const (
	MissingExclude = "exclude"
	MissingInclude = "include"
)

// CohortRule says which records may enter a query's cohort: those that
// satisfy every condition. The conditions come from the policy and only
// name columns of the node's data, so the same rule can be applied to an
// in-memory table or compiled into a database query.
//
// Its JSON form, in which nodes archive it, is the policy's own:
// {"conditions": [{"column": ..., "op": ..., "value": ..., ...}]}.
type CohortRule struct {
	Conditions []Condition `json:"conditions"`
}

// UnmarshalJSON decodes a rule in the form json.Marshal writes. A document
// without "conditions" is an error, so that a rule stored in another shape
// is never read as admitting every record.
func (r *CohortRule) UnmarshalJSON(b []byte) error {
	var doc struct {
		Conditions *[]Condition `json:"conditions"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return err
	}
	if doc.Conditions == nil {
		return errors.New("policy: cohort rule without conditions")
	}
	r.Conditions = *doc.Conditions
	return nil
}

// Condition is one record-level test: the record's value in Column
// compared by Op with Value, e.g. consent_withdrawn ne true.
type Condition struct {
	Column string `json:"column"`
	// Op is one of OpEq, OpNe, OpLt, OpLe, OpGt and OpGe. The ordering
	// operators take a number.
	Op string `json:"op"`
	// Value is a bool, a float64 or a string.
	Value any `json:"value"`
	// Missing is MissingExclude or MissingInclude: whether a record with
	// no value in Column fails or passes the condition. Empty means
	// MissingExclude.
	Missing string `json:"missing,omitempty"`
	// Code and Article say why the condition applies, for audits, e.g.
	// "CONSENT_WITHDRAWN" and "PIPL Art. 15".
	Code    string `json:"code"`
	Article string `json:"article,omitempty"`
}

// String formats c for logs, e.g.
// "consent_withdrawn_at gt 1795000000 or missing (CONSENT_WITHDRAWN, PIPL Art. 15)".
func (c Condition) String() string {
	var b strings.Builder
	b.WriteString(c.Column)
	b.WriteString(" ")
	b.WriteString(c.Op)
	b.WriteString(" ")
	switch v := c.Value.(type) {
	case float64:
		b.WriteString(strconv.FormatFloat(v, 'f', -1, 64))
	case string:
		b.WriteString(strconv.Quote(v))
	default:
		fmt.Fprint(&b, v)
	}
	if c.Missing == MissingInclude {
		b.WriteString(" or missing")
	}
	b.WriteString(" (")
	b.WriteString(c.Code)
	if c.Article != "" {
		b.WriteString(", ")
		b.WriteString(c.Article)
	}
	b.WriteString(")")
	return b.String()
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
