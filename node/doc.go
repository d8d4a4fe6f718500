// Package node runs a fedscore partner node beside the partner's data.
//
// A node dials out to the coordinator (it opens no inbound port) and keeps
// a task stream. It takes part in the collective key generation, keeps its
// secret-key share in its keystore, and for each joint query verifies the
// querier's signature, asks its policy engine, builds the consented cohort,
// aggregates locally and sends only ciphertexts under the collective key with
// a signed receipt. It contributes a key-switch share only for an aggregate
// it has recomputed from the signed inputs of enough distinct partners, and
// never twice for the same ciphertext.
package node
