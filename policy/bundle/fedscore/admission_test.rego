package fedscore.admission_test

import data.fedscore.admission
import data.fedscore.fixtures_test as fx

codes(d) := {r.code | some r in d.deny}

decide(overrides) := d if {
	d := admission.decision with input as fx.request(overrides)
}

# Purpose limitation (PIPL Art. 6).

test_allowed_query if {
	d := decide({})
	d.allow == true
	d.deny == set()
}

test_every_configured_purpose_known if {
	every p in object.keys(data.fedscore.purposes) {
		d := decide({"purpose": p, "columns": ["age"]})
		not "PURPOSE_UNKNOWN" in codes(d)
	}
}

test_unknown_purpose_denied if {
	d := decide({"purpose": "resale"})
	d.allow == false
	codes(d) == {"PURPOSE_UNKNOWN"}
}

test_missing_purpose_denied if {
	d := admission.decision with input as fx.with_query(object.remove(fx.query, ["purpose"]))
	codes(d) == {"PURPOSE_UNKNOWN"}
}

# Legal basis (PIPL Art. 13).

test_consent_is_an_accepted_legal_basis if {
	every p, config in data.fedscore.purposes {
		config.legal_basis == "consent"
		not "LEGAL_BASIS_MISSING" in codes(decide({"purpose": p}))
	}
}

test_unaccepted_legal_basis_denied if {
	d := decide({}) with data.fedscore.purposes.marketing_analytics.legal_basis as "legitimate_interest"
	codes(d) == {"LEGAL_BASIS_MISSING"}
}

test_missing_legal_basis_denied if {
	config := object.remove(data.fedscore.purposes.marketing_analytics, ["legal_basis"])
	d := decide({}) with data.fedscore.purposes.marketing_analytics as config
	codes(d) == {"LEGAL_BASIS_MISSING"}
}

test_legal_bases_follow_data if {
	d := decide({})
		with data.fedscore.purposes.marketing_analytics.legal_basis as "contract"
		with data.fedscore.accepted_legal_bases as ["consent", "contract"]
	d.allow == true
}

# Notice and consent method versions (PIPL Art. 14, 17).

test_notice_version_required if {
	every v in [0, -1, "3", null] {
		d := decide({}) with data.fedscore.purposes.marketing_analytics.notice_version as v
		codes(d) == {"NOTICE_VERSION_MISSING"}
	}
}

test_consent_method_version_required if {
	every v in [0, "2", null] {
		d := decide({}) with data.fedscore.purposes.marketing_analytics.consent_method_version as v
		codes(d) == {"CONSENT_METHOD_VERSION_MISSING"}
	}
}

test_configured_versions_allowed if {
	d := decide({})
		with data.fedscore.purposes.marketing_analytics.notice_version as 7
		with data.fedscore.purposes.marketing_analytics.consent_method_version as 1
	d.allow == true
}

# Retention (PIPL Art. 19).

test_retention_period_required if {
	every v in [0, "730", null] {
		d := decide({}) with data.fedscore.purposes.marketing_analytics.retention_days as v
		codes(d) == {"RETENTION_PERIOD_MISSING"}
	}
}

test_every_purpose_has_a_retention_period if {
	every p in object.keys(data.fedscore.purposes) {
		not "RETENTION_PERIOD_MISSING" in codes(decide({"purpose": p}))
	}
}

# Minimum necessity (PIPL Art. 6).

test_marketing_may_not_read_credit_columns if {
	every col in ["credit_score", "credit_utilization", "delinquencies_12m"] {
		d := decide({"columns": ["age", col], "pipia_id": "PIPIA-2026-MA-01"})
		d.allow == false
		d.deny == {{
			"code": "PURPOSE_COLUMNS",
			"article": "PIPL Art. 6",
			"message": sprintf("column %s is not allowed for purpose marketing_analytics", [col]),
		}}
	}
}

test_risk_analytics_may_read_credit_columns if {
	d := decide({"purpose": "risk_analytics", "columns": ["credit_score", "delinquencies_12m"], "pipia_id": "PIPIA-2026-RA-01"})
	d.allow == true
}

test_consent_columns_are_not_query_columns if {
	d := decide({"columns": ["consent_withdrawn"]})
	codes(d) == {"PURPOSE_COLUMNS"}
}

test_identifier_denied_for_every_purpose if {
	every p in object.keys(data.fedscore.purposes) {
		d := decide({"purpose": p, "columns": ["customer_id"]})
		"IDENTIFIER_COLUMN" in codes(d)
		not "PURPOSE_COLUMNS" in codes(d)
	}
}

test_identifier_denied_even_if_configured_as_allowed if {
	every col in data.fedscore.identifier_columns {
		d := decide({"columns": [col], "pipia_id": "PIPIA-2026-MA-01"})
			with data.fedscore.purposes.marketing_analytics.allowed_columns as [col]
		codes(d) == {"IDENTIFIER_COLUMN"}
	}
}

# JR/T 0171-2020 classes (PIPL Art. 51).

test_c3_field_never_computed if {
	every col in ["password_hash", "payment_pin", "card_cvn", "card_track_data", "biometric_template"] {
		d := decide({"columns": [col], "pipia_id": "PIPIA-2026-MA-01"})
			with data.fedscore.purposes.marketing_analytics.allowed_columns as [col]
		codes(d) == {"C3_FIELD"}
	}
}

test_c3_field_denied_even_when_not_allowed if {
	d := decide({"columns": ["password_hash"], "pipia_id": "PIPIA-2026-MA-01"})
	codes(d) == {"C3_FIELD", "PURPOSE_COLUMNS"}
}

test_c2_allowed_in_encrypted_pipeline if {
	d := decide(fx.sensitive)
	d.allow == true
}

test_c2_denied_outside_encrypted_pipeline if {
	d := admission.decision with input as object.union(fx.request(fx.sensitive), {"pipeline": {"encrypted": false}})
	d.deny == {{
		"code": "C2_OUTSIDE_ENCRYPTED_PIPELINE",
		"article": "JR/T 0171-2020 C2; PIPL Art. 51",
		"message": `columns ["annual_txn_amount"] are JR/T 0171 class C2 and may only be used inside the encrypted pipeline`,
	}}
}

test_c2_denied_when_pipeline_unknown if {
	d := admission.decision with input as object.remove(fx.request(fx.sensitive), ["pipeline"])
	codes(d) == {"C2_OUTSIDE_ENCRYPTED_PIPELINE"}
}

test_c1_allowed_outside_encrypted_pipeline if {
	d := admission.decision with input as object.union(fx.request({}), {"pipeline": {"encrypted": false}})
	d.allow == true
}

# Consent records (PIPL Art. 13-14).

test_missing_consent_column_denied if {
	d := admission.decision with input as fx.on_node({}, ["age", "gender", "region"])
	codes(d) == {"CONSENT_COLUMN_MISSING"}
}

test_missing_consent_column_allowed_when_assumed if {
	d := admission.decision with input as fx.on_node({}, ["age", "gender", "region"])
		with data.fedscore.assume_consent_when_absent as true
	d.allow == true
}

test_default_bundle_does_not_assume_consent if {
	data.fedscore.assume_consent_when_absent == false
}

# Separate consent for sensitive personal information (PIPL Art. 28-29).

test_sensitive_columns_need_separate_consent_records if {
	d := admission.decision with input as fx.on_node(fx.sensitive, fx.without(fx.node_columns, {"consent_sensitive"}))
	d.deny == {{
		"code": "SENSITIVE_CONSENT_COLUMN_MISSING",
		"article": "PIPL Art. 28-29",
		"message": `columns ["annual_txn_amount"] are sensitive personal information and the node has no consent_sensitive column recording separate consent`,
	}}
}

test_non_sensitive_columns_need_no_separate_consent if {
	d := admission.decision with input as fx.on_node({}, fx.without(fx.node_columns, {"consent_sensitive"}))
	d.allow == true
}

test_separate_consent_assumed_on_public_data if {
	d := admission.decision with input as fx.on_node(fx.sensitive, fx.without(fx.node_columns, {"consent_sensitive"}))
		with data.fedscore.assume_consent_when_absent as true
	d.allow == true
}

# Automated decision-making (PIPL Art. 24, 73(2)).

credit := {"purpose": "credit_scoring", "columns": ["age", "credit_score"], "pipia_id": "PIPIA-2026-CS-01"}

test_automated_decision_needs_opt_out_records if {
	d := admission.decision with input as fx.on_node(credit, fx.without(fx.node_columns, {"opt_out_automated"}))
		with data.fedscore.licensed_credit_channel as true
	codes(d) == {"OPT_OUT_COLUMN_MISSING"}
}

test_automated_decision_with_opt_out_records_allowed if {
	d := decide(credit) with data.fedscore.licensed_credit_channel as true
	d.allow == true
}

test_opt_out_records_assumed_on_public_data if {
	d := admission.decision with input as fx.on_node(credit, fx.without(fx.node_columns, {"opt_out_automated"}))
		with data.fedscore.licensed_credit_channel as true
		with data.fedscore.assume_consent_when_absent as true
	d.allow == true
}

test_other_purposes_need_no_opt_out_records if {
	d := admission.decision with input as fx.on_node({}, fx.without(fx.node_columns, {"opt_out_automated"}))
	d.allow == true
}

# Credit reporting (PBOC Credit Reporting Business Measures).

test_credit_scoring_denied_without_licensed_channel if {
	d := decide(credit)
	d.allow == false
	codes(d) == {"CREDIT_REPORTING_LICENSE_REQUIRED"}
}

test_credit_scoring_allowed_with_licensed_channel if {
	d := decide(credit) with data.fedscore.licensed_credit_channel as true
	d.allow == true
}

test_licensed_channel_must_be_boolean_true if {
	d := decide(credit) with data.fedscore.licensed_credit_channel as "true"
	"CREDIT_REPORTING_LICENSE_REQUIRED" in codes(d)
}

test_every_credit_purpose_needs_licensed_channel if {
	purposes := object.union(data.fedscore.purposes, {"credit_limits": data.fedscore.purposes.risk_analytics})
	d := decide({"purpose": "credit_limits", "columns": ["age"], "pipia_id": "PIPIA-2026-CS-01"})
		with data.fedscore.purposes as purposes
	"CREDIT_REPORTING_LICENSE_REQUIRED" in codes(d)
}

# Provision to another processor (PIPL Art. 23).

provision := {"recipient": "acme-consumer-finance", "pipia_id": "PIPIA-2026-PR-01"}

provision_pipia := {"purposes": ["marketing_analytics"], "covers": ["provision_to_others"]}

test_provision_with_consent_records_allowed if {
	d := decide(provision) with data.fedscore.pipia.approved["PIPIA-2026-PR-01"] as provision_pipia
	d.allow == true
}

test_provision_needs_consent_records if {
	d := admission.decision with input as fx.on_node(provision, fx.without(fx.node_columns, {"consent_provision"}))
		with data.fedscore.pipia.approved["PIPIA-2026-PR-01"] as provision_pipia
	codes(d) == {"PROVISION_CONSENT_COLUMN_MISSING"}
}

test_provision_of_anonymised_aggregates_without_consent if {
	d := admission.decision with input as fx.on_node(provision, fx.without(fx.node_columns, {"consent_provision"}))
		with data.fedscore.pipia.approved["PIPIA-2026-PR-01"] as provision_pipia
		with data.fedscore.provision_to_others_requires_separate_consent as false
	d.allow == true
}

test_default_bundle_requires_provision_consent if {
	data.fedscore.provision_to_others_requires_separate_consent == true
}

test_own_use_needs_no_provision_consent if {
	d := admission.decision with input as fx.on_node({}, fx.without(fx.node_columns, {"consent_provision"}))
	d.allow == true
}

# Cross-border provision (PIPL Art. 38-40).

test_cross_border_denied_by_default if {
	d := admission.decision with input as fx.request({"destination": "SG"})
	"CROSS_BORDER_DENIED" in codes(d)
	data.fedscore.cross_border_allowed == false
}

test_cross_border_allowed_by_bundle if {
	pipia := {"purposes": ["marketing_analytics"], "covers": ["cross_border"]}
	d := decide({"destination": "SG", "pipia_id": "PIPIA-X"})
		with data.fedscore.cross_border_allowed as true
		with data.fedscore.pipia.approved["PIPIA-X"] as pipia
	codes(d) == {"CROSS_BORDER_CONSENT_COLUMN_MISSING"}
	d2 := admission.decision with input as fx.on_node(
		{"destination": "SG", "pipia_id": "PIPIA-X"},
		array.concat(fx.node_columns, ["consent_cross_border"]),
	)
		with data.fedscore.cross_border_allowed as true
		with data.fedscore.pipia.approved["PIPIA-X"] as pipia
	d2.allow == true
}

test_domestic_result_is_not_cross_border if {
	d := decide({"destination": "CN"})
	d.allow == true
}

test_result_is_domestic_by_default if {
	d := admission.decision with input as fx.with_query(object.remove(fx.query, ["destination"]))
	d.allow == true
}

# Impact assessment (PIPL Art. 55-56).

test_pipia_required_for_sensitive_columns if {
	d := decide({"columns": ["age", "annual_txn_amount"]})
	d.deny == {{
		"code": "PIPIA_REQUIRED",
		"article": "PIPL Art. 55-56",
		"message": `purpose marketing_analytics with ["sensitive_personal_information"] needs an approved impact assessment; the query names none`,
	}}
}

test_pipia_required_by_purpose if {
	d := decide({"purpose": "risk_analytics", "columns": ["age"]})
	d.deny == {{
		"code": "PIPIA_REQUIRED",
		"article": "PIPL Art. 55-56",
		"message": `purpose risk_analytics with ["the purpose's own requirement"] needs an approved impact assessment; the query names none`,
	}}
}

test_pipia_required_for_automated_decisions if {
	d := decide({"purpose": "credit_scoring", "columns": ["age"]}) with data.fedscore.licensed_credit_channel as true
	codes(d) == {"PIPIA_REQUIRED"}
}

test_pipia_required_for_provision_and_cross_border if {
	every overrides in [{"recipient": "acme"}, {"destination": "HK"}] {
		"PIPIA_REQUIRED" in codes(decide(overrides))
	}
}

test_pipia_not_needed_otherwise if {
	d := decide({"pipia_id": ""})
	d.allow == true
}

test_unknown_pipia_denied if {
	d := decide({"pipia_id": "PIPIA-1999-XX"})
	codes(d) == {"PIPIA_NOT_APPROVED"}
}

test_pipia_for_another_purpose_denied if {
	d := decide({"columns": ["age", "annual_txn_amount"], "pipia_id": "PIPIA-2026-RA-01"})
	codes(d) == {"PIPIA_NOT_APPROVED"}
}

test_pipia_must_cover_every_trigger if {
	d := decide({"columns": ["age", "annual_txn_amount"], "pipia_id": "PIPIA-2026-MA-01", "recipient": "acme"})
	d.deny == {{
		"code": "PIPIA_SCOPE",
		"article": "PIPL Art. 55-56",
		"message": "impact assessment PIPIA-2026-MA-01 does not cover provision_to_others",
	}}
}

test_pipia_without_scope_covers_nothing if {
	d := decide(fx.sensitive) with data.fedscore.pipia.approved["PIPIA-2026-MA-01"] as {"purposes": ["marketing_analytics"]}
	codes(d) == {"PIPIA_SCOPE"}
}

test_expired_pipia_denied if {
	d := decide(fx.sensitive) with data.fedscore.pipia.approved["PIPIA-2026-MA-01"].valid_until as "2026-11-24T10:00:00Z"
	codes(d) == {"PIPIA_EXPIRED"}
}

test_pipia_within_validity_allowed if {
	d := decide(fx.sensitive) with data.fedscore.pipia.approved["PIPIA-2026-MA-01"].valid_until as "2026-11-24T10:00:01Z"
	d.allow == true
}

# Minimum number of partners (PIPL Art. 73(4)).

test_min_partners_at_threshold_allowed if {
	d := decide({"min_partners": 3})
	d.allow == true
}

test_min_partners_too_low_denied if {
	d := decide({"min_partners": 2})
	codes(d) == {"MIN_PARTNERS"}
}

test_min_partners_missing_denied if {
	d := admission.decision with input as fx.with_query(object.remove(fx.query, ["min_partners"]))
	codes(d) == {"MIN_PARTNERS"}
}

test_min_partners_not_a_number_denied if {
	d := decide({"min_partners": "99"})
	codes(d) == {"MIN_PARTNERS"}
}

test_min_partners_follows_data if {
	d := decide({"min_partners": 4}) with data.fedscore.min_partners as 5
	codes(d) == {"MIN_PARTNERS"}
}

# Children (PIPL Art. 28, 31).

age_missing(message) := {{
	"code": "AGE_COLUMN_MISSING",
	"article": "PIPL Art. 28, 31",
	"message": message,
}}

without_age := fx.without(fx.node_columns, {"age"})

# on_node_with_roles is a request reading region on a node with the given
# columns whose mapping declares the given roles.
on_node_with_roles(columns, roles) := object.union(fx.on_node({"columns": ["region"]}, columns), {"node": {"roles": roles}})

test_node_without_age_denied if {
	d := admission.decision with input as fx.on_node({"columns": ["region"]}, without_age)
	d.deny == age_missing(concat("", [
		"node has no age column for the age role, so children under 14 cannot be excluded; ",
		"declare the column holding each customer's age or birth date in the node's column mapping: ",
		"roles: {age: COLUMN} or roles: {birth_date: COLUMN}",
	]))
}

test_node_with_upper_case_age_is_told_the_role if {
	d := admission.decision with input as fx.on_node({"columns": ["region"]}, array.concat(without_age, ["AGE"]))
	d.deny == age_missing(concat("", [
		"node has no age column for the age role, so children under 14 cannot be excluded; ",
		"declare the column holding each customer's age or birth date in the node's column mapping: roles: {age: AGE}",
	]))
}

test_node_with_birth_date_is_told_the_role if {
	d := admission.decision with input as fx.on_node({"columns": ["region"]}, array.concat(without_age, ["date_of_birth"]))
	d.deny == age_missing(concat("", [
		"node has no age column for the age role, so children under 14 cannot be excluded; ",
		"declare the column holding each customer's age or birth date in the node's column mapping: ",
		"roles: {birth_date: date_of_birth} (with type: date)",
	]))
}

test_declared_role_admits if {
	d := admission.decision with input as on_node_with_roles(array.concat(without_age, ["AGE"]), {"age": "AGE"})
	d.allow
	d2 := admission.decision with input as on_node_with_roles(array.concat(without_age, ["dob"]), {"birth_date": "dob"})
	d2.allow
}

test_declared_role_without_its_column_denied if {
	d := admission.decision with input as on_node_with_roles(without_age, {"birth_date": "dob"})
	d.deny == age_missing(concat("", [
		"node has no dob column for the birth_date role, so children under 14 cannot be excluded; ",
		"declare the column holding each customer's age or birth date in the node's column mapping: ",
		"roles: {age: COLUMN} or roles: {birth_date: COLUMN}",
	]))
}

# Decision time (PIPL Art. 15, 19).

test_decision_time_required if {
	d := admission.decision with input as object.remove(fx.request({}), ["time"])
	d.deny == {{
		"code": "QUERY_TIME_INVALID",
		"article": "PIPL Art. 15, 19",
		"message": "input time null is not an RFC 3339 time",
	}}
}

# The decision document.

test_reasons_accumulate if {
	d := decide({"columns": ["customer_id", "credit_score"], "min_partners": 1})
	codes(d) == {"IDENTIFIER_COLUMN", "PURPOSE_COLUMNS", "MIN_PARTNERS", "PIPIA_REQUIRED"}
}

test_every_reason_cites_an_article if {
	d := admission.decision with input as {
		"query": {"purpose": "credit_scoring", "columns": ["customer_id", "gender", "password_hash"], "destination": "US", "recipient": "acme", "pipia_id": "nope"},
		"node": {"columns": []},
	}
	codes(d) == {
		"AGE_COLUMN_MISSING", "C2_OUTSIDE_ENCRYPTED_PIPELINE", "C3_FIELD", "CONSENT_COLUMN_MISSING",
		"CREDIT_REPORTING_LICENSE_REQUIRED", "CROSS_BORDER_CONSENT_COLUMN_MISSING", "CROSS_BORDER_DENIED",
		"IDENTIFIER_COLUMN", "MIN_PARTNERS", "OPT_OUT_COLUMN_MISSING", "PIPIA_NOT_APPROVED",
		"PROVISION_CONSENT_COLUMN_MISSING", "PURPOSE_COLUMNS", "QUERY_TIME_INVALID",
		"SENSITIVE_CONSENT_COLUMN_MISSING",
	}
	every r in d.deny {
		regex.match(`^(PIPL|JR/T|PBOC) `, r.article)
		regex.match(`^[A-Z][A-Z0-9_]+$`, r.code)
		r.message != ""
	}
}

test_decision_carries_cohort if {
	d := decide({})
	{"column": "consent_marketing_analytics", "op": "eq", "value": true, "missing": "exclude", "code": "PURPOSE_CONSENT", "article": "PIPL Art. 13-14"} in d.cohort.conditions
}

test_denied_decision_carries_cohort if {
	d := decide({"min_partners": 1})
	d.allow == false
	count(d.cohort.conditions) > 0
}

# Protected attributes in scoring models (PIPL Art. 24).

with_model(protected) := object.union(fx.request({}), {"model": {"name": "m", "version": "1", "protected_inputs": protected}})

test_model_with_protected_input_denied if {
	d := admission.decision with input as with_model(["age"])
	d.allow == false
	"MODEL_PROTECTED_INPUT" in codes(d)
}

test_model_without_protected_input_allowed if {
	d := admission.decision with input as with_model([])
	d.allow == true
}

test_model_with_protected_input_allowed_for_listed_purpose if {
	d := admission.decision with input as with_model(["age"])
		with data.fedscore.models.protected_allowed_purposes as ["marketing_analytics"]
	d.allow == true
}

# Differential privacy (PIPL Art. 73(4)).

with_dp(eps, spent) := object.union(fx.request({"epsilon": eps}), {"budget": {"epsilon_spent_today": spent}})

test_dp_within_limits_allowed if {
	d := admission.decision with input as with_dp(1, 0)
	d.allow == true
}

test_dp_epsilon_too_large_denied if {
	d := admission.decision with input as with_dp(3, 0)
	"DP_EPSILON_TOO_LARGE" in codes(d)
}

test_dp_budget_exhausted_denied if {
	d := admission.decision with input as with_dp(1, 19.5)
	codes(d) == {"DP_BUDGET_EXHAUSTED"}
}

test_dp_budget_exactly_spent_allowed if {
	d := admission.decision with input as with_dp(1, 19)
	d.allow == true
}

test_dp_required_without_epsilon_denied if {
	d := admission.decision with input as with_dp(0, 0) with data.fedscore.dp.required as true
	codes(d) == {"DP_REQUIRED"}
}

test_dp_required_with_epsilon_allowed if {
	d := admission.decision with input as with_dp(0.5, 0) with data.fedscore.dp.required as true
	d.allow == true
}
