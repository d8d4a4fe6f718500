package fedscore.cohort_test

import data.fedscore.cohort
import data.fedscore.fixtures_test as fx

# conditions returns the cohort conditions for a request with the given
# query fields on a node with the given columns.
conditions(overrides, columns) := cs if {
	r := cohort.rule with input as fx.on_node(overrides, columns)
	cs := {c | some c in r.conditions}
}

# codes returns the condition codes by column.
codes(overrides, columns) := {[c.column, c.code] | some c in conditions(overrides, columns)}

full(overrides) := conditions(overrides, fx.node_columns)

cond(column, op, value, missing, code, article) := {
	"column": column, "op": op, "value": value,
	"missing": missing, "code": code, "article": article,
}

marketing_consent := cond("consent_marketing_analytics", "eq", true, "exclude", "PURPOSE_CONSENT", "PIPL Art. 13-14")

test_full_schema if {
	full({}) == {
		marketing_consent,
		cond("consent_marketing_analytics_notice_version", "ge", 3, "exclude", "CONSENT_NOTICE_VERSION", "PIPL Art. 14, 17"),
		cond("consent_withdrawn", "ne", true, "exclude", "CONSENT_WITHDRAWN", "PIPL Art. 15"),
		cond("consent_withdrawn_at", "gt", fx.now, "include", "CONSENT_WITHDRAWN", "PIPL Art. 15"),
		cond("collected_at", "ge", fx.now - (730 * 86400), "exclude", "RETENTION_EXPIRED", "PIPL Art. 19"),
		cond("age", "ge", 14, "exclude", "MINOR", "PIPL Art. 28, 31"),
	}
}

test_rule_is_an_array_of_conditions if {
	r := cohort.rule with input as fx.request({})
	is_array(r.conditions)
	count(r.conditions) == 6
	every c in r.conditions {
		c.op in {"eq", "ne", "lt", "le", "gt", "ge"}
		c.missing in {"exclude", "include"}
		regex.match(`^[A-Z][A-Z0-9_]+$`, c.code)
		startswith(c.article, "PIPL Art. ")
	}
}

# Consent to the purpose (PIPL Art. 13-14).

test_consent_column_follows_purpose if {
	["consent_risk_analytics", "PURPOSE_CONSENT"] in codes({"purpose": "risk_analytics"}, fx.node_columns)
	not ["consent_marketing_analytics", "PURPOSE_CONSENT"] in codes({"purpose": "risk_analytics"}, fx.node_columns)
}

test_consent_required_even_when_column_absent if {
	marketing_consent in conditions({}, ["age"])
}

test_assumed_consent_without_column if {
	cs := conditions({}, ["age"]) with data.fedscore.assume_consent_when_absent as true
	cs == {cond("age", "ge", 14, "exclude", "MINOR", "PIPL Art. 28, 31")}
}

test_recorded_consent_wins_over_assumption if {
	cs := conditions({}, ["consent_marketing_analytics"]) with data.fedscore.assume_consent_when_absent as true
	marketing_consent in cs
}

# Re-consent after a new notice or consent method (PIPL Art. 14, 17).

test_notice_version_per_purpose if {
	every p, config in data.fedscore.purposes {
		column := sprintf("consent_%s_notice_version", [p])
		cond(column, "ge", config.notice_version, "exclude", "CONSENT_NOTICE_VERSION", "PIPL Art. 14, 17") in full({"purpose": p})
	}
}

test_notice_version_follows_data if {
	cs := full({}) with data.fedscore.purposes.marketing_analytics.notice_version as 4
	cond("consent_marketing_analytics_notice_version", "ge", 4, "exclude", "CONSENT_NOTICE_VERSION", "PIPL Art. 14, 17") in cs
}

test_notice_version_only_when_recorded if {
	cs := codes({}, fx.without(fx.node_columns, {"consent_marketing_analytics_notice_version"}))
	not ["consent_marketing_analytics_notice_version", "CONSENT_NOTICE_VERSION"] in cs
}

test_method_version_when_recorded if {
	cs := conditions({}, array.concat(fx.node_columns, ["consent_marketing_analytics_method_version"]))
	cond("consent_marketing_analytics_method_version", "ge", 2, "exclude", "CONSENT_METHOD_VERSION", "PIPL Art. 14") in cs
	every c in full({}) {
		c.code != "CONSENT_METHOD_VERSION"
	}
}

# Withdrawal as of the query time (PIPL Art. 15).

test_withdrawal_excluded_only_when_recorded if {
	["consent_withdrawn", "CONSENT_WITHDRAWN"] in codes({}, fx.node_columns)
	cs := codes({}, fx.without(fx.node_columns, {"consent_withdrawn", "consent_withdrawn_at"}))
	not ["consent_withdrawn", "CONSENT_WITHDRAWN"] in cs
	not ["consent_withdrawn_at", "CONSENT_WITHDRAWN"] in cs
}

test_withdrawal_time_compared_with_query_time if {
	req := object.union(fx.on_node({}, ["consent_withdrawn_at"]), {"time": "2026-11-24T10:00:00.999Z"})
	r := cohort.rule with input as req
	cond("consent_withdrawn_at", "gt", fx.now, "include", "CONSENT_WITHDRAWN", "PIPL Art. 15") in r.conditions
}

test_withdrawal_time_alone if {
	cs := codes({}, fx.without(fx.node_columns, {"consent_withdrawn"}))
	["consent_withdrawn_at", "CONSENT_WITHDRAWN"] in cs
	not ["consent_withdrawn", "CONSENT_WITHDRAWN"] in cs
}

# Retention (PIPL Art. 19).

test_retention_per_purpose if {
	every p, config in data.fedscore.purposes {
		cond("collected_at", "ge", fx.now - (config.retention_days * 86400), "exclude", "RETENTION_EXPIRED", "PIPL Art. 19") in full({"purpose": p})
	}
}

test_retention_only_when_recorded if {
	not ["collected_at", "RETENTION_EXPIRED"] in codes({}, fx.without(fx.node_columns, {"collected_at"}))
}

test_no_time_dependent_conditions_without_time if {
	r := cohort.rule with input as object.remove(fx.request({}), ["time"])
	every c in r.conditions {
		not c.code in {"RETENTION_EXPIRED"}
		c.column != "consent_withdrawn_at"
	}
}

# Separate consent for sensitive personal information (PIPL Art. 28-29).

sensitive_consent := cond("consent_sensitive", "eq", true, "exclude", "SENSITIVE_CONSENT", "PIPL Art. 28-29")

test_sensitive_columns_need_separate_consent if {
	every col in ["income_tier", "annual_txn_amount", "has_credit_card"] {
		sensitive_consent in full({"columns": ["age", col]})
	}
	every col in ["credit_score", "credit_utilization", "delinquencies_12m"] {
		sensitive_consent in full({"purpose": "risk_analytics", "columns": [col]})
	}
}

test_other_columns_need_no_separate_consent if {
	not sensitive_consent in full({})
}

test_separate_consent_required_even_when_column_absent if {
	sensitive_consent in conditions(fx.sensitive, ["age"])
}

test_separate_consent_assumed_without_column if {
	cs := conditions(fx.sensitive, ["age"]) with data.fedscore.assume_consent_when_absent as true
	not sensitive_consent in cs
}

# Refusal of automated decision-making (PIPL Art. 24).

opt_out := cond("opt_out_automated", "ne", true, "exclude", "AUTOMATED_DECISION_OPT_OUT", "PIPL Art. 24")

test_automated_decision_excludes_opt_outs if {
	opt_out in full({"purpose": "credit_scoring"})
}

test_other_purposes_keep_opt_outs if {
	not opt_out in full({})
	not opt_out in full({"purpose": "risk_analytics"})
}

test_opt_out_assumed_absent_on_public_data if {
	cs := conditions({"purpose": "credit_scoring"}, ["age"]) with data.fedscore.assume_consent_when_absent as true
	not opt_out in cs
}

# Provision to another processor (PIPL Art. 23).

provision_consent := cond("consent_provision", "eq", true, "exclude", "PROVISION_CONSENT", "PIPL Art. 23")

test_provision_needs_separate_consent if {
	provision_consent in full({"recipient": "acme-consumer-finance"})
}

test_own_use_needs_no_provision_consent if {
	not provision_consent in full({})
}

test_anonymised_provision_by_bundle if {
	cs := full({"recipient": "acme-consumer-finance"}) with data.fedscore.provision_to_others_requires_separate_consent as false
	not provision_consent in cs
}

test_provision_consent_assumed_on_public_data if {
	cs := conditions({"recipient": "acme"}, ["age"]) with data.fedscore.assume_consent_when_absent as true
	not provision_consent in cs
}

# Cross-border provision (PIPL Art. 39).

test_cross_border_needs_separate_consent if {
	cond("consent_cross_border", "eq", true, "exclude", "CROSS_BORDER_CONSENT", "PIPL Art. 39") in full({"destination": "SG"})
}

test_domestic_needs_no_cross_border_consent if {
	every c in full({}) {
		c.code != "CROSS_BORDER_CONSENT"
	}
}

# Children (PIPL Art. 28, 31).

minor(age) := cond("age", "ge", age, "exclude", "MINOR", "PIPL Art. 28, 31")

test_minors_excluded if {
	minor(14) in full({})
}

test_min_age_follows_data if {
	cs := full({}) with data.fedscore.min_age as 18
	minor(18) in cs
}

test_min_age_never_below_14 if {
	cs := full({}) with data.fedscore.min_age as 10
	minor(14) in cs
}

# with_roles is a request on a node with the given columns whose mapping
# declares the given roles.
with_roles(columns, roles) := object.union(fx.on_node({}, columns), {"node": {"roles": roles}})

test_age_role_names_the_column if {
	r := cohort.rule with input as with_roles(["AGE"], {"age": "AGE"})
	cond("AGE", "ge", 14, "exclude", "MINOR", "PIPL Art. 28, 31") in r.conditions
	every c in r.conditions {
		c.column != "age"
	}
}

# Born on 2012-11-24T10:00:00Z or before, a customer is 14 at the decision
# time 2026-11-24T10:00:00Z.
test_birth_date_role_excludes_children_at_the_query_time if {
	r := cohort.rule with input as with_roles(["age", "dob"], {"birth_date": "dob"})
	cond("dob", "le", 1353751200, "exclude", "MINOR", "PIPL Art. 28, 31") in r.conditions
	not minor(14) in r.conditions
}

test_birth_date_role_follows_min_age if {
	r := cohort.rule with input as with_roles(["dob"], {"birth_date": "dob"}) with data.fedscore.min_age as 18
	cond("dob", "le", 1227520800, "exclude", "MINOR", "PIPL Art. 28, 31") in r.conditions
}

test_default_min_age_protects_children if {
	data.fedscore.min_age >= 14
}
