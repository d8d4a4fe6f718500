package coordinator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/fedscore/fedscore/proto/fedscorev1"
	"github.com/fedscore/fedscore/protocol"
	"github.com/fedscore/fedscore/psi"
	"github.com/fedscore/fedscore/psi/wire"
	"github.com/fedscore/fedscore/query/overlap"
)

// overlapSession is one run of an overlap query the coordinator relays:
// it checks every frame's header against the session's plan and forwards
// it, and sees nothing else, as every payload is sealed between partners.
type overlapSession struct {
	qid     string
	run     uint32
	relay   *psi.Relay
	parties []*nodeConn // in ring order
	index   map[string]int
	// fail ends the run with its cause: a frame off the plan, a partner
	// gone.
	fail context.CancelCauseFunc
}

// overlapSessions are the overlap runs being relayed, by runTask.
type overlapSessions struct {
	mu   sync.Mutex
	runs map[string]*overlapSession
}

func (o *overlapSessions) get(qid string, run uint32) *overlapSession {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.runs[runTask(qid, run)]
}

func (o *overlapSessions) add(sess *overlapSession) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.runs == nil {
		o.runs = map[string]*overlapSession{}
	}
	key := runTask(sess.qid, sess.run)
	if o.runs[key] != nil {
		return status.Errorf(codes.AlreadyExists, "overlap query %s is already running", sess.qid)
	}
	o.runs[key] = sess
	return nil
}

func (o *overlapSessions) drop(sess *overlapSession) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.runs, runTask(sess.qid, sess.run))
}

// relayOverlap routes a frame from node c of a running overlap: a frame
// the plan does not allow, or one claiming another sender, ends the run.
// It blocks until every recipient's stream took m, so a slow partner
// slows its senders instead of filling the coordinator's memory.
func (s *Server) relayOverlap(c *nodeConn, qid string, run uint32, frame []byte, hello bool, m *pb.CoordinatorMessage) {
	sess := s.overlaps.get(qid, run)
	if sess == nil {
		s.log.Warn("overlap frame for no running query", "node", c.name, "query", qid)
		return
	}
	from, ok := sess.index[c.name]
	f, err := wire.Decode(frame)
	switch {
	case !ok:
		err = fmt.Errorf("node %s is not a partner of overlap query %s", c.name, qid)
	case err != nil:
	case int(f.From) != from:
		err = fmt.Errorf("node %s sent a frame as party %d; it is party %d", c.name, f.From, from)
	case (f.Type == wire.Hello) != hello:
		err = fmt.Errorf("node %s sent a hello unsigned, or another frame as a hello", c.name)
	}
	var to []int
	if err == nil {
		to, err = sess.relay.Route(frame)
	}
	if err != nil {
		sess.fail(fmt.Errorf("relay: %w", err))
		return
	}
	for _, t := range to {
		if err := sess.parties[t].send(m); err != nil {
			sess.fail(fmt.Errorf("node %s: %w: %v", sess.parties[t].name, errNodeGone, err))
			return
		}
	}
}

// relayOverlapFrame relays a node's PSI frame.
func (s *Server) relayOverlapFrame(c *nodeConn, f *pb.OverlapFrame) {
	s.relayOverlap(c, f.QueryId, f.Run, f.Frame, false, &pb.CoordinatorMessage{Body: &pb.CoordinatorMessage_OverlapFrame{
		OverlapFrame: &pb.OverlapFrame{QueryId: f.QueryId, Run: f.Run, Frame: f.Frame}}})
}

// relayOverlapHello relays a node's signed hello, naming its sender; every
// recipient checks the signature against the epoch's certificate.
func (s *Server) relayOverlapHello(c *nodeConn, h *pb.OverlapHello) {
	s.relayOverlap(c, h.QueryId, h.Run, h.Frame, true, &pb.CoordinatorMessage{Body: &pb.CoordinatorMessage_OverlapHello{
		OverlapHello: &pb.OverlapHello{QueryId: h.QueryId, Run: h.Run, Node: c.name, Frame: h.Frame, Signature: h.Signature}}})
}

// overlapQuery runs an overlap query for a querier and answers with the
// sealed release and the partners' signed statements of its digest.
func (s *Server) overlapQuery(stream pb.Coordinator_QueryServer, req *pb.OverlapRequest) error {
	start := time.Now()
	vq, err := protocol.VerifyOverlapQuery(req.Query, s.cfg.Roots, time.Now())
	if err != nil {
		return status.Error(codes.Unauthenticated, err.Error())
	}
	env := vq.Envelope
	spec, err := overlap.Parse(env.Spec)
	if err == nil {
		err = spec.Validate()
	}
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "overlap query %s: %v", env.QueryId, err)
	}
	if len(req.ReceiverKey) != 32 || !bytes.Equal(protocol.Digest(req.ReceiverKey), env.ReceiverKeyDigest) {
		return status.Error(codes.InvalidArgument, "the receiver key does not match the signed query")
	}
	const run = 1
	cfg, err := spec.Session(overlap.SessionInput{QueryID: env.QueryId, Digest: vq.Digest, Run: run, Federation: vq.Querier.TrustDomain})
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "overlap query %s: %v", env.QueryId, err)
	}
	relay, err := psi.NewRelay(cfg)
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "overlap query %s: %v", env.QueryId, err)
	}
	sess := &overlapSession{qid: env.QueryId, run: run, relay: relay, index: map[string]int{}}
	s.mu.Lock()
	epoch := s.epoch
	if epoch != nil && env.Epoch == epoch.ID {
		for i, name := range spec.Names() {
			if c := s.nodes[name]; c != nil && c.holds(epoch) {
				sess.parties = append(sess.parties, c)
				sess.index[name] = i
			}
		}
	}
	s.mu.Unlock()
	switch {
	case epoch == nil:
		return status.Error(codes.Unavailable, "the federation has no epoch yet")
	case env.Epoch != epoch.ID:
		return status.Errorf(codes.FailedPrecondition, "query was made for epoch %q, the federation is at %q", env.Epoch, epoch.ID)
	case len(sess.parties) != len(spec.Partners):
		var missing []string
		for _, name := range spec.Names() {
			if _, ok := sess.index[name]; !ok {
				missing = append(missing, name)
			}
		}
		return status.Errorf(codes.Unavailable, "partners %v are not attached with the epoch's key", missing)
	}
	timeout := s.cfg.QueryTimeout
	if req.TimeoutMs > 0 {
		timeout = min(timeout, time.Duration(req.TimeoutMs)*time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(stream.Context(), min(timeout, time.Until(time.Unix(0, env.ExpiresUnixNanos))))
	defer cancel()
	ctx, sess.fail = context.WithCancelCause(ctx)
	defer sess.fail(nil)
	if err := s.overlaps.add(sess); err != nil {
		return err
	}
	defer s.overlaps.drop(sess)
	waits := make([]<-chan nodeEvent, len(sess.parties))
	for i, c := range sess.parties {
		ch, drop := c.wait(runTask(sess.qid, run))
		defer drop()
		waits[i] = ch
	}
	ok := false
	defer func() {
		if !ok {
			s.cancelQuery(sess.parties, sess.qid, run, "overlap query failed")
		}
	}()
	task := &pb.CoordinatorMessage{Body: &pb.CoordinatorMessage_OverlapTask{OverlapTask: &pb.OverlapTask{
		Query: req.Query, ReceiverKey: req.ReceiverKey, Run: run}}}
	if err := s.broadcast(ctx, sess.parties, func(c *nodeConn) error { return c.send(task) }); err != nil {
		return status.Errorf(codes.Unavailable, "overlap query %s: %v", sess.qid, err)
	}
	res, err := s.collectOverlap(ctx, sess, waits, epoch, vq.Digest)
	if err != nil {
		s.log.Warn("overlap query failed", "query", sess.qid, "err", err)
		if _, isStatus := status.FromError(err); isStatus {
			return err
		}
		return status.Errorf(codes.Aborted, "overlap query %s failed: %v", sess.qid, err)
	}
	ok = true
	st := relay.Stats()
	res.RelayBytes = st.Bytes
	res.TimingsMs = map[string]float64{"total": float64(time.Since(start).Microseconds()) / 1000}
	s.log.Info("overlap query answered", "query", sess.qid, "partners", len(sess.parties), "frames", st.Frames, "bytes", st.Bytes)
	return stream.Send(&pb.QueryServerMessage{Body: &pb.QueryServerMessage_OverlapResult{OverlapResult: res}})
}

// collectOverlap waits for every partner's signed statement (or the first
// refusal, relay failure or departure, which ends the wait for all) and
// checks that they all name the release the comparer sealed.
func (s *Server) collectOverlap(ctx context.Context, sess *overlapSession, waits []<-chan nodeEvent, epoch *Epoch, digest []byte) (*pb.OverlapResult, error) {
	stmt := protocol.OverlapRun{QueryID: sess.qid, QueryDigest: digest, Run: sess.run}
	done := make([]*pb.OverlapDone, len(sess.parties))
	releases := make([][]byte, len(sess.parties))
	errs := make([]error, len(sess.parties))
	// A partner's abort ends every partner's part, so all answer soon;
	// only a policy's refusal, which says why, ends the wait at once.
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	var wg sync.WaitGroup
	for i, c := range sess.parties {
		wg.Go(func() {
			ev, err := c.next(ctx, waits[i])
			if err != nil {
				if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) && !errors.Is(cause, context.DeadlineExceeded) {
					err = cause
				}
				errs[i] = err
				return
			}
			if rf := ev.msg.GetRefusal(); rf != nil {
				errs[i] = refusalError(c.name, rf)
				if len(rf.Reasons) > 0 {
					stop(errs[i])
				}
				return
			}
			d := ev.msg.GetOverlapDone()
			if d == nil {
				errs[i] = fmt.Errorf("node %s answered the overlap query with an unexpected message", c.name)
				return
			}
			cert, err := s.certs.MemberCert(epoch, c.name, nil, time.Now())
			if err == nil {
				var st *pb.OverlapDoneStatement
				if st, err = protocol.VerifyOverlapDone(cert, stmt, c.name, d.Statement, d.Signature); err == nil {
					done[i], releases[i] = d, st.ReleaseDigest
				}
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) && !errors.Is(cause, context.DeadlineExceeded) {
		return nil, cause
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	res := &pb.OverlapResult{QueryId: sess.qid}
	for i, d := range done {
		c := sess.parties[i]
		if !bytes.Equal(releases[i], releases[0]) {
			return nil, fmt.Errorf("node %s names another release than %s", c.name, sess.parties[0].name)
		}
		if len(d.SealedRelease) > 0 {
			res.SealedRelease = d.SealedRelease
		}
		res.Statements = append(res.Statements, &pb.SignedOverlapDone{Node: c.name, Statement: d.Statement, Signature: d.Signature,
			CertChain: slices.Clone(epoch.MemberChains[c.name])})
	}
	if !bytes.Equal(protocol.Digest(res.SealedRelease), releases[0]) {
		return nil, errors.New("the comparer's sealed release does not have the digest every partner signed")
	}
	return res, nil
}
