// Package noise calibrates and draws the differential-privacy noise of a
// PSI-cardinality query, whose counts are only ever seen with noise by any
// single party.
//
// Two noises protect every released count, drawn by two different parties:
//
//   - The noise party inserts n matching dummy elements into every cell of
//     the comparison, so the comparer counts c + n and never c. n is a
//     discrete Laplace variable shifted by s and truncated to [0, 2s]:
//     P(n) = p^|n−s| / Z, p = exp(−1/t), Z = Σ_{|j|≤s} p^|j|. Every list
//     also gets 2s − n non-matching random elements per cell, so its
//     length grows by the public 2s whatever n is.
//   - The comparer adds an untruncated discrete Laplace DL(t) to each
//     count before releasing it, so the noise party, which knows n, still
//     sees the released value with noise it does not know. That draw comes
//     from internal/dp's sampler.
//
// The released value is c + (n − s) + z, unbiased, with variance about
// 2·2p/(1−p)².
//
// # Why this is differentially private
//
// One record (an identifier added to or removed from one party's set)
// changes at most Mechanisms noisy values: the counts of the cells it moves
// between (one for two parties, two for three or more) and, when set sizes
// are noised, its list's size. Each value has sensitivity 1.
//
// Shifted truncated discrete Laplace, against the comparer. For counts c
// and c+1 the outputs c+n and c+1+n have supports [c, c+2s] and
// [c+1, c+2s+1]. On the common part the ratio of probabilities is
// p^(|o−c−s| − |o−c−1−s|) ∈ [p, 1/p], that is within e^(±1/t). The two
// points outside it have probability P(n=0) = P(n=2s) = p^s/Z each. So for
// every set S of outputs P_c(S) ≤ e^(1/t)·P_(c+1)(S) + p^s/Z and
// symmetrically: each value is (1/t, p^s/Z)-DP. Basic composition over the
// Mechanisms values one record changes gives (Mechanisms/t,
// Mechanisms·p^s/Z). Calibrate therefore sets t = Mechanisms/ε and the
// smallest s with Mechanisms·p^s/Z ≤ δ.
//
// Discrete Laplace, against the noise party. It knows n but not z; the
// released c + n − s + z is, given n, the value c + z shifted by a known
// amount, and DL(t) makes each value (1/t)-DP with no δ (Ghosh, Roughgarden
// & Sundararajan 2009), so (Mechanisms/t) = ε for a record's values. Any
// other observer (the relay, the querier, the remaining parties) sees
// c + z plus noise independent of the data, which by post-processing is
// also pure ε-DP.
//
// The guarantee needs the comparer and the noise party not to collude;
// together they know both noises and the exact counts.
//
// Sampling: the truncated distribution is drawn by inversion of its exact
// float64 cumulative table with a 53-bit uniform from ChaCha8 seeded from
// crypto/rand, so its realised probabilities are the table's to within
// 2^-53; Calibrate keeps s at most MaxShift.
package noise
