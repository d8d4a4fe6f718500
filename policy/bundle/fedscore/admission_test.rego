package fedscore.admission_test

import data.fedscore.admission

node_columns := [
	"customer_id", "age", "gender", "education", "occupation", "income_tier",
	"region", "city_tier", "risk_preference", "annual_txn_amount", "credit_score",
	"credit_utilization", "delinquencies_12m", "has_credit_card",
	"consent_marketing_analytics", "consent_risk_analytics", "consent_credit_scoring",
	"consent_withdrawn",
]

query := {
	"id": "q-1",
	"digest": "00ff",
	"purpose": "marketing_analytics",
	"columns": ["age", "region", "annual_txn_amount"],
	"metrics": ["count", "sum"],
	"min_partners": 3,
	"querier": "spiffe://fedscore.local/querier/analyst",
}

request(overrides) := {
	"query": object.union(query, overrides),
	"node": {"name": "bank-a", "columns": node_columns},
	"time": "2026-11-24T10:00:00Z",
}

codes(d) := {r.code | some r in d.deny}

test_allowed_query if {
	d := admission.decision with input as request({})
	d.allow == true
	count(d.deny) == 0
}

test_every_configured_purpose_known if {
	every p in object.keys(data.fedscore.purposes) {
		d := admission.decision with input as request({"purpose": p, "columns": ["age"]})
		not "PURPOSE_UNKNOWN" in codes(d)
	}
}

test_unknown_purpose_denied if {
	d := admission.decision with input as request({"purpose": "resale"})
	d.allow == false
	codes(d) == {"PURPOSE_UNKNOWN"}
}

test_missing_purpose_denied if {
	d := admission.decision with input as {"query": object.remove(query, ["purpose"]), "node": {"columns": node_columns}}
	"PURPOSE_UNKNOWN" in codes(d)
}

test_credit_scoring_denied_without_licensed_channel if {
	d := admission.decision with input as request({"purpose": "credit_scoring", "columns": ["age", "credit_score"]})
	d.allow == false
	codes(d) == {"CREDIT_REPORTING_LICENSE_REQUIRED"}
}

test_credit_scoring_allowed_with_licensed_channel if {
	d := admission.decision with input as request({"purpose": "credit_scoring", "columns": ["age", "credit_score"]})
		with data.fedscore.licensed_credit_channel as true
	d.allow == true
}

test_licensed_channel_must_be_boolean_true if {
	d := admission.decision with input as request({"purpose": "credit_scoring", "columns": ["age"]})
		with data.fedscore.licensed_credit_channel as "true"
	"CREDIT_REPORTING_LICENSE_REQUIRED" in codes(d)
}

test_marketing_may_not_read_credit_columns if {
	every col in ["credit_score", "credit_utilization", "delinquencies_12m"] {
		d := admission.decision with input as request({"columns": ["age", col]})
		d.allow == false
		d.deny == {{
			"code": "PURPOSE_COLUMNS",
			"article": "PIPL Art. 6",
			"message": sprintf("column %s is not allowed for purpose marketing_analytics", [col]),
		}}
	}
}

test_risk_analytics_may_read_credit_columns if {
	d := admission.decision with input as request({"purpose": "risk_analytics", "columns": ["credit_score", "delinquencies_12m"]})
	d.allow == true
}

test_consent_columns_are_not_query_columns if {
	d := admission.decision with input as request({"columns": ["consent_withdrawn"]})
	codes(d) == {"PURPOSE_COLUMNS"}
}

test_identifier_denied_for_every_purpose if {
	every p in object.keys(data.fedscore.purposes) {
		d := admission.decision with input as request({"purpose": p, "columns": ["customer_id"]})
			with data.fedscore.licensed_credit_channel as true
		codes(d) == {"IDENTIFIER_COLUMN"}
	}
}

test_identifier_denied_even_if_configured_as_allowed if {
	d := admission.decision with input as request({"columns": ["customer_id"]})
		with data.fedscore.purposes.marketing_analytics.allowed_columns as ["customer_id"]
	codes(d) == {"IDENTIFIER_COLUMN"}
}

test_min_partners_at_threshold_allowed if {
	d := admission.decision with input as request({"min_partners": 3})
	d.allow == true
}

test_min_partners_too_low_denied if {
	d := admission.decision with input as request({"min_partners": 2})
	codes(d) == {"MIN_PARTNERS"}
}

test_min_partners_missing_denied if {
	d := admission.decision with input as {"query": object.remove(query, ["min_partners"]), "node": {"columns": node_columns}}
	codes(d) == {"MIN_PARTNERS"}
}

test_min_partners_not_a_number_denied if {
	d := admission.decision with input as request({"min_partners": "99"})
	codes(d) == {"MIN_PARTNERS"}
}

test_min_partners_follows_data if {
	d := admission.decision with input as request({"min_partners": 4})
		with data.fedscore.min_partners as 5
	codes(d) == {"MIN_PARTNERS"}
}

test_missing_consent_column_denied if {
	d := admission.decision with input as {"query": query, "node": {"columns": ["age", "region", "annual_txn_amount"]}}
	codes(d) == {"CONSENT_COLUMN_MISSING"}
}

test_missing_consent_column_allowed_when_assumed if {
	d := admission.decision with input as {"query": query, "node": {"columns": ["age", "region", "annual_txn_amount"]}}
		with data.fedscore.assume_consent_when_absent as true
	d.allow == true
}

test_default_bundle_does_not_assume_consent if {
	data.fedscore.assume_consent_when_absent == false
}

test_reasons_accumulate if {
	d := admission.decision with input as request({"columns": ["customer_id", "credit_score"], "min_partners": 1})
	codes(d) == {"IDENTIFIER_COLUMN", "PURPOSE_COLUMNS", "MIN_PARTNERS"}
}

test_every_reason_cites_an_article if {
	d := admission.decision with input as {"query": {"purpose": "credit_scoring", "columns": ["customer_id", "gender"]}, "node": {"columns": []}}
	count(d.deny) == 5
	every r in d.deny {
		r.article != ""
		regex.match(`^[A-Z][A-Z0-9_]+$`, r.code)
		r.message != ""
	}
}

test_decision_carries_cohort if {
	d := admission.decision with input as request({})
	d.cohort.require_true == ["consent_marketing_analytics"]
}
