// Package crypto implements the homomorphic encryption used by fedscore.
//
// Partner nodes hold additive shares of a collective BGV secret key. They
// encrypt per-segment aggregates under the collective public key, a
// coordinator adds the ciphertexts, and the nodes jointly re-encrypt the
// sum to a querier's public key (public-key switching, PCKS) so that only
// the querier can decrypt it.
//
// The package wraps Lattigo and is the only place that imports it: no
// exported identifier has a Lattigo type, and every value that crosses a
// process boundary uses a canonical wire format of the package's own,
// which is validated completely before it is trusted.
//
// Keys, Params and Ciphertexts are immutable once built and may be shared
// between goroutines. Encryptor, Evaluator and KeySwitcher hold scratch
// buffers and a random source: one value serves one goroutine, and
// ShallowCopy gives another goroutine its own.
package crypto
