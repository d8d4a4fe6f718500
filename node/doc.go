// Package node runs a fedscore partner node beside the partner's data.
//
// A node dials out to the coordinator (it opens no inbound port) and keeps
// a task stream. It takes part in the collective key generation, keeps its
// secret-key share in its keystore, and for each joint query verifies the
// querier's signature, asks its policy engine, builds the consented cohort,
// aggregates locally and sends only ciphertexts under the collective key,
// committed to by a signed receipt before they are revealed.
//
// It gives a decryption or key-switch share only of a sum it has verified
// without downloading the other partners' inputs: the sum, fixed before the
// node revealed its secret seed, must have the fingerprint that every
// participant's signed fingerprints add up to, and the inputs of a few
// members it samples must have the fingerprints their owners signed (see
// docs/security.md). It never gives two shares of one ciphertext, and never
// admits a query run twice.
//
// Each step of the protocol is one file: admission.go (the query task),
// commit.go (receipts, the receipt set, reveals), verify.go (sums, seeds,
// fingerprints, spot checks), share.go (decryption and key-switch shares),
// gate.go (opening the counts and the release gate); dispatch.go routes the
// coordinator's messages to them.
package node
