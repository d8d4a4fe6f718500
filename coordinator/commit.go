package coordinator

import (
	"bytes"
	"fmt"
	"slices"
	"sync"

	"context"

	pb "github.com/fedscore/fedscore/proto/fedscorev1"
	"github.com/fedscore/fedscore/protocol"
)

// collectReceipts collects and verifies every participant's signed receipt
// of a phase — signed for this run and phase, all with the same number of
// ciphertexts and in phase 2 the same release mask — before any input of
// the phase is revealed.
func (r *queryRun) collectReceipts(ctx context.Context, phase int32) error {
	out := map[string]*memberReceipt{}
	masks := map[string][]byte{}
	var mu sync.Mutex
	step := r.step(phase)
	err := r.collect(ctx, r.participants, fmt.Sprintf("receipt_%d", phase), func(c *nodeConn, ev nodeEvent) error {
		m := ev.msg.GetReceipt()
		if m == nil || m.Phase != phase {
			return fmt.Errorf("node %s answered with an unexpected message", c.name)
		}
		cert, err := r.cert(c)
		if err != nil {
			return err
		}
		rc, err := protocol.VerifyReceipt(cert, c.name, m.Receipt, m.Signature, step)
		if err != nil {
			return fmt.Errorf("node %s: %w", c.name, err)
		}
		if phase == 2 && !bytes.Equal(protocol.Digest(m.ReleaseMask), rc.MaskDigest) {
			return fmt.Errorf("node %s: release mask does not match its receipt", c.name)
		}
		sr := &pb.SignedReceipt{Node: c.name, Receipt: m.Receipt, Signature: m.Signature}
		// Nodes know the members' certificates from the key generation;
		// only a renewed one travels with the receipt.
		if !slices.EqualFunc(c.chain, r.q.epoch.MemberChains[c.name], bytes.Equal) {
			sr.CertChain = c.chain
		}
		mu.Lock()
		defer mu.Unlock()
		out[c.name], masks[c.name] = &memberReceipt{signed: sr, receipt: rc}, m.ReleaseMask
		return nil
	})
	if err != nil {
		return err
	}
	first := r.participants[0]
	for _, name := range r.participants[1:] {
		a, b := out[first].receipt, out[name].receipt
		if len(b.CiphertextDigests) != len(a.CiphertextDigests) {
			return fmt.Errorf("node %s committed to %d ciphertexts, %s to %d", name, len(b.CiphertextDigests), first, len(a.CiphertextDigests))
		}
		if !bytes.Equal(a.MaskDigest, b.MaskDigest) {
			return fmt.Errorf("nodes %s and %s computed different release masks", first, name)
		}
	}
	r.receipts[phase] = out
	if phase == 2 {
		r.mask = masks[first]
	}
	return nil
}

// receiptSet is the fixed set of a phase's receipts, in participant order.
func (r *queryRun) receiptSet(phase int32) *pb.CoordinatorMessage {
	set := &pb.ReceiptSet{QueryId: r.q.id, Run: r.run, Phase: phase}
	for _, name := range r.participants {
		set.Receipts = append(set.Receipts, r.receipts[phase][name].signed)
	}
	return &pb.CoordinatorMessage{Body: &pb.CoordinatorMessage_ReceiptSet{ReceiptSet: set}}
}

// checkInput checks a participant's revealed ciphertexts against the
// digests its receipt committed to.
func checkInput(c *nodeConn, rc *pb.Receipt, blobs [][]byte) error {
	if len(blobs) != len(rc.CiphertextDigests) {
		return fmt.Errorf("node %s revealed %d ciphertexts, its receipt names %d", c.name, len(blobs), len(rc.CiphertextDigests))
	}
	for k, b := range blobs {
		if !bytes.Equal(protocol.Digest(b), rc.CiphertextDigests[k]) {
			return fmt.Errorf("node %s: ciphertext %d does not match its receipt", c.name, k)
		}
	}
	return nil
}
