// Package wire is the byte format of the PSI-cardinality protocol: frames
// with a fixed 48-byte header that a relay can route and account for, and
// payloads sealed between the two parties of each hop, so the relay sees
// which party sends how many elements of which list to whom, and nothing
// else.
//
// # Frame (version 1)
//
// All integers are big-endian.
//
//	offset size field
//	0      4    magic "FPSI"
//	4      1    version (1)
//	5      1    type: 1 hello, 2 list start, 3 batch, 4 list end, 5 result, 6 abort, 7 released
//	6      1    from: sending party index
//	7      1    to: receiving party index, 255 for a broadcast hello or abort
//	8      16   session id
//	24     2    list id
//	26     1    hop: how many parties have blinded the list (1 after its owner)
//	27     1    reserved, zero
//	28     4    seq: batch number within the list, from 0
//	32     4    count: elements in a batch (0 otherwise)
//	36     8    total: elements of the list (list start and end; 0 otherwise)
//	44     4    length of the payload
//	48     ...  payload
//
// Payloads: a hello carries the sender's ephemeral X25519 public key (32
// bytes, in the clear); an abort a short reason code in the clear. All
// other payloads are AES-256-GCM ciphertexts under the key of their
// direction, derived by HKDF-SHA256 from the X25519 secret of the two
// parties' ephemeral keys, the session id and both public keys; the nonce
// is built from type, list, hop and seq, unique per direction in a session,
// and the header is the additional data. Sealed plaintexts: list start, a
// flag byte and an optional 32-byte element (the dummy base the list
// carries towards the noise party); batch, count elements of 32 bytes;
// list end, SHA-256 of the list's elements in order; result, the encoded
// Release; released, the 32-byte digest of a release the comparer handed
// elsewhere (to the querier) instead of to the parties.
//
// Decode checks every length against the header, the type and the limits
// below before any allocation, so a hostile peer cannot make a receiver
// allocate more than MaxPayload per frame.
package wire
