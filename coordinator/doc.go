// Package coordinator runs fedscore's coordinator: it registers the
// partner nodes of a federation, runs the collective key generation of each
// epoch, fans joint queries out to the nodes, adds their ciphertexts and has
// the aggregate key-switched to the querier's key.
//
// The coordinator is untrusted for confidentiality: it only ever holds
// ciphertexts under the collective key, key-switch shares and signed
// statements. Nodes recombine the collective key themselves from signed
// shares and recompute every aggregate they are asked to open, so a
// coordinator that deviates from the protocol is caught, not obeyed.
package coordinator
