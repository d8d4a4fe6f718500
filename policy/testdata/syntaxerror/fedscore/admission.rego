package fedscore.admission

# v0 syntax: a rule body without "if" is an error in Rego v1.
decision {
	true
}
