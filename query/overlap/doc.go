// Package overlap is the overlap query: how many customers partners share,
// per segment of one partner's set if asked, and how large their combined
// audience is, answered by private set intersection cardinality (package
// psi) through the federation.
//
// A Spec names the purpose, the identifier kind and column, and each
// partner's segment: a filter in the joint-query grammar (query.Predicate)
// and, on at most one partner, group-by dimensions whose cells are that
// partner's segments. Validate reports every problem by field, reusing the
// joint query's validation for each partner's segment. Session derives the
// psi.Config every party and the relay must agree on from the signed
// query, and Figures turns a released psi.Result into what the querier
// sees: intersections of all partners and of each pair, every partner's
// set size and the union, per segment where asked, with the release
// gate's minimum cell size applied.
package overlap
