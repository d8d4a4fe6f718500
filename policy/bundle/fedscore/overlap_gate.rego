# METADATA
# title: fedscore overlap set gate
# description: >-
#   Whether a node's own set may enter an overlap, once it is known: the
#   consent-filtered, deduplicated set of valid identifiers in the node's
#   segment. A set below the minimum size could single out the few
#   customers in it, so the aggregate would not be anonymised (PIPL Art.
#   4, 73(4)). The minimum is the larger of the bundle's and the query's.
package fedscore.overlap_gate

min_set_size := max([
	object.get(data.fedscore.overlap, "min_set_size", 1000),
	object.get(input, ["query", "min_set_size"], 0),
	1,
])

decision := {
	"allow": count(deny) == 0,
	"deny": [r | some r in deny],
	"min_set_size": min_set_size,
}

deny contains {
	"code": "OVERLAP_SET_TOO_SMALL",
	"article": "PIPL Art. 73(4)",
	"message": sprintf("this node's set holds %v identifiers; at least %v are required", [object.get(input, ["set", "size"], null), min_set_size]),
} if {
	not set_size_met
}

set_size_met if {
	size := input.set.size
	is_number(size)
	size >= min_set_size
}
