package coordinator

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fedscore/fedscore/internal/wire"
	"github.com/fedscore/fedscore/pki"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
	"github.com/fedscore/fedscore/protocol"
)

// nodeBlobBudget bounds what one node may have buffered at the coordinator:
// a few queries' worth of ciphertexts and shares, not more.
const nodeBlobBudget = 64 << 20

// errNodeGone reports that a node's stream ended while a task waited on it.
var errNodeGone = errors.New("node disconnected")

// nodeConn is one attached node's task stream.
type nodeConn struct {
	name  string
	chain [][]byte // the node's certificate chain, DER, leaf first
	blobs *wire.Assembler

	sendMu sync.Mutex
	stream pb.Coordinator_AttachServer

	// since is when the stream was opened, lastSeen (Unix nanoseconds)
	// when its last message arrived.
	since    time.Time
	lastSeen atomic.Int64

	mu      sync.Mutex
	hello   *pb.Hello
	status  *pb.NodeStatus // what the node last reported of itself
	waiters map[string]chan nodeEvent
	done    chan struct{}
	err     error
}

// nodeEvent is a message from a node with the blobs it names, or the
// reason those blobs could not be had.
type nodeEvent struct {
	msg   *pb.NodeMessage
	blobs [][]byte
	err   error
}

func (c *nodeConn) send(m *pb.CoordinatorMessage) error {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	return c.stream.Send(m)
}

func (c *nodeConn) sendBlob(id string, data []byte) error {
	return wire.Send(func(ch *pb.Chunk) error {
		return c.send(&pb.CoordinatorMessage{Body: &pb.CoordinatorMessage_Chunk{Chunk: ch}})
	}, id, data)
}

func (c *nodeConn) holds(e *Epoch) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.holdsLocked(e)
}

func (c *nodeConn) holdsLocked(e *Epoch) bool {
	return c.hello != nil && c.hello.Epoch == e.ID && bytes.Equal(c.hello.PublicKeyDigest, e.PublicKeyDigest)
}

// noticeEpoch tells the node the coordinator's current epoch, so that it
// knows whether it is ready (see EpochNotice).
func (c *nodeConn) noticeEpoch(e *Epoch) {
	n := &pb.EpochNotice{}
	if e != nil {
		n.Epoch, n.PublicKeyDigest = e.ID, e.PublicKeyDigest
	}
	c.send(&pb.CoordinatorMessage{Body: &pb.CoordinatorMessage_EpochNotice{EpochNotice: n}})
}

// wait registers a waiter for task; call the returned func to drop it.
func (c *nodeConn) wait(task string) (<-chan nodeEvent, func()) {
	ch := make(chan nodeEvent, 4)
	c.mu.Lock()
	c.waiters[task] = ch
	c.mu.Unlock()
	return ch, func() {
		c.mu.Lock()
		if c.waiters[task] == ch {
			delete(c.waiters, task)
		}
		c.mu.Unlock()
	}
}

func (c *nodeConn) deliver(task string, ev nodeEvent) bool {
	c.mu.Lock()
	ch := c.waiters[task]
	c.mu.Unlock()
	if ch == nil {
		return false
	}
	select {
	case ch <- ev:
		return true
	default:
		return false
	}
}

// next waits for the node's next event on a waiter, its disconnection or ctx.
func (c *nodeConn) next(ctx context.Context, ch <-chan nodeEvent) (nodeEvent, error) {
	select {
	case ev := <-ch:
		if ev.err != nil {
			return ev, fmt.Errorf("node %s: %w", c.name, ev.err)
		}
		return ev, nil
	case <-c.done:
		return nodeEvent{}, fmt.Errorf("node %s: %w: %v", c.name, errNodeGone, c.err)
	case <-ctx.Done():
		return nodeEvent{}, fmt.Errorf("node %s did not answer in time: %w", c.name, ctx.Err())
	}
}

// Attach serves a node's task stream.
func (s *Server) Attach(stream pb.Coordinator_AttachServer) error {
	ctx := stream.Context()
	id, err := requireRole(ctx, pki.RoleNode)
	if err != nil {
		return err
	}
	if !slices.Contains(s.cfg.Members, id.Name) {
		return status.Errorf(codes.PermissionDenied, "%s is not a member of this federation", id)
	}
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	if s.cfg.Observe != nil {
		s.cfg.Observe(id.Name, first)
	}
	hello := first.GetHello()
	if hello == nil {
		return status.Error(codes.InvalidArgument, "the first message on a node stream must be hello")
	}
	if hello.Version != Version {
		return status.Errorf(codes.FailedPrecondition, "node %s speaks protocol %q, this coordinator %q", id.Name, hello.Version, Version)
	}
	c := &nodeConn{
		name:    id.Name,
		chain:   peerChain(ctx),
		blobs:   wire.NewAssembler(nodeBlobBudget),
		stream:  stream,
		hello:   hello,
		status:  hello.Status,
		since:   time.Now(),
		waiters: map[string]chan nodeEvent{},
		done:    make(chan struct{}),
	}
	c.lastSeen.Store(c.since.UnixNano())
	s.mu.Lock()
	if old := s.nodes[id.Name]; old != nil {
		s.mu.Unlock()
		return status.Errorf(codes.AlreadyExists, "node %s is already attached", id.Name)
	}
	s.nodes[id.Name] = c
	s.notifyLocked()
	epoch := s.epoch
	s.mu.Unlock()
	s.log.Info("node attached", "node", id.Name, "epoch", hello.Epoch, "bundle_revision", hello.Status.GetBundleRevision())
	c.noticeEpoch(epoch)
	go s.maybeSetup()

	err = s.receive(c)
	// Unregister before waking the waiters, so that nothing woken sees the
	// dead stream as attached.
	c.mu.Lock()
	c.err = err
	c.mu.Unlock()
	c.lastSeen.Store(time.Now().UnixNano())
	s.mu.Lock()
	delete(s.nodes, id.Name)
	s.gone[id.Name] = c
	s.notifyLocked()
	s.mu.Unlock()
	close(c.done)
	s.log.Info("node detached", "node", id.Name, "err", err)
	return err
}

// receive routes a node's messages to the tasks waiting for them.
func (s *Server) receive(c *nodeConn) error {
	for {
		m, err := c.stream.Recv()
		if err != nil {
			return err
		}
		c.lastSeen.Store(time.Now().UnixNano())
		if s.cfg.Observe != nil {
			s.cfg.Observe(c.name, m)
		}
		var task string
		var blobIDs []string
		switch b := m.Body.(type) {
		case *pb.NodeMessage_Chunk:
			if err := c.blobs.Add(b.Chunk); err != nil {
				return status.Errorf(codes.ResourceExhausted, "node %s: %v", c.name, err)
			}
			continue
		case *pb.NodeMessage_Hello:
			c.mu.Lock()
			c.hello, c.status = b.Hello, b.Hello.Status
			c.mu.Unlock()
			task = setupTask(b.Hello.Epoch)
		case *pb.NodeMessage_NodeStatus:
			c.mu.Lock()
			c.status = b.NodeStatus
			c.mu.Unlock()
			s.log.Info("node status", "node", c.name, "bundle_revision", b.NodeStatus.BundleRevision,
				"bundle_sequence", b.NodeStatus.BundleSequence, "share_present", b.NodeStatus.SharePresent)
			continue
		case *pb.NodeMessage_SetupShare:
			task, blobIDs = setupTask(b.SetupShare.Epoch), []string{b.SetupShare.ShareBlob}
		case *pb.NodeMessage_ShamirBoxes:
			task = setupTask(b.ShamirBoxes.Epoch)
		case *pb.NodeMessage_Receipt:
			task = runTask(b.Receipt.QueryId, b.Receipt.Run)
		case *pb.NodeMessage_Reveal:
			task, blobIDs = runTask(b.Reveal.QueryId, b.Reveal.Run), b.Reveal.CiphertextBlobs
		case *pb.NodeMessage_Seed:
			task = runTask(b.Seed.QueryId, b.Seed.Run)
		case *pb.NodeMessage_Fingerprints:
			task = runTask(b.Fingerprints.QueryId, b.Fingerprints.Run)
		case *pb.NodeMessage_SpotCheckRequest:
			task = runTask(b.SpotCheckRequest.QueryId, b.SpotCheckRequest.Run)
		case *pb.NodeMessage_DecryptionShare:
			task, blobIDs = runTask(b.DecryptionShare.QueryId, b.DecryptionShare.Run), b.DecryptionShare.ShareBlobs
		case *pb.NodeMessage_KeySwitchShare:
			task, blobIDs = runTask(b.KeySwitchShare.QueryId, b.KeySwitchShare.Run), b.KeySwitchShare.ShareBlobs
		case *pb.NodeMessage_OverlapHello:
			s.relayOverlapHello(c, b.OverlapHello)
			continue
		case *pb.NodeMessage_OverlapFrame:
			s.relayOverlapFrame(c, b.OverlapFrame)
			continue
		case *pb.NodeMessage_OverlapDone:
			task = runTask(b.OverlapDone.QueryId, b.OverlapDone.Run)
		case *pb.NodeMessage_Refusal:
			task = b.Refusal.TaskId
			if b.Refusal.Run > 0 {
				task = runTask(task, b.Refusal.Run)
			}
		default:
			return status.Errorf(codes.InvalidArgument, "node %s sent an unknown message", c.name)
		}
		ev := nodeEvent{msg: m}
		if len(blobIDs) > 0 {
			if ev.blobs, ev.err = c.blobs.TakeAll(blobIDs); ev.err != nil {
				for _, id := range blobIDs {
					c.blobs.Drop(id)
				}
				s.log.Warn("message with missing blobs", "node", c.name, "task", task, "err", ev.err)
			}
		}
		if !c.deliver(task, ev) && m.GetHello() == nil {
			s.log.Warn("message for no waiting task", "node", c.name, "task", task)
		}
		if m.GetHello() != nil {
			s.mu.Lock()
			s.notifyLocked()
			epoch := s.epoch
			s.mu.Unlock()
			c.noticeEpoch(epoch)
			go s.maybeSetup()
		}
	}
}

func setupTask(epoch string) string { return "setup/" + epoch }

// runTask names the waiter of one run of a query, so that a late answer
// to an abandoned run never reaches the next.
func runTask(queryID string, run uint32) string { return fmt.Sprintf("%s#%d", queryID, run) }

// maybeSetup starts a key generation when every member is attached and the
// federation has no epoch they all hold.
func (s *Server) maybeSetup() {
	s.mu.Lock()
	if s.setup {
		s.mu.Unlock()
		return
	}
	conns := make([]*nodeConn, 0, len(s.cfg.Members))
	for _, m := range s.cfg.Members {
		c := s.nodes[m]
		if c == nil {
			s.mu.Unlock()
			return
		}
		conns = append(conns, c)
	}
	if s.epoch != nil && !s.rotate {
		stale := false
		for _, c := range conns {
			if !c.holds(s.epoch) {
				stale = true
			}
		}
		if !stale {
			s.mu.Unlock()
			return
		}
	}
	s.setup = true
	s.notifyLocked()
	s.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.SetupTimeout)
	defer cancel()
	e, err := s.runSetup(ctx, conns)
	s.mu.Lock()
	s.setup = false
	s.setups++
	s.setupErr = err
	if err == nil {
		s.epoch, s.rotate = e, false
	}
	s.notifyLocked()
	attached := slices.Collect(maps.Values(s.nodes))
	s.mu.Unlock()
	if err != nil {
		s.metrics.keyGenerations.WithLabelValues("failed").Inc()
		s.log.Error("key generation failed", "err", err)
		return
	}
	s.metrics.keyGenerations.WithLabelValues("ok").Inc()
	s.log.Info("epoch ready", "epoch", e.ID, "members", len(e.Members))
	for _, c := range attached {
		c.noticeEpoch(e)
	}
}

// runSetup runs the collective key generation with every member.
func (s *Server) runSetup(ctx context.Context, conns []*nodeConn) (*Epoch, error) {
	crs := make([]byte, 32)
	if _, err := rand.Read(crs); err != nil {
		return nil, err
	}
	e := &Epoch{ID: newID("e"), Params: s.cfg.Params, CRS: crs, Members: slices.Clone(s.cfg.Members), Threshold: s.cfg.Threshold,
		MemberChains: map[string][][]byte{}}
	for _, c := range conns {
		e.MemberChains[c.name] = c.chain
	}
	task := setupTask(e.ID)
	waits := make([]<-chan nodeEvent, len(conns))
	for i, c := range conns {
		ch, drop := c.wait(task)
		defer drop()
		waits[i] = ch
	}
	req := &pb.CoordinatorMessage{Body: &pb.CoordinatorMessage_SetupRequest{SetupRequest: &pb.SetupRequest{
		Epoch: e.ID, Params: e.Params, Crs: crs, Members: e.Members, Threshold: int32(e.Threshold),
	}}}
	for _, c := range conns {
		if err := c.send(req); err != nil {
			return nil, fmt.Errorf("send setup request to %s: %w", c.name, err)
		}
	}

	shares := make([][]byte, len(conns))
	signed := make([]*pb.SignedSetupShare, len(conns))
	for i, c := range conns {
		ev, err := s.nextNonHello(ctx, c, waits[i])
		if err != nil {
			return nil, err
		}
		if r := ev.msg.GetRefusal(); r != nil {
			return nil, fmt.Errorf("node %s refused key generation: %s", c.name, r.Error)
		}
		sh := ev.msg.GetSetupShare()
		if sh == nil || len(ev.blobs) != 1 {
			return nil, fmt.Errorf("node %s answered key generation with an unexpected message", c.name)
		}
		stmt, err := protocol.SetupStatementBytes(e.ID, e.Params, crs, c.name, ev.blobs[0])
		if err != nil {
			return nil, err
		}
		if _, cert, err := pki.VerifyPeerCertificate(c.chain, s.cfg.Roots, pki.RoleNode, time.Now()); err != nil {
			return nil, fmt.Errorf("node %s certificate: %w", c.name, err)
		} else if err := pki.Verify(cert, protocol.PurposeSetupShare, stmt, sh.Signature); err != nil {
			return nil, fmt.Errorf("node %s key-generation share signature: %w", c.name, err)
		}
		shares[i] = ev.blobs[0]
		signed[i] = &pb.SignedSetupShare{
			Node: c.name, CertChain: c.chain, ShareBlob: "setup/" + c.name, Signature: sh.Signature,
			BoxKey: sh.BoxKey, BoxKeySignature: sh.BoxKeySignature,
		}
	}
	pk, err := s.params.CombineCKG(crs, shares)
	if err != nil {
		return nil, fmt.Errorf("combine key-generation shares: %w", err)
	}
	pkBytes, err := pk.MarshalBinary()
	if err != nil {
		return nil, err
	}
	e.PublicKey, e.PublicKeyDigest = pkBytes, protocol.Digest(pkBytes)

	// Every node recombines the key from the signed shares and acknowledges
	// with a hello naming the new epoch and the key digest it computed.
	result := &pb.CoordinatorMessage{Body: &pb.CoordinatorMessage_SetupResult{SetupResult: &pb.SetupResult{Epoch: e.ID, Shares: signed}}}
	for _, c := range conns {
		for i, sh := range signed {
			if err := c.sendBlob(sh.ShareBlob, shares[i]); err != nil {
				return nil, fmt.Errorf("send key-generation shares to %s: %w", c.name, err)
			}
		}
		if err := c.send(result); err != nil {
			return nil, fmt.Errorf("send key-generation result to %s: %w", c.name, err)
		}
	}
	if e.Threshold > 0 {
		if err := s.relayShamirShares(ctx, e, conns, waits); err != nil {
			return nil, err
		}
	}
	for i, c := range conns {
		ev, err := c.next(ctx, waits[i])
		if err != nil {
			return nil, err
		}
		if r := ev.msg.GetRefusal(); r != nil {
			return nil, fmt.Errorf("node %s rejected the collective key: %s", c.name, r.Error)
		}
		h := ev.msg.GetHello()
		if h == nil || h.Epoch != e.ID || !bytes.Equal(h.PublicKeyDigest, e.PublicKeyDigest) {
			return nil, fmt.Errorf("node %s computed a different collective key", c.name)
		}
	}
	e.Created = time.Now().UTC()
	if err := saveEpoch(s.cfg.StateDir, e); err != nil {
		return nil, fmt.Errorf("persist epoch: %w", err)
	}
	return e, nil
}

// relayShamirShares collects every member's sealed Shamir shares and hands
// each member those dealt to it. The boxes are sealed to keys the members
// signed, so the coordinator can neither read nor replace them.
func (s *Server) relayShamirShares(ctx context.Context, e *Epoch, conns []*nodeConn, waits []<-chan nodeEvent) error {
	dealt := make([][]*pb.SealedShare, len(conns)) // [sender][recipient]
	for i, c := range conns {
		ev, err := s.nextNonHello(ctx, c, waits[i])
		if err != nil {
			return err
		}
		if r := ev.msg.GetRefusal(); r != nil {
			return fmt.Errorf("node %s rejected the collective key: %s", c.name, r.Error)
		}
		b := ev.msg.GetShamirBoxes()
		if b == nil || b.Epoch != e.ID || len(b.Boxes) != len(conns) {
			return fmt.Errorf("node %s answered the key generation with an unexpected message", c.name)
		}
		for j, box := range b.Boxes {
			if box.Node != conns[j].name {
				return fmt.Errorf("node %s dealt share %d to %q, expected %s", c.name, j, box.Node, conns[j].name)
			}
		}
		dealt[i] = b.Boxes
	}
	for j, c := range conns {
		d := &pb.ShamirDelivery{Epoch: e.ID}
		for i, sender := range conns {
			box := dealt[i][j]
			d.Boxes = append(d.Boxes, &pb.SealedShare{Node: sender.name, Ciphertext: box.Ciphertext, Signature: box.Signature, CertChain: sender.chain})
		}
		if err := c.send(&pb.CoordinatorMessage{Body: &pb.CoordinatorMessage_ShamirDelivery{ShamirDelivery: d}}); err != nil {
			return fmt.Errorf("send Shamir shares to %s: %w", c.name, err)
		}
	}
	return nil
}

// nextNonHello skips hellos, which during setup only repeat a node's
// previous epoch.
func (s *Server) nextNonHello(ctx context.Context, c *nodeConn, ch <-chan nodeEvent) (nodeEvent, error) {
	for {
		ev, err := c.next(ctx, ch)
		if err != nil || ev.msg.GetHello() == nil {
			return ev, err
		}
	}
}

// Rotate starts a new key epoch and waits for it.
func (s *Server) Rotate(ctx context.Context, req *pb.RotateRequest) (*pb.StatusResponse, error) {
	id, err := requireRole(ctx, pki.RoleOperator)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	switch {
	case s.epoch == nil:
		s.mu.Unlock()
		return nil, status.Error(codes.FailedPrecondition, "the federation has no epoch to rotate yet")
	case req.Epoch != s.epoch.ID:
		s.mu.Unlock()
		return nil, status.Errorf(codes.FailedPrecondition, "the federation is at epoch %s, not %s", s.epoch.ID, req.Epoch)
	}
	old, runs := s.epoch.ID, s.setups
	s.rotate = true
	s.mu.Unlock()
	s.log.Info("key rotation requested", "by", id.String(), "epoch", old)
	go s.maybeSetup()
	for {
		s.mu.Lock()
		done, changed := s.epoch.ID != old && s.readyLocked(), s.changed
		failed := !s.setup && s.setups > runs && s.setupErr != nil
		setupErr := s.setupErr
		s.mu.Unlock()
		if done {
			return s.Status(ctx, &pb.StatusRequest{})
		}
		if failed {
			// The rotation stays requested: it completes once every
			// member is attached again.
			return nil, status.Errorf(codes.Aborted, "key generation failed: %v", setupErr)
		}
		select {
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		case <-changed:
		}
	}
}
