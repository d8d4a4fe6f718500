# METADATA
# title: fedscore test fixtures
# description: >-
#   Requests shared by the policy tests: a node with the synthetic partner
#   schema and its consent records, and a query reading no sensitive column
#   with the differential-privacy noise the default bundle requires.
package fedscore.fixtures_test

# The decision time of every request, and the same in Unix seconds.
decision_time := "2026-11-24T10:00:00Z"

now := 1795514400

node_columns := [
	"customer_id", "age", "gender", "education", "occupation", "income_tier",
	"region", "city_tier", "risk_preference", "annual_txn_amount", "credit_score",
	"credit_utilization", "delinquencies_12m", "has_credit_card",
	"consent_marketing_analytics", "consent_risk_analytics", "consent_credit_scoring",
	"consent_withdrawn", "consent_marketing_analytics_notice_version",
	"consent_risk_analytics_notice_version", "consent_credit_scoring_notice_version",
	"consent_withdrawn_at", "collected_at", "consent_sensitive", "opt_out_automated",
	"consent_provision",
]

query := {
	"id": "q-1",
	"digest": "00ff",
	"purpose": "marketing_analytics",
	"columns": ["age", "gender", "region"],
	"metrics": ["count"],
	"min_partners": 3,
	"querier": "spiffe://fedscore.local/querier/analyst",
	"pipia_id": "",
	"destination": "CN",
	"recipient": "self",
	"epsilon": 1,
}

# request is an admission input with the query's fields replaced by those
# in overrides, on a node that has spent no privacy budget today.
request(overrides) := {
	"query": object.union(query, overrides),
	"node": {"name": "bank-a", "columns": node_columns},
	"budget": {"epsilon_spent_today": 0},
	"pipeline": {"encrypted": true},
	"time": decision_time,
}

# on_node is request(overrides) on a node with the given columns.
on_node(overrides, columns) := object.union(request(overrides), {"node": {"name": "bank-a", "columns": columns}})

without(columns, drop) := [c | some c in columns; not c in drop]

# A query reading sensitive columns under the marketing assessment.
sensitive := {"columns": ["age", "annual_txn_amount"], "pipia_id": "PIPIA-2026-MA-01"}

# with_query is a request with exactly the given query document.
with_query(q) := object.union(object.remove(request({}), ["query"]), {"query": q})
