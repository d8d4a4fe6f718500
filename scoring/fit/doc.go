// Package fit trains the logistic scorecards of package scoring.
//
// [Fit] trains a scorecard on one partner's own data by Newton's method
// (IRLS) with an L2 penalty, after computing the encodings (means,
// standard deviations, WOE tables) from additive statistics
// ([ComputeStats], [EncodingStats.Add], [InitModel]). Because those
// statistics and the per-example-clipped gradient and Hessian sums of
// [Gradient] and [GradientHessian] are additive, a federation can compute
// both under encryption and open only their totals: that is how a model
// is trained across partners without any record leaving its node.
// [AUC], [KS] and [Evaluate] measure a model on labelled rows.
//
// Rows with an invalid target, weight or feature value are never dropped
// silently: reports and [GradStats] count them by reason.
package fit
