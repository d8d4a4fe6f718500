# METADATA
# title: fedscore admission
# description: >-
#   Whether a joint segment query may run on this node's data. Every deny
#   reason has a stable code and cites the provision it enforces; the query
#   is allowed only when there is none. The decision carries the cohort
#   rule, so that admission and the record-level filter come from one
#   evaluation of one bundle.
package fedscore.admission

import data.fedscore.cohort
import data.fedscore.privacy
import data.fedscore.query

# decision is the document the Go engine reads.
decision := {
	"allow": allow,
	"deny": deny,
	"cohort": cohort.rule,
	"privacy": privacy_settings,
}

default allow := false

allow if count(deny) == 0

reason(code, article, message) := {"code": code, "article": article, "message": message}

# configured holds when the purpose sets key to a positive number. Helper
# rules like this one keep a deny from failing open: `not f(x)` with x
# undefined is itself undefined, so a deny written that way would not fire.
configured(key) if {
	value := query.config[key]
	is_number(value)
	value > 0
}

# METADATA
# title: Purpose limitation
# description: Processing needs a definite, declared purpose.
deny contains reason(
	"PURPOSE_UNKNOWN",
	"PIPL Art. 6",
	sprintf("purpose %v is not a configured processing purpose", [query.purpose]),
) if not query.purpose_known

# METADATA
# title: Legal basis
# description: >-
#   Every purpose needs a legal basis the bundle accepts. The default bundle
#   accepts only consent for analytics shared between institutions.
deny contains reason(
	"LEGAL_BASIS_MISSING",
	"PIPL Art. 13",
	sprintf("purpose %s has no accepted legal basis (%v)", [query.purpose, basis]),
) if {
	query.purpose_known
	basis := object.get(query.config, "legal_basis", null)
	not legal_basis_accepted
}

legal_basis_accepted if query.config.legal_basis in data.fedscore.accepted_legal_bases

# METADATA
# title: Notice version
# description: >-
#   Consent is informed only against a known notice, and consent given under
#   an older notice has to be renewed; the purpose must name its current one.
deny contains reason(
	"NOTICE_VERSION_MISSING",
	"PIPL Art. 14, 17",
	sprintf("purpose %s has no current notice version", [query.purpose]),
) if {
	query.purpose_known
	not configured("notice_version")
}

# METADATA
# title: Consent method version
# description: A change of processing method needs consent again (PIPL Art. 14).
deny contains reason(
	"CONSENT_METHOD_VERSION_MISSING",
	"PIPL Art. 14",
	sprintf("purpose %s has no current consent method version", [query.purpose]),
) if {
	query.purpose_known
	not configured("consent_method_version")
}

# METADATA
# title: Retention period
# description: Personal information is kept no longer than its purpose needs.
deny contains reason(
	"RETENTION_PERIOD_MISSING",
	"PIPL Art. 19",
	sprintf("purpose %s has no retention period", [query.purpose]),
) if {
	query.purpose_known
	not configured("retention_days")
}

# METADATA
# title: Minimum necessity, identifiers
# description: Identifiers never leave a node, not even as a dimension.
deny contains reason(
	"IDENTIFIER_COLUMN",
	"PIPL Art. 6",
	sprintf("column %s identifies a person and may not be queried", [col]),
) if {
	some col in query.columns
	identifier(col)
}

identifier(col) if col in data.fedscore.identifier_columns

# METADATA
# title: Minimum necessity, columns
# description: Only the columns configured for the purpose may be read.
deny contains reason(
	"PURPOSE_COLUMNS",
	"PIPL Art. 6",
	sprintf("column %v is not allowed for purpose %s", [col, query.purpose]),
) if {
	query.purpose_known
	some col in query.columns
	not identifier(col)
	not allowed(col)
}

allowed(col) if col in query.config.allowed_columns

# METADATA
# title: C3 fields
# description: >-
#   Authentication information (JR/T 0171-2020 class C3: passwords, PINs,
#   card verification and track data, biometrics) never enters a computation.
deny contains reason(
	"C3_FIELD",
	"JR/T 0171-2020 C3; PIPL Art. 51",
	sprintf("column %s is JR/T 0171 class C3 and never enters a computation", [col]),
) if {
	some col in query.c3_columns
}

# METADATA
# title: C2 fields
# description: >-
#   Class C2 fields (identity, accounts, balances, transactions, credit) may
#   only be computed on inside the encrypted pipeline.
deny contains reason(
	"C2_OUTSIDE_ENCRYPTED_PIPELINE",
	"JR/T 0171-2020 C2; PIPL Art. 51",
	sprintf("columns %v are JR/T 0171 class C2 and may only be used inside the encrypted pipeline", [sort(query.c2_columns)]),
) if {
	count(query.c2_columns) > 0
	not query.encrypted
}

# METADATA
# title: Consent records
# description: >-
#   Consent is the legal basis of every configured purpose, so a node that
#   does not record it cannot take part.
deny contains reason(
	"CONSENT_COLUMN_MISSING",
	"PIPL Art. 13-14",
	sprintf("node has no %s column recording consent for purpose %s", [cohort.consent_column, query.purpose]),
) if {
	query.purpose_known
	missing_record(cohort.consent_column)
}

# METADATA
# title: Separate consent for sensitive personal information
# description: >-
#   Financial accounts, balances, transactions and credit data are sensitive
#   personal information and need the customer's separate consent.
deny contains reason(
	"SENSITIVE_CONSENT_COLUMN_MISSING",
	"PIPL Art. 28-29",
	sprintf(
		"columns %v are sensitive personal information and the node has no %s column recording separate consent",
		[sort(query.sensitive_columns), cohort.columns.sensitive_consent],
	),
) if {
	query.reads_sensitive
	missing_record(cohort.columns.sensitive_consent)
}

# METADATA
# title: Refusal of automated decision-making
# description: >-
#   Customers may refuse automated decision-making; a node that cannot tell
#   who refused cannot take part in one.
deny contains reason(
	"OPT_OUT_COLUMN_MISSING",
	"PIPL Art. 24",
	sprintf(
		"purpose %s is automated decision-making and the node has no %s column recording refusals",
		[query.purpose, cohort.columns.automated_decision_opt_out],
	),
) if {
	query.automated_decision
	missing_record(cohort.columns.automated_decision_opt_out)
}

# METADATA
# title: Separate consent to provision to another processor
# description: >-
#   A result provided to another processor needs the customers' separate
#   consent, unless the bundle relies on the release gate's anonymisation
#   (PIPL Art. 4, 73(4)); see the cohort rule.
deny contains reason(
	"PROVISION_CONSENT_COLUMN_MISSING",
	"PIPL Art. 23",
	sprintf(
		"the result goes to %v and the node has no %s column recording separate consent to provision",
		[query.recipient, cohort.columns.provision_consent],
	),
) if {
	cohort.provision_consent_required
	missing_record(cohort.columns.provision_consent)
}

# METADATA
# title: Cross-border provision
# description: >-
#   A result going abroad needs a transfer route under PIPL Art. 38, separate
#   consent and an impact assessment; the default bundle denies all of it.
deny contains reason(
	"CROSS_BORDER_DENIED",
	"PIPL Art. 38-40",
	sprintf("the result would go to %v; cross-border provision is not allowed", [query.destination]),
) if {
	query.cross_border
	not data.fedscore.cross_border_allowed == true
}

deny contains reason(
	"CROSS_BORDER_CONSENT_COLUMN_MISSING",
	"PIPL Art. 39",
	sprintf(
		"the result would go to %v and the node has no %s column recording separate consent",
		[query.destination, cohort.columns.cross_border_consent],
	),
) if {
	query.cross_border
	missing_record(cohort.columns.cross_border_consent)
}

# METADATA
# title: Licensed credit reporting
# description: >-
#   Credit evaluation shared between institutions is credit reporting
#   business, which needs a licensed credit-reporting agency in the chain.
#   Every credit_* purpose is also automated decision-making (PIPL Art. 24,
#   73(2)): it needs an impact assessment and excludes customers who refused.
deny contains reason(
	"CREDIT_REPORTING_LICENSE_REQUIRED",
	"PBOC Credit Reporting Business Measures Art. 4",
	sprintf("purpose %s is only allowed through a licensed credit-reporting channel", [query.purpose]),
) if {
	query.credit_purpose
	not data.fedscore.licensed_credit_channel == true
}

# METADATA
# title: Impact assessment
# description: >-
#   Sensitive personal information, automated decision-making, provision to
#   others and cross-border provision need an approved personal information
#   protection impact assessment in advance, and so does any purpose the
#   bundle marks.
deny contains reason(
	"PIPIA_REQUIRED",
	"PIPL Art. 55-56",
	sprintf("purpose %s with %v needs an approved impact assessment; the query names none", [query.purpose, pipia_reasons]),
) if {
	query.needs_pipia
	not query.pipia_given
}

deny contains reason(
	"PIPIA_NOT_APPROVED",
	"PIPL Art. 55-56",
	sprintf("impact assessment %v is not approved for purpose %s", [query.pipia_id, query.purpose]),
) if {
	query.pipia_given
	not query.pipia
}

deny contains reason(
	"PIPIA_SCOPE",
	"PIPL Art. 55-56",
	sprintf("impact assessment %v does not cover %s", [query.pipia_id, trigger]),
) if {
	query.pipia
	some trigger in query.pipia_triggers
	not covered(trigger)
}

covered(trigger) if trigger in query.pipia.covers

deny contains reason(
	"PIPIA_EXPIRED",
	"PIPL Art. 55-56",
	sprintf("impact assessment %v was valid until %v", [query.pipia_id, query.pipia.valid_until]),
) if {
	time.parse_rfc3339_ns(query.pipia.valid_until) <= time.parse_rfc3339_ns(input.time)
}

pipia_reasons := sort(query.pipia_triggers) if {
	count(query.pipia_triggers) > 0
} else := ["the purpose's own requirement"]

# METADATA
# title: Minimum number of partners
# description: >-
#   An aggregate over too few partners could single out one partner's
#   customers, so the output would not be anonymised.
deny contains reason(
	"MIN_PARTNERS",
	"PIPL Art. 73(4)",
	sprintf("query aggregates over %v partners; at least %v are required", [min_partners, data.fedscore.min_partners]),
) if {
	not query.overlap
	not min_partners_met
}

min_partners := object.get(input, ["query", "min_partners"], null)

min_partners_met if {
	is_number(min_partners)
	min_partners >= data.fedscore.min_partners
}

# METADATA
# title: Children
# description: >-
#   All personal information of a child under 14 is sensitive and needs a
#   guardian's consent; a node that records no age cannot exclude children.
#   The node's column mapping says which column holds the age or the birth
#   date (roles); the refusal names the role and how to declare it.
deny contains reason(
	"AGE_COLUMN_MISSING",
	"PIPL Art. 28, 31",
	sprintf(
		"node has no %s column for the %s role, so children under %v cannot be excluded; declare the column holding each customer's age or birth date in the node's column mapping: %s",
		[cohort.minors_column, cohort.minors_role, cohort.min_age, age_role_fix],
	),
) if {
	not age_recorded
}

age_recorded if cohort.recorded(cohort.minors_column)

# Columns that look like the age or the birth date, suggested in the fix.
age_like := {c | some c in query.node_columns; lower(c) == "age"}

birth_date_like := {c | some c in query.node_columns; lower(c) in {"birth_date", "birthdate", "date_of_birth", "dob"}}

age_role_fix := sprintf("roles: {age: %s}", [concat(" or ", sort(age_like))]) if {
	count(age_like) > 0
} else := sprintf("roles: {birth_date: %s} (with type: date)", [concat(" or ", sort(birth_date_like))]) if {
	count(birth_date_like) > 0
} else := "roles: {age: COLUMN} or roles: {birth_date: COLUMN}"

# METADATA
# title: Decision time
# description: Withdrawal and retention are judged as of the query time.
deny contains reason(
	"QUERY_TIME_INVALID",
	"PIPL Art. 15, 19",
	sprintf("input time %v is not an RFC 3339 time", [object.get(input, "time", null)]),
) if {
	not time_known
}

time_known if is_number(query.now)

# missing_record holds for a consent record the node lacks and the bundle
# does not assume.
missing_record(column) if {
	not cohort.recorded(column)
	not query.assume_consent
}

# METADATA
# title: Protected attributes in scoring models
# description: >-
#   Automated decisions must not discriminate unreasonably (PIPL Art. 24):
#   a scoring model that takes a protected attribute (gender, ethnicity,
#   age, ...) as a direct input may only run for the purposes the bundle
#   lists for fairness audits.
deny contains reason(
	"MODEL_PROTECTED_INPUT",
	"PIPL Art. 24",
	sprintf(
		"model %v uses protected attributes %v as direct inputs; allowed only for purposes %v",
		[input.model.name, input.model.protected_inputs, data.fedscore.models.protected_allowed_purposes],
	),
) if {
	count(object.get(input, ["model", "protected_inputs"], [])) > 0
	not query.purpose in data.fedscore.models.protected_allowed_purposes
}

# METADATA
# title: Differential privacy
# description: >-
#   An aggregate is anonymised (PIPL Art. 4, 73(4)) only if no individual
#   can be re-identified; the noise every node adds bounds what any query
#   reveals about one record, and each node's privacy budget bounds what
#   all queries of a purpose and segmentation reveal together. The
#   settings are the purpose's (data.fedscore.privacy.settings); a purpose
#   without a per-query limit and a daily ceiling runs no query at all.
deny contains reason(
	"DP_BUDGET_UNSET",
	"PIPL Art. 73(4)",
	sprintf("purpose %s sets no positive max_epsilon_per_query and daily epsilon ceiling", [query.purpose]),
) if {
	query.purpose_known
	not budget_configured
}

budget_configured if {
	privacy_settings.max_epsilon_per_query > 0
	privacy_settings.daily_epsilon > 0
}

deny contains reason(
	"DP_REQUIRED",
	"PIPL Art. 73(4)",
	sprintf("purpose %s requires differential-privacy noise; the query sets no epsilon", [query.purpose]),
) if {
	privacy_settings.dp_required
	epsilon <= 0
}

deny contains reason(
	"DP_EPSILON_TOO_LARGE",
	"PIPL Art. 73(4)",
	sprintf("epsilon %v exceeds the per-query limit %v", [epsilon, privacy_settings.max_epsilon_per_query]),
) if {
	budget_configured
	epsilon > privacy_settings.max_epsilon_per_query
}

deny contains reason(
	"DP_BUDGET_EXHAUSTED",
	"PIPL Art. 73(4)",
	sprintf(
		"epsilon %v would bring today's spending on purpose %s and this segmentation to %v, above the daily budget %v",
		[epsilon, query.purpose, epsilon_spent + epsilon, privacy_settings.daily_epsilon],
	),
) if {
	budget_configured
	epsilon > 0
	epsilon_spent + epsilon > privacy_settings.daily_epsilon
}

epsilon := object.get(input, ["query", "epsilon"], 0)

epsilon_spent := object.get(input, ["budget", "epsilon_spent_today"], 0)

# The purpose's privacy settings; null for an unknown purpose, which is
# denied.
default privacy_settings := null

privacy_settings := privacy.settings[query.purpose]
