package coordinator_test

import (
	"context"
	gocrypto "crypto"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fedscore/fedscore/coordinator"
	"github.com/fedscore/fedscore/crypto"
	"github.com/fedscore/fedscore/internal/wire"
	"github.com/fedscore/fedscore/pki"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
	"github.com/fedscore/fedscore/protocol"
	"github.com/fedscore/fedscore/query"
)

// rogueNode speaks the node protocol from the test side with a valid member
// certificate. It takes part in key generation honestly unless a test
// installs a misbehaviour for it, and answers a query task only as the test
// tells it to; without instructions it refuses the task. Tests replace it by
// a real node (federation.replaceRogue) to run queries to completion.
type rogueNode struct {
	f    *federation
	name string
	cred *pki.Credential
	stop func() // ends the rogue's streams for good

	mu           sync.Mutex
	epoch        *rogueEpoch
	pending      *rogueSetup
	stream       *rogueStream
	setupResults int // SetupResult messages received
	onQuery      func(*rogueTask) error
	onSetup      func(req *pb.SetupRequest, share, sig []byte) (blob, signature []byte)
}

type rogueEpoch struct {
	id     string
	params crypto.Params
	pk     *crypto.PublicKey
	digest []byte
}

type rogueSetup struct {
	req    *pb.SetupRequest
	params crypto.Params
}

// errHangUp ends a rogue stream on purpose.
var errHangUp = errors.New("rogue hangs up")

// startRogue attaches a rogue member until the test ends, reconnecting
// whenever its stream ends.
func (f *federation) startRogue(name string) *rogueNode {
	f.t.Helper()
	r := &rogueNode{f: f, name: name, cred: f.issue(pki.RoleNode, name)}
	ctx, cancel := context.WithCancel(f.ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if err := r.run(ctx); err != nil && !errors.Is(err, errHangUp) {
				// Like a real node, pause before reconnecting; the
				// coordinator may not have noticed the old stream's end.
				select {
				case <-ctx.Done():
				case <-time.After(20 * time.Millisecond):
				}
			}
		}
	}()
	r.stop = sync.OnceFunc(func() {
		cancel()
		<-done
	})
	f.t.Cleanup(r.stop)
	return r
}

// replaceRogue stops the rogue and runs a real node under its name. The
// real node holds no share of the current key, so the federation generates
// a new one; replaceRogue waits until every member holds it.
func (f *federation) replaceRogue(ctx context.Context, r *rogueNode) {
	f.t.Helper()
	epochs := f.logs.count("epoch ready")
	r.stop()
	f.startNode(r.name)
	if _, err := f.logs.wait(ctx, epochs+1, "epoch ready"); err != nil {
		f.t.Fatal(err)
	}
	f.waitReady(ctx)
}

// misbehaveOnNextQuery installs how the rogue answers the next query task.
func (r *rogueNode) misbehaveOnNextQuery(fn func(*rogueTask) error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.onQuery = fn
}

// misbehaveInSetup installs fn for every key generation until cleared.
func (r *rogueNode) misbehaveInSetup(fn func(req *pb.SetupRequest, share, sig []byte) ([]byte, []byte)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.onSetup = fn
}

func (r *rogueNode) setupResultCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.setupResults
}

// sendHello repeats the rogue's hello on its current stream.
func (r *rogueNode) sendHello() error {
	r.mu.Lock()
	s := r.stream
	r.mu.Unlock()
	if s == nil {
		return errors.New("rogue is not attached")
	}
	return s.send(r.hello())
}

func (r *rogueNode) hello() *pb.NodeMessage {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := &pb.Hello{Version: coordinator.Version}
	if r.epoch != nil {
		h.Epoch, h.PublicKeyDigest = r.epoch.id, r.epoch.digest
	}
	return &pb.NodeMessage{Body: &pb.NodeMessage_Hello{Hello: h}}
}

// rogueStream is one task stream to the coordinator.
type rogueStream struct {
	mu     sync.Mutex
	stream pb.Coordinator_AttachClient
	blobs  *wire.Assembler
	run    uint32 // the run of the query task being answered
	// onReceiptSet, when set, answers the next receipt set.
	onReceiptSet func(*pb.ReceiptSet) error
}

// send sends m, naming the current query run in answers that leave it out.
func (s *rogueStream) send(m *pb.NodeMessage) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch b := m.Body.(type) {
	case *pb.NodeMessage_Receipt:
		if b.Receipt.Run == 0 {
			b.Receipt.Run = s.run
		}
	case *pb.NodeMessage_Reveal:
		if b.Reveal.Run == 0 {
			b.Reveal.Run = s.run
		}
	case *pb.NodeMessage_Refusal:
		if b.Refusal.Run == 0 && !strings.HasPrefix(b.Refusal.TaskId, "setup/") {
			b.Refusal.Run = s.run
		}
	case *pb.NodeMessage_KeySwitchShare:
		if b.KeySwitchShare.Run == 0 {
			b.KeySwitchShare.Run = s.run
		}
	}
	return s.stream.Send(m)
}

func (s *rogueStream) sendBlob(id string, data []byte) error {
	return wire.Send(func(c *pb.Chunk) error {
		return s.send(&pb.NodeMessage{Body: &pb.NodeMessage_Chunk{Chunk: c}})
	}, id, data)
}

// run attaches, says hello and serves tasks until the stream ends.
func (r *rogueNode) run(ctx context.Context) error {
	conn, err := r.f.conn(r.cred)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := pb.NewCoordinatorClient(conn).Attach(ctx)
	if err != nil {
		return err
	}
	s := &rogueStream{stream: stream, blobs: wire.NewAssembler(256 << 20)}
	if err := s.send(r.hello()); err != nil {
		return err
	}
	r.mu.Lock()
	r.stream = s
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		if r.stream == s {
			r.stream = nil
		}
		r.mu.Unlock()
	}()
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			return errors.New("coordinator closed the stream")
		}
		if err != nil {
			return err
		}
		switch b := m.Body.(type) {
		case *pb.CoordinatorMessage_Chunk:
			err = s.blobs.Add(b.Chunk)
		case *pb.CoordinatorMessage_SetupRequest:
			err = r.handleSetupRequest(s, b.SetupRequest)
		case *pb.CoordinatorMessage_SetupResult:
			err = r.handleSetupResult(s, b.SetupResult)
		case *pb.CoordinatorMessage_QueryTask:
			err = r.handleQuery(s, b.QueryTask)
		case *pb.CoordinatorMessage_ReceiptSet:
			s.mu.Lock()
			h := s.onReceiptSet
			s.onReceiptSet = nil
			s.mu.Unlock()
			if h != nil {
				err = h(b.ReceiptSet)
			}
		}
		if err != nil {
			return err
		}
	}
}

func (r *rogueNode) handleSetupRequest(s *rogueStream, req *pb.SetupRequest) error {
	params, err := crypto.NewParams(req.Params)
	if err != nil {
		return err
	}
	sk, err := params.NewSecretShare()
	if err != nil {
		return err
	}
	share, err := params.CKGShare(sk, req.Crs)
	if err != nil {
		return err
	}
	stmt, err := protocol.SetupStatementBytes(req.Epoch, req.Params, req.Crs, r.name, share)
	if err != nil {
		return err
	}
	sig, err := pki.Sign(r.cred.Key, protocol.PurposeSetupShare, stmt)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.pending = &rogueSetup{req: req, params: params}
	hook := r.onSetup
	r.mu.Unlock()
	blob := share
	if hook != nil {
		blob, sig = hook(req, share, sig)
	}
	if err := s.sendBlob("ckg/"+req.Epoch, blob); err != nil {
		return err
	}
	return s.send(&pb.NodeMessage{Body: &pb.NodeMessage_SetupShare{SetupShare: &pb.SetupShare{
		Epoch: req.Epoch, ShareBlob: "ckg/" + req.Epoch, Signature: sig,
	}}})
}

// handleSetupResult checks every relayed share as a node does, recombines
// the key and acknowledges it with a hello.
func (r *rogueNode) handleSetupResult(s *rogueStream, res *pb.SetupResult) error {
	r.mu.Lock()
	r.setupResults++
	p := r.pending
	r.mu.Unlock()
	if p == nil || p.req.Epoch != res.Epoch {
		return fmt.Errorf("unexpected setup result for epoch %s", res.Epoch)
	}
	shares := make([][]byte, len(res.Shares))
	for i, sh := range res.Shares {
		blob, err := s.blobs.Take(sh.ShareBlob)
		if err != nil {
			return err
		}
		_, cert, err := pki.VerifyPeerCertificate(sh.CertChain, r.f.roots, pki.RoleNode, time.Now())
		if err != nil {
			return err
		}
		stmt, err := protocol.SetupStatementBytes(p.req.Epoch, p.req.Params, p.req.Crs, sh.Node, blob)
		if err != nil {
			return err
		}
		if err := pki.Verify(cert, protocol.PurposeSetupShare, stmt, sh.Signature); err != nil {
			return err
		}
		shares[i] = blob
	}
	pk, err := p.params.CombineCKG(p.req.Crs, shares)
	if err != nil {
		return err
	}
	pkBytes, err := pk.MarshalBinary()
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.epoch = &rogueEpoch{id: res.Epoch, params: p.params, pk: pk, digest: protocol.Digest(pkBytes)}
	r.pending = nil
	r.mu.Unlock()
	return s.send(r.hello())
}

// rogueTask is a query task as the rogue sees it, with helpers to build
// its (phase 1) input.
type rogueTask struct {
	r     *rogueNode
	s     *rogueStream
	vq    *protocol.VerifiedQuery
	spec  *query.Spec
	epoch *rogueEpoch
}

func (r *rogueNode) handleQuery(s *rogueStream, task *pb.QueryTask) error {
	s.mu.Lock()
	s.run = task.Run
	s.mu.Unlock()
	rk, err := s.blobs.Take(task.ReceiverKeyBlob)
	if err != nil {
		return err
	}
	vq, err := protocol.VerifyQuery(task.Query, r.f.roots, time.Now())
	if err != nil {
		return err
	}
	spec, err := query.Parse(vq.Envelope.Spec)
	if err != nil {
		return err
	}
	r.mu.Lock()
	ep := r.epoch
	hook := r.onQuery
	r.onQuery = nil
	r.mu.Unlock()
	if ep == nil {
		return errors.New("query task before key generation")
	}
	if _, err := ep.params.UnmarshalPublicKey(rk); err != nil {
		return err
	}
	if hook == nil {
		return s.send(&pb.NodeMessage{Body: &pb.NodeMessage_Refusal{Refusal: &pb.Refusal{
			TaskId: vq.Envelope.QueryId, Error: "the rogue has no instructions for this query",
		}}})
	}
	return hook(&rogueTask{r: r, s: s, vq: vq, spec: spec, epoch: ep})
}

// ciphertexts encrypts the rogue's contribution, all zeros, under pk.
func (t *rogueTask) ciphertexts(params crypto.Params, pk *crypto.PublicKey) ([][]byte, error) {
	enc, err := params.NewEncryptor(pk)
	if err != nil {
		return nil, err
	}
	cts, err := enc.Encrypt(make([]int64, t.spec.Layout().VectorLen))
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(cts))
	for i, ct := range cts {
		if out[i], err = ct.MarshalBinary(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// collectiveCiphertexts encrypts zeros under the federation's key.
func (t *rogueTask) collectiveCiphertexts() ([][]byte, error) {
	return t.ciphertexts(t.epoch.params, t.epoch.pk)
}

// receipt is the honest phase 1 receipt for cts.
func (t *rogueTask) receipt(cts [][]byte) *pb.Receipt {
	rc := &pb.Receipt{
		QueryId: t.vq.Envelope.QueryId, QueryDigest: t.vq.Digest, Node: t.r.name, Epoch: t.epoch.id,
		DecisionId: "rogue-decision", BundleRevision: "rogue-bundle", UnixNanos: time.Now().UnixNano(),
		Phase: 1, Run: t.s.run,
	}
	for _, ct := range cts {
		rc.CiphertextDigests = append(rc.CiphertextDigests, protocol.Digest(ct))
	}
	return rc
}

// commit signs rc with key and sends it as the rogue's phase 1 receipt.
func (t *rogueTask) commit(rc *pb.Receipt, key gocrypto.Signer) error {
	m := &pb.InputReceipt{QueryId: t.vq.Envelope.QueryId, Phase: 1}
	var err error
	if m.Receipt, m.Signature, err = protocol.SignReceipt(key, rc); err != nil {
		return err
	}
	return t.s.send(&pb.NodeMessage{Body: &pb.NodeMessage_Receipt{Receipt: m}})
}

// reveal sends blobs as the rogue's phase 1 ciphertexts with commitments
// to two seeds (a phase 1 verifier's), once the receipt set arrives; the
// blobs named in ids but not given are never sent.
func (t *rogueTask) reveal(blobs [][]byte, ids int) {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	t.s.onReceiptSet = func(set *pb.ReceiptSet) error {
		m := &pb.InputReveal{QueryId: set.QueryId, Run: set.Run, Phase: set.Phase}
		for i := range ids {
			m.CiphertextBlobs = append(m.CiphertextBlobs, fmt.Sprintf("ct/%s/%d", set.QueryId, i))
		}
		for range 2 {
			m.SeedCommitments = append(m.SeedCommitments, protocol.SeedCommitment(make([]byte, protocol.SeedSize)))
		}
		for i, b := range blobs {
			if err := t.s.sendBlob(m.CiphertextBlobs[i], b); err != nil {
				return err
			}
		}
		return t.s.send(&pb.NodeMessage{Body: &pb.NodeMessage_Reveal{Reveal: m}})
	}
}

// sendWith commits to rc with the rogue's key and reveals blobs.
func (t *rogueTask) sendWith(rc *pb.Receipt, blobs [][]byte) error {
	t.reveal(blobs, len(blobs))
	return t.commit(rc, t.r.cred.Key)
}

// grpcCode returns err's gRPC status code.
func grpcCode(err error) codes.Code {
	return status.Code(err)
}
