// Package privacy adds differential-privacy noise to the integer aggregates of a
// joint query when no single party may know the noise: every node adds its
// own SHARE of noise to its cell vector before encrypting it, and only the
// sum of all nodes' vectors is ever opened. The shares are built so that
// their sum has exactly the target distribution.
//
// # Discrete Laplace by the Pólya decomposition (default, pure ε-DP)
//
// The discrete Laplace distribution DL(t) has P(k) ∝ exp(-|k|/t) on the
// integers, that is P(k) = (1-p)/(1+p)·p^|k| with p = exp(-1/t). It is the
// difference of two independent geometric variables with P(g) = (1-p)·p^g,
// and the geometric distribution is the negative binomial NB(1, p), which is
// infinitely divisible: the sum of n independent NB(1/n, p) variables is
// NB(1, p). Each of n parties therefore draws
//
//	share = NB(1/n, p) − NB(1/n, p)
//
// and the n shares sum to DL(t) exactly (NB with non-integer shape is also
// called the Pólya distribution). See Goryczka & Xiong, "A comprehensive
// comparison of multiparty secure additions with differential privacy"
// (IEEE TDSC 2017) for this and other distributed-noise constructions. NB
// with shape r < 1 is drawn as a Gamma–Poisson mixture: NB(r, p) =
// Poisson(λ) with λ ~ Gamma(shape r, scale p/(1-p)).
//
// For a query with L1 sensitivity Δ (in the integer units of the cell, e.g.
// fixed-point units for clipped sums), DL(t) with t = Δ/ε makes the released
// cell ε-differentially private: P(k)/P(k+Δ) ≤ exp(Δ/t) = exp(ε). A single
// share is not DL-distributed (its variance is 1/n of the total), so any
// party or coalition that knows its own shares still sees the other
// parties' noise on top of the exact aggregate; n − 1 colluding parties,
// however, leave only one share. If up to c of n nodes may collude or
// withhold their share, calibrate with parties = n − c (at least 2): the
// honest shares then already sum to DL(t), and the extra shares are
// independent noise on top, which cannot weaken the guarantee.
//
// # Skellam (alternative, Rényi / approximate DP)
//
// Skellam(μ, μ) is the difference of two Poisson(μ) variables; Poisson is
// infinitely divisible, so each party draws Poisson(μ/n) − Poisson(μ/n) and
// the shares sum to Skellam(μ, μ), variance 2μ. Skellam noise is not pure
// ε-DP (its log-likelihood ratio is unbounded in the tails); it satisfies
// Rényi DP (Agarwal, Kairouz & Liu, "The Skellam mechanism for
// differentially private federated learning", NeurIPS 2021): with variance
// V = 2μ and sensitivity Δ,
//
//	ε(α) ≤ αΔ²/(2V) + min(((2α−1)Δ² + 6Δ)/(4V²), 3Δ/(2V)),
//
// which this package converts to (ε, δ)-DP with ε = ε(α) + log(1/δ)/(α−1),
// minimised over integer orders α ≥ 2, and calibrates the smallest μ that
// meets the requested (ε, δ). For one release discrete Laplace needs far
// less noise (ε = 1, Δ = 1: variance 1.8 against 30 for Skellam at
// δ = 1e-6); Skellam pays off when many releases are accounted together in
// Rényi DP, where the cost grows with the square root of their number
// rather than linearly, and its tails are Gaussian rather than exponential.
// SplitEpsilon and Ledger use plain sequential composition for both.
//
// # Numerical accuracy
//
// Sampling uses float64 arithmetic throughout, with uniforms carrying 53
// random bits from a ChaCha8 generator seeded with 32 bytes from
// crypto/rand (a fixed seed is for tests only). Gamma variates use
// Marsaglia & Tsang (2000) with their boost Gamma(r) = Gamma(r+1)·U^(1/r)
// for the shape r = 1/n < 1. Poisson variates use sequential inversion for
// λ < 10 and Hörmann's PTRS transformed rejection (1993) for λ ≥ 10, whose
// acceptance test evaluates log P(k) in Loader's saddle-point form
// (Stirling error plus the deviance bd0); that stays accurate to about
// 1e-15 even at λ ≈ 1e13, where the naive k·log λ − λ − lgamma(k+1)
// cancels terms near 1e14 and keeps almost no correct digit.
//
// These are exact algorithms; the realised distribution departs from the
// ideal one only through float64 rounding and the 2^-53 resolution of the
// uniforms. As an order-of-magnitude estimate (not a proof): an outcome
// whose ideal probability is well above 2^-50 is drawn with a relative
// error below about 1e-8 under the scale caps, which inflates ε by a
// relative amount of the same order; rarer outcomes (the far tail, beyond
// about 35·t for discrete Laplace) are not reproduced faithfully, which
// acts like a δ of order 2^-50. The caps (MaxScale, MaxSkellamMu) keep
// every intermediate integer exactly representable in float64.
//
// # Composition and contribution bounding
//
// Sensitivity is the L1 change of one cell when one user is added or
// removed; callers bound contributions (one cell per user per block, sums
// clipped to [L, U]) so that Δ is 1 for counts and histogram bins and
// max(|L|, |U|)·10^decimals for fixed-point sums. Under replacement
// neighbouring use twice that. The query's blocks (counts, each sum metric,
// each histogram) compose sequentially; SplitEpsilon divides a query's ε
// among them. Ledger tracks spent ε per purpose and segment family per UTC
// day.
//
// What else protects individuals in a released result, the suppression of
// small cells that every node's release gate decides, is package
// privacy/release.
package privacy
