package fedscore.overlap_test

import data.fedscore.admission
import data.fedscore.fixtures_test as fx
import data.fedscore.overlap_gate

codes(d) := {r.code | some r in d.deny}

# An overlap of two partners matching mobile numbers, segment filter on age.
ov := {"identifier": {"kind": "mobile", "column": "phone_number"}, "parties": 2, "delta": 1e-9, "min_set_size": 0}

decide(q, o) := d if {
	d := admission.decision with input as object.union(fx.request(q), {"overlap": object.union(ov, o)})
}

test_overlap_allowed if {
	d := decide({"columns": ["age"], "min_partners": 2}, {})
	d.allow == true
	count(d.cohort.conditions) > 0
}

test_two_partners_are_enough_for_an_overlap if {
	not "MIN_PARTNERS" in codes(decide({"min_partners": 2}, {}))
}

test_joint_queries_keep_min_partners if {
	d := admission.decision with input as fx.request({"min_partners": 2})
	"MIN_PARTNERS" in codes(d)
}

test_purpose_without_overlap_denied if {
	d := decide({"purpose": "credit_scoring", "columns": ["age"], "pipia_id": "PIPIA-2026-CS-01"}, {})
	"OVERLAP_NOT_PERMITTED" in codes(d)
}

test_identifier_kind_not_permitted if {
	d := decide({"purpose": "risk_analytics", "pipia_id": "PIPIA-2026-RA-01", "columns": ["age"]}, {})
	codes(d) == {"OVERLAP_IDENTIFIER_KIND"}
}

test_identifier_kind_missing if {
	d := admission.decision with input as object.union(fx.request({}), {"overlap": {"parties": 2, "delta": 1e-9}})
	"OVERLAP_IDENTIFIER_KIND" in codes(d)
	"OVERLAP_IDENTIFIER_COLUMN" in codes(d)
}

test_identifier_column_must_be_listed if {
	d := decide({}, {"identifier": {"kind": "mobile", "column": "customer_id"}})
	codes(d) == {"OVERLAP_IDENTIFIER_COLUMN"}
}

test_idcard_column if {
	d := decide({}, {"identifier": {"kind": "idcard", "column": "id_number"}})
	d.allow == true
}

test_identifier_in_filter_still_denied if {
	d := decide({"columns": ["age", "phone_number"]}, {})
	"IDENTIFIER_COLUMN" in codes(d)
}

test_too_few_parties if {
	every p in [1, "2", null] {
		d := decide({}, {"parties": p})
		codes(d) == {"OVERLAP_MIN_PARTIES"}
	}
}

test_delta_bounded if {
	every delta in [0, 1e-3, -1, "1e-9", null] {
		d := decide({}, {"delta": delta})
		codes(d) == {"OVERLAP_DELTA_INVALID"}
	}
}

test_delta_not_needed_without_noise if {
	d := decide({"epsilon": 0}, {"delta": 0}) with data.fedscore.dp.required as false
	d.allow == true
}

test_overlap_spends_the_same_budget if {
	d := admission.decision with input as object.union(fx.request({}), {"overlap": ov, "budget": {"epsilon_spent_today": 9.5}})
	codes(d) == {"DP_BUDGET_EXHAUSTED"}
}

test_overlap_consent_cohort if {
	d := decide({}, {})
	some c in d.cohort.conditions
	c.column == "consent_marketing_analytics"
	c.code == "PURPOSE_CONSENT"
}

set_input(size, query_min) := {"set": {"size": size}, "query": {"min_set_size": query_min}}

test_set_at_minimum_allowed if {
	d := overlap_gate.decision with input as set_input(1000, 0)
	d.allow
	d.min_set_size == 1000
}

test_set_below_minimum_denied if {
	d := overlap_gate.decision with input as set_input(999, 0)
	not d.allow
	d.deny[0].code == "OVERLAP_SET_TOO_SMALL"
	d.deny[0].article == "PIPL Art. 73(4)"
}

test_query_raises_the_minimum if {
	d := overlap_gate.decision with input as set_input(1500, 2000)
	not d.allow
	d.min_set_size == 2000
}

test_minimum_never_below_one if {
	d := overlap_gate.decision with input as set_input(0, 0) with data.fedscore.overlap.min_set_size as 0
	not d.allow
	d.min_set_size == 1
}

test_set_size_missing_denied if {
	d := overlap_gate.decision with input as {"query": {}}
	not d.allow
}
