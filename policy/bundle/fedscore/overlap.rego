# The admission rules of an overlap query: how many customers partners
# share, by private set intersection cardinality over blinded identifiers.
# The identifier never leaves a node in the clear: each node hashes it to
# a group element raised to a fresh secret key, so only sizes of blinded
# sets and the released counts come out. An overlap query is a joint query
# in every other respect (purpose, consent cohort, columns of the segment
# filter, impact assessment, differential privacy against the same budget);
# these rules add what the identifier and the protocol need.
package fedscore.admission

import data.fedscore.query

# The purpose's overlap settings; undefined when it permits none.
overlap_config := query.config.overlap if is_object(query.config.overlap)

overlap_kind := object.get(input, ["overlap", "identifier", "kind"], null)

overlap_column := object.get(input, ["overlap", "identifier", "column"], null)

# METADATA
# title: Purpose permits overlap queries
# description: >-
#   Matching customers across partners is processing of its own; only a
#   purpose whose notice covers it (an overlap object in its
#   configuration) may run it.
deny contains reason(
	"OVERLAP_NOT_PERMITTED",
	"PIPL Art. 6, 14",
	sprintf("purpose %s does not permit overlap queries", [query.purpose]),
) if {
	query.overlap
	query.purpose_known
	not overlap_config
}

# METADATA
# title: Identifier kind
# description: The purpose names the identifiers sets may be matched on.
deny contains reason(
	"OVERLAP_IDENTIFIER_KIND",
	"PIPL Art. 6",
	sprintf("purpose %s does not permit matching on identifier kind %v", [query.purpose, overlap_kind]),
) if {
	query.overlap
	overlap_config
	not overlap_kind in object.get(overlap_config, "identifier_kinds", [])
}

# METADATA
# title: Identifier column
# description: >-
#   Only a column the bundle lists for the identifier kind may be read as
#   the identifier, so a query cannot match on another column under its
#   name.
deny contains reason(
	"OVERLAP_IDENTIFIER_COLUMN",
	"PIPL Art. 6",
	sprintf("column %v is not an identifier column of kind %v", [overlap_column, overlap_kind]),
) if {
	query.overlap
	not identifier_column_allowed
}

identifier_column_allowed if overlap_column in data.fedscore.overlap.identifier_columns[overlap_kind]

# METADATA
# title: Minimum number of parties
# description: An overlap needs at least the bundle's number of partners.
deny contains reason(
	"OVERLAP_MIN_PARTIES",
	"PIPL Art. 73(4)",
	sprintf("the overlap has %v partners; at least %v are required", [object.get(input, ["overlap", "parties"], null), data.fedscore.overlap.min_parties]),
) if {
	query.overlap
	not overlap_parties_met
}

overlap_parties_met if {
	parties := input.overlap.parties
	is_number(parties)
	parties >= data.fedscore.overlap.min_parties
}

# METADATA
# title: Differential privacy of the comparer's view
# description: >-
#   The partner that compares sees the true counts plus dummies drawn from a
#   truncated distribution, which is (epsilon, delta)-DP; delta is bounded
#   per query.
deny contains reason(
	"OVERLAP_DELTA_INVALID",
	"PIPL Art. 73(4)",
	sprintf("delta %v is not in (0, %v]", [overlap_delta, data.fedscore.overlap.max_delta_per_query]),
) if {
	query.overlap
	epsilon > 0
	not overlap_delta_ok
}

overlap_delta := object.get(input, ["overlap", "delta"], null)

overlap_delta_ok if {
	is_number(overlap_delta)
	overlap_delta > 0
	overlap_delta <= data.fedscore.overlap.max_delta_per_query
}
