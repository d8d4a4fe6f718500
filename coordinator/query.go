package coordinator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fedscore/fedscore/crypto"
	"github.com/fedscore/fedscore/internal/wire"
	"github.com/fedscore/fedscore/pki"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
	"github.com/fedscore/fedscore/protocol"
	"github.com/fedscore/fedscore/query"
)

// querierBlobBudget bounds what a querier may upload: its receiver key.
const querierBlobBudget = 4 << 20

// maxRuns bounds how often a threshold query is run after losing members.
const maxRuns = 3

// Query runs one joint query for a querier.
func (s *Server) Query(stream pb.Coordinator_QueryServer) error {
	ctx := stream.Context()
	if _, err := requireRole(ctx, pki.RoleQuerier); err != nil {
		return err
	}
	blobs := wire.NewAssembler(querierBlobBudget)
	var req *pb.QueryRequest
	for req == nil {
		m, err := stream.Recv()
		if err != nil {
			return err
		}
		switch b := m.Body.(type) {
		case *pb.QueryClientMessage_Chunk:
			if err := blobs.Add(b.Chunk); err != nil {
				return status.Error(codes.ResourceExhausted, err.Error())
			}
		case *pb.QueryClientMessage_Request:
			req = b.Request
		default:
			return status.Error(codes.InvalidArgument, "unknown message")
		}
	}
	rk, err := blobs.Take(req.ReceiverKeyBlob)
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "receiver key: %v", err)
	}
	q, err := s.admit(req, rk)
	if err != nil {
		return err
	}
	timeout := s.cfg.QueryTimeout
	if req.TimeoutMs > 0 {
		timeout = min(timeout, time.Duration(req.TimeoutMs)*time.Millisecond)
	}
	if exp := time.Until(time.Unix(0, q.vq.Envelope.ExpiresUnixNanos)); exp < timeout {
		timeout = exp
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	s.mu.Lock()
	if s.queries[q.id] {
		s.mu.Unlock()
		return status.Errorf(codes.AlreadyExists, "query %s is already running", q.id)
	}
	s.queries[q.id] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.queries, q.id)
		s.mu.Unlock()
	}()

	var sendMu sync.Mutex
	progress := func(phase, node string) {
		sendMu.Lock()
		defer sendMu.Unlock()
		stream.Send(&pb.QueryServerMessage{Body: &pb.QueryServerMessage_Progress{Progress: &pb.Progress{Phase: phase, Node: node}}})
	}
	res, cts, err := s.run(ctx, q, 1, progress)
	// In a threshold epoch a run that lost a member is re-run from fresh
	// encryptions with a new active set; the lost run's ciphertexts are
	// never opened by another set of members.
	for run := uint32(2); err != nil && errors.Is(err, errNodeGone) && q.epoch.Threshold > 0 && run <= maxRuns && ctx.Err() == nil; run++ {
		s.log.Info("re-running query after a member left", "query", q.id, "run", run, "err", err)
		progress("rerun", "")
		res, cts, err = s.run(ctx, q, run, progress)
	}
	if err != nil {
		s.log.Warn("query failed", "query", q.id, "err", err)
		if _, ok := status.FromError(err); ok {
			return err
		}
		return status.Errorf(codes.Aborted, "query %s failed: %v", q.id, err)
	}
	send := func(ch *pb.Chunk) error {
		return stream.Send(&pb.QueryServerMessage{Body: &pb.QueryServerMessage_Chunk{Chunk: ch}})
	}
	for i, ct := range cts {
		id := fmt.Sprintf("result/%d", i)
		if err := wire.Send(send, id, ct); err != nil {
			return err
		}
		res.CiphertextBlobs = append(res.CiphertextBlobs, id)
	}
	return stream.Send(&pb.QueryServerMessage{Body: &pb.QueryServerMessage_Result{Result: res}})
}

// runningQuery is a query the coordinator accepted.
type runningQuery struct {
	id          string
	signed      *pb.SignedQuery
	vq          *protocol.VerifiedQuery
	spec        *query.Spec
	receiverKey []byte
	epoch       *Epoch
}

// admit checks a query request before anything is sent to a node.
func (s *Server) admit(req *pb.QueryRequest, rk []byte) (*runningQuery, error) {
	vq, err := protocol.VerifyQuery(req.Query, s.cfg.Roots, time.Now())
	if err != nil {
		return nil, status.Error(codes.Unauthenticated, err.Error())
	}
	env := vq.Envelope
	spec, err := query.Parse(env.Spec)
	if err == nil {
		err = spec.Validate(query.Limits{MaxCells: s.params.Slots(), MaxVectorLen: 8 * s.params.Slots()})
	}
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "query %s: %v", env.QueryId, err)
	}
	if !bytes.Equal(protocol.Digest(rk), env.ReceiverKeyDigest) {
		return nil, status.Error(codes.InvalidArgument, "the receiver key does not match the signed query")
	}
	if _, err := s.params.UnmarshalPublicKey(rk); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "receiver key: %v", err)
	}
	s.mu.Lock()
	epoch, setup := s.epoch, s.setup
	participants := s.participantsLocked()
	s.mu.Unlock()
	switch {
	case epoch == nil:
		return nil, status.Error(codes.Unavailable, "the federation has no collective key yet")
	case env.Params != epoch.Params:
		return nil, status.Errorf(codes.InvalidArgument, "query uses parameters %q, the federation uses %q", env.Params, epoch.Params)
	case env.Epoch != epoch.ID:
		return nil, status.Errorf(codes.FailedPrecondition, "query was made for epoch %q, the federation is at %q", env.Epoch, epoch.ID)
	case setup:
		return nil, status.Error(codes.Unavailable, "the federation is generating a new key")
	case len(participants) < epoch.Quorum():
		return nil, status.Errorf(codes.Unavailable, "%d of %d members attached with the epoch's key (%s); the epoch needs %d",
			len(participants), len(epoch.Members), strings.Join(participants, ", "), epoch.Quorum())
	case spec.MinPartners > len(epoch.Members):
		return nil, status.Errorf(codes.InvalidArgument, "min_partners %d exceeds the federation's %d members", spec.MinPartners, len(epoch.Members))
	}
	return &runningQuery{id: env.QueryId, signed: req.Query, vq: vq, spec: spec, receiverKey: rk, epoch: epoch}, nil
}

// input is one node's verified contribution to a phase.
type input struct {
	signed *pb.SignedInput
	blobs  [][]byte
	cts    []*crypto.Ciphertext
	recpt  *pb.Receipt
	mask   []byte // phase 2: the node's release mask
}

// round is one step of the protocol with every member: the tasks go out,
// and one answer per node comes back.
type round struct {
	s        *Server
	q        *runningQuery
	run      uint32
	conns    []*nodeConn
	waits    []<-chan nodeEvent
	progress func(phase, node string)
}

// collect waits for every node's answer and hands it to handle; the first
// failure cancels the wait for the others.
func (r *round) collect(ctx context.Context, phase string, handle func(i int, c *nodeConn, ev nodeEvent) error) error {
	g, gctx := errgroup.WithContext(ctx)
	for i, c := range r.conns {
		g.Go(func() error {
			ev, err := c.next(gctx, r.waits[i])
			if err != nil {
				return err
			}
			if rf := ev.msg.GetRefusal(); rf != nil {
				return refusalError(c.name, rf)
			}
			if err := handle(i, c, ev); err != nil {
				return err
			}
			r.progress(phase, c.name)
			return nil
		})
	}
	return g.Wait()
}

// relay sends every node the ciphertexts of the inputs, then msg.
func (r *round) relay(ctx context.Context, inputs []*input, msg *pb.CoordinatorMessage) error {
	return r.s.broadcast(ctx, r.conns, func(c *nodeConn) error {
		for _, in := range inputs {
			for j, id := range in.signed.CiphertextBlobs {
				if err := c.sendBlob(id, in.blobs[j]); err != nil {
					return err
				}
			}
		}
		return c.send(msg)
	})
}

// inputs collects and verifies every node's input of a phase.
func (r *round) inputs(ctx context.Context, phase int32) ([]*input, error) {
	out := make([]*input, len(r.conns))
	err := r.collect(ctx, fmt.Sprintf("input_%d", phase), func(i int, c *nodeConn, ev nodeEvent) error {
		in, err := r.s.verifyInput(r, c, ev, phase)
		out[i] = in
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, in := range out[1:] {
		if len(in.cts) != len(out[0].cts) {
			return nil, fmt.Errorf("node %s sent %d ciphertexts, %s sent %d", in.recpt.Node, len(in.cts), out[0].recpt.Node, len(out[0].cts))
		}
		if phase == 2 && !bytes.Equal(in.recpt.MaskDigest, out[0].recpt.MaskDigest) {
			return nil, fmt.Errorf("nodes %s and %s computed different release masks", out[0].recpt.Node, in.recpt.Node)
		}
	}
	return out, nil
}

// aggregate adds the inputs' ciphertexts, one add per partner.
func (s *Server) aggregate(inputs []*input) ([]*crypto.Ciphertext, [][]byte, error) {
	eval := s.params.NewEvaluator()
	nct := len(inputs[0].cts)
	sums := make([]*crypto.Ciphertext, nct)
	digests := make([][]byte, nct)
	for k := range nct {
		col := make([]*crypto.Ciphertext, len(inputs))
		for i, in := range inputs {
			col[i] = in.cts[k]
		}
		sum, err := eval.Sum(col)
		if err != nil {
			return nil, nil, fmt.Errorf("aggregate ciphertext %d: %w", k, err)
		}
		b, err := sum.MarshalBinary()
		if err != nil {
			return nil, nil, err
		}
		sums[k], digests[k] = sum, protocol.Digest(b)
	}
	return sums, digests, nil
}

func signedInputs(inputs []*input) []*pb.SignedInput {
	out := make([]*pb.SignedInput, len(inputs))
	for i, in := range inputs {
		out[i] = in.signed
	}
	return out
}

// run executes the protocol for an admitted query and returns the result
// ciphertexts, switched to the querier's key:
//
//  1. every node sends its encrypted cell counts (phase 1 input);
//  2. every node verifies their aggregate and sends signed decryption shares;
//  3. every node opens the counts from all signed shares, runs its release
//     gate and sends its whole vector masked by its own release mask
//     (phase 2 input); all masks must agree;
//  4. every node verifies the phase 2 aggregate and sends its key-switch
//     share towards the querier's key.
func (s *Server) run(ctx context.Context, q *runningQuery, run uint32, progress func(phase, node string)) (*pb.QueryResult, [][]byte, error) {
	start := time.Now()
	timings := map[string]float64{}
	mark := func(phase string, since time.Time) { timings[phase] = float64(time.Since(since).Microseconds()) / 1000 }

	// The run's participants and active set are fixed here, before any
	// share is produced: the attached members holding the key, and the
	// first quorum of them.
	s.mu.Lock()
	var participants []string
	var conns []*nodeConn
	for _, m := range s.participantsLocked() {
		participants = append(participants, m)
		conns = append(conns, s.nodes[m])
	}
	s.mu.Unlock()
	need := max(q.epoch.Quorum(), q.spec.MinPartners, 2)
	if len(conns) < need {
		return nil, nil, status.Errorf(codes.Unavailable, "%d members attached with the epoch's key; the query needs %d", len(conns), need)
	}
	active := participants[:q.epoch.Quorum()]
	r := &round{s: s, q: q, run: run, conns: conns, waits: make([]<-chan nodeEvent, len(conns)), progress: progress}
	for i, c := range conns {
		ch, drop := c.wait(runTask(q.id, run))
		defer drop()
		r.waits[i] = ch
	}
	// a is the round of the active set: they alone produce shares.
	a := &round{s: s, q: q, run: run, conns: conns[:len(active)], waits: r.waits[:len(active)], progress: progress}
	ok := false
	defer func() {
		if !ok {
			s.cancelQuery(conns, q.id, run, "query failed")
		}
	}()

	// Phase 1: admission and the encrypted counts.
	t := time.Now()
	rkBlob := fmt.Sprintf("rk/%s/%d", q.id, run)
	task := &pb.CoordinatorMessage{Body: &pb.CoordinatorMessage_QueryTask{QueryTask: &pb.QueryTask{
		Query: q.signed, ReceiverKeyBlob: rkBlob, Participants: participants, Active: active, Run: run,
	}}}
	if err := s.broadcast(ctx, conns, func(c *nodeConn) error {
		if err := c.sendBlob(rkBlob, q.receiverKey); err != nil {
			return err
		}
		return c.send(task)
	}); err != nil {
		return nil, nil, err
	}
	counts, err := r.inputs(ctx, 1)
	if err != nil {
		return nil, nil, err
	}
	countSums, countDigests, err := s.aggregate(counts)
	if err != nil {
		return nil, nil, err
	}
	mark("counts", t)

	// Phase 1 release: every node opens the counts from signed shares.
	t = time.Now()
	if err := r.relay(ctx, counts, &pb.CoordinatorMessage{Body: &pb.CoordinatorMessage_ReleaseTask{ReleaseTask: &pb.ReleaseTask{
		QueryId: q.id, Run: run, Inputs: signedInputs(counts), AggregateDigests: countDigests,
	}}}); err != nil {
		return nil, nil, err
	}
	decShares := make([]*pb.SignedDecryptionShare, len(active))
	decBlobs := make([][][]byte, len(active))
	if err := a.collect(ctx, "counts_opened", func(i int, c *nodeConn, ev nodeEvent) error {
		sh := ev.msg.GetDecryptionShare()
		if sh == nil || len(ev.blobs) != len(countSums) {
			return fmt.Errorf("node %s answered the release task with an unexpected message", c.name)
		}
		if err := s.verifyDecryptionShare(q.id, c, countDigests, sh, ev.blobs); err != nil {
			return err
		}
		decShares[i] = &pb.SignedDecryptionShare{Node: c.name, CertChain: c.chain, Signature: sh.Signature}
		for k := range ev.blobs {
			decShares[i].ShareBlobs = append(decShares[i].ShareBlobs, fmt.Sprintf("dec/%s/%d/%s/%d", q.id, run, c.name, k))
		}
		decBlobs[i] = ev.blobs
		return nil
	}); err != nil {
		return nil, nil, err
	}
	if err := s.broadcast(ctx, conns, func(c *nodeConn) error {
		for i, sh := range decShares {
			for k, id := range sh.ShareBlobs {
				if err := c.sendBlob(id, decBlobs[i][k]); err != nil {
					return err
				}
			}
		}
		return c.send(&pb.CoordinatorMessage{Body: &pb.CoordinatorMessage_CountsTask{CountsTask: &pb.CountsTask{QueryId: q.id, Run: run, Shares: decShares}}})
	}); err != nil {
		return nil, nil, err
	}
	mark("release_gate", t)

	// Phase 2: the masked vectors.
	t = time.Now()
	values, err := r.inputs(ctx, 2)
	if err != nil {
		return nil, nil, err
	}
	sums, digests, err := s.aggregate(values)
	if err != nil {
		return nil, nil, err
	}
	mark("inputs", t)

	// Key switch towards the querier, after every node verified the aggregate.
	t = time.Now()
	if err := r.relay(ctx, values, &pb.CoordinatorMessage{Body: &pb.CoordinatorMessage_KeySwitchTask{KeySwitchTask: &pb.KeySwitchTask{
		QueryId: q.id, Run: run, Inputs: signedInputs(values), AggregateDigests: digests,
	}}}); err != nil {
		return nil, nil, err
	}
	shares := make([][][]byte, len(sums)) // [ciphertext][active member]
	for k := range shares {
		shares[k] = make([][]byte, len(active))
	}
	if err := a.collect(ctx, "key_switch_share", func(i int, c *nodeConn, ev nodeEvent) error {
		sh := ev.msg.GetKeySwitchShare()
		if sh == nil || len(ev.blobs) != len(sums) || len(sh.AggregateDigests) != len(sums) {
			return fmt.Errorf("node %s answered the key switch with an unexpected message", c.name)
		}
		for k := range sums {
			if !bytes.Equal(sh.AggregateDigests[k], digests[k]) {
				return fmt.Errorf("node %s switched a different aggregate", c.name)
			}
			shares[k][i] = ev.blobs[k]
		}
		return nil
	}); err != nil {
		return nil, nil, err
	}
	mark("key_switch", t)

	t = time.Now()
	out := make([][]byte, len(sums))
	for k, sum := range sums {
		switched, err := s.params.CombineKeySwitch(sum, shares[k])
		if err != nil {
			return nil, nil, fmt.Errorf("combine key-switch shares: %w", err)
		}
		if out[k], err = switched.MarshalBinary(); err != nil {
			return nil, nil, err
		}
	}
	mark("combine", t)
	mark("total", start)
	ok = true

	res := &pb.QueryResult{QueryId: q.id, TimingsMs: timings, ReleaseMask: values[0].mask}
	for _, in := range values {
		res.Partners = append(res.Partners, in.recpt.Node)
		res.Receipts = append(res.Receipts, &pb.PartnerReceipt{Node: in.recpt.Node, DecisionId: in.recpt.DecisionId, BundleRevision: in.recpt.BundleRevision})
	}
	return res, out, nil
}

// verifyDecryptionShare checks a node's signed decryption shares.
func (s *Server) verifyDecryptionShare(qid string, c *nodeConn, aggDigests [][]byte, sh *pb.DecryptionShare, blobs [][]byte) error {
	if len(sh.AggregateDigests) != len(aggDigests) {
		return fmt.Errorf("node %s opened %d aggregates, expected %d", c.name, len(sh.AggregateDigests), len(aggDigests))
	}
	for k := range aggDigests {
		if !bytes.Equal(sh.AggregateDigests[k], aggDigests[k]) {
			return fmt.Errorf("node %s opened a different aggregate", c.name)
		}
	}
	var shareDigests [][]byte
	for _, b := range blobs {
		shareDigests = append(shareDigests, protocol.Digest(b))
	}
	stmt, err := protocol.DecryptionStatementBytes(qid, c.name, aggDigests, shareDigests)
	if err != nil {
		return err
	}
	_, cert, err := pki.VerifyPeerCertificate(c.chain, s.cfg.Roots, pki.RoleNode, time.Now())
	if err != nil {
		return fmt.Errorf("node %s certificate: %w", c.name, err)
	}
	if err := pki.Verify(cert, protocol.PurposeDecryptionShare, stmt, sh.Signature); err != nil {
		return fmt.Errorf("node %s decryption share: %w", c.name, err)
	}
	return nil
}

// verifyInput checks one node's input of a phase.
func (s *Server) verifyInput(rd *round, c *nodeConn, ev nodeEvent, phase int32) (*input, error) {
	q := rd.q
	m := ev.msg.GetInput()
	if m == nil {
		return nil, fmt.Errorf("node %s answered with an unexpected message", c.name)
	}
	si := &pb.SignedInput{Node: c.name, CertChain: c.chain, Receipt: m.Receipt, Signature: m.Signature}
	for j := range m.CiphertextBlobs {
		si.CiphertextBlobs = append(si.CiphertextBlobs, fmt.Sprintf("in/%s/%d/%d/%s/%d", q.id, rd.run, phase, c.name, j))
	}
	r, _, err := protocol.VerifyReceipt(si, s.cfg.Roots, q.id, q.vq.Digest, time.Now())
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", c.name, err)
	}
	switch {
	case r.Epoch != q.epoch.ID:
		return nil, fmt.Errorf("node %s encrypted under epoch %q, not %q", c.name, r.Epoch, q.epoch.ID)
	case r.Phase != phase:
		return nil, fmt.Errorf("node %s sent a phase %d input, expected phase %d", c.name, r.Phase, phase)
	case phase == 2 && !bytes.Equal(protocol.Digest(m.ReleaseMask), r.MaskDigest):
		return nil, fmt.Errorf("node %s: release mask does not match its receipt", c.name)
	}
	in := &input{signed: si, blobs: ev.blobs, recpt: r, mask: m.ReleaseMask}
	for j, b := range ev.blobs {
		if !bytes.Equal(protocol.Digest(b), r.CiphertextDigests[j]) {
			return nil, fmt.Errorf("node %s: ciphertext %d does not match its receipt", c.name, j)
		}
		ct, err := s.params.UnmarshalCiphertext(b)
		if err != nil {
			return nil, fmt.Errorf("node %s: ciphertext %d: %w", c.name, j, err)
		}
		in.cts = append(in.cts, ct)
	}
	if len(in.cts) == 0 {
		return nil, fmt.Errorf("node %s sent no ciphertext", c.name)
	}
	return in, nil
}

// broadcast runs send for every node in parallel.
func (s *Server) broadcast(ctx context.Context, conns []*nodeConn, send func(*nodeConn) error) error {
	g, _ := errgroup.WithContext(ctx)
	for _, c := range conns {
		g.Go(func() error {
			if err := send(c); err != nil {
				return fmt.Errorf("node %s: %w: %v", c.name, errNodeGone, err)
			}
			return nil
		})
	}
	return g.Wait()
}

func (s *Server) cancelQuery(conns []*nodeConn, id string, run uint32, reason string) {
	m := &pb.CoordinatorMessage{Body: &pb.CoordinatorMessage_Cancel{Cancel: &pb.Cancel{QueryId: id, Run: run, Reason: reason}}}
	for _, c := range conns {
		select {
		case <-c.done:
		default:
			c.send(m)
		}
	}
}

// RefusalError is a node's refusal to take part in a query.
type RefusalError struct {
	Node    string
	Reasons []*pb.Reason
	Err     string
}

func (e *RefusalError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "node %s refused", e.Node)
	for _, r := range e.Reasons {
		fmt.Fprintf(&b, "; %s", r.Code)
		if r.Article != "" {
			fmt.Fprintf(&b, " (%s)", r.Article)
		}
		if r.Message != "" {
			fmt.Fprintf(&b, ": %s", r.Message)
		}
	}
	if e.Err != "" {
		fmt.Fprintf(&b, ": %s", e.Err)
	}
	return b.String()
}

func refusalError(node string, r *pb.Refusal) error {
	err := &RefusalError{Node: node, Reasons: r.Reasons, Err: r.Error}
	code := codes.FailedPrecondition
	if len(r.Reasons) > 0 {
		code = codes.PermissionDenied
	}
	return status.Error(code, err.Error())
}
