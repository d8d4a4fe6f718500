package fedscore.release_test

import data.fedscore.release

base := {
	"query": {"id": "q1", "purpose": "marketing_analytics", "min_partners": 3},
	"node": {"name": "bank-a"},
	"cells": 12,
	"budget": {"releases_today": 0},
}

test_release_allowed if {
	d := release.decision with input as base
	d.allow
	d.deny == []
	d.min_cell_size == 50
}

test_budget_exhausted if {
	d := release.decision with input as object.union(base, {"budget": {"releases_today": 1000}})
		with data.fedscore.release_gate.max_releases_per_purpose_per_day as 1000
	not d.allow
	some r in d.deny
	r.code == "RELEASE_BUDGET_EXHAUSTED"
}

test_budget_not_yet_exhausted if {
	d := release.decision with input as object.union(base, {"budget": {"releases_today": 999}})
		with data.fedscore.release_gate.max_releases_per_purpose_per_day as 1000
	d.allow
}

test_unknown_purpose if {
	d := release.decision with input as object.union(base, {"query": {"purpose": "resale"}})
	not d.allow
	some r in d.deny
	r.code == "PURPOSE_UNKNOWN"
}

test_min_cell_size_configurable if {
	d := release.decision with input as base with data.fedscore.release_gate.min_cell_size as 100
	d.min_cell_size == 100
}

test_min_cell_size_never_below_floor if {
	d := release.decision with input as base with data.fedscore.release_gate.min_cell_size as 3
	d.min_cell_size == 11
}

test_domestic_release_allowed if {
	d := release.decision with input as object.union(base, {"query": {"purpose": "marketing_analytics", "destination": "CN"}})
	d.allow
}

test_cross_border_release_denied if {
	d := release.decision with input as object.union(base, {"query": {"purpose": "marketing_analytics", "destination": "US"}})
	not d.allow
	d.deny == [{
		"code": "CROSS_BORDER_DENIED",
		"article": "PIPL Art. 38-40",
		"message": "the result would go to US; cross-border provision is not allowed",
	}]
}

test_cross_border_release_allowed_by_bundle if {
	d := release.decision with input as object.union(base, {"query": {"purpose": "marketing_analytics", "destination": "US"}})
		with data.fedscore.cross_border_allowed as true
	d.allow
}
