# METADATA
# title: fedscore cohort rule
# description: >-
#   Which of a node's records may enter a query's cohort: only customers who
#   consented to the purpose (PIPL Art. 13-14), never those who withdrew
#   consent (PIPL Art. 15), and nobody under the minimum age (PIPL Art. 28, 31).
package fedscore.cohort

# rule is evaluated by the node's consent filter before any aggregation.
rule := {
	"require_true": require_true,
	"exclude_true": exclude_true,
	"min_age": min_age,
	"age_column": age_column,
}

purpose := object.get(input, ["query", "purpose"], "")

node_columns := {c | some c in object.get(input, ["node", "columns"], [])}

consent_column := concat("", [data.fedscore.consent_column_prefix, purpose])

# Consent is required whenever the node records it. Only a bundle that sets
# assume_consent_when_absent (the public-data sandbox) may run without it.
require_true := [] if {
	data.fedscore.assume_consent_when_absent == true
	not consent_column in node_columns
} else := [consent_column]

exclude_true := [c | some c in data.fedscore.exclude_true_columns; c in node_columns]

age_column := data.fedscore.age_column if {
	data.fedscore.age_column in node_columns
} else := ""

min_age := data.fedscore.min_age if {
	age_column != ""
} else := 0
