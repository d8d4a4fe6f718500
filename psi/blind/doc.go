// Package blind does the group arithmetic of ECDH private set intersection
// in ristretto255 (RFC 9496), through github.com/cloudflare/circl:
//
//   - hashing a normalised identifier to the group with the random-oracle
//     suite ristretto255_XMD:SHA-512_R255MAP_RO_ of RFC 9380 (Appendix B)
//     under the application tag DST, after the query's domain prefix;
//   - fresh secret scalars per query (Key), uniform modulo the group order
//     and never zero;
//   - raising elements to a Key with circl's constant-time scalar
//     multiplication (a fixed 5-bit signed window: the sequence of
//     operations and memory accesses does not depend on the scalar);
//   - encoding elements in their canonical 32-byte form, rejecting
//     non-canonical encodings and the identity on decoding.
//
// ristretto255 has prime order, so there are no small subgroups to confine
// an element to and no cofactor to clear; an element that decodes is a
// valid group element. Pool spreads the work of a batch over goroutines,
// each with its own circl objects (they are not safe for concurrent use).
package blind
