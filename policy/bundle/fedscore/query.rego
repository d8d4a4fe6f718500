# METADATA
# title: fedscore query facts
# description: >-
#   What an admission request asks for, derived from the input and the
#   bundle data: the purpose and its configuration, the columns the query
#   reads and their JR/T 0171-2020 classes, where its result goes, and why
#   it needs a personal information protection impact assessment. The
#   admission and cohort policies decide on these facts.
package fedscore.query

# The PIPL's own jurisdiction; a result going anywhere else is a
# cross-border provision (PIPL Art. 38).
home_country := "CN"

purpose := object.get(input, ["query", "purpose"], "")

purpose_known if purpose in object.keys(data.fedscore.purposes)

# The purpose's configuration; undefined for an unknown purpose.
config := data.fedscore.purposes[purpose]

columns := {c | some c in object.get(input, ["query", "columns"], [])}

node_columns := {c | some c in object.get(input, ["node", "columns"], [])}

# class is a column's JR/T 0171-2020 class. The bundle lists the C2 and C3
# fields it knows; anything else is C1, the standard's residual class.
class(column) := object.get(data.fedscore.columns, [column, "class"], "C1")

sensitive(column) if data.fedscore.columns[column].sensitive == true

sensitive_columns := {c | some c in columns; sensitive(c)}

c2_columns := {c | some c in columns; class(c) == "C2"}

c3_columns := {c | some c in columns; class(c) == "C3"}

reads_sensitive if count(sensitive_columns) > 0

# Credit evaluation is credit reporting business under the PBOC measures.
credit_purpose if startswith(purpose, "credit_")

credit_purpose if config.requires_licensed_credit_channel == true

# Evaluating credit status by computer is automated decision-making
# (PIPL Art. 73(2)), whatever the purpose's configuration says.
automated_decision if config.automated_decision == true

automated_decision if credit_purpose

recipient := object.get(input, ["query", "recipient"], "self")

destination := object.get(input, ["query", "destination"], home_country)

provides_to_others if recipient != "self"

cross_border if destination != home_country

# The node's aggregate stays under encryption until the release gate.
encrypted if input.pipeline.encrypted == true

pipia_id := object.get(input, ["query", "pipia_id"], "")

pipia_given if pipia_id != ""

# pipia_triggers are the reasons of PIPL Art. 55 that apply to the query.
pipia_triggers contains "sensitive_personal_information" if reads_sensitive

pipia_triggers contains "automated_decision" if automated_decision

pipia_triggers contains "provision_to_others" if provides_to_others

pipia_triggers contains "cross_border" if cross_border

needs_pipia if count(pipia_triggers) > 0

needs_pipia if config.requires_pipia == true

# The assessment the query names, when the register approves it for the
# purpose.
pipia := assessment if {
	assessment := data.fedscore.pipia.approved[pipia_id]
	purpose in assessment.purposes
}

# The decision time in Unix seconds, against which withdrawal and
# retention are judged.
now := floor(time.parse_rfc3339_ns(input.time) / 1000000000)

# Only a bundle for development over public data sets without consent
# records assumes consent where a node records none.
assume_consent if data.fedscore.assume_consent_when_absent == true

# An overlap query (private set intersection cardinality) names the
# identifier it compares sets on; its admission adds the overlap rules.
overlap if input.overlap
