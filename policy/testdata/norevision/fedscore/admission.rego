package fedscore.admission

decision := {"allow": false, "deny": [{"code": "X", "article": "", "message": ""}]}
