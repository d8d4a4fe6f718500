package node

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"slices"
	"time"

	"github.com/fedscore/fedscore/privacy/release"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
	"github.com/fedscore/fedscore/protocol"
)

// commit encrypts values as this node's input of a phase and answers with
// its signed receipt alone: the ciphertexts leave only once every
// participant's receipt is fixed, so that nobody can choose an input
// after seeing another's.
func (n *Node) commit(aq *admittedQuery, phase int32, values []int64, mask *release.Mask) (*reply, error) {
	pk, err := aq.params.UnmarshalPublicKey(aq.epoch.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("collective key: %w", err)
	}
	enc, err := aq.params.NewEncryptor(pk)
	if err != nil {
		return nil, err
	}
	encrypted, err := enc.Encrypt(values)
	if err != nil {
		return nil, fmt.Errorf("encrypt: %w", err)
	}
	step := aq.step(phase)
	receipt := &pb.Receipt{
		QueryId: step.QueryID, QueryDigest: step.QueryDigest, Node: n.name, Epoch: step.Epoch, Run: step.Run, Phase: phase,
		DecisionId: aq.decision.ID, BundleRevision: aq.decision.BundleRevision, UnixNanos: time.Now().UnixNano(),
	}
	msg := &pb.InputReceipt{QueryId: step.QueryID, Run: step.Run, Phase: phase}
	if mask != nil {
		msg.ReleaseMask = mask.Bitmap()
		receipt.MaskDigest = mask.Digest()
	}
	in := &phaseInputs{}
	for _, ct := range encrypted {
		b, err := ct.MarshalBinary()
		if err != nil {
			return nil, err
		}
		in.own = append(in.own, b)
		receipt.CiphertextDigests = append(receipt.CiphertextDigests, protocol.Digest(b))
	}
	if msg.Receipt, msg.Signature, err = protocol.SignReceipt(n.cfg.Credential.Key, receipt); err != nil {
		return nil, err
	}
	in.receipt = msg.Receipt
	aq.inputs[phase] = in
	return &reply{msg: &pb.NodeMessage{Body: &pb.NodeMessage_Receipt{Receipt: msg}}}, nil
}

// handleReceiptSet checks the fixed set of a phase's receipts — one per
// participant, each for this run and phase, this node's own unchanged, all with the same number of ciphertexts and in phase 2 the
// same release mask as this node's — and only then reveals this node's
// ciphertexts, with commitments to the seeds it will verify the phase's
// sums with.
func (n *Node) handleReceiptSet(task *pb.ReceiptSet) (*reply, error) {
	aq, err := n.take(task.QueryId, task.Run, task.Phase, stageRevealed, stageCommitted)
	if err != nil {
		return nil, err
	}
	in := aq.inputs[task.Phase]
	if len(task.Receipts) != len(aq.participants) {
		return nil, fmt.Errorf("the receipt set has %d receipts; the run has %d participants", len(task.Receipts), len(aq.participants))
	}
	step := aq.step(task.Phase)
	in.members = map[string]*memberInput{}
	now := time.Now()
	for _, sr := range task.Receipts {
		if !slices.Contains(aq.participants, sr.Node) || in.members[sr.Node] != nil {
			return nil, fmt.Errorf("a receipt from %q, which is not a participant or has two", sr.Node)
		}
		cert, err := n.certs.MemberCert(aq.epoch, sr.Node, sr.CertChain, now)
		if err != nil {
			return nil, err
		}
		// The receipt's signature is not checked here: the set binds the
		// phase's inputs by their digests before any is revealed, and each
		// member's signed fingerprint statement, checked before any share,
		// names the digest of its receipt (docs/security.md). The
		// coordinator checks every receipt's signature.
		r, err := protocol.ParseReceipt(sr.Node, sr.Receipt, step)
		if err != nil {
			return nil, err
		}
		switch {
		case sr.Node == n.name && !bytes.Equal(sr.Receipt, in.receipt):
			return nil, fmt.Errorf("the receipt set holds another receipt as this node's")
		case len(r.CiphertextDigests) != len(in.own):
			return nil, fmt.Errorf("%s committed to %d ciphertexts, this node to %d", sr.Node, len(r.CiphertextDigests), len(in.own))
		case task.Phase == 2 && !bytes.Equal(r.MaskDigest, aq.mask.Digest()):
			return nil, fmt.Errorf("%s applied a different release mask than this node", sr.Node)
		}
		in.members[sr.Node] = &memberInput{receipt: r, signed: sr.Receipt, signature: sr.Signature, cert: cert}
	}
	msg := &pb.InputReveal{QueryId: step.QueryID, Run: step.Run, Phase: task.Phase}
	if aq.verifies(task.Phase, n.name) {
		rounds := []*verifyRound{&in.round}
		if task.Phase == 1 {
			rounds = append(rounds, &aq.shares)
		}
		for _, r := range rounds {
			r.seed = make([]byte, protocol.SeedSize)
			if _, err := rand.Read(r.seed); err != nil {
				return nil, err
			}
			msg.SeedCommitments = append(msg.SeedCommitments, protocol.SeedCommitment(r.seed))
		}
	}
	return revealReply(msg, in.own, "ct"), nil
}

// handleResend uploads this node's input of a phase again, for the
// verifiers that spot-check it.
func (n *Node) handleResend(task *pb.ResendTask) (*reply, error) {
	aq, err := n.take(task.QueryId, task.Run, task.Phase, stageUnchanged, stageFingerprinted, stageSpotChecking)
	if err != nil {
		return nil, err
	}
	msg := &pb.InputReveal{QueryId: task.QueryId, Run: task.Run, Phase: task.Phase, Resend: true}
	return revealReply(msg, aq.inputs[task.Phase].own, "resend"), nil
}

// revealReply names the ciphertexts cts as blobs of msg.
func revealReply(msg *pb.InputReveal, cts [][]byte, prefix string) *reply {
	r := &reply{msg: &pb.NodeMessage{Body: &pb.NodeMessage_Reveal{Reveal: msg}}}
	for k, ct := range cts {
		id := fmt.Sprintf("%s/%s/%d/%d/%d", prefix, msg.QueryId, msg.Run, msg.Phase, k)
		msg.CiphertextBlobs = append(msg.CiphertextBlobs, id)
		r.blobs = append(r.blobs, blob{id, ct})
	}
	return r
}
