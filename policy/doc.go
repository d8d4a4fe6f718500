// Package policy is fedscore's policy decision point.
//
// Every partner node asks an OPA policy bundle, before any query touches its
// data, whether a joint segment query may run (admission) and which of its
// records may enter the query's cohort (consent per purpose, withdrawal,
// minors). Decisions follow PIPL and the financial-sector rules encoded in
// the bundle; every deny reason names the rule and the article it enforces.
//
// The bundle is an ordinary OPA bundle (Rego v1) whose policies live under
// the data.fedscore root. [DefaultBundle] is embedded in the binary; a
// regulator-reviewed bundle can be supplied through [Options.Bundle]. An
// [Engine] compiles the bundle once and is safe for concurrent use.
//
// An undefined or denying decision is never an error: [Engine.Admit] returns
// a [Decision] with Allow false and its reasons, and [Decision.Err] turns it
// into an error wrapping [ErrDenied]. Errors from Admit mean the decision
// could not be made at all.
package policy
