package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// Kind is the kind of a record.
type Kind string

// Record kinds. KindCheckpoint is reserved for the log's own signed
// checkpoints; the others are decisions (KindBundle an operator's override
// of the node's policy bundle rules, KindRecovery the log's note that it
// cut off a torn line after a crash).
const (
	KindAdmission  Kind = "admission"
	KindCohort     Kind = "cohort"
	KindRelease    Kind = "release"
	KindKeySwitch  Kind = "key_switch"
	KindSetup      Kind = "setup"
	KindBundle     Kind = "bundle"
	KindRecovery   Kind = "recovery"
	KindCheckpoint Kind = "checkpoint"
	// KindOverlap records a node's part in an overlap query: its own set
	// (size, malformed and duplicate identifiers), the signed hellos, every
	// list transfer it sent or received, the release digest and the ε spent.
	KindOverlap Kind = "overlap"
)

// entryKind reports whether k may be appended as an Entry.
func entryKind(k Kind) bool {
	switch k {
	case KindAdmission, KindCohort, KindRelease, KindKeySwitch, KindSetup, KindBundle, KindRecovery, KindOverlap:
		return true
	}
	return false
}

// Result is the outcome of a decision.
type Result string

// Decision results.
const (
	ResultAllow Result = "allow"
	ResultDeny  Result = "deny"
	ResultError Result = "error"
)

// CheckpointPurpose is the pki.Sign purpose of checkpoint signatures.
const CheckpointPurpose = "fedscore/audit-checkpoint/v1"

// GenesisHash is the prev of the first record: the hex SHA-256 of
// "fedscore/audit/v1".
var GenesisHash = hexSHA256([]byte("fedscore/audit/v1"))

// An Entry is one decision in the log. The JSON member order below is the
// order in which the writer serialises them; "hash" is always last.
// Optional members are omitted when empty.
type Entry struct {
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	Kind Kind      `json:"kind"`
	// Node is the identity of the node taking the decision.
	Node    string `json:"node,omitempty"`
	QueryID string `json:"query_id,omitempty"`
	// QueryDigest is the hex SHA-256 of the signed query envelope.
	QueryDigest string `json:"query_digest,omitempty"`
	// DecisionID is the policy engine's decision id.
	DecisionID string `json:"decision_id,omitempty"`
	// BundleRevision is the revision of the active policy bundle.
	BundleRevision string `json:"bundle_revision,omitempty"`
	Result         Result `json:"result"`
	// Reasons are reason codes such as "min_cell_size" or "consent_missing".
	Reasons []string `json:"reasons,omitempty"`
	// InputDigests and CiphertextDigests are lowercase hex digests of the
	// inputs a decision was taken on and of the ciphertexts involved.
	InputDigests      []string `json:"input_digests,omitempty"`
	CiphertextDigests []string `json:"ciphertext_digests,omitempty"`
	// Detail holds further non-personal facts, such as a cohort's size
	// ("cohort_size": "1834") or a phase name.
	Detail map[string]string `json:"detail,omitempty"`
	// Prev is the hash of the previous record (GenesisHash for seq 1).
	Prev string `json:"prev"`
	// Hash is the hex SHA-256 of the record's encoding without this member.
	Hash string `json:"hash,omitempty"`
}

// A Checkpoint is a signed record attesting that the log's records up to
// CoversSeq hash to CoversHash. It is a record of the chain itself (it has
// its own seq and hash), so deleting one is detected like any other record.
type Checkpoint struct {
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	Kind Kind      `json:"kind"` // always KindCheckpoint
	// Signer is the identity of the signing node (its SPIFFE URI).
	Signer     string `json:"signer"`
	CoversSeq  uint64 `json:"covers_seq"`
	CoversHash string `json:"covers_hash"`
	// Certificates is the signer's certificate chain in DER, leaf first.
	Certificates [][]byte `json:"certs,omitempty"`
	Signature    []byte   `json:"sig"`
	Prev         string   `json:"prev"`
	Hash         string   `json:"hash,omitempty"`
}

// SignedMessage returns the bytes the checkpoint's signature covers (see the
// package documentation).
func (c *Checkpoint) SignedMessage() []byte {
	return []byte("fedscore audit checkpoint v1\n" +
		"seq " + strconv.FormatUint(c.CoversSeq, 10) + "\n" +
		"hash " + c.CoversHash + "\n" +
		"signer " + c.Signer + "\n" +
		"time " + c.Time.Format(time.RFC3339Nano) + "\n")
}

const (
	// maxLineBytes bounds one record, so a corrupt or hostile file cannot
	// make a reader buffer without limit.
	maxLineBytes = 1 << 20
	hashMember   = `,"hash":"`
	hashHexLen   = 2 * sha256.Size
	// hashSuffixLen is len(`,"hash":"` + 64 hex + `"}`).
	hashSuffixLen = len(hashMember) + hashHexLen + 2
)

func hexSHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// seal appends the hash member to body (a JSON object without "hash") and
// returns the line, with its newline, and the hash.
func seal(body []byte) ([]byte, string) {
	h := hexSHA256(body)
	line := make([]byte, 0, len(body)+hashSuffixLen+1)
	line = append(line, body[:len(body)-1]...)
	line = append(line, hashMember...)
	line = append(line, h...)
	line = append(line, "\"}\n"...)
	return line, h
}

// splitLine undoes seal on a line without its newline: it returns the body
// that was hashed and the hash the line states.
func splitLine(line []byte) (body []byte, hash string, ok bool) {
	n := len(line)
	if n < hashSuffixLen+2 || line[0] != '{' || !bytes.HasSuffix(line, []byte(`"}`)) {
		return nil, "", false
	}
	start := n - hashSuffixLen
	if string(line[start:start+len(hashMember)]) != hashMember {
		return nil, "", false
	}
	hash = string(line[start+len(hashMember) : n-2])
	if !isHex(hash, hashHexLen, hashHexLen) {
		return nil, "", false
	}
	body = make([]byte, 0, start+1)
	body = append(body, line[:start]...)
	body = append(body, '}')
	return body, hash, true
}

// record is one parsed and self-consistent line.
type record struct {
	seq  uint64
	kind Kind
	prev string
	hash string
	// Exactly one of entry and cp is set.
	entry *Entry
	cp    *Checkpoint
}

// Problems found while decoding a line; the verifier adds the position.
var (
	errNoHash       = errors.New("line does not end in a well-formed \"hash\" member")
	errNotCanonical = errors.New("record is not in the canonical encoding (it does not read back to the same bytes)")
)

// decodeLine parses a line (without its newline) and checks its own hash and
// encoding. On a hash mismatch it still returns the seq the line claims, if
// it can be read, together with errHashMismatch.
func decodeLine(line []byte) (record, error) {
	body, hash, ok := splitLine(line)
	if !ok {
		return record{}, errNoHash
	}
	var probe struct {
		Seq  uint64 `json:"seq"`
		Kind Kind   `json:"kind"`
	}
	probeErr := json.Unmarshal(line, &probe)
	if got := hexSHA256(body); got != hash {
		return record{seq: probe.Seq}, errHashMismatch
	}
	if probeErr != nil {
		return record{}, fmt.Errorf("not a JSON record: %v", probeErr)
	}
	rec := record{seq: probe.Seq, kind: probe.Kind, hash: hash}
	var canon []byte
	var err error
	if probe.Kind == KindCheckpoint {
		var c Checkpoint
		if err := strictUnmarshal(line, &c); err != nil {
			return record{}, err
		}
		rec.cp, rec.prev = &c, c.Prev
		cc := c
		cc.Hash = ""
		canon, err = json.Marshal(&cc)
	} else {
		var e Entry
		if err := strictUnmarshal(line, &e); err != nil {
			return record{}, err
		}
		rec.entry, rec.prev = &e, e.Prev
		ec := e
		ec.Hash = ""
		canon, err = json.Marshal(&ec)
	}
	if err != nil || !bytes.Equal(canon, body) {
		return record{}, errNotCanonical
	}
	switch {
	case rec.kind == "":
		return record{}, errors.New(`record has no "kind"`)
	case rec.seq == 0:
		return record{}, errors.New(`record has seq 0; records are numbered from 1`)
	case !isHex(rec.prev, hashHexLen, hashHexLen):
		return record{}, errors.New(`"prev" is not a SHA-256 hex digest`)
	}
	return rec, nil
}

var errHashMismatch = errors.New("hash mismatch: the record was edited after it was written")

func strictUnmarshal(line []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("not a valid record: %v", err)
	}
	if dec.More() {
		return errors.New("not a valid record: data after the JSON object")
	}
	return nil
}

// Limits on what an entry may carry. They keep records small and make it
// hard to smuggle free text (and with it personal data) into the log.
const (
	maxIDLen      = 256
	maxCodes      = 64
	maxDigests    = 4096
	maxDetail     = 32
	maxDetailLen  = 256
	maxCodeLen    = 64
	minDigestHex  = 32
	maxDigestHex  = 128
	maxSignerLen  = 512
	maxCertsBytes = 64 << 10
)

// validateEntry checks the caller-supplied fields of e.
func validateEntry(e *Entry) error {
	if !entryKind(e.Kind) {
		return fmt.Errorf("audit: unknown entry kind %q", e.Kind)
	}
	switch e.Result {
	case ResultAllow, ResultDeny, ResultError:
	default:
		return fmt.Errorf("audit: result %q is not allow, deny or error", e.Result)
	}
	for name, v := range map[string]string{"node": e.Node, "query id": e.QueryID, "decision id": e.DecisionID, "bundle revision": e.BundleRevision} {
		if !isToken(v, maxIDLen) {
			return fmt.Errorf("audit: %s %q must be at most %d printable characters", name, v, maxIDLen)
		}
	}
	if e.QueryDigest != "" && !isHex(e.QueryDigest, minDigestHex, maxDigestHex) {
		return fmt.Errorf("audit: query digest %q is not a lowercase hex digest", e.QueryDigest)
	}
	if len(e.Reasons) > maxCodes {
		return fmt.Errorf("audit: %d reason codes, at most %d", len(e.Reasons), maxCodes)
	}
	for _, r := range e.Reasons {
		if !isCode(r) {
			return fmt.Errorf("audit: reason %q is not a code ([A-Za-z0-9][A-Za-z0-9_.:/-]*, at most %d bytes)", r, maxCodeLen)
		}
	}
	for name, ds := range map[string][]string{"input": e.InputDigests, "ciphertext": e.CiphertextDigests} {
		if len(ds) > maxDigests {
			return fmt.Errorf("audit: %d %s digests, at most %d", len(ds), name, maxDigests)
		}
		for _, d := range ds {
			if !isHex(d, minDigestHex, maxDigestHex) {
				return fmt.Errorf("audit: %s digest %q is not a lowercase hex digest", name, d)
			}
		}
	}
	if len(e.Detail) > maxDetail {
		return fmt.Errorf("audit: %d detail members, at most %d", len(e.Detail), maxDetail)
	}
	for k, v := range e.Detail {
		if !isCode(k) {
			return fmt.Errorf("audit: detail key %q is not a code", k)
		}
		if !isToken(v, maxDetailLen) {
			return fmt.Errorf("audit: detail %q must be at most %d printable characters", k, maxDetailLen)
		}
	}
	return nil
}

// isHex reports whether s is lowercase hex of even length within [min, max].
func isHex(s string, minLen, maxLen int) bool {
	if len(s) < minLen || len(s) > maxLen || len(s)%2 != 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// isCode reports whether s is a short code: letters, digits and a few
// separators, as policy reason codes (PURPOSE_COLUMNS) and detail keys are.
func isCode(s string) bool {
	if s == "" || len(s) > maxCodeLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if !alnum && (i == 0 || c != '_' && c != '.' && c != ':' && c != '/' && c != '-') {
			return false
		}
	}
	return true
}

// isToken reports whether s is valid UTF-8 of at most maxLen bytes without
// control characters.
func isToken(s string, maxLen int) bool {
	if len(s) > maxLen || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			return false
		}
	}
	return true
}
