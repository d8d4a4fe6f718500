// Package psi computes private set intersection cardinalities across k
// partners: how many identifiers every subset of them shares, per segment
// of one partner's set if asked, and the size of their union, without any
// party learning which identifiers are shared and, with differential
// privacy on, without any single party learning any released count or set
// size exactly.
//
// # Protocol
//
// Each party holds a fresh secret exponent per session. Its set, hashed to
// ristretto255 and raised to its exponent, goes round the ring of parties
// from its owner; every party raises each list it receives to its own
// exponent and shuffles it, so after k hops every list holds H(x)^A with A
// the product of all exponents. The comparer (the last party) sorts all
// lists together and counts, for every element, the set of parties holding
// it: the cells of the release. No other party ever holds two lists with
// the same exponents, so none can compare. Frames are sealed between the
// two parties of each hop, so the relay in between sees only sizes.
//
// With DP, the noise party (the first) inserts into the lists of every
// cell a number of dummy elements that match in all of them, drawn from a
// shifted truncated discrete Laplace distribution, plus random elements so
// list sizes stay independent of that number; the comparer adds discrete
// Laplace noise to every count before releasing it; and every owner pads
// its lists with random elements so sizes are noisy too. docs/overlap.md
// gives the protocol step by step, what each role learns and the proof.
//
// # Using it
//
// Every party and the relay derive the same plan from a Config. A party is
// a state machine driven by Run: frames in, frames out, as bytes in the
// format of package wire; its set comes from an ident.Source in batches and
// is spooled to disk when large (package spool), so sets of tens of
// millions never sit in memory. Relay checks and routes frames; Local runs
// a whole session in one process for tests and benchmarks.
package psi
