// Package query defines the joint segment query that partners answer
// together: its spec, validation, the layout of the aggregate vector and
// the decoding of the summed vector into a result table. It knows nothing
// of records: a partner evaluates a spec over its own data with package
// node/aggregate, and [Spec.CheckColumns] checks a spec against any
// [Schema], naming the columns close to an unknown one.
//
// Each partner computes its vector; vectors of all partners are added slot
// by slot (under encryption, elsewhere), and the querier turns the sum
// into a [Result] with [Decode]. Because the vector is a plain sum, every
// slot holds an exact int64: counts, and sums in fixed point, each sum or
// mean metric at its own decimals ([Spec.MetricDecimals]). Before signing,
// the querier resolves a spec ([Spec.Resolve]) so that every metric's
// decimals fit what the federation can sum exactly; a node checks its own
// vector against the same bound ([Spec.CheckExact]).
//
// The vector is laid out metric-major (see [Spec.Layout]): first the count
// of every cell, then for each sum or mean metric the clipped fixed-point
// sum of every cell, then for each histogram metric the count of every
// (cell, bin) pair. Cells enumerate the group-by combinations in row-major
// order, the first group_by varying slowest.
package query
