// Package review describes a policy bundle the way a regulator reviews it:
// its manifest and signature, every rule that can refuse a query or exclude
// a record with the code and the article it cites, the settings in its data
// document, and, between two revisions, what changed rule by rule and
// setting by setting.
//
// Rules are read from the Rego sources with OPA's parser: a rule is a deny
// or condition whose head carries a code (UPPER_SNAKE) followed by the
// article it enforces, either as arguments of a helper call
// (reason("PURPOSE_COLUMNS", "PIPL Art. 6", ...)) or as the "code" and
// "article" members of an object. The rule's METADATA title and
// description, when present, say what it is for.
package review
