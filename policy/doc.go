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
// Policy bundles are signed (OPA's /.signatures.json, one ES256 JWT over
// every file, tests included): [BuildBundle], [SignBundle], [VerifyBundle].
// Every bundle is read and verified by one reader, whichever path asks:
// engine start, hot reload, the test runner and the policy commands. A
// node sets [Options.VerificationKeys] to the regulator's or consortium's
// keys; the engine then never activates an unsigned ([ErrUnsigned]) or
// tampered ([ErrBadSignature]) bundle. A [Watcher] hot-reloads a signed
// bundle file through [Engine.Reload], which swaps the active bundle
// atomically only once the new one verifies and compiles; every
// [Decision] carries the revision of the bundle that made it.
//
// Bundles only move forward and expire. A signed manifest carries a
// sequence number and a not_after time beside its revision; a node keeps
// the newest bundle it ran in a [SequenceStore] and refuses older ones
// ([ErrRollback]) and expired ones ([ErrExpired]), at start and on every
// reload, unless its operator starts it with an audited
// [RollbackOverride]. An active bundle that expires denies every decision
// with [CodeBundleExpired] until a newer one arrives.
//
// Differential privacy is on by default: the bundle requires noise for
// every purpose and sets per-purpose epsilon limits, which every allowed
// [Decision] carries ([PrivacySettings]) so that the node's privacy ledger
// enforces the daily ceiling; [BundlePrivacy] shows a bundle's settings.
//
// An undefined or denying decision is never an error: [Engine.Admit] returns
// a [Decision] with Allow false and its reasons, and [Decision.Err] turns it
// into an error wrapping [ErrDenied]. Errors from Admit mean the decision
// could not be made at all.
package policy
