package node

import (
	"context"
	"fmt"

	"github.com/fedscore/fedscore/audit"
	"github.com/fedscore/fedscore/crypto"
	"github.com/fedscore/fedscore/pki"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
	"github.com/fedscore/fedscore/protocol"
)

// A node gives at most one decryption or key-switch share per aggregate,
// recorded by the digest of the aggregate's c1 part — all a share depends
// on — in the share ledger before the share leaves: a second share of the
// same c1 with fresh noise would leak key material.

// decryptionShares keeps the verified phase 1 aggregate, from which this
// node opens the counts, and — in the active set — gives its signed
// decryption shares of it.
func (n *Node) decryptionShares(ctx context.Context, aq *admittedQuery) (*reply, error) {
	aq.aggregate = aq.inputs[1].round.sum
	if !aq.isActive(n.name) {
		return nil, nil
	}
	digests, err := c1Digests(aq.params, aq.aggregate)
	if err != nil {
		return nil, err
	}
	cts := make([]*crypto.Ciphertext, len(aq.aggregate))
	for k, b := range aq.aggregate {
		if cts[k], err = aq.params.UnmarshalCiphertext(b); err != nil {
			return nil, err
		}
	}
	sk, err := n.secretShare(ctx, aq)
	if err != nil {
		return nil, err
	}
	dec, err := aq.params.NewDecrypter(sk)
	if err != nil {
		return nil, err
	}
	if err := n.claim(ctx, aq, 1, digests); err != nil {
		return nil, err
	}
	qid := aq.queryID()
	msg := &pb.DecryptionShare{QueryId: qid, Run: aq.run, AggregateDigests: digests}
	r := &reply{msg: &pb.NodeMessage{Body: &pb.NodeMessage_DecryptionShare{DecryptionShare: msg}}}
	aq.ownShares = make([][]byte, len(cts))
	for k, ct := range cts {
		if aq.ownShares[k], err = dec.Share(ct); err != nil {
			return nil, err
		}
		id := fmt.Sprintf("dec/%s/%d/%d", qid, aq.run, k)
		msg.ShareBlobs = append(msg.ShareBlobs, id)
		r.blobs = append(r.blobs, blob{id, aq.ownShares[k]})
	}
	shareDigests := digestAll(aq.ownShares)
	stmt, err := protocol.DecryptionStatementBytes(qid, n.name, aq.run, digests, shareDigests)
	if err != nil {
		return nil, err
	}
	if msg.Signature, err = pki.Sign(n.cfg.Credential.Key, protocol.PurposeDecryptionShare, stmt); err != nil {
		return nil, err
	}
	n.audit(ctx, aq, audit.Entry{Kind: audit.KindKeySwitch, Result: audit.ResultAllow,
		InputDigests: hexAll(digests), CiphertextDigests: hexAll(shareDigests),
		Detail: map[string]string{"phase": "1", "run": fmt.Sprint(aq.run), "protocol": "collective decryption of cell counts"}})
	return r, nil
}

// keySwitchShares gives this node's signed key-switch shares of the
// verified phase 2 aggregate towards the querier's key. The run is over
// for this node once they leave.
func (n *Node) keySwitchShares(ctx context.Context, aq *admittedQuery) (*reply, error) {
	parts := aq.inputs[2].round.sum
	digests := digestAll(parts)
	cts := make([]*crypto.Ciphertext, len(parts))
	var err error
	for k, b := range parts {
		if cts[k], err = aq.params.UnmarshalCiphertextC1(b); err != nil {
			return nil, err
		}
	}
	sk, err := n.secretShare(ctx, aq)
	if err != nil {
		return nil, err
	}
	ks, err := aq.params.NewKeySwitcher(sk)
	if err != nil {
		return nil, err
	}
	if err := n.claim(ctx, aq, 2, digests); err != nil {
		return nil, err
	}
	qid := aq.queryID()
	msg := &pb.KeySwitchShare{QueryId: qid, Run: aq.run, AggregateDigests: digests, DecisionId: aq.decision.ID,
		ReceiverKeyDigest: aq.vq.Envelope.ReceiverKeyDigest}
	r := &reply{msg: &pb.NodeMessage{Body: &pb.NodeMessage_KeySwitchShare{KeySwitchShare: msg}}}
	var shareDigests [][]byte
	for k, ct := range cts {
		sh, err := ks.Share(aq.receiverKey, ct)
		if err != nil {
			return nil, err
		}
		id := fmt.Sprintf("ks/%s/%d/%d", qid, aq.run, k)
		msg.ShareBlobs = append(msg.ShareBlobs, id)
		r.blobs = append(r.blobs, blob{id, sh})
		shareDigests = append(shareDigests, protocol.Digest(sh))
	}
	stmt, err := protocol.KeySwitchStatementBytes(qid, n.name, aq.run, digests, shareDigests, aq.vq.Envelope.ReceiverKeyDigest)
	if err != nil {
		return nil, err
	}
	if msg.Signature, err = pki.Sign(n.cfg.Credential.Key, protocol.PurposeKeySwitchShare, stmt); err != nil {
		return nil, err
	}
	n.audit(ctx, aq, audit.Entry{Kind: audit.KindKeySwitch, Result: audit.ResultAllow,
		InputDigests: hexAll(digests), CiphertextDigests: hexAll(shareDigests),
		Detail: map[string]string{"phase": "2", "run": fmt.Sprint(aq.run), "protocol": "public-key switch to the querier", "querier": aq.vq.Querier.String()}})
	// A signed checkpoint per completed query lets a regulator detect the
	// removal of any query's records, not only of older ones.
	if err := n.auditLog.Checkpoint(); err != nil {
		n.log.Error("audit checkpoint failed", "query", qid, "err", err)
	}
	n.forget(qid, aq.run)
	n.metrics.ended.WithLabelValues(endShared).Inc()
	return r, nil
}

// claim records in the share ledger that this node shares the aggregate
// parts with digests, or refuses if it shared any of them before.
func (n *Node) claim(ctx context.Context, aq *admittedQuery, phase int, digests [][]byte) error {
	if err := n.ledger.Claim(digests...); err != nil {
		n.audit(ctx, aq, audit.Entry{Kind: audit.KindKeySwitch, Result: audit.ResultDeny, Reasons: []string{"ALREADY_SHARED"},
			InputDigests: hexAll(digests), Detail: map[string]string{"phase": fmt.Sprint(phase)}})
		return err
	}
	return nil
}
