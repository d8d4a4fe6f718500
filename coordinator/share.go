package coordinator

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/fedscore/fedscore/pki"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
	"github.com/fedscore/fedscore/protocol"
)

// openCounts sums the active members' signed decryption shares of the
// verified phase 1 aggregate and has every participant verify the sum,
// from which each opens the counts itself and answers with its phase 2
// receipt (collectReceipts). No node receives another's shares.
func (r *queryRun) openCounts(ctx context.Context, counts *roundSum) error {
	aggDigests := make([][]byte, len(counts.full))
	for k, b := range counts.full {
		c1, err := r.s.params.CiphertextC1(b)
		if err != nil {
			return err
		}
		aggDigests[k] = protocol.Digest(c1)
	}
	acc := newSums(len(counts.full), r.s.params.NewDecryptionShareAccumulator)
	err := r.collect(ctx, r.active, "counts_opened", func(c *nodeConn, ev nodeEvent) error {
		sh := ev.msg.GetDecryptionShare()
		if sh == nil || len(ev.blobs) != len(aggDigests) {
			return fmt.Errorf("node %s answered the spot check with an unexpected message", c.name)
		}
		if !slices.EqualFunc(sh.AggregateDigests, aggDigests, bytes.Equal) {
			return fmt.Errorf("node %s opened a different aggregate", c.name)
		}
		stmt, err := protocol.DecryptionStatementBytes(r.q.id, c.name, r.run, aggDigests, digests(ev.blobs))
		if err != nil {
			return err
		}
		if err := r.verifySigned(c, protocol.PurposeDecryptionShare, stmt, sh.Signature); err != nil {
			return fmt.Errorf("node %s decryption share: %w", c.name, err)
		}
		if err := acc.add(ev.blobs); err != nil {
			return fmt.Errorf("node %s: decryption share %w", c.name, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sum, err := acc.bytes()
	if err != nil {
		return err
	}
	return r.verifySum(ctx, 1, pb.Round_ROUND_DECRYPTION_SHARES, sum, counts.shareCommitments)
}

// keySwitchShares collects the active members' signed key-switch shares of
// the verified phase 2 aggregate, [ciphertext][active member].
func (r *queryRun) keySwitchShares(ctx context.Context, values *roundSum) ([][][]byte, error) {
	aggDigests := digests(values.sent)
	shares := make([][][]byte, len(aggDigests))
	for k := range shares {
		shares[k] = make([][]byte, len(r.active))
	}
	var mu sync.Mutex
	err := r.collect(ctx, r.active, "key_switch_share", func(c *nodeConn, ev nodeEvent) error {
		sh := ev.msg.GetKeySwitchShare()
		if sh == nil || len(ev.blobs) != len(aggDigests) {
			return fmt.Errorf("node %s answered the spot check with an unexpected message", c.name)
		}
		switch {
		case !slices.EqualFunc(sh.AggregateDigests, aggDigests, bytes.Equal):
			return fmt.Errorf("node %s switched a different aggregate", c.name)
		case !bytes.Equal(sh.ReceiverKeyDigest, r.q.vq.Envelope.ReceiverKeyDigest):
			return fmt.Errorf("node %s switched to another receiver key", c.name)
		}
		stmt, err := protocol.KeySwitchStatementBytes(r.q.id, c.name, r.run, aggDigests, digests(ev.blobs), r.q.vq.Envelope.ReceiverKeyDigest)
		if err != nil {
			return err
		}
		if err := r.verifySigned(c, protocol.PurposeKeySwitchShare, stmt, sh.Signature); err != nil {
			return fmt.Errorf("node %s key-switch share: %w", c.name, err)
		}
		i := slices.Index(r.active, c.name)
		mu.Lock()
		defer mu.Unlock()
		for k, b := range ev.blobs {
			shares[k][i] = b
		}
		return nil
	})
	return shares, err
}

// verifySigned checks a participant's signature on a statement.
func (r *queryRun) verifySigned(c *nodeConn, purpose string, stmt, sig []byte) error {
	cert, err := r.cert(c)
	if err != nil {
		return err
	}
	return pki.Verify(cert, purpose, stmt, sig)
}

func digests(bs [][]byte) [][]byte {
	out := make([][]byte, len(bs))
	for i, b := range bs {
		out[i] = protocol.Digest(b)
	}
	return out
}
