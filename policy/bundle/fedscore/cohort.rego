# METADATA
# title: fedscore cohort rule
# description: >-
#   Which of a node's records may enter a query's cohort, as conditions on
#   the node's columns that every record must satisfy. A node applies them
#   to its data before any aggregation, and a database can apply the same
#   conditions in SQL. Each condition carries the code and article it
#   enforces: consent to the purpose under the current notice and consent
#   method (PIPL Art. 13-14), withdrawal as of the query time (Art. 15),
#   retention (Art. 19), separate consent for sensitive personal information
#   (Art. 28-29), refusal of automated decision-making (Art. 24), separate
#   consent to provision to others and abroad (Art. 23, 39), and no child
#   under 14 (Art. 28, 31).
package fedscore.cohort

import data.fedscore.query

# rule is evaluated by the node's consent filter before any aggregation.
rule := {"conditions": [c | some c in conditions]}

condition(column, op, value, missing, code, article) := {
	"column": column,
	"op": op,
	"value": value,
	"missing": missing,
	"code": code,
	"article": article,
}

columns := data.fedscore.record_columns

consent_column := concat("", [data.fedscore.consent_column_prefix, query.purpose])

notice_version_column := concat("", [consent_column, data.fedscore.consent_notice_version_suffix])

method_version_column := concat("", [consent_column, data.fedscore.consent_method_version_suffix])

# The minimum age never goes below 14, under which all personal
# information is sensitive and needs a guardian's consent (PIPL Art. 28, 31).
min_age := max([configured_min_age, 14])

default configured_min_age := 14

configured_min_age := data.fedscore.min_age

# Days of retention in seconds. Like the versions below, it makes a
# condition only when configured as a number; admission denies otherwise.
retention_seconds := query.config.retention_days * 86400 if is_number(query.config.retention_days)

recorded(column) if column in query.node_columns

# A consent record is required wherever the node keeps it. Only a bundle
# that assumes consent when absent runs without one, on public data.
requires(column) if recorded(column)

requires(_) if not query.assume_consent

# Separate consent to provision to another processor (PIPL Art. 23). The
# aggregate a recipient gets has passed the release gate, which is what
# makes it anonymised and so no longer personal information (Art. 4,
# 73(4)); a bundle may rely on that by setting
# provision_to_others_requires_separate_consent to false. The default
# bundle asks for the consent anyway.
provision_consent_required if {
	query.provides_to_others
	not data.fedscore.provision_to_others_requires_separate_consent == false
}

conditions contains condition(consent_column, "eq", true, "exclude", "PURPOSE_CONSENT", "PIPL Art. 13-14") if {
	requires(consent_column)
}

# Consent given under an older notice or consent method does not cover the
# current processing; the customer has to consent again.
conditions contains condition(
	notice_version_column, "ge", query.config.notice_version,
	"exclude", "CONSENT_NOTICE_VERSION", "PIPL Art. 14, 17",
) if {
	recorded(notice_version_column)
	is_number(query.config.notice_version)
}

conditions contains condition(
	method_version_column, "ge", query.config.consent_method_version,
	"exclude", "CONSENT_METHOD_VERSION", "PIPL Art. 14",
) if {
	recorded(method_version_column)
	is_number(query.config.consent_method_version)
}

conditions contains condition(columns.withdrawn, "ne", true, "exclude", "CONSENT_WITHDRAWN", "PIPL Art. 15") if {
	recorded(columns.withdrawn)
}

# A withdrawal counts from the moment it was made, even if the withdrawal
# flag has not caught up yet; a record without one has not withdrawn.
conditions contains condition(columns.withdrawn_at, "gt", query.now, "include", "CONSENT_WITHDRAWN", "PIPL Art. 15") if {
	recorded(columns.withdrawn_at)
}

conditions contains condition(
	columns.collected_at, "ge", query.now - retention_seconds,
	"exclude", "RETENTION_EXPIRED", "PIPL Art. 19",
) if {
	recorded(columns.collected_at)
}

conditions contains condition(columns.sensitive_consent, "eq", true, "exclude", "SENSITIVE_CONSENT", "PIPL Art. 28-29") if {
	query.reads_sensitive
	requires(columns.sensitive_consent)
}

conditions contains condition(
	columns.automated_decision_opt_out, "ne", true,
	"exclude", "AUTOMATED_DECISION_OPT_OUT", "PIPL Art. 24",
) if {
	query.automated_decision
	requires(columns.automated_decision_opt_out)
}

conditions contains condition(columns.provision_consent, "eq", true, "exclude", "PROVISION_CONSENT", "PIPL Art. 23") if {
	provision_consent_required
	requires(columns.provision_consent)
}

conditions contains condition(columns.cross_border_consent, "eq", true, "exclude", "CROSS_BORDER_CONSENT", "PIPL Art. 39") if {
	query.cross_border
	requires(columns.cross_border_consent)
}

# The minors rule reads the column the node's mapping declares for the
# customer's age or birth date (input.node.roles), else the bundle's
# record column for the age. From a birth date, a customer is min_age or
# older at the query time when born no later than min_age years before it.
age_column := object.get(input, ["node", "roles", "age"], columns.age)

by_birth_date if input.node.roles.birth_date

minors_role := "birth_date" if by_birth_date

else := "age"

minors_column := input.node.roles.birth_date if by_birth_date

else := age_column

adult_born_by := floor(time.add_date(time.parse_rfc3339_ns(input.time), 0 - min_age, 0, 0) / 1000000000)

conditions contains condition(age_column, "ge", min_age, "exclude", "MINOR", "PIPL Art. 28, 31") if not by_birth_date

conditions contains condition(minors_column, "le", adult_born_by, "exclude", "MINOR", "PIPL Art. 28, 31") if by_birth_date
