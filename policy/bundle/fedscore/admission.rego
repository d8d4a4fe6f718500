# METADATA
# title: fedscore admission
# description: >-
#   Whether a joint segment query may run on this node's data. Every deny
#   reason names the rule it enforces; the query is allowed only when there
#   is none.
package fedscore.admission

import data.fedscore.cohort

purpose := cohort.purpose

query_columns := object.get(input, ["query", "columns"], [])

min_partners := object.get(input, ["query", "min_partners"], null)

# decision is the document the Go engine reads.
decision := {
	"allow": allow,
	"deny": deny,
	"cohort": cohort.rule,
}

default allow := false

allow if count(deny) == 0

reason(code, article, message) := {"code": code, "article": article, "message": message}

purpose_known if purpose in object.keys(data.fedscore.purposes)

licensed_credit_channel if data.fedscore.licensed_credit_channel == true

assume_consent if data.fedscore.assume_consent_when_absent == true

# Processing needs a definite, declared purpose.
deny contains reason(
	"PURPOSE_UNKNOWN",
	"PIPL Art. 6",
	sprintf("purpose %v is not a configured processing purpose", [purpose]),
) if not purpose_known

# Credit evaluation shared between institutions is credit reporting business,
# which needs a licensed credit-reporting agency in the chain.
deny contains reason(
	"CREDIT_REPORTING_LICENSE_REQUIRED",
	"PBOC Credit Reporting Business Measures Art. 4",
	sprintf("purpose %s is only allowed through a licensed credit-reporting channel", [purpose]),
) if {
	data.fedscore.purposes[purpose].requires_licensed_credit_channel == true
	not licensed_credit_channel
}

# Minimum necessity: identifiers never leave a node, not even as a dimension.
deny contains reason(
	"IDENTIFIER_COLUMN",
	"PIPL Art. 6",
	sprintf("column %s identifies a person and may not be queried", [col]),
) if {
	some col in query_columns
	col in data.fedscore.identifier_columns
}

# Minimum necessity: only the columns configured for the purpose.
deny contains reason(
	"PURPOSE_COLUMNS",
	"PIPL Art. 6",
	sprintf("column %v is not allowed for purpose %s", [col, purpose]),
) if {
	purpose_known
	some col in query_columns
	not col in data.fedscore.identifier_columns
	not col in data.fedscore.purposes[purpose].allowed_columns
}

# An aggregate over too few partners could single out one partner's
# customers, so the output would not be anonymised.
deny contains reason(
	"MIN_PARTNERS",
	"PIPL Art. 73(4)",
	sprintf("query aggregates over %v partners; at least %v are required", [min_partners, data.fedscore.min_partners]),
) if not min_partners_met

min_partners_met if {
	is_number(min_partners)
	min_partners >= data.fedscore.min_partners
}

# Consent is the lawful basis for every configured purpose, so a node that
# does not record it cannot take part.
deny contains reason(
	"CONSENT_COLUMN_MISSING",
	"PIPL Art. 13",
	sprintf("node has no %s column recording consent for purpose %s", [cohort.consent_column, purpose]),
) if {
	purpose_known
	not cohort.consent_column in cohort.node_columns
	not assume_consent
}
