package fedscore.query_test

import data.fedscore.fixtures_test as fx
import data.fedscore.query

# The bundle's data: every column a purpose allows is classified, and the
# classification follows JR/T 0171-2020.

test_allowed_columns_are_classified if {
	every config in data.fedscore.purposes {
		every col in config.allowed_columns {
			data.fedscore.columns[col].class in {"C1", "C2", "C3"}
		}
	}
}

test_classes_are_valid if {
	every col, c in data.fedscore.columns {
		c.class in {"C1", "C2", "C3"}
		is_boolean(c.sensitive)
		col != ""
	}
}

test_c3_fields_are_sensitive_and_never_allowed if {
	c3 := {col | some col, c in data.fedscore.columns; c.class == "C3"}
	count(c3) > 0
	every col in c3 {
		data.fedscore.columns[col].sensitive == true
		every config in data.fedscore.purposes {
			not col in config.allowed_columns
		}
	}
}

test_identifiers_are_c2_or_above if {
	every col in data.fedscore.identifier_columns {
		data.fedscore.columns[col].class in {"C2", "C3"}
	}
}

test_financial_and_credit_columns_are_sensitive if {
	every col in ["annual_txn_amount", "credit_score", "credit_utilization", "delinquencies_12m", "has_credit_card", "card_number"] {
		data.fedscore.columns[col].sensitive == true
		data.fedscore.columns[col].class == "C2"
	}
}

test_unlisted_columns_are_c1 if {
	query.class("balance_band") == "C1"
	not query.sensitive("balance_band")
	query.class("credit_score") == "C2"
	query.class("password_hash") == "C3"
}

test_every_purpose_needs_consent_records if {
	every config in data.fedscore.purposes {
		config.legal_basis == "consent"
		config.notice_version > 0
		config.consent_method_version > 0
		config.retention_days > 0
	}
}

# Facts derived from a request.

facts(overrides) := f if {
	f := {
		"sensitive": query.sensitive_columns,
		"c2": query.c2_columns,
		"c3": query.c3_columns,
		"automated": {x | query.automated_decision; x := true},
		"credit": {x | query.credit_purpose; x := true},
		"triggers": query.pipia_triggers,
		"needs_pipia": {x | query.needs_pipia; x := true},
	} with input as fx.request(overrides)
}

test_facts_of_a_plain_query if {
	facts({}) == {
		"sensitive": set(), "c2": set(), "c3": set(), "automated": set(),
		"credit": set(), "triggers": set(), "needs_pipia": set(),
	}
}

test_facts_of_a_sensitive_query if {
	f := facts({"columns": ["age", "credit_score", "customer_id", "card_cvn"]})
	f.sensitive == {"credit_score", "card_cvn"}
	f.c2 == {"credit_score", "customer_id"}
	f.c3 == {"card_cvn"}
	f.triggers == {"sensitive_personal_information"}
	f.needs_pipia == {true}
}

test_credit_purposes_are_automated_decisions if {
	f := facts({"purpose": "credit_scoring"})
	f.credit == {true}
	f.automated == {true}
	f.triggers == {"automated_decision"}
}

test_credit_prefix_makes_a_credit_purpose if {
	purposes := object.union(data.fedscore.purposes, {"credit_limits": {"automated_decision": false}})
	f := facts({"purpose": "credit_limits"}) with data.fedscore.purposes as purposes
	f.credit == {true}
	f.automated == {true}
}

test_flagged_purpose_is_a_credit_purpose if {
	purposes := object.union(data.fedscore.purposes, {"lending_limits": {"requires_licensed_credit_channel": true}})
	f := facts({"purpose": "lending_limits"}) with data.fedscore.purposes as purposes
	f.credit == {true}
}

test_automated_decision_flag if {
	f := facts({}) with data.fedscore.purposes.marketing_analytics.automated_decision as true
	f.credit == set()
	f.automated == {true}
}

test_provision_and_cross_border_triggers if {
	f := facts({"recipient": "acme", "destination": "HK"})
	f.triggers == {"provision_to_others", "cross_border"}
}

test_purpose_may_require_pipia if {
	f := facts({"purpose": "risk_analytics"})
	f.triggers == set()
	f.needs_pipia == {true}
}

test_defaults_of_recipient_and_destination if {
	r := query.recipient with input as {"query": {}}
	r == "self"
	d := query.destination with input as {"query": {}}
	d == "CN"
}

test_pipia_must_be_approved_for_the_purpose if {
	p := query.pipia with input as fx.request({"pipia_id": "PIPIA-2026-MA-01"})
	p.covers == ["sensitive_personal_information"]
	not query.pipia with input as fx.request({"pipia_id": "PIPIA-2026-RA-01"})
}

test_now_in_unix_seconds if {
	n := query.now with input as {"time": "2026-11-24T10:00:00.75+08:00"}
	n == fx.now - (8 * 3600)
}
