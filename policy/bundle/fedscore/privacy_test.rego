package fedscore.privacy_test

import data.fedscore.privacy

# The shipped bundle requires noise and sets a daily ceiling for every
# purpose it configures.
test_every_purpose_requires_dp if {
	count(privacy.settings) == count(data.fedscore.purposes)
	every _, s in privacy.settings {
		s.dp_required == true
		s.max_epsilon_per_query > 0
		s.daily_epsilon > 0
		s.min_cell_size >= 11
	}
}

test_daily_ceiling_per_purpose if {
	privacy.settings.marketing_analytics.daily_epsilon == 10
	privacy.settings.risk_analytics.daily_epsilon == 10
	privacy.settings.credit_scoring.daily_epsilon == 5
}

test_purpose_overrides_member_by_member if {
	s := privacy.settings.p with data.fedscore.purposes as {"p": {"dp": {"max_epsilon_per_query": 0.5}}}
	s == {"dp_required": true, "max_epsilon_per_query": 0.5, "daily_epsilon": 10, "min_cell_size": 50}
}

test_purpose_without_dp_takes_defaults if {
	s := privacy.settings.p with data.fedscore.purposes as {"p": {}}
	s == {"dp_required": true, "max_epsilon_per_query": 2, "daily_epsilon": 10, "min_cell_size": 50}
}

test_missing_defaults_keep_dp_required if {
	s := privacy.settings.p with data.fedscore.dp as {} with data.fedscore.purposes as {"p": {}}
	s == {"dp_required": true, "max_epsilon_per_query": 0, "daily_epsilon": 0, "min_cell_size": 50}
}

test_non_numeric_limits_are_unset if {
	s := privacy.settings.p with data.fedscore.purposes as {"p": {"dp": {"max_epsilon_per_query": "2", "daily_epsilon": -1}}}
	s.max_epsilon_per_query == 0
	s.daily_epsilon == 0
}

test_min_cell_size_follows_release_gate if {
	s := privacy.settings.risk_analytics with data.fedscore.release_gate.min_cell_size as 7
	s.min_cell_size == 11
}
