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
func (s *Server) Query(stream pb.Coordinator_QueryServer) (err error) {
	ctx := stream.Context()
	if _, err := requireRole(ctx, pki.RoleQuerier); err != nil {
		return err
	}
	rec := s.beginQuery(ctx)
	defer func() { s.endQuery(rec, err) }()
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
		case *pb.QueryClientMessage_Overlap:
			return s.overlapQuery(stream, b.Overlap)
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
	rec.admitted(q)
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
		s.log.Debug("query step", "query", q.id, "step", phase, "member", node)
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
		s.metrics.reruns.Inc()
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
	rec.res = res
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
	// runs counts the runs started and timings are the last one's, for
	// Status.
	runs    uint32
	timings map[string]float64
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

// run executes the protocol for an admitted query and returns the result
// ciphertexts, switched to the querier's key. Every phase is committed,
// revealed, summed and verified the same way (see the proto's overview):
//
//  1. every participant admits the query and commits to its encrypted
//     counts; the counts are revealed against the fixed receipt set and
//     summed, and every participant verifies the sum by fingerprints and
//     spot checks;
//  2. the active members' decryption shares of it are summed and verified
//     the same way, and every participant opens the counts itself, runs
//     its release gate and commits to its masked vector;
//  3. the masked vectors are revealed, summed and verified by the active
//     set, whose members give key-switch shares towards the querier.
func (s *Server) run(ctx context.Context, q *runningQuery, run uint32, progress func(phase, node string)) (*pb.QueryResult, [][]byte, error) {
	start := time.Now()
	r, err := s.newRun(q, run, progress)
	if err != nil {
		return nil, nil, err
	}
	defer r.close()
	q.runs, q.timings = run, r.timings
	ok := false
	defer func() {
		if !ok {
			s.cancelQuery(r.conns, q.id, run, "query failed")
		}
	}()

	t := time.Now()
	if err := r.startQuery(ctx); err != nil {
		return nil, nil, err
	}
	if err := r.collectReceipts(ctx, 1); err != nil {
		return nil, nil, err
	}
	counts, err := r.inputRound(ctx, 1)
	if err != nil {
		return nil, nil, err
	}
	r.mark("counts", t)

	t = time.Now()
	if err := r.openCounts(ctx, counts); err != nil {
		return nil, nil, err
	}
	if err := r.collectReceipts(ctx, 2); err != nil {
		return nil, nil, err
	}
	r.mark("release_gate", t)

	t = time.Now()
	values, err := r.inputRound(ctx, 2)
	if err != nil {
		return nil, nil, err
	}
	r.mark("inputs", t)

	t = time.Now()
	shares, err := r.keySwitchShares(ctx, values)
	if err != nil {
		return nil, nil, err
	}
	r.mark("key_switch", t)

	t = time.Now()
	out, err := s.combine(values, shares)
	if err != nil {
		return nil, nil, err
	}
	r.mark("combine", t)
	r.mark("total", start)
	ok = true
	r.complete()

	res := &pb.QueryResult{QueryId: q.id, TimingsMs: r.timings, ReleaseMask: r.mask}
	for _, name := range r.participants {
		rc := r.receipts[2][name].receipt
		res.Partners = append(res.Partners, name)
		res.Receipts = append(res.Receipts, &pb.PartnerReceipt{Node: name, DecisionId: rc.DecisionId, BundleRevision: rc.BundleRevision})
	}
	return res, out, nil
}

// combine switches the phase 2 aggregate to the querier's key with the
// active members' shares.
func (s *Server) combine(values *roundSum, shares [][][]byte) ([][]byte, error) {
	out := make([][]byte, len(values.full))
	for k, b := range values.full {
		sum, err := s.params.UnmarshalCiphertext(b)
		if err != nil {
			return nil, err
		}
		switched, err := s.params.CombineKeySwitch(sum, shares[k])
		if err != nil {
			return nil, fmt.Errorf("combine key-switch shares: %w", err)
		}
		if out[k], err = switched.MarshalBinary(); err != nil {
			return nil, err
		}
	}
	return out, nil
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

// GRPCStatus is the status a querier receives: PermissionDenied for a
// policy's refusal, FailedPrecondition for a failed check.
func (e *RefusalError) GRPCStatus() *status.Status {
	code := codes.FailedPrecondition
	if len(e.Reasons) > 0 {
		code = codes.PermissionDenied
	}
	return status.New(code, e.Error())
}

func refusalError(node string, r *pb.Refusal) error {
	return &RefusalError{Node: node, Reasons: r.Reasons, Err: r.Error}
}
