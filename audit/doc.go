// Package audit keeps a node's tamper-evident audit log: every admission,
// cohort, release and key-switch decision the node takes is appended to a
// hash-chained file that regulators verify with `fedscore audit verify`.
//
// # What is recorded
//
// An Entry records one decision: when, which kind, the query id and the
// digest of the signed query, the OPA decision id and policy bundle
// revision, the result (allow, deny or error) with reason codes, the digests
// of the inputs and ciphertexts involved, and a few non-personal details
// (for example a cohort's size). The log never holds personal data: no
// record, customer identifier or per-person value, only identifiers of
// queries and decisions, codes, counts and digests. Append rejects values
// that are not shaped like those (reason codes and detail keys must be
// short lowercase codes, digests lowercase hex).
//
// # File format (version 1)
//
// The log is a UTF-8 text file with one JSON object per line, each line
// ending in "\n". Records are numbered by "seq" from 1 without gaps, in
// file order. Every record has the members "seq", "time" (RFC 3339 in UTC),
// "kind", "prev" and, as its last member, "hash":
//
//   - body: the line without its newline and without its final member
//     `,"hash":"<64 hex digits>"`, that is the line up to (excluding)
//     `,"hash":"` followed by the single byte "}". The writer serialises
//     records with Go's encoding/json (members in the order documented on
//     Entry and Checkpoint, maps with sorted keys), but a verifier never
//     needs to re-encode: it hashes the bytes it reads.
//   - hash = lowercase hex SHA-256(body).
//   - prev = the hash of the previous record, or GenesisHash
//     (hex SHA-256 of "fedscore/audit/v1") for seq 1.
//
// Records with kind "checkpoint" are signed by the node (see Checkpoint):
// covers_seq = seq-1, covers_hash = prev, and "sig" is a base64 ASN.1 ECDSA
// P-256 signature made with pki.Sign under the purpose
// "fedscore/audit-checkpoint/v1" over the message
//
//	fedscore audit checkpoint v1\n
//	seq <covers_seq in decimal>\n
//	hash <covers_hash>\n
//	signer <signer>\n
//	time <the checkpoint's "time" string>\n
//
// that is SHA-256("fedscore/audit-checkpoint/v1" || 0x00 || message).
// "certs" holds the signer's certificate chain (base64 DER, leaf first) so a
// verifier that only trusts the federation CA can check it; the chain is
// checked at the checkpoint's time because node certificates are short-lived.
// The Log writes a checkpoint every CheckpointEvery entries and on Close.
//
// # What verification proves
//
// Verify recomputes every hash and link. Editing any byte of a record breaks
// its hash; deleting a record leaves a gap in seq; reordering puts a seq out
// of place; a crash during an append leaves a torn last line without a
// newline, reported as such. Someone able to rewrite the file could recompute
// the chain after an edit, but not the node's checkpoint signatures, so with
// a certificate or CA Verify also detects a rewritten history up to the last
// checkpoint. Removing records at the end is only detectable against
// something kept outside the file: RequireFinalCheckpoint fails a log whose
// last record is not a checkpoint (Close always writes one), and Anchor fails
// a log that no longer contains a (seq, hash) pair the verifier recorded
// earlier, for example from a checkpoint the node reported to the regulator
// (see Log.Head).
//
// Verify also enforces the canonical encoding (a record must read back to
// the same bytes), so that two parsers cannot disagree about what a hashed
// line says.
//
// # The data subject's question
//
// Under PIPL a person may ask a node which joint queries used their data.
// The node answers from its own records without the log holding anything
// about that person and without revealing anyone else:
//
//  1. QueriesBetween lists the queries the node admitted in the period of
//     interest (their ids, query digests, times and bundle revisions). The
//     cohort entries next to them give the purpose-level outcome.
//  2. For each, the node takes the signed query spec it archived under that
//     query digest (the digest proves it is the spec that was admitted) and
//     re-evaluates the cohort rule of that query — the purpose's consent as
//     of the query time (withdrawal-aware), the minors exclusion and the
//     query's filters — on the subject's own record and consent history.
//  3. The answer lists the queries whose cohort included the subject, with
//     their purpose and querier. It contains nothing about other people: the
//     log holds only counts and digests, and the re-evaluation touches only
//     the subject's record.
//
// Step 2 lives with the node's data source; this package only keeps the
// verifiable list of admitted queries that the answer starts from.
package audit
