package node

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/fedscore/fedscore/audit"
	"github.com/fedscore/fedscore/internal/atomicfile"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
	"github.com/fedscore/fedscore/protocol"
)

// EvidenceDir is the directory of the node's state directory that holds
// evidence of members' false statements.
const EvidenceDir = "evidence"

// Evidence shows that a member signed fingerprints of an input other than
// the one its signed receipt commits to: anyone can check both signatures
// with Certificates, that the ciphertexts have the receipt's digests, and
// that their fingerprints at the statement's seed are not the signed ones.
type Evidence struct {
	Member             string   `json:"member"`
	Certificates       [][]byte `json:"certificates"`
	Receipt            []byte   `json:"receipt"`
	ReceiptSignature   []byte   `json:"receipt_signature"`
	Statement          []byte   `json:"fingerprint_statement"`
	StatementSignature []byte   `json:"fingerprint_statement_signature"`
	Ciphertexts        [][]byte `json:"ciphertexts"`
}

// recordLie keeps the evidence of a member's false fingerprints in the
// state directory and records the finding, with the evidence's digest, in
// the audit log.
func (n *Node) recordLie(ctx context.Context, aq *admittedQuery, phase int32, m *memberInput, sf *pb.SignedFingerprints, cts [][]byte) {
	ev := Evidence{
		Member: sf.Node, Certificates: [][]byte{m.cert.Raw}, Receipt: m.signed, ReceiptSignature: m.signature,
		Statement: sf.Statement, StatementSignature: sf.Signature, Ciphertexts: cts,
	}
	b, err := json.Marshal(ev)
	if err != nil {
		n.log.Error("evidence", "err", err)
		return
	}
	qid := sha256.Sum256([]byte(aq.queryID()))
	name := fmt.Sprintf("%s-r%d-p%d-%s.json", hex.EncodeToString(qid[:8]), aq.run, phase, sf.Node)
	if err := atomicfile.Write(filepath.Join(n.cfg.StateDir, EvidenceDir, name), b, 0o600); err != nil {
		n.log.Error("evidence", "err", err)
	}
	n.audit(ctx, aq, audit.Entry{
		Kind: audit.KindKeySwitch, Result: audit.ResultDeny, Reasons: []string{"FINGERPRINT_MISMATCH"},
		InputDigests: hexAll(m.receipt.CiphertextDigests), CiphertextDigests: []string{hex.EncodeToString(protocol.Digest(sf.Statement))},
		Detail: map[string]string{
			"member": sf.Node, "phase": fmt.Sprint(phase), "run": fmt.Sprint(aq.run),
			"evidence": filepath.Join(EvidenceDir, name), "evidence_sha256": hex.EncodeToString(protocol.Digest(b)),
		},
	})
	n.log.Error("a member signed fingerprints that do not match its committed input", "query", aq.queryID(), "member", sf.Node, "evidence", name)
}
