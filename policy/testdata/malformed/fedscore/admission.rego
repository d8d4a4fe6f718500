package fedscore.admission

# Allows while giving a reason to deny, and omits the cohort rule.
decision := {
	"allow": true,
	"deny": [{"code": "SOMETHING", "article": "PIPL Art. 6", "message": "inconsistent"}],
}
