# METADATA
# title: fedscore privacy settings
# description: >-
#   The privacy rules in force for each purpose: whether every query must
#   add differential-privacy noise, the most epsilon one query may spend,
#   the epsilon a node spends at most per day on the purpose and one
#   segmentation, and the minimum cell size of the release gate. A
#   purpose's own dp object overrides the bundle-wide dp defaults member by
#   member. Admission and release decide with these settings, decisions
#   carry them to the node (whose privacy ledger enforces the daily
#   ceiling), and `fedscore policy inspect` prints them.
package fedscore.privacy

# settings[purpose] are the effective settings of a configured purpose.
settings[purpose] := {
	"dp_required": dp_required(own),
	"max_epsilon_per_query": setting(own, "max_epsilon_per_query", "max_epsilon_per_query"),
	"daily_epsilon": setting(own, "daily_epsilon", "daily_epsilon_per_purpose"),
	"min_cell_size": min_cell_size,
} if {
	some purpose, config in data.fedscore.purposes
	own := object.get(config, "dp", {})
}

# The bundle-wide defaults. (Reading data.fedscore whole would reach the
# policies under it, and this rule from them.)
default defaults := {}

defaults := data.fedscore.dp

# Noise is required unless the purpose, or failing that the bundle, says
# false in so many words: a missing or misspelt value keeps it required.
dp_required(own) := object.get(own, "required", object.get(defaults, "required", true)) != false

# setting is a positive number from the purpose or the defaults, else 0,
# which admission refuses as unset.
setting(own, key, default_key) := value if {
	value := object.get(own, key, object.get(defaults, default_key, 0))
	is_number(value)
	value > 0
} else := 0

# The configured minimum cell size, never below the floor of 11.
min_cell_size := max([object.get(data.fedscore.release_gate, "min_cell_size", 50), 11])
