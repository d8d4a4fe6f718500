package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/fedscore/fedscore/audit"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
	"github.com/fedscore/fedscore/protocol"
	"github.com/fedscore/fedscore/psi"
	"github.com/fedscore/fedscore/psi/wire"
	"github.com/fedscore/fedscore/query/overlap"
)

// overlapInbox is how many frames wait for a party before the stream
// waits for it: its peers' hellos and aborts arrive before its own set is
// ready, lists only after.
const overlapInbox = 64

// overlapRuns are the overlap query runs a node takes part in, by query id
// and run.
type overlapRuns struct {
	mu   sync.Mutex
	runs map[string]*overlapRun
}

// overlapRun is this node's part in one run of an overlap query.
type overlapRun struct {
	vq          *protocol.VerifiedQuery
	spec        *overlap.Spec
	cfg         psi.Config
	epoch       *protocol.Epoch
	receiverKey []byte
	self        int
	run         uint32
	in          chan []byte
	ctx         context.Context
	cancel      context.CancelCauseFunc

	mu     sync.Mutex
	hellos map[string][]byte // digests of the verified hello frames, by node
}

func (r *overlapRun) key() string         { return overlapKey(r.queryID(), r.run) }
func (r *overlapRun) queryID() string     { return r.vq.Envelope.QueryId }
func (r *overlapRun) queryDigest() []byte { return r.vq.Digest }
func (r *overlapRun) stmt() protocol.OverlapRun {
	return protocol.OverlapRun{QueryID: r.queryID(), QueryDigest: r.vq.Digest, Run: r.run}
}

func overlapKey(qid string, run uint32) string { return fmt.Sprintf("%s#%d", qid, run) }

func (o *overlapRuns) get(qid string, run uint32) *overlapRun {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.runs[overlapKey(qid, run)]
}

func (o *overlapRuns) add(r *overlapRun) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.runs == nil {
		o.runs = map[string]*overlapRun{}
	}
	if o.runs[r.key()] != nil {
		return fmt.Errorf("run %d of overlap query %s is already running", r.run, r.queryID())
	}
	o.runs[r.key()] = r
	return nil
}

func (o *overlapRuns) drop(r *overlapRun) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.runs[r.key()] == r {
		delete(o.runs, r.key())
	}
}

// errOverlapCancelled is the cause of a run the coordinator cancelled.
var errOverlapCancelled = errors.New("the coordinator cancelled the overlap query")

// cancelOverlap ends a run the coordinator cancelled.
func (n *Node) cancelOverlap(c *pb.Cancel) {
	if r := n.overlaps.get(c.QueryId, c.Run); r != nil {
		r.cancel(fmt.Errorf("%w: %s", errOverlapCancelled, c.Reason))
	}
}

// startOverlap checks an overlap task and starts this node's part in it.
// The checks that need nothing but the task run here, before any frame of
// the run can arrive; the admission and the protocol run on their own.
func (n *Node) startOverlap(ctx context.Context, s *session, wg *sync.WaitGroup, t *pb.OverlapTask) {
	r, err := n.checkOverlapTask(t)
	if err == nil {
		r.ctx, r.cancel = context.WithCancelCause(ctx)
		if err = n.overlaps.add(r); err != nil {
			r.cancel(err)
		}
	}
	if err != nil {
		qid := unverifiedQueryID(t.Query)
		n.log.Warn("overlap task refused", "query", qid, "run", t.Run, "reason", err)
		s.refuse(qid, t.Run, err)
		return
	}
	wg.Go(func() {
		defer n.overlaps.drop(r)
		defer r.cancel(nil)
		n.runOverlap(s, r)
	})
}

// checkOverlapTask verifies the querier's signature, the spec, this node's
// place in it, the epoch and the receiver key.
func (n *Node) checkOverlapTask(t *pb.OverlapTask) (*overlapRun, error) {
	vq, err := protocol.VerifyOverlapQuery(t.Query, n.cfg.Roots, time.Now())
	if err != nil {
		return nil, err
	}
	env := vq.Envelope
	n.mu.Lock()
	epoch := n.epoch
	n.mu.Unlock()
	switch {
	case epoch == nil:
		return nil, errors.New("this node holds no epoch yet")
	case env.Epoch != epoch.ID:
		return nil, fmt.Errorf("overlap query is for epoch %s; this node holds %s", env.Epoch, epoch.ID)
	case len(t.ReceiverKey) != 32 || !bytes.Equal(protocol.Digest(t.ReceiverKey), env.ReceiverKeyDigest):
		return nil, errors.New("the receiver key does not match the signed query")
	case t.Run == 0 || t.Run > protocol.MaxRuns:
		return nil, fmt.Errorf("run %d of a query; runs are numbered 1 to %d", t.Run, protocol.MaxRuns)
	}
	spec, err := overlap.Parse(env.Spec)
	if err == nil {
		err = spec.Validate()
	}
	if err != nil {
		return nil, fmt.Errorf("overlap spec: %w", err)
	}
	self := spec.Index(n.name)
	if self < 0 {
		return nil, errors.New("this node is not a partner of the overlap query")
	}
	for _, p := range spec.Partners {
		if epoch.MemberChains[p.Name] == nil {
			return nil, fmt.Errorf("partner %s is not a member of epoch %s", p.Name, epoch.ID)
		}
	}
	cfg, err := spec.Session(overlap.SessionInput{QueryID: env.QueryId, Digest: vq.Digest, Run: t.Run, Federation: vq.Querier.TrustDomain})
	if err != nil {
		return nil, err
	}
	return &overlapRun{
		vq: vq, spec: spec, cfg: cfg, epoch: epoch, receiverKey: t.ReceiverKey, self: self, run: t.Run,
		in: make(chan []byte, overlapInbox), hellos: map[string][]byte{},
	}, nil
}

// overlapHello checks a peer's signed hello against the epoch's
// certificate of the partner it names and hands it to the party. A hello
// that does not verify ends the run: a relay that substituted the key
// would otherwise sit between the two partners.
func (n *Node) overlapHello(ctx context.Context, h *pb.OverlapHello) {
	r := n.overlaps.get(h.QueryId, h.Run)
	if r == nil {
		n.log.Debug("hello for no overlap run", "query", h.QueryId, "run", h.Run)
		return
	}
	if err := n.verifyHello(r, h); err != nil {
		n.overlapAudit(ctx, r, audit.Entry{Kind: audit.KindOverlap, Result: audit.ResultDeny, Reasons: []string{"HELLO_NOT_VERIFIED"},
			Detail: map[string]string{"peer": h.Node, "error": err.Error()}})
		r.cancel(err)
		return
	}
	r.deliver(h.Frame)
}

func (n *Node) verifyHello(r *overlapRun, h *pb.OverlapHello) error {
	party := r.spec.Index(h.Node)
	if party < 0 || party == r.self {
		return fmt.Errorf("hello from %q, not a peer of this overlap", h.Node)
	}
	f, err := wire.Decode(h.Frame)
	if err != nil {
		return fmt.Errorf("hello of %s: %w", h.Node, err)
	}
	if f.Type != wire.Hello || int(f.From) != party || f.Session != r.cfg.Session {
		return fmt.Errorf("hello of %s is not its hello of this session", h.Node)
	}
	cert, err := n.certs.MemberCert(r.epoch, h.Node, nil, time.Now())
	if err != nil {
		return err
	}
	if err := protocol.VerifyOverlapHello(cert, r.stmt(), h.Node, party, h.Frame, h.Signature); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.hellos[h.Node] != nil {
		return fmt.Errorf("second hello of %s", h.Node)
	}
	r.hellos[h.Node] = protocol.Digest(h.Frame)
	return nil
}

// overlapFrame hands a relayed frame to its run's party. Hellos come only
// signed (overlapHello).
func (n *Node) overlapFrame(f *pb.OverlapFrame) {
	r := n.overlaps.get(f.QueryId, f.Run)
	if r == nil {
		n.log.Debug("frame for no overlap run", "query", f.QueryId, "run", f.Run)
		return
	}
	if h, err := wire.Decode(f.Frame); err != nil || h.Type == wire.Hello {
		r.cancel(fmt.Errorf("%w: relayed frame: malformed or an unsigned hello", psi.ErrProtocol))
		return
	}
	r.deliver(f.Frame)
}

// deliver queues a frame for the party, waiting while its inbox is full
// unless the run has ended.
func (r *overlapRun) deliver(frame []byte) {
	select {
	case r.in <- frame:
	case <-r.ctx.Done():
	}
}
