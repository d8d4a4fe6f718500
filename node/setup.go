package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/fedscore/fedscore/crypto"
	"github.com/fedscore/fedscore/keystore/sharebox"
	"github.com/fedscore/fedscore/pki"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
	"github.com/fedscore/fedscore/protocol"
)

// pendingSetup is a key generation the node has contributed to.
type pendingSetup struct {
	req   *pb.SetupRequest
	share []byte
	// Threshold epochs: the key the node receives its Shamir shares under,
	// and the epoch record waiting for them.
	box   *sharebox.KeyPair
	epoch *protocol.Epoch
}

func (p *pendingSetup) threshold() bool { return p.req.Threshold > 0 }

// handleSetupRequest makes a fresh secret-key share for the new epoch,
// stores it, and sends the signed key-generation share.
func (n *Node) handleSetupRequest(ctx context.Context, s *session, req *pb.SetupRequest) {
	task := "setup/" + req.Epoch
	msg, share, err := n.contribute(ctx, req)
	if err != nil {
		n.log.Error("key generation", "epoch", req.Epoch, "err", err)
		s.refuse(task, 0, err)
		return
	}
	if err := s.sendBlob(msg.ShareBlob, share); err != nil {
		return
	}
	s.send(&pb.NodeMessage{Body: &pb.NodeMessage_SetupShare{SetupShare: msg}})
}

func (n *Node) contribute(ctx context.Context, req *pb.SetupRequest) (*pb.SetupShare, []byte, error) {
	switch {
	case !slices.Contains(req.Members, n.name):
		return nil, nil, fmt.Errorf("epoch %s does not list this node as a member", req.Epoch)
	case len(req.Crs) != crypto.CRSSize:
		return nil, nil, fmt.Errorf("epoch %s: common reference string of %d bytes", req.Epoch, len(req.Crs))
	case req.Threshold < 0 || int(req.Threshold) >= len(req.Members) || req.Threshold == 1:
		return nil, nil, fmt.Errorf("epoch %s: threshold %d of %d members", req.Epoch, req.Threshold, len(req.Members))
	}
	if len(slices.Compact(slices.Sorted(slices.Values(req.Members)))) != len(req.Members) {
		return nil, nil, fmt.Errorf("epoch %s lists a member twice", req.Epoch)
	}
	params, err := n.paramsFor(req.Params)
	if err != nil {
		return nil, nil, err
	}
	sk, err := params.NewSecretShare()
	if err != nil {
		return nil, nil, err
	}
	skBytes, err := sk.MarshalBinary()
	if err != nil {
		return nil, nil, err
	}
	// The share is stored before anything derived from it leaves the node,
	// so a crash cannot leave an epoch whose key this node cannot use.
	if err := n.cfg.Keys.Put(ctx, secretName(req.Epoch), skBytes); err != nil {
		return nil, nil, fmt.Errorf("store secret-key share: %w", err)
	}
	share, err := params.CKGShare(sk, req.Crs)
	if err != nil {
		return nil, nil, err
	}
	stmt, err := protocol.SetupStatementBytes(req.Epoch, req.Params, req.Crs, n.name, share)
	if err != nil {
		return nil, nil, err
	}
	msg := &pb.SetupShare{Epoch: req.Epoch, ShareBlob: "ckg/" + req.Epoch}
	if msg.Signature, err = pki.Sign(n.cfg.Credential.Key, protocol.PurposeSetupShare, stmt); err != nil {
		return nil, nil, err
	}
	p := &pendingSetup{req: req, share: share}
	if p.threshold() {
		if p.box, err = sharebox.NewKeyPair(); err != nil {
			return nil, nil, err
		}
		msg.BoxKey = p.box.PublicBytes()
		if msg.BoxKeySignature, err = sharebox.SignPublicKey(n.cfg.Credential.Key, req.Epoch, n.name, msg.BoxKey); err != nil {
			return nil, nil, err
		}
	}
	n.mu.Lock()
	n.pending = p
	n.mu.Unlock()
	return msg, share, nil
}

// handleSetupResult recombines the collective key from every member's
// signed share, so that a coordinator cannot substitute a key of its own.
// In a threshold epoch the node then deals Shamir shares of its secret to
// every member; otherwise the epoch is ready.
func (n *Node) handleSetupResult(ctx context.Context, s *session, res *pb.SetupResult) {
	p, st, boxKeys, err := n.acceptSetup(s, res)
	if err == nil && p.threshold() {
		var boxes *pb.ShamirBoxes
		if boxes, err = n.dealShamirShares(ctx, p, st, boxKeys); err == nil {
			n.mu.Lock()
			p.epoch = st
			n.mu.Unlock()
			s.send(&pb.NodeMessage{Body: &pb.NodeMessage_ShamirBoxes{ShamirBoxes: boxes}})
			return
		}
	}
	if err == nil {
		err = n.activate(ctx, st)
	}
	if err != nil {
		n.log.Error("collective key rejected", "epoch", res.Epoch, "err", err)
		s.refuse("setup/"+res.Epoch, 0, err)
		return
	}
	s.send(n.hello(ctx))
}

// activate persists a new epoch and makes it current; the share of a
// superseded epoch is deleted, since it only weakens the node if it leaks.
func (n *Node) activate(ctx context.Context, st *protocol.Epoch) error {
	if err := saveState(n.cfg.StateDir, st); err != nil {
		return fmt.Errorf("persist epoch: %w", err)
	}
	n.mu.Lock()
	old := n.epoch
	n.epoch, n.pending = st, nil
	n.mu.Unlock()
	if old != nil && old.ID != st.ID {
		n.cfg.Keys.Delete(ctx, secretName(old.ID))
		n.cfg.Keys.Delete(ctx, thresholdName(old.ID))
	}
	n.log.Info("collective key accepted", "epoch", st.ID, "threshold", st.Threshold)
	n.updateHealth()
	return nil
}

func (n *Node) acceptSetup(s *session, res *pb.SetupResult) (*pendingSetup, *protocol.Epoch, [][]byte, error) {
	n.mu.Lock()
	p := n.pending
	n.mu.Unlock()
	if p == nil || p.req.Epoch != res.Epoch {
		return nil, nil, nil, fmt.Errorf("no key generation of epoch %s is pending", res.Epoch)
	}
	req := p.req
	if len(res.Shares) != len(req.Members) {
		return nil, nil, nil, fmt.Errorf("got %d shares for %d members", len(res.Shares), len(req.Members))
	}
	params, err := n.paramsFor(req.Params)
	if err != nil {
		return nil, nil, nil, err
	}
	shares := make([][]byte, len(res.Shares))
	boxKeys := make([][]byte, len(res.Shares))
	chains := make(map[string][][]byte, len(res.Shares))
	for i, sh := range res.Shares {
		if sh.Node != req.Members[i] {
			return nil, nil, nil, fmt.Errorf("share %d is from %q, expected member %q", i, sh.Node, req.Members[i])
		}
		blob, err := s.blobs.Take(sh.ShareBlob)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("share of %s: %w", sh.Node, err)
		}
		id, cert, err := pki.VerifyPeerCertificate(sh.CertChain, n.cfg.Roots, pki.RoleNode, time.Now())
		if err != nil {
			return nil, nil, nil, fmt.Errorf("share of %s: %w", sh.Node, err)
		}
		if id.Name != sh.Node {
			return nil, nil, nil, fmt.Errorf("share labelled %s is signed by %s", sh.Node, id.Name)
		}
		stmt, err := protocol.SetupStatementBytes(req.Epoch, req.Params, req.Crs, sh.Node, blob)
		if err != nil {
			return nil, nil, nil, err
		}
		if err := pki.Verify(cert, protocol.PurposeSetupShare, stmt, sh.Signature); err != nil {
			return nil, nil, nil, fmt.Errorf("share of %s: %w", sh.Node, err)
		}
		if sh.Node == n.name && !bytes.Equal(blob, p.share) {
			return nil, nil, nil, errors.New("the relayed share of this node is not the one it sent")
		}
		if p.threshold() {
			// A box key not signed by its member could be the coordinator's,
			// which would then read that member's Shamir share.
			if err := sharebox.VerifyPublicKey(cert, req.Epoch, sh.Node, sh.BoxKey, sh.BoxKeySignature); err != nil {
				return nil, nil, nil, fmt.Errorf("box key of %s: %w", sh.Node, err)
			}
			boxKeys[i] = sh.BoxKey
		}
		shares[i] = blob
		chains[sh.Node] = sh.CertChain
	}
	pk, err := params.CombineCKG(req.Crs, shares)
	if err != nil {
		return nil, nil, nil, err
	}
	pkBytes, err := pk.MarshalBinary()
	if err != nil {
		return nil, nil, nil, err
	}
	st := &protocol.Epoch{
		ID: req.Epoch, Params: req.Params, CRS: req.Crs, Members: req.Members, Threshold: int(req.Threshold),
		PublicKey: pkBytes, PublicKeyDigest: protocol.Digest(pkBytes), MemberChains: chains,
	}
	return p, st, boxKeys, nil
}

// dealShamirShares splits this node's secret-key share into Shamir shares
// and seals each to its member.
func (n *Node) dealShamirShares(ctx context.Context, p *pendingSetup, st *protocol.Epoch, boxKeys [][]byte) (*pb.ShamirBoxes, error) {
	params, err := n.paramsFor(st.Params)
	if err != nil {
		return nil, err
	}
	sk, err := n.loadSecret(ctx, params, secretName(st.ID))
	if err != nil {
		return nil, err
	}
	shares, err := params.ShamirShares(sk, st.Threshold, shamirPoints(st))
	if err != nil {
		return nil, err
	}
	out := &pb.ShamirBoxes{Epoch: st.ID}
	for i, member := range st.Members {
		box, err := sharebox.Seal(n.cfg.Credential.Key, boxKeys[i], sharebox.Context{Epoch: st.ID, Sender: n.name, Recipient: member}, shares[i])
		if err != nil {
			return nil, fmt.Errorf("seal share for %s: %w", member, err)
		}
		out.Boxes = append(out.Boxes, &pb.SealedShare{Node: member, Ciphertext: box.Ciphertext, Signature: box.Signature})
	}
	return out, nil
}

// handleShamirDelivery opens the Shamir shares every member dealt to this
// node, combines them into its threshold share and completes the epoch.
func (n *Node) handleShamirDelivery(ctx context.Context, s *session, d *pb.ShamirDelivery) {
	err := n.acceptShamirShares(ctx, d)
	if err != nil {
		n.log.Error("threshold shares rejected", "epoch", d.Epoch, "err", err)
		s.refuse("setup/"+d.Epoch, 0, err)
		return
	}
	s.send(n.hello(ctx))
}

func (n *Node) acceptShamirShares(ctx context.Context, d *pb.ShamirDelivery) error {
	n.mu.Lock()
	p := n.pending
	n.mu.Unlock()
	if p == nil || p.epoch == nil || p.epoch.ID != d.Epoch {
		return fmt.Errorf("no threshold key generation of epoch %s is pending", d.Epoch)
	}
	st := p.epoch
	if len(d.Boxes) != len(st.Members) {
		return fmt.Errorf("got Shamir shares from %d members, the epoch has %d", len(d.Boxes), len(st.Members))
	}
	params, err := n.paramsFor(st.Params)
	if err != nil {
		return err
	}
	shares := make([][]byte, len(d.Boxes))
	for i, box := range d.Boxes {
		if box.Node != st.Members[i] {
			return fmt.Errorf("Shamir share %d is from %q, expected member %q", i, box.Node, st.Members[i])
		}
		id, cert, err := pki.VerifyPeerCertificate(box.CertChain, n.cfg.Roots, pki.RoleNode, time.Now())
		if err != nil {
			return fmt.Errorf("Shamir share of %s: %w", box.Node, err)
		}
		if id.Name != box.Node {
			return fmt.Errorf("Shamir share labelled %s is signed by %s", box.Node, id.Name)
		}
		ctxBox := sharebox.Context{Epoch: st.ID, Sender: box.Node, Recipient: n.name}
		if shares[i], err = sharebox.Open(p.box, cert, ctxBox, &sharebox.Box{Ciphertext: box.Ciphertext, Signature: box.Signature}); err != nil {
			return fmt.Errorf("Shamir share of %s: %w", box.Node, err)
		}
	}
	tsk, err := params.AggregateShamirShares(shares)
	if err != nil {
		return err
	}
	b, err := tsk.MarshalBinary()
	if err != nil {
		return err
	}
	if err := n.cfg.Keys.Put(ctx, thresholdName(st.ID), b); err != nil {
		return fmt.Errorf("store threshold share: %w", err)
	}
	if err := n.activate(ctx, st); err != nil {
		return err
	}
	// The additive share is no longer needed: any t members' threshold
	// shares now stand for it.
	n.cfg.Keys.Delete(ctx, secretName(st.ID))
	return nil
}

func (n *Node) loadSecret(ctx context.Context, params crypto.Params, name string) (*crypto.SecretShare, error) {
	b, err := n.cfg.Keys.Get(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("secret-key share: %w", err)
	}
	sk, err := params.UnmarshalSecretShare(b)
	if err != nil {
		return nil, fmt.Errorf("secret-key share: %w", err)
	}
	return sk, nil
}

func shamirPoints(st *protocol.Epoch) []crypto.ShamirPoint {
	pts := st.ShamirPoints()
	out := make([]crypto.ShamirPoint, len(pts))
	for i, p := range pts {
		out[i] = crypto.ShamirPoint(p)
	}
	return out
}

// thresholdName is the keystore entry of an epoch's threshold share.
func thresholdName(epoch string) string { return "tsk-" + epoch }
