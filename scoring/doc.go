// Package scoring holds fedscore's credit-propensity scoring models: a
// logistic scorecard that each partner node evaluates locally on its own
// customers, so that only score aggregates ever leave the node.
//
// # The model
//
// A [Model] is a versioned, reviewable artefact. It lists its input
// features, each with an encoding that turns a column value into a number
// x:
//
//   - "standardized": x = (v − Mean) / Std, for number (or bool, as 0/1)
//     columns;
//   - "woe_bins": x is the weight of evidence (WOE) of the bin v falls in,
//     for number columns; Bins holds the ascending cut points, and bin k
//     covers (Bins[k−1], Bins[k]];
//   - "categorical": x is the value listed for the category in Categories,
//     for category, number (keys written as in CSV, such as "2") or bool
//     ("true", "false") columns.
//
// The model's logit is Intercept + Σ Weight·x over the features, and its
// outputs are the event probability σ(logit), a score on a
// points-to-double-the-odds scale (by default 600 points at good:bad odds
// of 50:1, 20 points to double the odds, clamped to [300, 850]) and a risk grade
// (A–E by default) from score cut-offs. The score always rises as the
// outcome gets better: for an adverse target (a default) it falls as the
// probability rises, for a favourable one (a response) it rises with it.
//
// # Invalid values
//
// A row whose value for a feature is missing (unless the feature lists a
// Missing encoding), an unlisted category (unless it lists Unknown), a
// number outside the feature's declared Min/Max range, or a non-finite
// number, is invalid. Scoring never guesses for such a row and never drops
// it silently: [Scores] counts invalid rows per feature and reason, and
// leaves their outputs NaN. [fit.Fit] and [fit.Gradient] likewise count the rows
// they leave out.
//
// # Files and signatures
//
// Models are stored as JSON and decoded strictly: unknown or duplicate
// keys, wrong types and out-of-range numbers are errors that name the
// field, such as features[2].weight. [Sign] wraps a model in a signed file
// (ES256, ECDSA P-256 with a key ID, the same keys as policy bundles);
// [Verify] accepts it only when a trusted key signed exactly this model.
// The signature covers the canonical JSON of the model, whose SHA-256 is
// the model's [Model.Digest].
//
// # Protected attributes
//
// [ProtectedInputs] reports the features that use a protected attribute
// (gender, age, ethnicity, marital status, ...) directly; decoding,
// verifying and fitting fill [Model.ProtectedInputs] with them. Whether a
// purpose may use such a model is the policy's decision, which the node
// asks with the model's protected inputs.
//
// # Fitting, federated training and fairness review
//
// Package scoring/fit fits a scorecard on one partner's data and computes
// the additive statistics and clipped gradient sums that let a federation
// train one under encryption; package scoring/fairness reports per-group
// score distributions for a fairness review.
package scoring
