package node

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/fedscore/fedscore/crypto"
	"github.com/fedscore/fedscore/internal/pki"
	"github.com/fedscore/fedscore/internal/protocol"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
)

// pendingSetup is a key generation the node has contributed to.
type pendingSetup struct {
	req   *pb.SetupRequest
	share []byte
}

// handleSetupRequest makes a fresh secret-key share for the new epoch,
// stores it, and sends the signed key-generation share.
func (n *Node) handleSetupRequest(ctx context.Context, s *session, req *pb.SetupRequest) {
	task := "setup/" + req.Epoch
	share, sig, err := n.contribute(ctx, req)
	if err != nil {
		n.log.Error("key generation", "epoch", req.Epoch, "err", err)
		s.refuse(task, err)
		return
	}
	if err := s.sendBlob("ckg/"+req.Epoch, share); err != nil {
		return
	}
	s.send(&pb.NodeMessage{Body: &pb.NodeMessage_SetupShare{SetupShare: &pb.SetupShare{
		Epoch: req.Epoch, ShareBlob: "ckg/" + req.Epoch, Signature: sig,
	}}})
}

func (n *Node) contribute(ctx context.Context, req *pb.SetupRequest) (share, sig []byte, err error) {
	if !slices.Contains(req.Members, n.name) {
		return nil, nil, fmt.Errorf("epoch %s does not list this node as a member", req.Epoch)
	}
	if len(req.Crs) != 32 {
		return nil, nil, fmt.Errorf("epoch %s: common reference string of %d bytes", req.Epoch, len(req.Crs))
	}
	params, err := crypto.NewParams(req.Params)
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
	share, err = params.CKGShare(sk, req.Crs)
	if err != nil {
		return nil, nil, err
	}
	stmt, err := protocol.SetupStatementBytes(req.Epoch, req.Params, req.Crs, n.name, share)
	if err != nil {
		return nil, nil, err
	}
	sig, err = pki.Sign(n.cfg.Credential.Key, protocol.PurposeSetupShare, stmt)
	if err != nil {
		return nil, nil, err
	}
	n.mu.Lock()
	n.pending = &pendingSetup{req: req, share: share}
	n.mu.Unlock()
	return share, sig, nil
}

// handleSetupResult recombines the collective key from every member's
// signed share, so that a coordinator cannot substitute a key of its own.
func (n *Node) handleSetupResult(ctx context.Context, s *session, res *pb.SetupResult) {
	st, err := n.acceptSetup(s, res)
	if err != nil {
		n.log.Error("collective key rejected", "epoch", res.Epoch, "err", err)
		s.refuse("setup/"+res.Epoch, err)
		return
	}
	n.mu.Lock()
	old := n.epoch
	n.epoch, n.pending = st, nil
	n.mu.Unlock()
	if old != nil && old.ID != st.ID {
		// A share of a superseded epoch only weakens the node if it leaks.
		n.cfg.Keys.Delete(ctx, secretName(old.ID))
	}
	n.log.Info("collective key accepted", "epoch", st.ID)
	s.send(n.hello())
}

func (n *Node) acceptSetup(s *session, res *pb.SetupResult) (*protocol.Epoch, error) {
	n.mu.Lock()
	p := n.pending
	n.mu.Unlock()
	if p == nil || p.req.Epoch != res.Epoch {
		return nil, fmt.Errorf("no key generation of epoch %s is pending", res.Epoch)
	}
	req := p.req
	if len(res.Shares) != len(req.Members) {
		return nil, fmt.Errorf("got %d shares for %d members", len(res.Shares), len(req.Members))
	}
	params, err := crypto.NewParams(req.Params)
	if err != nil {
		return nil, err
	}
	shares := make([][]byte, len(res.Shares))
	for i, sh := range res.Shares {
		if sh.Node != req.Members[i] {
			return nil, fmt.Errorf("share %d is from %q, expected member %q", i, sh.Node, req.Members[i])
		}
		blob, err := s.blobs.Take(sh.ShareBlob)
		if err != nil {
			return nil, fmt.Errorf("share of %s: %w", sh.Node, err)
		}
		id, cert, err := pki.VerifyPeerCertificate(sh.CertChain, n.cfg.Roots, pki.RoleNode, time.Now())
		if err != nil {
			return nil, fmt.Errorf("share of %s: %w", sh.Node, err)
		}
		if id.Name != sh.Node {
			return nil, fmt.Errorf("share labelled %s is signed by %s", sh.Node, id.Name)
		}
		stmt, err := protocol.SetupStatementBytes(req.Epoch, req.Params, req.Crs, sh.Node, blob)
		if err != nil {
			return nil, err
		}
		if err := pki.Verify(cert, protocol.PurposeSetupShare, stmt, sh.Signature); err != nil {
			return nil, fmt.Errorf("share of %s: %w", sh.Node, err)
		}
		if sh.Node == n.name && !bytes.Equal(blob, p.share) {
			return nil, fmt.Errorf("the relayed share of this node is not the one it sent")
		}
		shares[i] = blob
	}
	pk, err := params.CombineCKG(req.Crs, shares)
	if err != nil {
		return nil, err
	}
	pkBytes, err := pk.MarshalBinary()
	if err != nil {
		return nil, err
	}
	st := &protocol.Epoch{
		ID: req.Epoch, Params: req.Params, CRS: req.Crs, Members: req.Members,
		PublicKey: pkBytes, PublicKeyDigest: protocol.Digest(pkBytes),
	}
	if err := saveState(n.cfg.StateDir, st); err != nil {
		return nil, fmt.Errorf("persist epoch: %w", err)
	}
	return st, nil
}
