// Package query defines the joint segment query that partners answer
// together: its spec, validation, the layout of the aggregate vector and
// the decoding of the summed vector into a result table. It knows nothing
// of records: a partner evaluates a spec over its own data with package
// node/aggregate, and [Spec.CheckColumns] checks a spec against any
// [Schema].
//
// Each partner computes its vector; vectors of all partners are added slot
// by slot (under encryption, elsewhere), and the querier turns the sum
// into a [Result] with [Decode]. Because the vector is a plain sum, every
// slot holds an exact int64: counts, and sums in fixed point with
// [Spec.Decimals] decimal places.
//
// The vector is laid out metric-major (see [Spec.Layout]): first the count
// of every cell, then for each sum or mean metric the clipped fixed-point
// sum of every cell, then for each histogram metric the count of every
// (cell, bin) pair. Cells enumerate the group-by combinations in row-major
// order, the first group_by varying slowest.
package query
