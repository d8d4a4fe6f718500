// Package aggregate evaluates a joint query over one partner's records:
// the vector a partner encrypts and contributes, laid out as the spec's
// [query.Spec.Layout].
//
// [Aggregate] computes the counts, fixed-point sums and histograms of
// every cell in one pass over columnar data, block by block; [Train]
// fills a training round's block with the gradient and Hessian sums of
// the round's model; [WithScores] adds the columns a scoring model
// derives for every record, so that a query naming the model reads them
// like any other column. The spec itself, its validation and the decoding
// of the summed vector live in package query, which knows nothing of
// records.
package aggregate
