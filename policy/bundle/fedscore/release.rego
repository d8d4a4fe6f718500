# METADATA
# title: fedscore release gate
# description: >-
#   Whether a node lets a query's result be released after the first phase
#   has opened the noisy cell counts, and the minimum cell size below which
#   a cell is suppressed. Only an anonymised aggregate may leave the
#   federation without separate consent (PIPL Art. 4, 23, 73(4)); cells
#   smaller than the minimum are not anonymous. Nothing is released abroad
#   unless the bundle allows cross-border provision (PIPL Art. 38-40).
package fedscore.release

import data.fedscore.privacy

# The configured minimum cell size, never below the floor of 11.
min_cell_size := privacy.min_cell_size

decision := {
	"allow": count(deny) == 0,
	"deny": [r | some r in deny],
	"min_cell_size": min_cell_size,
}

# A node spends part of its release budget on every released query; once
# the day's budget for the purpose is spent it releases nothing more.
deny contains {
	"code": "RELEASE_BUDGET_EXHAUSTED",
	"article": "PIPL Art. 6",
	"message": sprintf(
		"%d releases for purpose %s today; the daily budget is %d",
		[input.budget.releases_today, input.query.purpose, data.fedscore.release_gate.max_releases_per_purpose_per_day],
	),
} if {
	input.budget.releases_today >= data.fedscore.release_gate.max_releases_per_purpose_per_day
}

deny contains {
	"code": "PURPOSE_UNKNOWN",
	"article": "PIPL Art. 6",
	"message": sprintf("purpose %q is not configured", [input.query.purpose]),
} if {
	not data.fedscore.purposes[input.query.purpose]
}

deny contains {
	"code": "CROSS_BORDER_DENIED",
	"article": "PIPL Art. 38-40",
	"message": sprintf("the result would go to %v; cross-border provision is not allowed", [destination]),
} if {
	destination != "CN"
	not data.fedscore.cross_border_allowed == true
}

destination := object.get(input, ["query", "destination"], "CN")
