package fedscore.admission

decision := {"allow": false, "deny": [], "cohort": {}}
