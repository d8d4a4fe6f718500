package coordinator_test

import (
	"bytes"
	"context"
	gocrypto "crypto"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fedscore/fedscore/crypto"
	"github.com/fedscore/fedscore/internal/pki"
	"github.com/fedscore/fedscore/internal/protocol"
	"github.com/fedscore/fedscore/internal/query"
	"github.com/fedscore/fedscore/internal/wire"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
)

// rogueNode speaks the node protocol from the test side with a valid member
// certificate. It takes part in key generation and answers queries and key
// switches honestly, unless a test installs a misbehaviour for the next
// query task or for key generation.
type rogueNode struct {
	f    *federation
	name string
	cred *pki.Credential

	mu           sync.Mutex
	epoch        *rogueEpoch
	pending      *rogueSetup
	queries      map[string]*rogueQuery
	session      *rogueSession
	sessions     int // streams opened so far
	setupResults int // SetupResult messages received
	onQuery      func(*rogueTask) error
	onSetup      func(req *pb.SetupRequest, share, sig []byte) (blob, signature []byte)
}

type rogueEpoch struct {
	id     string
	params crypto.Params
	sk     *crypto.SecretShare
	pk     *crypto.PublicKey
	digest []byte
}

type rogueSetup struct {
	req    *pb.SetupRequest
	params crypto.Params
	sk     *crypto.SecretShare
}

type rogueQuery struct {
	vq          *protocol.VerifiedQuery
	receiverKey *crypto.PublicKey
}

// errHangUp ends a rogue session on purpose.
var errHangUp = errors.New("rogue hangs up")

// startRogue attaches a rogue member until the test ends, reconnecting
// whenever its stream ends.
func (f *federation) startRogue(name string) *rogueNode {
	f.t.Helper()
	r := &rogueNode{f: f, name: name, cred: f.issue(pki.RoleNode, name), queries: map[string]*rogueQuery{}}
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
	f.t.Cleanup(func() {
		cancel()
		<-done
	})
	return r
}

// misbehaveOnNextQuery installs fn for the next query task only.
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

// sessionCount returns how many streams the rogue has opened.
func (r *rogueNode) sessionCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sessions
}

func (r *rogueNode) setupResultCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.setupResults
}

// sendHello repeats the rogue's hello on its current stream.
func (r *rogueNode) sendHello() error {
	r.mu.Lock()
	s := r.session
	r.mu.Unlock()
	if s == nil {
		return errors.New("rogue is not attached")
	}
	return s.send(r.hello())
}

func (r *rogueNode) hello() *pb.NodeMessage {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := &pb.Hello{Version: "fedscore/1"}
	if r.epoch != nil {
		h.Epoch, h.PublicKeyDigest = r.epoch.id, r.epoch.digest
	}
	return &pb.NodeMessage{Body: &pb.NodeMessage_Hello{Hello: h}}
}

// rogueSession is one stream to the coordinator.
type rogueSession struct {
	mu     sync.Mutex
	stream pb.Coordinator_AttachClient
	blobs  *wire.Assembler
}

func (s *rogueSession) send(m *pb.NodeMessage) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stream.Send(m)
}

func (s *rogueSession) sendBlob(id string, data []byte) error {
	return wire.Send(func(c *pb.Chunk) error {
		return s.send(&pb.NodeMessage{Body: &pb.NodeMessage_Chunk{Chunk: c}})
	}, id, data)
}

// run is one session: attach, hello, then serve tasks until the stream ends.
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
	s := &rogueSession{stream: stream, blobs: wire.NewAssembler(256 << 20)}
	if err := s.send(r.hello()); err != nil {
		return err
	}
	r.mu.Lock()
	r.session = s
	r.sessions++
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		if r.session == s {
			r.session = nil
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
		case *pb.CoordinatorMessage_KeySwitchTask:
			err = r.handleKeySwitch(s, b.KeySwitchTask)
		}
		if err != nil {
			return err
		}
	}
}

func (r *rogueNode) handleSetupRequest(s *rogueSession, req *pb.SetupRequest) error {
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
	r.pending = &rogueSetup{req: req, params: params, sk: sk}
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
func (r *rogueNode) handleSetupResult(s *rogueSession, res *pb.SetupResult) error {
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
	r.epoch = &rogueEpoch{id: res.Epoch, params: p.params, sk: p.sk, pk: pk, digest: protocol.Digest(pkBytes)}
	r.pending = nil
	r.mu.Unlock()
	return s.send(r.hello())
}

// rogueTask is a query task as the rogue sees it, with helpers to build
// inputs both honest and not.
type rogueTask struct {
	r     *rogueNode
	s     *rogueSession
	vq    *protocol.VerifiedQuery
	spec  *query.Spec
	epoch *rogueEpoch
}

func (r *rogueNode) handleQuery(s *rogueSession, task *pb.QueryTask) error {
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
	rpk, err := ep.params.UnmarshalPublicKey(rk)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.queries[vq.Envelope.QueryId] = &rogueQuery{vq: vq, receiverKey: rpk}
	r.mu.Unlock()
	t := &rogueTask{r: r, s: s, vq: vq, spec: spec, epoch: ep}
	if hook != nil {
		return hook(t)
	}
	return t.sendHonest()
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

// receipt is the honest receipt for cts.
func (t *rogueTask) receipt(cts [][]byte) *pb.Receipt {
	rc := &pb.Receipt{
		QueryId: t.vq.Envelope.QueryId, QueryDigest: t.vq.Digest, Node: t.r.name, Epoch: t.epoch.id,
		DecisionId: "rogue-decision", BundleRevision: "rogue-bundle", UnixNanos: time.Now().UnixNano(),
	}
	for _, ct := range cts {
		rc.CiphertextDigests = append(rc.CiphertextDigests, protocol.Digest(ct))
	}
	return rc
}

// input signs rc with key into a QueryInput naming one blob per digest.
func (t *rogueTask) input(rc *pb.Receipt, key gocrypto.Signer) (*pb.QueryInput, error) {
	in := &pb.QueryInput{QueryId: t.vq.Envelope.QueryId}
	var err error
	if in.Receipt, in.Signature, err = protocol.SignReceipt(key, rc); err != nil {
		return nil, err
	}
	for i := range rc.CiphertextDigests {
		in.CiphertextBlobs = append(in.CiphertextBlobs, fmt.Sprintf("ct/%s/%d", in.QueryId, i))
	}
	return in, nil
}

// send streams blobs under the input's blob ids, then the input.
func (t *rogueTask) send(in *pb.QueryInput, blobs [][]byte) error {
	for i, b := range blobs {
		if err := t.s.sendBlob(in.CiphertextBlobs[i], b); err != nil {
			return err
		}
	}
	return t.s.send(&pb.NodeMessage{Body: &pb.NodeMessage_Input{Input: in}})
}

// sendWith signs rc with the rogue's key and sends it with blobs.
func (t *rogueTask) sendWith(rc *pb.Receipt, blobs [][]byte) error {
	in, err := t.input(rc, t.r.cred.Key)
	if err != nil {
		return err
	}
	return t.send(in, blobs)
}

func (t *rogueTask) sendHonest() error {
	cts, err := t.collectiveCiphertexts()
	if err != nil {
		return err
	}
	return t.sendWith(t.receipt(cts), cts)
}

// handleKeySwitch recomputes the aggregate from the signed inputs and
// answers with its key-switch shares.
func (r *rogueNode) handleKeySwitch(s *rogueSession, task *pb.KeySwitchTask) error {
	r.mu.Lock()
	q := r.queries[task.QueryId]
	delete(r.queries, task.QueryId)
	ep := r.epoch
	r.mu.Unlock()
	refuse := func(err error) error {
		return s.send(&pb.NodeMessage{Body: &pb.NodeMessage_Refusal{Refusal: &pb.Refusal{TaskId: task.QueryId, Error: err.Error()}}})
	}
	if q == nil {
		return refuse(errors.New("no open contribution"))
	}
	var ids []string
	for _, in := range task.Inputs {
		ids = append(ids, in.CiphertextBlobs...)
	}
	blobs, err := s.blobs.TakeAll(ids)
	if err != nil {
		return refuse(err)
	}
	nct := len(task.AggregateDigests)
	sums := make([][]*crypto.Ciphertext, nct)
	off := 0
	for _, in := range task.Inputs {
		rc, _, err := protocol.VerifyReceipt(in, r.f.roots, task.QueryId, q.vq.Digest, time.Now())
		if err != nil {
			return refuse(err)
		}
		if len(in.CiphertextBlobs) != nct {
			return refuse(fmt.Errorf("input of %s has %d ciphertexts", in.Node, len(in.CiphertextBlobs)))
		}
		for k := range nct {
			b := blobs[off+k]
			if !bytes.Equal(protocol.Digest(b), rc.CiphertextDigests[k]) {
				return refuse(fmt.Errorf("ciphertext of %s does not match its receipt", in.Node))
			}
			ct, err := ep.params.UnmarshalCiphertext(b)
			if err != nil {
				return refuse(err)
			}
			sums[k] = append(sums[k], ct)
		}
		off += nct
	}
	ks, err := ep.params.NewKeySwitcher(ep.sk)
	if err != nil {
		return err
	}
	msg := &pb.KeySwitchShare{QueryId: task.QueryId, AggregateDigests: task.AggregateDigests}
	for k := range nct {
		sum, err := ep.params.NewEvaluator().Sum(sums[k])
		if err != nil {
			return refuse(err)
		}
		b, err := sum.MarshalBinary()
		if err != nil {
			return err
		}
		if !bytes.Equal(protocol.Digest(b), task.AggregateDigests[k]) {
			return refuse(fmt.Errorf("aggregate %d is not the sum of the signed inputs", k))
		}
		share, err := ks.Share(q.receiverKey, sum)
		if err != nil {
			return err
		}
		id := fmt.Sprintf("ks/%s/%d", task.QueryId, k)
		if err := s.sendBlob(id, share); err != nil {
			return err
		}
		msg.ShareBlobs = append(msg.ShareBlobs, id)
	}
	return s.send(&pb.NodeMessage{Body: &pb.NodeMessage_KeySwitchShare{KeySwitchShare: msg}})
}

// grpcCode returns err's gRPC status code.
func grpcCode(err error) codes.Code {
	return status.Code(err)
}
