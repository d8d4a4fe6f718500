package fedscore.cohort_test

import data.fedscore.cohort

request(purpose, columns) := {"query": {"purpose": purpose}, "node": {"columns": columns}}

test_full_schema if {
	r := cohort.rule with input as request("marketing_analytics", ["age", "consent_marketing_analytics", "consent_withdrawn"])
	r == {
		"require_true": ["consent_marketing_analytics"],
		"exclude_true": ["consent_withdrawn"],
		"min_age": 14,
		"age_column": "age",
	}
}

test_consent_column_follows_purpose if {
	r := cohort.rule with input as request("risk_analytics", ["consent_risk_analytics"])
	r.require_true == ["consent_risk_analytics"]
}

test_consent_required_even_when_column_absent if {
	r := cohort.rule with input as request("marketing_analytics", ["age"])
	r.require_true == ["consent_marketing_analytics"]
}

test_assumed_consent_without_column if {
	r := cohort.rule with input as request("marketing_analytics", ["age"])
		with data.fedscore.assume_consent_when_absent as true
	r.require_true == []
}

test_recorded_consent_wins_over_assumption if {
	r := cohort.rule with input as request("marketing_analytics", ["consent_marketing_analytics"])
		with data.fedscore.assume_consent_when_absent as true
	r.require_true == ["consent_marketing_analytics"]
}

test_withdrawal_excluded_only_when_recorded if {
	with_col := cohort.rule with input as request("marketing_analytics", ["consent_withdrawn"])
	with_col.exclude_true == ["consent_withdrawn"]
	without_col := cohort.rule with input as request("marketing_analytics", ["age"])
	without_col.exclude_true == []
}

test_minors_excluded_when_age_known if {
	r := cohort.rule with input as request("marketing_analytics", ["age"])
	r.min_age == 14
	r.age_column == "age"
}

test_min_age_follows_data if {
	r := cohort.rule with input as request("marketing_analytics", ["age"])
		with data.fedscore.min_age as 18
	r.min_age == 18
}

test_no_age_filter_without_age_column if {
	r := cohort.rule with input as request("marketing_analytics", ["region"])
	r.min_age == 0
	r.age_column == ""
}

test_default_min_age_protects_children if {
	data.fedscore.min_age >= 14
}
