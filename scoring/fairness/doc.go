// Package fairness reviews a scoring model for disparate outcomes: [Audit]
// and [AuditWith] score a labelled table and report, per group of a
// column such as gender or age band, the score distribution, the grade
// shares, the event rate and AUC, and the parity of approval rates at a
// score cut-off, for the reviewer who decides whether the model may be
// used.
package fairness
